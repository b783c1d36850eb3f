//! PEP 691 content negotiation: pick the page format from the `Accept`
//! header, or from a `?format=` override.

use std::fmt;

const V1_JSON: &str = "application/vnd.pypi.simple.v1+json";
const LATEST_JSON: &str = "application/vnd.pypi.simple.latest+json";
const V1_HTML: &str = "application/vnd.pypi.simple.v1+html";
const LATEST_HTML: &str = "application/vnd.pypi.simple.latest+html";
const TEXT_HTML: &str = "text/html";

/// A Simple API serialization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Html,
    Json,
}

impl Format {
    /// The versioned PEP 691 media type of this format.
    pub fn content_type(&self) -> &'static str {
        match self {
            Format::Html => V1_HTML,
            Format::Json => V1_JSON,
        }
    }
}

/// The outcome of negotiation: the format to render and the `Content-Type`
/// to send. Legacy clients that asked for `text/html` (or sent no `Accept`)
/// get `text/html` back, which PEP 691 allows for the HTML format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub format: Format,
    pub content_type: &'static str,
}

/// Nothing the client accepts is served; answered with 406.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAcceptable {
    /// No media type in this `Accept` value is served.
    Accept(String),
    /// This `?format=` value is not a supported format.
    Format(String),
}

impl fmt::Display for NotAcceptable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotAcceptable::Accept(accept) => write!(
                f,
                "no media type in `Accept: {}` is served here (try {V1_JSON}, {V1_HTML} or {TEXT_HTML})",
                accept.escape_debug()
            ),
            NotAcceptable::Format(format) => write!(
                f,
                "`format={}` is not supported (use json, html, {V1_JSON} or {V1_HTML})",
                format.escape_debug()
            ),
        }
    }
}

impl std::error::Error for NotAcceptable {}

/// What larder can send, in the order that breaks ties between
/// representations matched by one wildcard: `*/*` gets `text/html` (what
/// legacy clients expect, as PEP 691 recommends), `application/*` gets JSON.
const OFFERS: [Negotiated; 3] = [
    Negotiated {
        format: Format::Html,
        content_type: TEXT_HTML,
    },
    Negotiated {
        format: Format::Json,
        content_type: V1_JSON,
    },
    Negotiated {
        format: Format::Html,
        content_type: V1_HTML,
    },
];

/// Chooses the page format per PEP 691.
///
/// `format_override` (the `?format=` query value) wins when present and must
/// be `json`, `html` or one of the Simple API media types. Otherwise each
/// representation takes the q-value of the most specific `Accept` range that
/// matches it (`latest` aliases `v1`; `q=0` excludes); the highest q wins,
/// then the range listed first. No or an empty `Accept` means `*/*`.
/// Ranges with an unparseable q-value are ignored.
pub fn negotiate(
    accept: Option<&str>,
    format_override: Option<&str>,
) -> Result<Negotiated, NotAcceptable> {
    if let Some(value) = format_override {
        return from_override(value).ok_or_else(|| NotAcceptable::Format(value.to_owned()));
    }
    let accept = accept.map(str::trim).filter(|a| !a.is_empty());
    let Some(header) = accept else {
        return Ok(OFFERS[0]);
    };
    let ranges: Vec<Range<'_>> = header.split(',').filter_map(Range::parse).collect();
    let mut best: Option<(u16, usize, Negotiated)> = None;
    for offer in OFFERS {
        let Some((q, position)) = quality(&ranges, offer.content_type) else {
            continue;
        };
        let better = match best {
            None => q > 0,
            Some((best_q, best_position, _)) => {
                q > best_q || (q == best_q && position < best_position)
            }
        };
        if better {
            best = Some((q, position, offer));
        }
    }
    best.map(|(_, _, offer)| offer)
        .ok_or_else(|| NotAcceptable::Accept(header.to_owned()))
}

fn from_override(value: &str) -> Option<Negotiated> {
    // A `+` typed literally in a query (`?format=…v1+json` in a browser or
    // curl) arrives decoded as a space; no format name has a space in it.
    let value = value.trim().replace(' ', "+");
    let is = |name: &str| value.eq_ignore_ascii_case(name);
    let format = if is("json") || is(V1_JSON) || is(LATEST_JSON) {
        Format::Json
    } else if is("html") || is(V1_HTML) || is(LATEST_HTML) {
        Format::Html
    } else if is(TEXT_HTML) {
        return Some(OFFERS[0]);
    } else {
        return None;
    };
    Some(Negotiated {
        format,
        content_type: format.content_type(),
    })
}

/// One `Accept` media range.
struct Range<'a> {
    media_type: &'a str,
    /// q-value in thousandths, so ties compare exactly.
    q: u16,
}

impl<'a> Range<'a> {
    fn parse(item: &'a str) -> Option<Self> {
        let mut parts = item.split(';');
        let media_type = parts.next()?.trim();
        if media_type.is_empty() {
            return None;
        }
        let mut q = 1000;
        for param in parts {
            if let Some((key, value)) = param.split_once('=')
                && key.trim().eq_ignore_ascii_case("q")
            {
                q = parse_q(value.trim())?;
            }
        }
        Some(Self { media_type, q })
    }

    /// How specifically this range matches `content_type`: 3 exact, 2
    /// `type/*`, 1 `*/*`, `None` not at all.
    fn specificity(&self, content_type: &str) -> Option<u8> {
        let is = |name: &str| self.media_type.eq_ignore_ascii_case(name);
        let exact = is(content_type)
            || (content_type == V1_JSON && is(LATEST_JSON))
            || (content_type == V1_HTML && is(LATEST_HTML));
        if exact {
            return Some(3);
        }
        if is("*/*") {
            return Some(1);
        }
        let (kind, subtype) = self.media_type.split_once('/')?;
        let offered_kind = content_type.split_once('/').map_or("", |(kind, _)| kind);
        (subtype.trim() == "*" && kind.trim().eq_ignore_ascii_case(offered_kind)).then_some(2)
    }
}

/// The q-value and header position of the most specific range matching
/// `content_type` (the first such range on equal specificity).
fn quality(ranges: &[Range<'_>], content_type: &str) -> Option<(u16, usize)> {
    let mut best: Option<(u8, u16, usize)> = None;
    for (position, range) in ranges.iter().enumerate() {
        if let Some(specificity) = range.specificity(content_type)
            && best.is_none_or(|(s, _, _)| specificity > s)
        {
            best = Some((specificity, range.q, position));
        }
    }
    best.map(|(_, q, position)| (q, position))
}

/// RFC 9110 `qvalue` (`0` to `1` with up to three decimals) in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |q, digit| q * 10 + u16::from(digit - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIP: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
    const UV: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
    const BROWSER: &str =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

    #[test]
    fn negotiates_accept_headers() {
        for (accept, format, content_type) in [
            (None, Format::Html, TEXT_HTML),
            (Some(""), Format::Html, TEXT_HTML),
            (Some("*/*"), Format::Html, TEXT_HTML),
            (Some(PIP), Format::Json, V1_JSON),
            (Some(UV), Format::Json, V1_JSON),
            (Some(BROWSER), Format::Html, TEXT_HTML),
            (Some("text/html"), Format::Html, TEXT_HTML),
            (Some("TEXT/HTML"), Format::Html, TEXT_HTML),
            (Some("text/*"), Format::Html, TEXT_HTML),
            (Some("application/*"), Format::Json, V1_JSON),
            (Some(LATEST_JSON), Format::Json, V1_JSON),
            (Some(LATEST_HTML), Format::Html, V1_HTML),
            (Some(V1_HTML), Format::Html, V1_HTML),
            // Highest q wins regardless of order.
            (
                Some("text/html;q=0.5, application/vnd.pypi.simple.v1+json"),
                Format::Json,
                V1_JSON,
            ),
            (
                Some("application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.9"),
                Format::Html,
                TEXT_HTML,
            ),
            // Ties go to the range listed first.
            (
                Some("text/html, application/vnd.pypi.simple.v1+json"),
                Format::Html,
                TEXT_HTML,
            ),
            (
                Some("application/vnd.pypi.simple.v1+json, text/html"),
                Format::Json,
                V1_JSON,
            ),
            // q=0 excludes even when a wildcard would match.
            (Some("*/*, text/html;q=0"), Format::Json, V1_JSON),
            (
                Some("*/*;q=0.5, application/vnd.pypi.simple.v1+json;q=0"),
                Format::Html,
                TEXT_HTML,
            ),
            // Unknown parameters are ignored; bad q-values drop their range.
            (
                Some("application/vnd.pypi.simple.v1+json; charset=utf-8"),
                Format::Json,
                V1_JSON,
            ),
            (
                Some("application/vnd.pypi.simple.v1+json;q=2, text/html"),
                Format::Html,
                TEXT_HTML,
            ),
            (Some(" , text/html ; Q=0.3 ,"), Format::Html, TEXT_HTML),
        ] {
            let got = negotiate(accept, None).unwrap_or_else(|e| panic!("{accept:?}: {e}"));
            assert_eq!(got.format, format, "{accept:?}");
            assert_eq!(got.content_type, content_type, "{accept:?}");
        }
    }

    #[test]
    fn refuses_unacceptable_headers() {
        for accept in [
            "application/json",
            "image/png, text/plain",
            "text/html;q=0",
            "*/*;q=0",
            "application/vnd.pypi.simple.v2+json",
            "text/html;q=abc",
        ] {
            let err = negotiate(Some(accept), None).unwrap_err();
            assert_eq!(err, NotAcceptable::Accept(accept.to_owned()));
            assert!(
                err.to_string().contains(&format!("`Accept: {accept}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn format_override_wins() {
        for (value, format, content_type) in [
            ("json", Format::Json, V1_JSON),
            ("JSON", Format::Json, V1_JSON),
            ("html", Format::Html, V1_HTML),
            (V1_JSON, Format::Json, V1_JSON),
            (LATEST_JSON, Format::Json, V1_JSON),
            (V1_HTML, Format::Html, V1_HTML),
            (LATEST_HTML, Format::Html, V1_HTML),
            (TEXT_HTML, Format::Html, TEXT_HTML),
            // `+` decoded as a space, as query strings decode it.
            ("application/vnd.pypi.simple.v1 json", Format::Json, V1_JSON),
            (
                "application/vnd.pypi.simple.latest json",
                Format::Json,
                V1_JSON,
            ),
            ("application/vnd.pypi.simple.v1 html", Format::Html, V1_HTML),
            (
                " application/vnd.pypi.simple.v1 json ",
                Format::Json,
                V1_JSON,
            ),
        ] {
            let got = negotiate(Some("text/html"), Some(value)).unwrap();
            assert_eq!(
                got,
                Negotiated {
                    format,
                    content_type
                },
                "{value}"
            );
        }
        for value in [
            "",
            "xml",
            "application/json",
            "*/*",
            "application/vnd.pypi.simple.v1  json",
            "js on",
        ] {
            let err = negotiate(Some(PIP), Some(value)).unwrap_err();
            assert_eq!(err, NotAcceptable::Format(value.to_owned()));
            assert!(
                err.to_string().contains(&format!("`format={value}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn parses_q_values() {
        for (raw, want) in [
            ("0", Some(0)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("0.5", Some(500)),
            ("0.01", Some(10)),
            ("0.001", Some(1)),
            ("0.", Some(0)),
            ("1.5", None),
            ("0.0001", None),
            ("2", None),
            ("-0.5", None),
            ("", None),
            ("nan", None),
            (".5", None),
        ] {
            assert_eq!(parse_q(raw), want, "{raw}");
        }
    }

    #[test]
    fn content_types_are_versioned() {
        assert_eq!(
            Format::Json.content_type(),
            "application/vnd.pypi.simple.v1+json"
        );
        assert_eq!(
            Format::Html.content_type(),
            "application/vnd.pypi.simple.v1+html"
        );
    }
}
