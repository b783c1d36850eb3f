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
