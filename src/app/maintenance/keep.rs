//! `larder prune --keep FILE`: which stored files a requirements or lock file
//! protects from pruning.
//!
//! A pinned lock file protects exactly the files it names (by filename or
//! SHA-256); `--hash` lines protect exactly those digests; otherwise every
//! file of the project whose version matches the specifiers (all of them
//! when there are none) is protected. A `.metadata` file goes with its
//! distribution. This errs on the side of keeping: a filename larder cannot
//! read a version from is kept when its project is listed.

use std::collections::HashMap;

use crate::catalog::UsageName;
use crate::model::{DistFilename, Sha256Hex};
use crate::requirements::{Version, Wanted};

/// What must survive a prune. The default protects nothing.
#[derive(Debug, Clone, Default)]
pub struct KeepList {
    /// Normalized project name → what of it is wanted.
    projects: HashMap<String, Vec<Wanted>>,
}

impl KeepList {
    pub fn new(wanted: impl IntoIterator<Item = Wanted>) -> Self {
        let mut projects: HashMap<String, Vec<Wanted>> = HashMap::new();
        for want in wanted {
            projects
                .entry(want.name.as_str().to_owned())
                .or_default()
                .push(want);
        }
        Self { projects }
    }

    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }

    /// Whether a blob known by `name` (with digest `sha256`) must be kept.
    /// For a `.metadata` name, the distribution it describes is judged; its
    /// own digest then does not matter.
    pub fn protects(&self, name: &UsageName, sha256: &Sha256Hex) -> bool {
        let Some(wanted) = self.projects.get(&name.project) else {
            return false;
        };
        let (filename, digest) = match name.filename.strip_suffix(".metadata") {
            Some(dist) if !dist.is_empty() => (dist, None),
            _ => (name.filename.as_str(), Some(sha256)),
        };
        wanted.iter().any(|want| wants(want, filename, digest))
    }
}

/// Whether `want` asks for the file `filename` (with `digest` when known).
fn wants(want: &Wanted, filename: &str, digest: Option<&Sha256Hex>) -> bool {
    if !want.pinned_files.is_empty() {
        return want.pinned_files.iter().any(|pin| {
            pin.filename == filename
                || matches!((&pin.sha256, digest), (Some(a), Some(b)) if a == b)
        });
    }
    if !want.hashes.is_empty() {
        // The metadata of a hashed file has no listed digest of its own: it
        // is kept when its distribution's version qualifies.
        if let Some(digest) = digest {
            return want.hashes.contains(digest);
        }
    }
    if want.specifiers.is_empty() {
        return true;
    }
    let version = DistFilename::parse(filename)
        .ok()
        .and_then(|dist| dist.version().parse::<Version>().ok());
    match version {
        Some(version) => want.specifiers.contains(&version),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::requirements::{Source, no_includes, parse};

    fn keep(name: &str, text: &str) -> KeepList {
        let source = Source {
            name: name.to_owned(),
            text: text.to_owned(),
        };
        KeepList::new(parse(&source, &mut no_includes).unwrap().wanted)
    }

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    /// The filenames among `candidates` the keep list protects.
    fn protected<'a>(
        keep: &KeepList,
        candidates: &'a [(UsageName, Sha256Hex)],
    ) -> HashSet<&'a str> {
        candidates
            .iter()
            .filter(|(name, sha)| keep.protects(name, sha))
            .map(|(name, _)| name.filename.as_str())
            .collect()
    }

    fn candidates() -> Vec<(UsageName, Sha256Hex)> {
        [
            ("demo-lib", "demo_lib-1.0-py3-none-any.whl", 'a'),
            ("demo-lib", "demo_lib-1.0-py3-none-any.whl.metadata", 'b'),
            ("demo-lib", "demo_lib-1.1-py3-none-any.whl", 'c'),
            ("demo-lib", "demo_lib-1.1.tar.gz", 'd'),
            ("other", "other-1.0.tar.gz", 'e'),
        ]
        .into_iter()
        .map(|(project, filename, c)| {
            (
                UsageName {
                    source: crate::model::Source::from_stored("main", true),
                    project: project.into(),
                    filename: filename.into(),
                },
                sha(c),
            )
        })
        .collect()
    }

    #[test]
    fn pins_keep_matching_versions_with_their_metadata() {
        let list = keep("requirements.txt", "Demo_Lib==1.0\n");
        let all = candidates();
        assert_eq!(
            protected(&list, &all),
            HashSet::from([
                "demo_lib-1.0-py3-none-any.whl",
                "demo_lib-1.0-py3-none-any.whl.metadata"
            ])
        );
    }

    #[test]
    fn unpinned_keeps_the_whole_project_and_hashes_narrow_it() {
        let all = candidates();
        assert_eq!(protected(&keep("r.txt", "demo-lib\n"), &all).len(), 4);
        let hashed = keep(
            "r.txt",
            &format!("demo-lib==1.1 --hash=sha256:{}\n", "d".repeat(64)),
        );
        assert_eq!(
            protected(&hashed, &all),
            HashSet::from(["demo_lib-1.1.tar.gz"])
        );
        assert!(protected(&KeepList::default(), &all).is_empty());
    }
}
