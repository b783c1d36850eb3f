//! Mirror paths: whatever a client asks for, an accepted path stays inside
//! the mirror and is a plain relative path.

use larder::model::mirror_path::normalize;
use proptest::prelude::*;

/// Path-shaped input with the pieces that try to escape: dots, encoded
/// dots and separators, backslashes, NUL, malformed escapes.
fn path_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just("%2f".to_owned()),
        Just("%5C".to_owned()),
        Just("\\".to_owned()),
        Just("%00".to_owned()),
        Just("%".to_owned()),
        Just("%+1".to_owned()),
        Just("%zz".to_owned()),
        Just("%C3%A9".to_owned()),
        "[a-z0-9._~-]{1,6}",
        "\\PC{1,3}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// The `%XX` escapes of `segment` decoded (the output is canonical, so
/// every `%` starts one).
fn decoded(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&segment[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn check(raw: &str) -> Result<(), TestCaseError> {
    let Ok(path) = normalize(raw) else {
        return Ok(());
    };
    prop_assert!(!path.starts_with('/'), "{raw:?} -> {path:?}");
    prop_assert!(!path.contains('\\'), "{raw:?} -> {path:?}");
    prop_assert!(!path.chars().any(char::is_control), "{raw:?} -> {path:?}");
    for segment in path.split('/') {
        prop_assert!(!segment.is_empty(), "{raw:?} -> {path:?}");
        let plain = decoded(segment);
        prop_assert!(plain != b"." && plain != b"..", "{raw:?} -> {path:?}");
        prop_assert!(
            !plain
                .iter()
                .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f),
            "{raw:?} -> {path:?}"
        );
    }
    // Canonical: normalizing again changes nothing.
    prop_assert_eq!(normalize(&path).unwrap(), path.clone(), "{:?}", raw);
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn arbitrary_paths_never_escape(raw in "\\PC{0,40}") {
        check(&raw)?;
    }

    #[test]
    fn path_soup_never_escapes(raw in path_soup()) {
        check(&raw)?;
    }
}
