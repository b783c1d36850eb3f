//! `uv.lock`: each `[[package]]` with a `registry` source becomes a
//! [`Wanted`] pinned to its version and to the files it lists (`sdist`,
//! `wheels`, each with a URL and `sha256:` hash). Workspace members
//! (`virtual`, `editable`), `git`, `path`, `directory` and `url` sources are
//! not on an index and are reported as unsupported.

use serde::Deserialize;

use super::{
    LockError, NoteKind, Parsed, PinnedFile, Source, Wanted, exactly, filename_from_url, sha256_of,
};
use crate::model::ProjectName;

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: toml::Table,
    sdist: Option<File>,
    #[serde(default)]
    wheels: Vec<File>,
}

#[derive(Deserialize)]
struct File {
    url: Option<String>,
    hash: Option<String>,
}

/// Parses a `uv.lock`.
pub fn parse_uv_lock(source: &Source) -> Result<Parsed, LockError> {
    let lock: Lock = toml::from_str(&source.text).map_err(|e| LockError {
        source_name: source.name.clone(),
        message: format!("not a uv.lock: {e}"),
    })?;
    Ok(Parsed::from_locked(
        &source.name,
        lock.package.iter().map(|package| {
            let origin = format!("{}:{}", source.name, package.name);
            let outcome = wanted(package, &origin);
            (package.name.as_str(), package.version.as_deref(), outcome)
        }),
    ))
}

fn wanted(package: &Package, origin: &str) -> Result<Wanted, (NoteKind, String)> {
    if !package.source.contains_key("registry") {
        let kind = package
            .source
            .keys()
            .next()
            .map_or("unknown", String::as_str);
        return Err((
            NoteKind::Unsupported,
            format!("a `{kind}` source is not fetched from an index"),
        ));
    }
    let name = ProjectName::new(&package.name).map_err(|e| (NoteKind::Invalid, e.to_string()))?;
    let specifiers = match &package.version {
        Some(version) => exactly(version).map_err(|e| (NoteKind::Invalid, e))?,
        None => pep440_rs::VersionSpecifiers::empty(),
    };
    let mut pinned_files = Vec::new();
    for file in package.sdist.iter().chain(&package.wheels) {
        let Some(filename) = file.url.as_deref().and_then(filename_from_url) else {
            return Err((NoteKind::Invalid, "a file without a URL".to_owned()));
        };
        let sha256 = match file.hash.as_deref().and_then(sha256_of) {
            Some(Ok(sha)) => Some(sha),
            Some(Err(reason)) => return Err((NoteKind::Invalid, reason)),
            None => None,
        };
        pinned_files.push(PinnedFile { filename, sha256 });
    }
    Ok(Wanted {
        name,
        specifiers,
        extras: Vec::new(),
        marker: pep508_rs::MarkerTree::TRUE,
        hashes: Vec::new(),
        pinned_files,
        origin: origin.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_packages_with_their_files() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            r#"
version = 1
requires-python = ">=3.9"

[[package]]
name = "app"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [{{ name = "demo-pkg" }}]

[[package]]
name = "Demo_Pkg"
version = "1.0"
source = {{ registry = "http://127.0.0.1:1/simple" }}
sdist = {{ url = "http://127.0.0.1:1/f/demo_pkg-1.0.tar.gz", hash = "sha256:{a}", size = 10 }}
wheels = [
    {{ url = "http://127.0.0.1:1/f/demo_pkg-1.0-py3-none-any.whl", hash = "sha256:{b}", size = 20 }},
]

[[package]]
name = "gitdep"
version = "2.0"
source = {{ git = "http://127.0.0.1:1/x.git" }}
"#
        );
        let parsed = parse_uv_lock(&Source {
            name: "uv.lock".into(),
            text,
        })
        .expect("parses");
        assert_eq!(parsed.wanted.len(), 1);
        let demo = &parsed.wanted[0];
        assert_eq!(demo.name.as_str(), "demo-pkg");
        assert_eq!(demo.specifiers.to_string(), "==1.0");
        assert_eq!(demo.origin, "uv.lock:Demo_Pkg");
        let files: Vec<(&str, &str)> = demo
            .pinned_files
            .iter()
            .map(|f| {
                (
                    f.filename.as_str(),
                    f.sha256.as_ref().map_or("", |s| s.as_str()),
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                ("demo_pkg-1.0.tar.gz", a.as_str()),
                ("demo_pkg-1.0-py3-none-any.whl", b.as_str())
            ]
        );
        let kinds: Vec<NoteKind> = parsed.notes.iter().map(|n| n.kind).collect();
        assert_eq!(kinds, [NoteKind::Unsupported, NoteKind::Unsupported]);
    }

    #[test]
    fn not_toml_is_an_error() {
        let err = parse_uv_lock(&Source {
            name: "uv.lock".into(),
            text: "[[package]\n".into(),
        })
        .expect_err("invalid");
        assert!(err.to_string().contains("uv.lock"), "{err}");
    }
}
