//! Low-level HTML text handling for [`super::html`]: entity decoding,
//! escaping and start-tag attributes.
//!
//! Attributes are tokenized here rather than taken from `tl`, whose attribute
//! parser drops the first character of an attribute that follows a valueless
//! one (`data-yanked data-core-metadata="true"`) and does not treat tabs or
//! `\r` as whitespace; `tl` is still used to find the tags.

use std::borrow::Cow;

/// The attributes of the start tag that `raw` begins with (`<a href="…">…`),
/// per the HTML tokenizer: values may be double-, single- or unquoted, and a
/// valueless attribute yields `None`. Values are returned undecoded.
pub(super) fn start_tag_attrs(raw: &str) -> StartTagAttrs<'_> {
    let rest = raw.strip_prefix('<').unwrap_or(raw);
    let name_end = rest.find(is_name_end).unwrap_or(rest.len());
    StartTagAttrs {
        rest: &rest[name_end..],
    }
}

pub(super) struct StartTagAttrs<'a> {
    rest: &'a str,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

fn is_name_end(c: char) -> bool {
    is_space(c) || c == '/' || c == '>'
}

impl<'a> Iterator for StartTagAttrs<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.trim_start_matches(|c| is_space(c) || c == '/');
        if rest.is_empty() || rest.starts_with('>') {
            self.rest = "";
            return None;
        }
        // A name may start with `=`; it ends at space, `/`, `>` or a later `=`.
        let first = rest.chars().next().map_or(0, char::len_utf8);
        let name_end = rest[first..]
            .find(|c| is_name_end(c) || c == '=')
            .map_or(rest.len(), |i| i + first);
        let name = &rest[..name_end];
        let after_name = rest[name_end..].trim_start_matches(is_space);
        let Some(value_start) = after_name.strip_prefix('=') else {
            self.rest = after_name;
            return Some((name, None));
        };
        let value_start = value_start.trim_start_matches(is_space);
        let (value, rest) = match value_start.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let inner = &value_start[1..];
                match inner.find(quote) {
                    Some(end) => (&inner[..end], &inner[end + 1..]),
                    None => (inner, ""),
                }
            }
            _ => {
                let end = value_start
                    .find(|c| is_space(c) || c == '>')
                    .unwrap_or(value_start.len());
                value_start.split_at(end)
            }
        };
        self.rest = rest;
        Some((name, Some(value)))
    }
}

/// Escapes for text and for double- or single-quoted attribute values.
pub(super) fn push_escaped(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// Decodes the entities PEP 503 pages use: `&amp; &lt; &gt; &quot; &apos;`
/// and numeric references. Anything else is left as written.
pub(super) fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match decode_one(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Decodes the entity `s` starts with, returning it and its length.
fn decode_one(s: &str) -> Option<(char, usize)> {
    // The longest reference handled, `&#x10FFFF;`, is 10 bytes.
    let end = s.bytes().take(12).position(|b| b == b';')?;
    let entity = &s[1..end];
    let c = match entity {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let number = entity.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|&c| c != '\0')?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_start_tag_attributes() {
        for (raw, want) in [
            (r#"<a href="x">text</a>"#, vec![("href", Some("x"))]),
            (
                "<a data-yanked data-core-metadata=\"true\"\thref='y'\r\nfoo=bar>",
                vec![
                    ("data-yanked", None),
                    ("data-core-metadata", Some("true")),
                    ("href", Some("y")),
                    ("foo", Some("bar")),
                ],
            ),
            (
                "<A HREF=/x/y.zip#sha256=ab data-x = \"a>b\"/>",
                vec![
                    ("HREF", Some("/x/y.zip#sha256=ab")),
                    ("data-x", Some("a>b")),
                ],
            ),
            (
                "<a href=\"unterminated",
                vec![("href", Some("unterminated"))],
            ),
            ("<br/>", vec![]),
            ("<a>", vec![]),
            ("<a =x>", vec![("=x", None)]),
            ("<a é=1 ü>", vec![("é", Some("1")), ("ü", None)]),
        ] {
            let got: Vec<_> = start_tag_attrs(raw).collect();
            assert_eq!(got, want, "{raw}");
        }
    }

    #[test]
    fn decodes_entities() {
        for (raw, want) in [
            ("plain", "plain"),
            ("a &amp; b", "a & b"),
            ("&lt;&gt;&quot;&#39;&apos;", "<>\"''"),
            ("&#62;=3.8", ">=3.8"),
            ("&#x3E;&#X3c;", "><"),
            (
                "&nbsp; &unknown; & &#xZZ; &#0; &#x110000;",
                "&nbsp; &unknown; & &#xZZ; &#0; &#x110000;",
            ),
            ("&amp;amp;", "&amp;"),
            ("trailing &", "trailing &"),
            ("&#x1F600;", "\u{1F600}"),
            ("é&amp;ü", "é&ü"),
        ] {
            assert_eq!(decode_entities(raw), want, "{raw}");
        }
    }

    #[test]
    fn escapes_markup_characters() {
        let mut out = String::new();
        push_escaped(&mut out, r#"a<b>&"c"'d'é"#);
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;é");
    }
}
