//! HTTP `Range` requests (RFC 9110 §14): one byte range per request.

/// A satisfiable byte range, `start..end` with `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// What to do with a `Range` header for a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range (absent, not `bytes=`, several ranges, or malformed):
    /// send the whole body, as RFC 9110 allows.
    Full,
    Partial(ByteRange),
    /// `416 Range Not Satisfiable`.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` against a body of `len` bytes.
pub fn parse(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match number(last) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) => (len.saturating_sub(n), len),
            None => return RangeRequest::Full,
        },
        (false, true) => match number(first) {
            Some(start) => (start, len),
            None => return RangeRequest::Full,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(last)) if last >= start => (start, last.saturating_add(1).min(len)),
            _ => return RangeRequest::Full,
        },
        (true, true) => return RangeRequest::Full,
    };
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start, end })
    }

    #[test]
    fn table() {
        let cases = [
            (None, RangeRequest::Full),
            (Some("bytes=0-0"), partial(0, 1)),
            (Some("bytes=0-99"), partial(0, 100)),
            (Some("bytes=10-"), partial(10, 100)),
            (Some("bytes=-10"), partial(90, 100)),
            (Some("bytes=-500"), partial(0, 100)),
            (Some("bytes=50-1000"), partial(50, 100)),
            (Some("bytes=99-99"), partial(99, 100)),
            (Some("bytes=100-"), RangeRequest::Unsatisfiable),
            (Some("bytes=100-200"), RangeRequest::Unsatisfiable),
            (Some("bytes=-0"), RangeRequest::Unsatisfiable),
            (Some("bytes=5-1"), RangeRequest::Full),
            (Some("bytes=0-1,5-6"), RangeRequest::Full),
            (Some("items=0-1"), RangeRequest::Full),
            (Some("bytes=x-y"), RangeRequest::Full),
            (Some("bytes=-"), RangeRequest::Full),
        ];
        for (header, expected) in cases {
            assert_eq!(parse(header, 100), expected, "{header:?}");
        }
    }
}
