//! The project list (`/simple/`) in both formats as pieces that stream: a
//! head, one entry per name, a tail; and readers that take the names out of
//! an upstream's list without building a document (a real index lists
//! 750,000 projects in 50 MB).

use std::io::Read;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::markup::{decode_entities, push_escaped};
use super::{Format, ParseError};

/// Everything before the first entry.
pub fn head(format: Format) -> String {
    match format {
        Format::Html => {
            let mut out = String::new();
            super::html::push_head(&mut out, "Simple index");
            out
        }
        Format::Json => format!("{{\"meta\":{},\"projects\":[", super::json::meta()),
    }
}

/// Appends one project's entry; `first` for the first entry of the list
/// (JSON separates entries with commas).
pub fn push_entry(out: &mut String, format: Format, name: &str, href: &str, first: bool) {
    match format {
        Format::Html => {
            out.push_str("    <a href=\"");
            push_escaped(out, href);
            out.push_str("\">");
            push_escaped(out, name);
            out.push_str("</a><br />\n");
        }
        Format::Json => {
            if !first {
                out.push(',');
            }
            out.push_str("{\"name\":");
            out.push_str(&serde_json::to_string(name).expect("a string always serializes"));
            out.push('}');
        }
    }
}

/// Everything after the last entry.
pub fn tail(format: Format) -> &'static str {
    match format {
        Format::Html => "  </body>\n</html>\n",
        Format::Json => "]}",
    }
}

/// Longest anchor (tag and text) the HTML reader holds while waiting for its
/// end; a longer one is skipped as garbage, so memory stays bounded.
const MAX_ANCHOR: usize = 64 * 1024;

/// Anchor texts of an HTML project list, fed in chunks of any size.
#[derive(Debug, Default)]
pub struct HtmlNames {
    /// Bytes not yet consumed: at most one unfinished anchor.
    pending: Vec<u8>,
}

impl HtmlNames {
    /// Consumes `chunk`, calling `on_name` for each complete anchor's text.
    pub fn feed(&mut self, chunk: &[u8], on_name: &mut dyn FnMut(String)) {
        self.pending.extend_from_slice(chunk);
        let mut done = 0;
        loop {
            let Some(start) = find_anchor(&self.pending[done..]).map(|i| done + i) else {
                // Keep a tail that could be the start of `<a`.
                done = self.pending.len().saturating_sub(2).max(done);
                break;
            };
            let Some(open_end) = find(&self.pending[start..], b">").map(|i| start + i + 1) else {
                done = start;
                break;
            };
            let Some(close) = find_ci(&self.pending[open_end..], b"</a").map(|i| open_end + i)
            else {
                done = start;
                break;
            };
            let text = String::from_utf8_lossy(&self.pending[open_end..close]);
            let name = decode_entities(strip_tags(&text).trim()).trim().to_owned();
            if !name.is_empty() {
                on_name(name);
            }
            done = close + 3;
        }
        self.pending.drain(..done);
        if self.pending.len() > MAX_ANCHOR {
            self.pending.clear();
        }
    }
}

/// The offset of the next `<a` start tag (`<a>` or `<a ` …), any case.
fn find_anchor(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_ci(&bytes[from..], b"<a").map(|i| from + i) {
        match bytes.get(i + 2) {
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/') => return Some(i),
            // `<abbr>`, `<area>`: not an anchor.
            Some(_) => from = i + 2,
            // Cannot tell yet: wait for more bytes.
            None => return None,
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Text without markup inside it (`<b>name</b>` reads as `name`).
fn strip_tags(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('<') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.into()
}

/// Reads a PEP 691 project list from `reader`, calling `on_name` for each
/// project without keeping the list: the names pass one at a time.
pub fn json_names(reader: impl Read, on_name: &mut dyn FnMut(String)) -> Result<(), ParseError> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    ListSeed { on_name }
        .deserialize(&mut deserializer)
        .map_err(ParseError::Json)?;
    deserializer.end().map_err(ParseError::Json)
}

/// The top-level object: `projects` is read name by name, the rest skipped.
struct ListSeed<'a> {
    on_name: &'a mut dyn FnMut(String),
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a PEP 691 project list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "projects" {
                map.next_value_seed(Projects {
                    on_name: &mut *self.on_name,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Projects<'a> {
    on_name: &'a mut dyn FnMut(String),
}

impl<'de> DeserializeSeed<'de> for Projects<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Projects<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of projects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        #[derive(serde::Deserialize)]
        struct Entry {
            name: String,
        }
        while let Some(Entry { name }) = seq.next_element()? {
            (self.on_name)(name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProjectList;

    fn html_names(body: &str, chunk: usize) -> Vec<String> {
        let mut names = Vec::new();
        let mut reader = HtmlNames::default();
        for piece in body.as_bytes().chunks(chunk) {
            reader.feed(piece, &mut |n| names.push(n));
        }
        names
    }

    #[test]
    fn html_names_survive_any_chunking() {
        let body = "<!DOCTYPE html><html><body>\n\
            <a href=\"/simple/a/\">a</a>\n\
            <A HREF='/simple/b-c/'>B-C</A><br/>\n\
            <abbr>not</abbr><a\nhref=\"x\">a&amp;b</a>\
            <a href=\"/simple/d/\"><b>d</b></a><a href=\"e\">  </a></body></html>";
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                html_names(body, chunk),
                ["a", "B-C", "a&b", "d"],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn html_reader_agrees_with_the_renderer() {
        let list = ProjectList {
            projects: vec!["a".into(), "a&b".into(), "z<y".into()],
        };
        let html = super::super::html::render_list(&list, &|n| format!("{n}/"));
        assert_eq!(html_names(&html, 5), list.projects);
    }

    #[test]
    fn garbage_keeps_memory_bounded() {
        let mut reader = HtmlNames::default();
        let open = b"<a href=\"x\">".to_vec();
        reader.feed(&open, &mut |_| {});
        for _ in 0..100 {
            reader.feed(&[b'x'; 4096], &mut |_| panic!("no anchor ends"));
        }
        assert!(reader.pending.len() <= MAX_ANCHOR + 4096);
    }

    #[test]
    fn json_names_stream_and_ignore_other_keys() {
        let body = br#"{"meta":{"api-version":"1.1","x":[1,{"y":2}]},"projects":[{"name":"a"},{"name":"B","_last-serial":3}],"z":null}"#;
        let mut names = Vec::new();
        json_names(&body[..], &mut |n| names.push(n)).unwrap();
        assert_eq!(names, ["a", "B"]);
        for bad in [
            &br#"{"projects":[{"nam":"a"}]}"#[..],
            b"[1]",
            b"{\"projects\":[",
            b"{} x",
        ] {
            assert!(json_names(bad, &mut |_| {}).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pieces_make_the_same_document_as_the_renderers() {
        let list = ProjectList {
            projects: vec!["a".into(), "b-c".into()],
        };
        for format in [Format::Html, Format::Json] {
            let mut out = head(format);
            for (i, name) in list.projects.iter().enumerate() {
                push_entry(&mut out, format, name, &format!("{name}/"), i == 0);
            }
            out.push_str(tail(format));
            let whole = match format {
                Format::Html => super::super::html::render_list(&list, &|n| format!("{n}/")),
                Format::Json => super::super::json::render_list(&list),
            };
            assert_eq!(out, whole, "{format:?}");
        }
    }
}
