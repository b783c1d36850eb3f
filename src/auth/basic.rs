//! `Authorization: Basic base64(user:password)` (RFC 7617), the only scheme
//! twine, `uv publish`, pip and uv send to a private index.

use crate::config::Secret;

/// A user name and password (or `__token__` and a token) from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: Secret::new(password),
        }
    }
}

/// Reads an `Authorization` header value. `None` when it is not `Basic`,
/// not valid base64, not UTF-8, or has no `:`; the caller treats that like
/// wrong credentials.
pub fn parse(header: &str) -> Option<Credentials> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    // The user name cannot contain `:` (RFC 7617); the password may.
    let (user, password) = decoded.split_once(':')?;
    Some(Credentials::new(user, password))
}

/// The `Authorization` value for `user` and `password` (what larder sends
/// to upstreams that want credentials).
pub fn header_value(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{user}:{password}").as_bytes())
    )
}

/// Standard base64 with padding.
fn base64_encode(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (what clients send); `None` on anything else.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let bytes = input.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (index, chunk) in bytes.chunks(4).enumerate() {
        let last = index == bytes.len() / 4 - 1;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - padding] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_round_trip() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("ci:pw", "Y2k6cHc="),
        ];
        for (raw, encoded) in cases {
            assert_eq!(base64_encode(raw.as_bytes()), encoded, "{raw}");
        }
        let parsed = parse(&header_value("ci", "p:w")).unwrap();
        assert_eq!(
            (parsed.user.as_str(), parsed.password.expose()),
            ("ci", "p:w")
        );
    }

    #[test]
    fn parses_basic_headers() {
        let cases = [
            // "__token__:larder_x"
            (
                "Basic X190b2tlbl9fOmxhcmRlcl94",
                Some(("__token__", "larder_x")),
            ),
            // "alice:pa:ss" (colons in passwords are allowed)
            ("Basic YWxpY2U6cGE6c3M=", Some(("alice", "pa:ss"))),
            ("basic YWxpY2U6cGE6c3M=", Some(("alice", "pa:ss"))),
            ("  Basic   YWxpY2U6cGE6c3M=  ", Some(("alice", "pa:ss"))),
            // "alice:" (empty password)
            ("Basic YWxpY2U6", Some(("alice", ""))),
            // ":pw" (empty user)
            ("Basic OnB3", Some(("", "pw"))),
            // "alice" (no colon)
            ("Basic YWxpY2U=", None),
            ("Bearer YWxpY2U6cGE6c3M=", None),
            ("Basic", None),
            ("Basic !!!!", None),
            ("Basic YWxpY2U6cGE6c3M", None),
            ("Basic YW=xpY2U6", None),
            // invalid UTF-8 (0xff 0xfe 0x3a)
            ("Basic //46", None),
            ("", None),
        ];
        for (header, expected) in cases {
            let parsed = parse(header);
            let expected = expected.map(|(user, password)| Credentials::new(user, password));
            assert_eq!(parsed, expected, "{header:?}");
        }
    }

    #[test]
    fn base64_round_trips_rfc4648_vectors() {
        for (encoded, raw) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(base64_decode(encoded).unwrap(), raw.as_bytes(), "{encoded}");
        }
    }
}
