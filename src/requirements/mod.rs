//! What a team says it needs: requirements files, `pip freeze` output,
//! `uv.lock` and `pylock.toml` (PEP 751), parsed into one list of [`Wanted`]
//! projects.
//!
//! Pure: nothing here reads files. `-r` includes are resolved through a
//! loader the caller supplies, so the same parser serves the CLI (files on
//! disk), the server (`POST /requirements.txt`, where includes are refused)
//! and tests. PEP 440 versions and PEP 508 requirements and markers are parsed
//! by `pep440_rs` / `pep508_rs`, never by hand.
//!
//! Lines or packages larder cannot act on (editable installs, URLs, paths, a
//! lock file's git or directory sources) are reported as [`Note`]s rather than
//! failing the whole file: a cache can still be warmed with the rest.
//!
//! Used by `larder warm`, `larder export` (what to export) and `larder prune`
//! (`--keep`: what never to prune). `deps.rs` holds what `warm --deps` and
//! `export --deps` share to follow dependencies through core metadata.

mod deps;
mod pylock;
mod select;
#[cfg(test)]
pub(crate) mod testing;
mod txt;
mod uv_lock;

use std::fmt;

pub use pep440_rs::{Version, VersionSpecifiers};
pub use pep508_rs::MarkerTree;

use crate::model::{ProjectName, Sha256Hex};

pub use deps::{Dependencies, MAX_ROUNDS, Rounds, dependencies, describe, requires_dist};
pub use pylock::parse_pylock;
pub use select::{Choice, Targets, choose_files, needed_files};
pub use txt::parse_requirements_txt;
pub use uv_lock::parse_uv_lock;

/// One requirements or lock file's text and the name it is known by (a path
/// as given on the command line, or an upload's field name). The name is
/// used in notes and to resolve relative `-r` includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Loads an included file: given the path as the `-r` line wrote it and the
/// name of the including [`Source`], returns the included source, or a
/// message saying why it cannot be read (it becomes an [`NoteKind::Invalid`]
/// note).
pub type Loader<'a> = dyn FnMut(&str, &str) -> Result<Source, String> + 'a;

/// A loader for text with no includes (uploads): every `-r` is refused.
pub fn no_includes(path: &str, _from: &str) -> Result<Source, String> {
    Err(format!("`-r {path}`: includes are not supported here"))
}

/// One project that is wanted, with what narrows which of its files are.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub name: ProjectName,
    /// Which versions qualify; empty means any. Lock files pin `==version`.
    pub specifiers: VersionSpecifiers,
    /// Extras asked for (`name[extra]`), normalized; they matter when
    /// dependencies are followed.
    pub extras: Vec<String>,
    /// When the requirement applies (PEP 508 markers); `MarkerTree::TRUE`
    /// when none was given.
    pub marker: MarkerTree,
    /// SHA-256 digests from `--hash=sha256:...` options (other algorithms are
    /// dropped: larder addresses files by SHA-256). When non-empty, only
    /// files with one of these digests are wanted.
    pub hashes: Vec<Sha256Hex>,
    /// The exact files a lock file names (empty for requirements files).
    pub pinned_files: Vec<PinnedFile>,
    /// Where it was written (`file:line` or `file:package`), for reports.
    pub origin: String,
}

/// A file a lock file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedFile {
    pub filename: String,
    /// Its digest when the lock file gave a SHA-256.
    pub sha256: Option<Sha256Hex>,
}

/// Something in a file that does not become a [`Wanted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    /// `file:line` or `file:package`.
    pub origin: String,
    /// The line or package as written.
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Understood and deliberately not acted on (index options, `-c`
    /// constraint files).
    Ignored,
    /// Valid, but nothing larder can fetch from an index (editable installs,
    /// direct URLs, local paths, git/directory sources).
    Unsupported,
    /// Malformed, or an include that could not be read.
    Invalid,
}

/// A locked package as wanted, or why it is not (a note's kind and reason).
type LockedOutcome = Result<Wanted, (NoteKind, String)>;

/// What a file (with its includes) asks for.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub wanted: Vec<Wanted>,
    pub notes: Vec<Note>,
}

impl Parsed {
    /// What a lock file's packages became: each one wanted, or a note saying
    /// why not. Items are (name, version, outcome); `source` names the file.
    fn from_locked<'a>(
        source: &str,
        packages: impl IntoIterator<Item = (&'a str, Option<&'a str>, LockedOutcome)>,
    ) -> Self {
        let mut parsed = Parsed::default();
        for (name, version, outcome) in packages {
            match outcome {
                Ok(wanted) => parsed.wanted.push(wanted),
                Err((kind, reason)) => parsed.notes.push(Note {
                    kind,
                    origin: format!("{source}:{name}"),
                    text: version.map_or_else(|| name.to_owned(), |v| format!("{name} {v}")),
                    reason,
                }),
            }
        }
        parsed
    }

    /// Appends another file's result.
    pub fn extend(&mut self, other: Parsed) {
        self.wanted.extend(other.wanted);
        self.notes.extend(other.notes);
    }

    /// Whether any note says the input was malformed.
    pub fn has_invalid(&self) -> bool {
        self.notes.iter().any(|n| n.kind == NoteKind::Invalid)
    }
}

/// The kind of file, told from its name: `*.lock` is a `uv.lock`,
/// `pylock.toml` / `pylock.*.toml` is PEP 751, anything else is requirements
/// syntax (which covers `pip freeze` output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Requirements,
    UvLock,
    Pylock,
}

impl FileKind {
    pub fn from_name(name: &str) -> Self {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        if base.ends_with(".lock") {
            Self::UvLock
        } else if base == "pylock.toml" || (base.starts_with("pylock.") && base.ends_with(".toml"))
        {
            Self::Pylock
        } else {
            Self::Requirements
        }
    }
}

/// A lock file that is not valid TOML or lacks required keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    pub source_name: String,
    pub message: String,
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.source_name, self.message)
    }
}

impl std::error::Error for LockError {}

impl From<LockError> for crate::error::Error {
    fn from(e: LockError) -> Self {
        crate::error::Error::invalid(e.to_string())
    }
}

/// Parses `source` by its [`FileKind`] (see [`FileKind::from_name`]).
pub fn parse(source: &Source, loader: &mut Loader<'_>) -> Result<Parsed, LockError> {
    match FileKind::from_name(&source.name) {
        FileKind::Requirements => Ok(parse_requirements_txt(source, loader)),
        FileKind::UvLock => parse_uv_lock(source),
        FileKind::Pylock => parse_pylock(source),
    }
}

/// The last path segment of a URL, percent-decoded: a lock file's file name
/// when it does not spell it out.
pub(crate) fn filename_from_url(url: &str) -> Option<String> {
    let path = url.split(['#', '?']).next()?;
    let last = path.rsplit('/').next()?;
    let decoded = crate::model::percent::decode_lossy(last).into_owned();
    (!decoded.is_empty()).then_some(decoded)
}

/// A SHA-256 out of `sha256:<hex>`; `None` for other algorithms.
pub(crate) fn sha256_of(algo_and_hex: &str) -> Option<Result<Sha256Hex, String>> {
    let (algo, hex) = algo_and_hex.split_once(':')?;
    algo.eq_ignore_ascii_case("sha256")
        .then(|| Sha256Hex::parse(hex).map_err(|e| format!("bad SHA-256 `{hex}`: {e}")))
}

/// `==version` as specifiers (lock files pin exact versions).
pub(crate) fn exactly(version: &str) -> Result<VersionSpecifiers, String> {
    let version: Version = version
        .parse()
        .map_err(|e| format!("bad version `{version}`: {e}"))?;
    Ok(VersionSpecifiers::from_iter([
        pep440_rs::VersionSpecifier::equals_version(version),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kind_from_name() {
        for (name, kind) in [
            ("uv.lock", FileKind::UvLock),
            ("dir/uv.lock", FileKind::UvLock),
            ("pylock.toml", FileKind::Pylock),
            ("a/pylock.dev.toml", FileKind::Pylock),
            ("requirements.txt", FileKind::Requirements),
            ("frozen", FileKind::Requirements),
            ("pyproject.toml", FileKind::Requirements),
        ] {
            assert_eq!(FileKind::from_name(name), kind, "{name}");
        }
    }

    #[test]
    fn filenames_from_urls() {
        assert_eq!(
            filename_from_url("http://127.0.0.1/f/demo-1.0-py3-none-any.whl#sha256=ab").as_deref(),
            Some("demo-1.0-py3-none-any.whl")
        );
        assert_eq!(
            filename_from_url("http://127.0.0.1/f/demo%2Bx-1.0.tar.gz").as_deref(),
            Some("demo+x-1.0.tar.gz")
        );
        assert_eq!(filename_from_url("http://127.0.0.1/"), None);
    }
}
