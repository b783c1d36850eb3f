//! A wheel's core metadata: the `{name}-{version}.dist-info/METADATA` member
//! an uploaded wheel must carry. Larder serves it as the wheel's PEP 658
//! `.metadata` file and takes `Requires-Python` from it, so installers see
//! what the wheel itself declares rather than what the upload form said.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{DistFilename, ProjectName};

/// METADATA larger than this is refused: real ones (long descriptions
/// included) are far smaller, and the bytes are held in memory.
const MAX_METADATA: u64 = 16 << 20;

/// What larder keeps from a wheel's METADATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WheelMetadata {
    /// The METADATA file, verbatim.
    pub bytes: Vec<u8>,
    pub requires_python: Option<String>,
}

/// Reads the staged wheel at `path` (blocking: run it on the blocking pool).
/// Anything that is not a zip with exactly one matching METADATA is
/// invalid input, named after `dist`.
pub(super) fn read(path: &Path, dist: &DistFilename, filename: &str) -> Result<WheelMetadata> {
    let invalid =
        |problem: String| Error::invalid(format!("`{filename}` is not a valid wheel: {problem}"));
    let file = std::fs::File::open(path)
        .map_err(|e| Error::storage(format!("cannot open `{}`", path.display()), e))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| invalid(format!("not a zip archive ({e})")))?;
    let names = archive
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<std::result::Result<Vec<String>, _>>()
        .map_err(|e| invalid(format!("unreadable member names ({e})")))?;
    let member = find_metadata(&names, &dist.project_name()).map_err(|p| invalid(p.to_owned()))?;
    let entry = archive
        .by_name(&member)
        .map_err(|e| invalid(format!("cannot read `{member}` ({e})")))?;
    if entry.size() > MAX_METADATA {
        return Err(invalid(format!(
            "`{member}` is larger than {MAX_METADATA} bytes"
        )));
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_METADATA + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| invalid(format!("cannot read `{member}` ({e})")))?;
    if bytes.len() as u64 > MAX_METADATA {
        return Err(invalid(format!(
            "`{member}` is larger than {MAX_METADATA} bytes"
        )));
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|_| invalid(format!("`{member}` is not UTF-8")))?;
    let headers = Headers::parse(text);
    let (Some(name), Some(version)) = (headers.get("Name"), headers.get("Version")) else {
        return Err(invalid(format!("`{member}` lacks `Name` or `Version`")));
    };
    let matches = ProjectName::new(name).is_ok_and(|name| dist.matches(&name, version));
    if !matches {
        return Err(invalid(format!(
            "its METADATA says `{}` version `{}`, which does not match the filename",
            name.escape_debug(),
            version.escape_debug()
        )));
    }
    let requires_python = headers.get("Requires-Python").map(str::to_owned);
    Ok(WheelMetadata {
        bytes,
        requires_python,
    })
}

/// The archive member holding the wheel's METADATA: `<dir>.dist-info/METADATA`
/// at the top level, where `<dir>` names this project (wheels that vendor
/// other `.dist-info` directories deeper down are fine).
fn find_metadata(
    names: &[String],
    project: &ProjectName,
) -> std::result::Result<String, &'static str> {
    let mut found = names.iter().filter(|name| {
        name.strip_suffix(".dist-info/METADATA")
            .filter(|dir| !dir.contains('/'))
            .and_then(|dir| dir.rsplit_once('-'))
            .and_then(|(dist, _version)| ProjectName::new(dist).ok())
            .is_some_and(|dist| dist == *project)
    });
    match (found.next(), found.next()) {
        (Some(name), None) => Ok(name.clone()),
        (None, _) => Err("it has no `{name}-{version}.dist-info/METADATA` for its project"),
        (Some(_), Some(_)) => Err("it has more than one `.dist-info/METADATA` for its project"),
    }
}

/// The header block of a core-metadata file (RFC 822 style): `Key: value`
/// lines up to the first empty line, continuation lines folded in.
#[derive(Debug, Default, PartialEq, Eq)]
struct Headers(Vec<(String, String)>);

impl Headers {
    fn parse(text: &str) -> Self {
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                headers.push((key.trim().to_owned(), value.trim().to_owned()));
            }
        }
        Self(headers)
    }

    /// The first value of `key` (case-insensitive), if it is not empty.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_table() {
        let cases: [(&str, &str, Option<&str>); 8] = [
            ("Name: demo\nVersion: 1.0\n", "Name", Some("demo")),
            ("name: demo\n", "NAME", Some("demo")),
            (
                "Name: demo\r\nRequires-Python: >=3.8\r\n",
                "Requires-Python",
                Some(">=3.8"),
            ),
            ("Name: a\n\nRequires-Python: >=3\n", "Requires-Python", None),
            ("Requires-Python:\n", "Requires-Python", None),
            (
                "Summary: one\n  two\nName: x\n",
                "Summary",
                Some("one\ntwo"),
            ),
            ("Name: first\nName: second\n", "Name", Some("first")),
            ("garbage line\nName: x\n", "Name", Some("x")),
        ];
        for (text, key, expected) in cases {
            assert_eq!(Headers::parse(text).get(key), expected, "{text:?} {key}");
        }
    }

    #[test]
    fn finds_the_projects_metadata_only() {
        let project = ProjectName::new("foo-bar").unwrap();
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases: [(&[&str], Result<&str, &str>); 6] = [
            (
                &["foo_bar/__init__.py", "foo_bar-1.0.dist-info/METADATA"],
                Ok("foo_bar-1.0.dist-info/METADATA"),
            ),
            (
                &[
                    "Foo.Bar-1.0.dist-info/METADATA",
                    "vendor/x-1.dist-info/METADATA",
                ],
                Ok("Foo.Bar-1.0.dist-info/METADATA"),
            ),
            (&["foo_bar-1.0.dist-info/RECORD"], Err("has no")),
            (&["other-1.0.dist-info/METADATA"], Err("has no")),
            (&["x/foo_bar-1.0.dist-info/METADATA"], Err("has no")),
            (
                &[
                    "foo_bar-1.0.dist-info/METADATA",
                    "foo-bar-2.0.dist-info/METADATA",
                ],
                Err("more than one"),
            ),
        ];
        for (list, expected) in cases {
            let found = find_metadata(&names(list), &project);
            match expected {
                Ok(name) => assert_eq!(found.as_deref(), Ok(name), "{list:?}"),
                Err(needle) => assert!(found.unwrap_err().contains(needle), "{list:?}"),
            }
        }
    }
}
