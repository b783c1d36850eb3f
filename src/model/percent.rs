//! The one percent-encoding rule for what larder writes into URLs, and the
//! decoding of what clients and upstreams send, on the `percent-encoding`
//! crate.
//!
//! A file name in a link is one path segment: it keeps RFC 3986's `pchar`
//! characters (unreserved, sub-delimiters, `:` and `@`) and escapes every
//! other byte, `/`, `%`, spaces and non-ASCII included. The server's pages,
//! exports and mirror paths all use it, so one file name is always linked the
//! same way. A query value is stricter: `+` means a space there.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Bytes a path segment escapes: everything outside RFC 3986 `pchar`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Bytes a query value escapes: everything but unreserved characters.
const QUERY_VALUE: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `segment` as one URL path segment (non-ASCII as escaped UTF-8).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Raw bytes as one URL path segment.
pub fn encode_segment_bytes(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, SEGMENT).to_string()
}

/// `value` for a `key=value` query (`+` and `&` escaped).
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Decodes escapes, leaving malformed ones as written; invalid UTF-8
/// becomes U+FFFD. For names read from pages and lock files.
pub fn decode_lossy(text: &str) -> Cow<'_, str> {
    percent_decode_str(text).decode_utf8_lossy()
}

/// Decodes escapes; `None` when one is malformed (`%` not followed by two
/// hex digits). For paths a client sent, where ambiguity is refused.
pub fn decode_strict(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    well_formed.then(|| percent_decode_str(text).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_pchar_and_escape_the_rest() {
        for (raw, encoded) in [
            ("demo-1.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl"),
            ("demo-1.0+local.tar.gz", "demo-1.0+local.tar.gz"),
            ("x y/z", "x%20y%2Fz"),
            ("100%.zip", "100%25.zip"),
            ("caf\u{e9}.zip", "caf%C3%A9.zip"),
            ("a?b#c", "a%3Fb%23c"),
            ("a;b=c&d@e:f!$'()*,", "a;b=c&d@e:f!$'()*,"),
        ] {
            assert_eq!(encode_segment(raw), encoded, "{raw}");
            assert_eq!(decode_lossy(encoded), raw, "{encoded}");
            assert_eq!(decode_strict(encoded).as_deref(), Some(raw.as_bytes()));
        }
    }

    #[test]
    fn query_values_escape_plus_and_ampersand() {
        assert_eq!(
            encode_query_value("application/vnd.pypi.simple.v1+json"),
            "application%2Fvnd.pypi.simple.v1%2Bjson"
        );
        assert_eq!(encode_query_value("a&b c"), "a%26b%20c");
    }

    #[test]
    fn decoding_tells_malformed_escapes() {
        assert_eq!(decode_lossy("a%zzb%4"), "a%zzb%4");
        assert_eq!(decode_strict("a%zz"), None);
        assert_eq!(decode_strict("a%4"), None);
        assert_eq!(decode_strict("%41%2f"), Some(b"A/".to_vec()));
        assert_eq!(decode_lossy("%FF"), "\u{fffd}");
        assert_eq!(decode_lossy("foo-1.0%2Bcpu.tar.gz"), "foo-1.0+cpu.tar.gz");
        assert_eq!(decode_lossy("bad%zz%"), "bad%zz%");
    }
}
