//! `Range` headers: never a panic, and a partial range always lies inside
//! the body.

use larder::http::range::{ByteRange, RangeRequest, parse};
use proptest::prelude::*;

/// Header-shaped input: `bytes=` with numbers (some huge), dashes, commas
/// and spaces in random order.
fn range_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("bytes=".to_owned()),
        Just("-".to_owned()),
        Just(",".to_owned()),
        Just(" ".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        "[0-9]{1,4}",
        "\\PC{1,2}",
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn check(header: &str, len: u64) -> Result<(), TestCaseError> {
    match parse(Some(header), len) {
        RangeRequest::Partial(ByteRange { start, end }) => {
            prop_assert!(start < end, "{header:?} of {len}: {start}..{end}");
            prop_assert!(end <= len, "{header:?} of {len}: {start}..{end}");
        }
        RangeRequest::Full | RangeRequest::Unsatisfiable => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn arbitrary_headers_stay_in_bounds(header in "\\PC{0,30}", len in any::<u64>()) {
        check(&header, len)?;
    }

    #[test]
    fn range_shaped_headers_stay_in_bounds(
        header in range_soup(),
        len in prop_oneof![0..2000u64, any::<u64>(), Just(0u64), Just(u64::MAX)],
    ) {
        check(&header, len)?;
    }

    #[test]
    fn valid_ranges_are_honoured(len in 1..10_000u64, a in 0..10_000u64, b in 0..10_000u64) {
        let (first, last) = (a.min(b), a.max(b));
        let got = parse(Some(&format!("bytes={first}-{last}")), len);
        if first >= len {
            prop_assert_eq!(got, RangeRequest::Unsatisfiable);
        } else {
            let want = ByteRange { start: first, end: (last + 1).min(len) };
            prop_assert_eq!(got, RangeRequest::Partial(want));
        }
    }
}
