//! Pure rules of the download cache: what a resource is and what its cached
//! copy is called (zc.buildout's naming, so existing caches stay usable).

use std::path::PathBuf;

use md5::{Digest, Md5};
use url::Url;

use crate::error::{Error, Result};

/// Where bytes come from: the network, or a local file (`file:` URL or path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Remote(Url),
    Local(PathBuf),
}

impl Resource {
    /// `http(s)://…` is remote, `file:…` and anything without a scheme is a
    /// local path. Other schemes are refused.
    pub fn parse(raw: &str) -> Result<Self> {
        match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(Error::invalid(format!("`{raw}` has no host")));
                }
                Ok(Self::Remote(url))
            }
            Ok(url) if url.scheme() == "file" => url
                .to_file_path()
                .map(Self::Local)
                .map_err(|()| Error::invalid(format!("`{raw}` is not a usable file URL"))),
            // A one-letter "scheme" is a Windows drive, anything else unknown is refused.
            Ok(url) if url.scheme().len() > 1 => Err(Error::invalid(format!(
                "`{raw}`: unsupported URL scheme `{}` (use http, https, file or a path)",
                url.scheme()
            ))),
            _ if raw.is_empty() => Err(Error::invalid("the URL is empty")),
            _ => Ok(Self::Local(PathBuf::from(raw))),
        }
    }

    /// The last non-empty path segment (the host when the path has none),
    /// which is what a cached copy is called without hash names.
    pub fn basename(&self) -> Result<String> {
        let name = match self {
            Self::Remote(url) => url
                .path_segments()
                .and_then(|segments| segments.rev().find(|s| !s.is_empty()))
                .or(url.host_str())
                .unwrap_or_default()
                .to_owned(),
            Self::Local(path) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return Err(Error::invalid(format!(
                "cannot name a file after `{self}`: no usable base name"
            )));
        }
        Ok(name)
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Remote(url) => f.write_str(&crate::upstream::redact(url)),
            Self::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The cached copy's file name: the MD5 hex of the URL exactly as given with
/// hash names (so different URLs never collide), the base name otherwise (so
/// another URL with the same base name shares the copy).
pub fn cache_key(raw_url: &str, resource: &Resource, hash_name: bool) -> Result<String> {
    if hash_name {
        Ok(hex::encode(Md5::digest(raw_url.as_bytes())))
    } else {
        resource.basename()
    }
}

/// A namespace is one directory level inside the cache, nothing more.
pub fn validate_namespace(namespace: &str) -> Result<&str> {
    let ok = !namespace.is_empty()
        && namespace != "."
        && namespace != ".."
        && !namespace.contains(['/', '\\', '\0']);
    if ok {
        Ok(namespace)
    } else {
        Err(Error::invalid(format!(
            "`{namespace}` is not a valid cache namespace (one directory name)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources() {
        let remote = |s: &str| Resource::Remote(Url::parse(s).unwrap());
        let cases = [
            (
                "http://127.0.0.1:8/a/b.tgz",
                remote("http://127.0.0.1:8/a/b.tgz"),
            ),
            ("https://h/x", remote("https://h/x")),
            ("file:///tmp/x.tgz", Resource::Local("/tmp/x.tgz".into())),
            ("/tmp/x.tgz", Resource::Local("/tmp/x.tgz".into())),
            ("rel/x.tgz", Resource::Local("rel/x.tgz".into())),
        ];
        for (raw, expected) in cases {
            assert_eq!(Resource::parse(raw).unwrap(), expected, "{raw}");
        }
        for bad in ["", "ftp://h/x", "gopher://h/"] {
            assert!(Resource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn basenames() {
        let cases = [
            ("http://h/dist/foo-1.0.tar.gz", "foo-1.0.tar.gz"),
            ("http://h/dist/foo/", "foo"),
            ("http://h/dist/foo?x=1", "foo"),
            ("http://h.example:80", "h.example"),
            ("http://h/a/%2e%2e/b", "b"),
            ("/tmp/foo.zip", "foo.zip"),
        ];
        for (raw, name) in cases {
            assert_eq!(
                Resource::parse(raw).unwrap().basename().unwrap(),
                name,
                "{raw}"
            );
        }
        assert!(Resource::parse("/").unwrap().basename().is_err());
    }

    #[test]
    fn hash_names_are_md5_of_the_url() {
        let raw = "http://localhost/foo.txt";
        let resource = Resource::parse(raw).unwrap();
        // echo -n http://localhost/foo.txt | md5sum
        assert_eq!(
            cache_key(raw, &resource, true).unwrap(),
            "09f5793fcdc1716727f72d49519c688d"
        );
        assert_eq!(cache_key(raw, &resource, false).unwrap(), "foo.txt");
    }

    #[test]
    fn namespaces() {
        assert!(validate_namespace("cmmi").is_ok());
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }
}
