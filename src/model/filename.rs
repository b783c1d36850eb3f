//! Distribution filenames: wheels (PEP 427 / 491), source distributions
//! (PEP 625 and the legacy `name-version.ext` shapes) and legacy eggs.
//!
//! Filenames arrive from upstream pages and uploads and end up in URLs and
//! storage paths, so parsing doubles as validation: path separators, NUL,
//! leading dots and unknown extensions are refused here, once.

use std::fmt;

use super::project_name::ProjectName;

/// Source distribution extensions, longest first so `.tar.gz` wins over `.tar`.
const SDIST_EXTENSIONS: [&str; 6] = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"];

/// A parsed distribution filename. The kind-specific parts (wheel tags, sdist
/// extension) stay private until something needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFilename {
    /// The name part exactly as the filename spells it.
    name: String,
    project: ProjectName,
    /// The version part exactly as the filename spells it.
    version: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Wheel {
        build: Option<String>,
        python: String,
        abi: String,
        platform: String,
    },
    Sdist {
        extension: &'static str,
    },
    Egg {
        python: Option<String>,
        platform: Option<String>,
    },
}

/// A string that is not a distribution filename larder can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFilename {
    filename: String,
    reason: &'static str,
}

impl DistFilename {
    /// Parses a wheel (`.whl`), sdist (`.tar.gz`, `.zip`, `.tar.bz2`, `.tgz`,
    /// `.tar.xz`, legacy `.tar`) or egg (`.egg`) filename.
    ///
    /// Sdist names may contain `-` (legacy `foo-bar-1.0.tar.gz`), so the version
    /// starts after the last `-` that is followed by an ASCII digit.
    pub fn parse(filename: &str) -> Result<Self, InvalidFilename> {
        let fail = |reason| InvalidFilename {
            filename: filename.to_owned(),
            reason,
        };
        check_safe(filename).map_err(fail)?;
        if let Some(stem) = filename.strip_suffix(".whl") {
            return parse_wheel(stem).map_err(fail);
        }
        if let Some(stem) = filename.strip_suffix(".egg") {
            return parse_egg(stem).map_err(fail);
        }
        for extension in SDIST_EXTENSIONS {
            if let Some(stem) = filename.strip_suffix(extension) {
                return parse_sdist(stem, extension).map_err(fail);
            }
        }
        Err(fail(
            "unknown extension (expected .whl, .tar.gz, .zip, .tar.bz2, .tgz, .tar.xz, .tar or .egg)",
        ))
    }

    /// The normalized project name.
    pub fn project_name(&self) -> ProjectName {
        self.project.clone()
    }

    /// The name part verbatim (wheels spell `-` as `_`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version part verbatim.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn is_wheel(&self) -> bool {
        matches!(self.kind, Kind::Wheel { .. })
    }

    pub fn is_sdist(&self) -> bool {
        matches!(self.kind, Kind::Sdist { .. })
    }

    /// The wheel build tag (`1` in `foo-1.0-1-py3-none-any.whl`), if any.
    pub fn build_tag(&self) -> Option<&str> {
        match &self.kind {
            Kind::Wheel { build, .. } => build.as_deref(),
            _ => None,
        }
    }

    /// Whether this file belongs to `project` at `version`, as an upload
    /// declares them.
    ///
    /// Versions compare after a light normalization only, not PEP 440
    /// equality: ASCII case is ignored, `_` equals `-` (wheels escape `-` as
    /// `_`) and one leading `v` is dropped. `1.0` and `1.0.0` differ.
    pub fn matches(&self, project: &ProjectName, version: &str) -> bool {
        self.project == *project && light_version(&self.version).eq(light_version(version))
    }
}

fn light_version(version: &str) -> impl Iterator<Item = u8> + '_ {
    let version = version.strip_prefix(['v', 'V']).unwrap_or(version);
    version.bytes().map(|b| match b {
        b'_' => b'-',
        _ => b.to_ascii_lowercase(),
    })
}

fn check_safe(filename: &str) -> Result<(), &'static str> {
    if filename.is_empty() {
        return Err("it is empty");
    }
    if filename.starts_with('.') {
        return Err("it starts with `.`");
    }
    if filename.contains(['/', '\\']) {
        return Err("it contains a path separator");
    }
    if filename
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err("it contains whitespace or control characters");
    }
    Ok(())
}

fn parse_wheel(stem: &str) -> Result<DistFilename, &'static str> {
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, build, tags) = match parts.as_slice() {
        [name, version, python, abi, platform] => {
            (*name, *version, None, [*python, *abi, *platform])
        }
        [name, version, build, python, abi, platform] => {
            if !build.starts_with(|c: char| c.is_ascii_digit()) {
                return Err("the wheel build tag must start with a digit");
            }
            check_version(build)?;
            (*name, *version, Some(*build), [*python, *abi, *platform])
        }
        _ => return Err("a wheel filename needs 5 or 6 `-`-separated fields"),
    };
    if tags.iter().any(|tag| {
        tag.is_empty()
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
    }) {
        return Err(
            "a wheel tag is empty or has characters other than letters, digits, `_` and `.`",
        );
    }
    let [python, abi, platform] = tags.map(str::to_owned);
    let kind = Kind::Wheel {
        build: build.map(str::to_owned),
        python,
        abi,
        platform,
    };
    build_filename(name, version, kind)
}

fn parse_sdist(stem: &str, extension: &'static str) -> Result<DistFilename, &'static str> {
    let split = stem
        .match_indices('-')
        .rev()
        .map(|(i, _)| i)
        .find(|&i| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()));
    let Some(i) = split else {
        return Err("no `-` followed by a version starting with a digit");
    };
    build_filename(&stem[..i], &stem[i + 1..], Kind::Sdist { extension })
}

/// `{name}-{version}(-py{X.Y})?(-{platform})?.egg`; platforms may contain `-`
/// (`macosx-10.9-x86_64`).
fn parse_egg(stem: &str) -> Result<DistFilename, &'static str> {
    let mut parts = stem.splitn(3, '-');
    let name = parts.next().unwrap_or_default();
    let Some(version) = parts.next() else {
        return Err("an egg filename needs `{name}-{version}`");
    };
    let (python, platform) = match parts.next() {
        None => (None, None),
        Some(rest) => match rest.split_once('-') {
            Some((python, platform)) if python.starts_with("py") => (Some(python), Some(platform)),
            None if rest.starts_with("py") => (Some(rest), None),
            _ => (None, Some(rest)),
        },
    };
    if python.is_some_and(|p| p.len() <= 2) || platform.is_some_and(str::is_empty) {
        return Err("an egg python or platform tag is empty");
    }
    let kind = Kind::Egg {
        python: python.map(str::to_owned),
        platform: platform.map(str::to_owned),
    };
    build_filename(name, version, kind)
}

fn build_filename(name: &str, version: &str, kind: Kind) -> Result<DistFilename, &'static str> {
    let project =
        ProjectName::new(name).map_err(|_| "the name part is not a valid project name")?;
    check_version(version)?;
    Ok(DistFilename {
        name: name.to_owned(),
        project,
        version: version.to_owned(),
        kind,
    })
}

/// Versions are kept verbatim, but limited to the characters PEP 440 and
/// legacy versions use so they are safe in paths and URLs.
fn check_version(version: &str) -> Result<(), &'static str> {
    if version.is_empty() {
        return Err("the version is empty");
    }
    if !version
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'!' | b'-'))
    {
        return Err("the version has characters other than letters, digits and `._+!-`");
    }
    Ok(())
}

impl fmt::Display for InvalidFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid distribution filename: {}",
            self.filename.escape_debug(),
            self.reason
        )
    }
}

impl std::error::Error for InvalidFilename {}

impl From<InvalidFilename> for crate::error::Error {
    fn from(e: InvalidFilename) -> Self {
        Self::invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn parses_valid_filenames() {
        // (filename, normalized project, version, is_wheel, build tag)
        for (filename, project, version, wheel, build) in [
            (
                "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "numpy",
                "2.1.0",
                true,
                None,
            ),
            ("foo-1.0-1-py3-none-any.whl", "foo", "1.0", true, Some("1")),
            (
                "foo-1.0-12abc-py2.py3-none-any.whl",
                "foo",
                "1.0",
                true,
                Some("12abc"),
            ),
            (
                "typing_extensions-4.12.2-py3-none-any.whl",
                "typing-extensions",
                "4.12.2",
                true,
                None,
            ),
            ("Django-5.0.tar.gz", "django", "5.0", false, None),
            (
                "zope.interface-6.0.tar.gz",
                "zope-interface",
                "6.0",
                false,
                None,
            ),
            ("foo-bar-1.0.tar.gz", "foo-bar", "1.0", false, None),
            ("foo_bar-1.0.zip", "foo-bar", "1.0", false, None),
            ("foo-1.0.tar.bz2", "foo", "1.0", false, None),
            ("foo-1.0.tgz", "foo", "1.0", false, None),
            ("foo-1.0.tar.xz", "foo", "1.0", false, None),
            ("foo-1.0.tar", "foo", "1.0", false, None),
            ("foo-1.0-beta.tar.gz", "foo", "1.0-beta", false, None),
            ("py-3to2-1.0.tar.gz", "py-3to2", "1.0", false, None),
            (
                "foo-1!2.0+local.1.tar.gz",
                "foo",
                "1!2.0+local.1",
                false,
                None,
            ),
            (
                "setuptools-0.6c11-py2.7.egg",
                "setuptools",
                "0.6c11",
                false,
                None,
            ),
            (
                "foo_bar-1.0-py2.7-linux-x86_64.egg",
                "foo-bar",
                "1.0",
                false,
                None,
            ),
            ("foo-1.0.egg", "foo", "1.0", false, None),
        ] {
            let parsed = DistFilename::parse(filename).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.project_name().as_str(), project, "{filename}");
            assert_eq!(parsed.version(), version, "{filename}");
            assert_eq!(parsed.is_wheel(), wheel, "{filename}");
            assert_eq!(parsed.build_tag(), build, "{filename}");
        }
    }

    #[test]
    fn keeps_name_and_kind() {
        let sdist = DistFilename::parse("zope.interface-6.0.tar.gz").unwrap();
        assert_eq!(sdist.name(), "zope.interface");
        assert!(sdist.is_sdist());
        let egg = DistFilename::parse("foo-1.0-py2.7-macosx-10.9-x86_64.egg").unwrap();
        assert!(!egg.is_sdist() && !egg.is_wheel());
        assert_eq!(
            egg.kind,
            Kind::Egg {
                python: Some("py2.7".into()),
                platform: Some("macosx-10.9-x86_64".into())
            }
        );
    }

    #[test]
    fn rejects_invalid_filenames() {
        for (filename, reason) in [
            ("../evil-1.0.whl", "starts with `.`"),
            ("foo/../evil-1.0-py3-none-any.whl", "path separator"),
            ("a\\b-1.0.tar.gz", "path separator"),
            ("foo-1.0\0.tar.gz", "control"),
            ("foo 1.0.tar.gz", "whitespace"),
            ("", "empty"),
            ("..", "starts with `.`"),
            (".hidden-1.0.tar.gz", "starts with `.`"),
            ("foo.exe", "unknown extension"),
            ("foo-1.0.whl.sig", "unknown extension"),
            ("foo-1.0-py3-none.whl", "5 or 6"),
            ("foo-1.0-a-b-py3-none-any.whl", "5 or 6"),
            ("foo-1.0-x1-py3-none-any.whl", "build tag"),
            ("foo-1.0-py3--any.whl", "wheel tag"),
            ("-1.0-py3-none-any.whl", "name part"),
            ("foo--py3-none-any.whl", "version is empty"),
            ("foo.tar.gz", "no `-`"),
            ("foo-v1.0.tar.gz", "no `-`"),
            ("-1.0.tar.gz", "name part"),
            ("foo-1.0%2f.tar.gz", "version has"),
            ("foo.egg", "needs"),
            ("café-1.0.tar.gz", "name part"),
        ] {
            let err = DistFilename::parse(filename).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("is not a valid distribution filename"),
                "{message}"
            );
            assert!(message.contains(reason), "{filename}: {message}");
        }
    }

    #[test]
    fn error_names_the_value_and_is_invalid_input() {
        let err = DistFilename::parse("foo.exe").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`foo.exe` is not a valid distribution filename: ")
        );
        assert_eq!(
            crate::error::Error::from(err).kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn matches_normalized_project_and_lightly_normalized_version() {
        let project = ProjectName::new("Foo.Bar").unwrap();
        let other = ProjectName::new("foo").unwrap();
        let wheel = DistFilename::parse("foo_bar-1.0_post1-py3-none-any.whl").unwrap();
        assert!(wheel.matches(&project, "1.0-post1"));
        assert!(wheel.matches(&project, "1.0_POST1"));
        assert!(wheel.matches(&project, "v1.0_post1"));
        assert!(!wheel.matches(&project, "1.0"));
        assert!(!wheel.matches(&other, "1.0_post1"));
        let sdist = DistFilename::parse("Foo-Bar-2.0RC1.tar.gz").unwrap();
        assert!(sdist.matches(&project, "2.0rc1"));
        assert!(!sdist.matches(&project, "2.0.0rc1"));
    }
}
