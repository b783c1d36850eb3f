//! Distribution filenames: arbitrary strings never panic the parser, and
//! generated wheel and sdist names parse back into their parts.

use larder::model::{DistFilename, ProjectName};
use proptest::prelude::*;

/// A PEP 508 project name; `dashes` allows `-` (sdists) or not (wheels
/// escape it as `_`).
fn project(dashes: bool) -> impl Strategy<Value = String> {
    let middle = if dashes {
        "[A-Za-z0-9._-]{0,20}"
    } else {
        "[A-Za-z0-9._]{0,20}"
    };
    ("[A-Za-z0-9]", middle, "[A-Za-z0-9]")
        .prop_map(|(first, middle, last)| format!("{first}{middle}{last}"))
}

/// A version with no `-`, which separates a filename's fields.
fn version() -> impl Strategy<Value = String> {
    "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}((a|b|rc|\\.post|\\.dev)[0-9]{1,2})?(\\+[a-z0-9.]{1,6})?"
}

fn tag() -> impl Strategy<Value = String> {
    "[a-z0-9_.]{1,12}"
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn arbitrary_strings_never_panic(filename in "\\PC{0,60}|[a-z0-9._!+-]{0,40}\\.(whl|tar\\.gz|zip|egg|tar)") {
        if let Ok(parsed) = DistFilename::parse(&filename) {
            prop_assert!(!parsed.name().is_empty());
            prop_assert!(!parsed.version().is_empty());
            prop_assert!(ProjectName::new(parsed.name()).is_ok());
            prop_assert!(!filename.contains(['/', '\\']));
        }
    }

    #[test]
    fn wheel_names_round_trip(
        name in project(false),
        version in version(),
        build in proptest::option::of("[0-9][a-z0-9]{0,3}"),
        tags in (tag(), tag(), tag()),
    ) {
        let (python, abi, platform) = tags;
        let filename = match &build {
            Some(build) => format!("{name}-{version}-{build}-{python}-{abi}-{platform}.whl"),
            None => format!("{name}-{version}-{python}-{abi}-{platform}.whl"),
        };
        let parsed = DistFilename::parse(&filename).unwrap();
        prop_assert_eq!(parsed.name(), name.as_str());
        prop_assert_eq!(parsed.version(), version.as_str());
        prop_assert_eq!(parsed.build_tag(), build.as_deref());
        prop_assert!(parsed.is_wheel() && !parsed.is_sdist());
        prop_assert_eq!(parsed.project_name(), ProjectName::new(&name).unwrap());
        prop_assert!(parsed.matches(&ProjectName::new(&name).unwrap(), &version));
    }

    #[test]
    fn sdist_names_round_trip(
        name in project(true),
        version in version(),
        extension in prop_oneof![
            Just(".tar.gz"), Just(".tar.bz2"), Just(".tar.xz"), Just(".tgz"), Just(".zip"), Just(".tar"),
        ],
    ) {
        // The version starts after the last `-` followed by a digit, so a
        // name part like `-2x` would take it: such names are ambiguous.
        prop_assume!(!name.match_indices('-').any(|(i, _)| name[i + 1..].starts_with(|c: char| c.is_ascii_digit())));
        let filename = format!("{name}-{version}{extension}");
        let parsed = DistFilename::parse(&filename).unwrap();
        prop_assert_eq!(parsed.name(), name.as_str());
        prop_assert_eq!(parsed.version(), version.as_str());
        prop_assert!(parsed.is_sdist() && !parsed.is_wheel());
        prop_assert_eq!(parsed.build_tag(), None);
    }
}
