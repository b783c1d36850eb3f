//! Test helpers shared by the requirements tests and their users'.

use super::{Source, Targets, Wanted, no_includes, parse_requirements_txt};

/// The one requirement a requirements-file `line` holds.
pub(crate) fn wanted(line: &str) -> Wanted {
    let parsed = parse_requirements_txt(
        &Source {
            name: "r".into(),
            text: line.into(),
        },
        &mut no_includes,
    );
    parsed.wanted.into_iter().next().expect("a requirement")
}

/// `--python` and `--platform` targets.
pub(crate) fn targets(pythons: &[&str], platforms: &[&str]) -> Targets {
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Targets::new(&s(pythons), &s(platforms)).expect("targets")
}
