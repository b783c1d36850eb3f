//! `pylock.toml` (PEP 751): each `[[packages]]` entry with an `sdist` or
//! `wheels` becomes a [`Wanted`] pinned to its version (when given), its
//! marker, and the files it names (`name`, else the URL's last segment, with
//! `hashes.sha256`). `vcs`, `directory` and `archive` packages are not on an
//! index and are reported as unsupported.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Deserialize;

use super::{LockError, NoteKind, Parsed, PinnedFile, Source, Wanted, exactly, filename_from_url};
use crate::model::{ProjectName, Sha256Hex};

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
    #[serde(default)]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    sdist: Option<File>,
    #[serde(default)]
    wheels: Vec<File>,
    vcs: Option<toml::Value>,
    directory: Option<toml::Value>,
    archive: Option<toml::Value>,
}

#[derive(Deserialize)]
struct File {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

/// Parses a PEP 751 lock file.
pub fn parse_pylock(source: &Source) -> Result<Parsed, LockError> {
    let error = |message: String| LockError {
        source_name: source.name.clone(),
        message,
    };
    let lock: Lock =
        toml::from_str(&source.text).map_err(|e| error(format!("not a pylock.toml: {e}")))?;
    if lock.lock_version.is_none() {
        return Err(error("not a pylock.toml: `lock-version` is missing".into()));
    }
    Ok(Parsed::from_locked(
        &source.name,
        lock.packages.iter().map(|package| {
            let origin = format!("{}:{}", source.name, package.name);
            let outcome = wanted(package, &origin);
            (package.name.as_str(), package.version.as_deref(), outcome)
        }),
    ))
}

fn wanted(package: &Package, origin: &str) -> Result<Wanted, (NoteKind, String)> {
    let other = [
        ("vcs", package.vcs.is_some()),
        ("directory", package.directory.is_some()),
        ("archive", package.archive.is_some()),
    ];
    if let Some((kind, _)) = other.iter().find(|(_, present)| *present) {
        return Err((
            NoteKind::Unsupported,
            format!("a `{kind}` package is not fetched from an index"),
        ));
    }
    if package.sdist.is_none() && package.wheels.is_empty() {
        return Err((NoteKind::Invalid, "the package names no file".to_owned()));
    }
    let name = ProjectName::new(&package.name).map_err(|e| (NoteKind::Invalid, e.to_string()))?;
    let specifiers = match &package.version {
        Some(version) => exactly(version).map_err(|e| (NoteKind::Invalid, e))?,
        None => pep440_rs::VersionSpecifiers::empty(),
    };
    let marker = match &package.marker {
        Some(m) => pep508_rs::MarkerTree::from_str(m)
            .map_err(|e| (NoteKind::Invalid, format!("bad marker `{m}`: {e}")))?,
        None => pep508_rs::MarkerTree::TRUE,
    };
    let mut pinned_files = Vec::new();
    for file in package.sdist.iter().chain(&package.wheels) {
        let filename = file.name.clone().or_else(|| {
            file.url
                .as_deref()
                .or(file.path.as_deref())
                .and_then(filename_from_url)
        });
        let Some(filename) = filename else {
            return Err((NoteKind::Invalid, "a file without a name or URL".to_owned()));
        };
        let sha256 = match file.hashes.get("sha256") {
            Some(hex) => Some(
                Sha256Hex::parse(hex)
                    .map_err(|e| (NoteKind::Invalid, format!("bad SHA-256 `{hex}`: {e}")))?,
            ),
            None => None,
        };
        pinned_files.push(PinnedFile { filename, sha256 });
    }
    Ok(Wanted {
        name,
        specifiers,
        extras: Vec::new(),
        marker,
        hashes: Vec::new(),
        pinned_files,
        origin: origin.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_with_their_files() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            r#"
lock-version = "1.0"
created-by = "test"

[[packages]]
name = "demo"
version = "1.0"
marker = "python_version >= '3.8'"
index = "http://127.0.0.1:1/simple"
sdist = {{ name = "demo-1.0.tar.gz", url = "http://127.0.0.1:1/f/demo-1.0.tar.gz", hashes = {{ sha256 = "{a}" }} }}

[[packages.wheels]]
url = "http://127.0.0.1:1/f/demo-1.0-py3-none-any.whl"
hashes = {{ sha256 = "{b}", md5 = "00" }}

[[packages]]
name = "local"
directory = {{ path = "." }}
"#
        );
        let parsed = parse_pylock(&Source {
            name: "pylock.toml".into(),
            text,
        })
        .expect("parses");
        assert_eq!(parsed.wanted.len(), 1);
        let demo = &parsed.wanted[0];
        assert_eq!(demo.specifiers.to_string(), "==1.0");
        assert!(!demo.marker.is_true());
        let names: Vec<&str> = demo
            .pinned_files
            .iter()
            .map(|f| f.filename.as_str())
            .collect();
        assert_eq!(names, ["demo-1.0.tar.gz", "demo-1.0-py3-none-any.whl"]);
        assert_eq!(
            demo.pinned_files[1].sha256.as_ref().map(|s| s.as_str()),
            Some(b.as_str())
        );
        assert_eq!(parsed.notes.len(), 1);
        assert_eq!(parsed.notes[0].kind, NoteKind::Unsupported);
    }

    #[test]
    fn missing_lock_version_is_an_error() {
        assert!(
            parse_pylock(&Source {
                name: "pylock.toml".into(),
                text: "[[packages]]\nname = \"x\"\n".into(),
            })
            .is_err()
        );
    }
}
