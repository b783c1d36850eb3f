//! Following dependencies through core metadata: what `warm --deps` and
//! `export --deps` share.
//!
//! Pure. [`requires_dist`] reads the `Requires-Dist` values out of a
//! METADATA (or `.metadata`) file, [`dependencies`] turns them into the
//! [`Wanted`] a chosen version adds on the targets (markers evaluated with
//! the extras that version was asked with, which propagates them), and
//! [`Rounds`] is the round loop's bookkeeping: each requirement once, a
//! bounded number of rounds and requirements.
//!
//! Not a resolver: every requirement is satisfied on its own; conflicts are
//! not detected.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;

use pep508_rs::MarkerTree;

use super::{Targets, Wanted};
use crate::error::{Error, Result};
use crate::model::{ProjectName, Sha256Hex};

/// How many dependency rounds are followed at most; real trees are far
/// shallower, and a bound keeps a pathological index from looping.
pub const MAX_ROUNDS: usize = 64;
/// How many distinct requirements following dependencies may reach at most.
const MAX_REQUIREMENTS: usize = 20_000;

/// The `Requires-Dist` values of a core-metadata file's header block (the
/// body, after the first empty line, is the description and never counts).
pub fn requires_dist(metadata: &str) -> Vec<String> {
    metadata
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.trim().eq_ignore_ascii_case("Requires-Dist"))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

/// A `Requires-Dist` value as a [`Wanted`], its marker kept; `None` for
/// direct URL requirements and lines that are not PEP 508.
fn dependency(line: &str, origin: &str) -> Option<Wanted> {
    let requirement = pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(line).ok()?;
    let specifiers = match requirement.version_or_url {
        None => pep440_rs::VersionSpecifiers::empty(),
        Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => s,
        Some(pep508_rs::VersionOrUrl::Url(_)) => return None,
    };
    Some(Wanted {
        name: ProjectName::new(requirement.name.as_ref()).ok()?,
        specifiers,
        extras: requirement.extras.iter().map(ToString::to_string).collect(),
        marker: requirement.marker,
        hashes: Vec::new(),
        pinned_files: Vec::new(),
        origin: origin.to_owned(),
    })
}

/// What one chosen version's `Requires-Dist` lines add.
#[derive(Debug, Clone, Default)]
pub struct Dependencies {
    /// The requirements whose markers hold for some target with the extras
    /// the version was asked with; their markers are settled (`TRUE`).
    pub wanted: Vec<Wanted>,
    /// Lines that name nothing an index serves (direct URLs, malformed).
    pub unsupported: Vec<String>,
    /// `dependency of <project> <version>`: the origin of `wanted`.
    pub origin: String,
}

/// The dependencies `lines` (a version's `Requires-Dist` values) add for
/// `parent`, chosen at `version`, on `targets`.
pub fn dependencies(
    lines: Vec<String>,
    parent: &Wanted,
    version: &str,
    targets: &Targets,
) -> Dependencies {
    let origin = format!("dependency of {} {version}", parent.name);
    let mut out = Dependencies::default();
    for line in lines {
        match dependency(&line, &origin) {
            Some(dep) if targets.marker_applies(&dep.marker, &parent.extras) => {
                out.wanted.push(Wanted {
                    marker: MarkerTree::TRUE,
                    ..dep
                });
            }
            Some(_) => {}
            None => out.unsupported.push(line),
        }
    }
    out.origin = origin;
    out
}

/// The round loop's bookkeeping: hands out each wave of requirements with
/// those already seen removed, until a wave is empty or [`MAX_ROUNDS`] is
/// reached.
#[derive(Debug, Default)]
pub struct Rounds {
    seen: HashSet<String>,
    round: usize,
    cut_short: bool,
}

impl Rounds {
    /// The requirements of `wave` not seen before, or `None` when there are
    /// none (or the rounds are used up). An error when more than
    /// [`MAX_REQUIREMENTS`] distinct requirements have been seen.
    pub fn next(&mut self, mut wave: Vec<Wanted>) -> Result<Option<Vec<Wanted>>> {
        wave.retain(|w| !self.seen.contains(&requirement_key(w)));
        if wave.is_empty() {
            return Ok(None);
        }
        if self.round >= MAX_ROUNDS {
            self.cut_short = true;
            return Ok(None);
        }
        wave.retain(|w| self.seen.insert(requirement_key(w)));
        if self.seen.len() > MAX_REQUIREMENTS {
            return Err(Error::invalid(format!(
                "following dependencies reached more than {MAX_REQUIREMENTS} requirements"
            )));
        }
        self.round += 1;
        Ok(Some(wave))
    }

    /// Whether the last [`Rounds::next`] stopped at [`MAX_ROUNDS`] with new
    /// requirements still to follow.
    pub fn cut_short(&self) -> bool {
        self.cut_short
    }
}

/// What makes two requirements the same for deduplication.
fn requirement_key(wanted: &Wanted) -> String {
    let extras: BTreeSet<&String> = wanted.extras.iter().collect();
    let files: BTreeSet<&str> = wanted
        .pinned_files
        .iter()
        .map(|f| f.filename.as_str())
        .collect();
    let hashes: BTreeSet<&str> = wanted.hashes.iter().map(Sha256Hex::as_str).collect();
    format!(
        "{}|{}|{extras:?}|{files:?}|{hashes:?}|{}",
        wanted.name,
        wanted.specifiers,
        wanted.marker.try_to_string().unwrap_or_default()
    )
}

/// `demo[fast]>=1.0`: a requirement as reports show it.
pub fn describe(wanted: &Wanted) -> String {
    let mut out = wanted.name.to_string();
    if !wanted.extras.is_empty() {
        out.push_str(&format!("[{}]", wanted.extras.join(",")));
    }
    out.push_str(&wanted.specifiers.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::testing::{targets, wanted};

    #[test]
    fn requires_dist_from_headers() {
        let text = "Metadata-Version: 2.1\nName: top\nRequires-Dist: mid>=1.0\n\
                    Requires-Dist: extra-only; extra == \"fast\"\nrequires-dist: low\n\n\
                    Requires-Dist: in-the-body\n";
        assert_eq!(
            requires_dist(text),
            ["mid>=1.0", "extra-only; extra == \"fast\"", "low"]
        );
    }

    #[test]
    fn dependencies_parse() {
        let dep = dependency("Mid_Pkg[x] (>=1.0) ; python_version >= '3.8'", "o").expect("dep");
        assert_eq!(dep.name.as_str(), "mid-pkg");
        assert_eq!(dep.specifiers.to_string(), ">=1.0");
        assert_eq!(dep.extras, ["x"]);
        assert!(dependency("x @ http://127.0.0.1/x.whl", "o").is_none());
        assert!(dependency("not a requirement!", "o").is_none());
    }

    #[test]
    fn dependencies_follow_markers_and_extras() {
        let lines = || {
            [
                "plain>=1",
                "win-only; sys_platform == 'win32'",
                "old-py; python_version < '3.8'",
                "fast-only; extra == 'fast'",
                "direct @ http://127.0.0.1/direct.whl",
            ]
            .map(str::to_owned)
            .to_vec()
        };
        // (parent, targets, expected names)
        let cases: [(&str, Targets, &[&str]); 4] = [
            ("top", Targets::default(), &["plain", "win-only", "old-py"]),
            (
                "top",
                targets(&["3.12"], &["manylinux_2_28_x86_64"]),
                &["plain"],
            ),
            (
                "top[fast]",
                targets(&["3.12"], &["win_amd64"]),
                &["plain", "win-only", "fast-only"],
            ),
            (
                "top",
                targets(&["3.7"], &[]),
                &["plain", "win-only", "old-py"],
            ),
        ];
        for (parent, targets, expected) in cases {
            let deps = dependencies(lines(), &wanted(parent), "2.0", &targets);
            let names: Vec<&str> = deps.wanted.iter().map(|w| w.name.as_str()).collect();
            assert_eq!(names, expected, "{parent} on {targets:?}");
            assert!(deps.wanted.iter().all(|w| w.marker.is_true()));
            assert!(
                deps.wanted
                    .iter()
                    .all(|w| w.origin == "dependency of top 2.0")
            );
            assert_eq!(deps.unsupported, ["direct @ http://127.0.0.1/direct.whl"]);
        }
    }

    #[test]
    fn rounds_hand_out_each_requirement_once() {
        let mut rounds = Rounds::default();
        let first = rounds
            .next(vec![wanted("a"), wanted("b>=1"), wanted("a")])
            .expect("ok")
            .expect("a wave");
        assert_eq!(first.len(), 2, "a duplicate within a wave is dropped");
        let second = rounds
            .next(vec![wanted("a"), wanted("b>=2"), wanted("a[x]")])
            .expect("ok")
            .expect("a wave");
        let described: Vec<String> = second.iter().map(describe).collect();
        assert_eq!(described, ["b>=2", "a[x]"]);
        assert!(rounds.next(vec![wanted("a")]).expect("ok").is_none());
        assert!(rounds.next(Vec::new()).expect("ok").is_none());
        assert!(!rounds.cut_short());
    }

    #[test]
    fn rounds_are_bounded() {
        let mut rounds = Rounds::default();
        for n in 0..MAX_ROUNDS {
            assert!(
                rounds
                    .next(vec![wanted(&format!("p{n}"))])
                    .expect("ok")
                    .is_some()
            );
        }
        assert!(
            rounds
                .next(vec![wanted("one-too-deep")])
                .expect("ok")
                .is_none()
        );
        assert!(rounds.cut_short());

        let mut rounds = Rounds::default();
        let many: Vec<Wanted> = (0..=MAX_REQUIREMENTS)
            .map(|n| wanted(&format!("p{n}")))
            .collect();
        let err = rounds.next(many).expect_err("too many");
        assert!(err.to_string().contains("20000"), "{err}");
    }
}
