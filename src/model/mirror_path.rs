//! Paths of generic mirrors: what a client asked for, normalized and confined
//! to the mirror before any source is asked for it.

use super::percent;
use crate::error::{Error, Result};

/// Normalizes the still percent-encoded path a client requested below a
/// mirror's prefix into a relative path (`dir/file.tar.gz`).
///
/// Refused: `.` and `..` segments (plain or encoded), encoded separators
/// (`%2F`, `%5C`), backslashes, NUL and control characters, empty segments
/// (`a//b`), and anything ending in `/` (directory listings are not proxied).
/// Percent-escapes are decoded and re-encoded canonically, so equivalent
/// spellings share one cache entry.
pub fn normalize(raw: &str) -> Result<String> {
    let trimmed = raw.strip_prefix('/').unwrap_or(raw);
    if trimmed.is_empty() || trimmed.ends_with('/') {
        return Err(Error::not_found(format!(
            "`/{trimmed}` is a directory; directory listings are not proxied"
        )));
    }
    let mut out = String::with_capacity(trimmed.len());
    for segment in trimmed.split('/') {
        let decoded =
            percent::decode_strict(segment).ok_or_else(|| refused(raw, "a malformed escape"))?;
        if decoded.is_empty() {
            return Err(refused(raw, "an empty segment"));
        }
        if decoded == b"." || decoded == b".." {
            return Err(refused(raw, "a `.` or `..` segment"));
        }
        if decoded
            .iter()
            .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
        {
            return Err(refused(raw, "an encoded separator or control character"));
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&percent::encode_segment_bytes(&decoded));
    }
    Ok(out)
}

fn refused(raw: &str, what: &str) -> Error {
    Error::invalid(format!(
        "`{}` is refused: it contains {what}",
        raw.escape_debug()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn normalizes() {
        let cases = [
            ("/distfiles/foo-1.0.tar.gz", "distfiles/foo-1.0.tar.gz"),
            ("foo.tgz", "foo.tgz"),
            ("/a/b%20c.zip", "a/b%20c.zip"),
            ("/a/%62.zip", "a/b.zip"),
            ("/a/x+y@1.0.tar.xz", "a/x+y@1.0.tar.xz"),
        ];
        for (raw, path) in cases {
            assert_eq!(normalize(raw).unwrap(), path, "{raw}");
        }
    }

    #[test]
    fn refuses_escapes() {
        for raw in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/a/%2e%2e/b",
            "/a/%2E%2E",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "/a//b",
            "/a/./b",
            "/a%00b",
            "/a%zz",
            "/a%2",
        ] {
            let err = normalize(raw).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{raw}: {err}");
            assert!(err.to_string().contains("refused"), "{err}");
        }
    }

    #[test]
    fn directories_are_not_listed() {
        for raw in ["/", "", "/distfiles/"] {
            assert_eq!(
                normalize(raw).unwrap_err().kind(),
                ErrorKind::NotFound,
                "{raw}"
            );
        }
    }
}

/// The decoded last segment of a normalized path (the file's own name, as
/// checksum files list it).
pub fn file_name(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    let last = last.split('?').next().unwrap_or(last);
    percent::decode_lossy(last).into_owned()
}

#[cfg(test)]
mod file_name_tests {
    #[test]
    fn decodes_the_last_segment() {
        assert_eq!(super::file_name("a/b%20c.zip"), "b c.zip");
        assert_eq!(super::file_name("f.tgz?x=1"), "f.tgz");
    }
}
