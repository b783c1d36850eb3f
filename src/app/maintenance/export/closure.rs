//! `export --deps`: the requirements and everything they depend on, chosen
//! among the stored files only, so a bundle of an unpinned requirements file
//! installs offline.
//!
//! Each requirement takes the newest stored version its specifiers allow
//! that has files usable on the targets (a version already taken for that
//! project is preferred when it qualifies, so a pin and a looser dependency
//! share one version). Its `Requires-Dist` (markers evaluated for the
//! targets, extras propagated) comes from the stored `.metadata` file of a
//! chosen wheel, else from the stored wheel itself; a version with only an
//! sdist stored cannot say what it depends on without being built, which is
//! reported rather than guessed. Rounds go on until nothing new turns up.
//! Of each chosen version only the files an installer on the targets takes
//! are written ([`needed_files`]).
//!
//! Never fetches: this runs on a data directory with no server and no
//! upstream. What is needed and not stored is reported as [`Missing`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use tokio::io::AsyncReadExt;

use super::{Missing, Planned};
use crate::app::maintenance::{Maintenance, StoredProjects};
use crate::error::{Error, ErrorKind, Result};
use crate::index;
use crate::model::{CoreMetadata, DistFilename, ProjectFile, ProjectName, ProjectPage, Sha256Hex};
use crate::requirements::{
    Choice, MAX_ROUNDS, Rounds, Targets, Version, Wanted, choose_files, dependencies, describe,
    needed_files, requires_dist,
};

/// What a closure found: the files to write, by project, and what is
/// needed but not stored (or not knowable).
#[derive(Default)]
struct Found {
    /// The stored page of each project reached, and the files of it kept.
    kept: BTreeMap<ProjectName, (ProjectPage, BTreeSet<String>)>,
    /// The versions taken of each project.
    versions: HashMap<ProjectName, BTreeSet<Version>>,
    missing: Vec<Missing>,
}

impl Maintenance {
    /// The stored files `wanted` and its dependencies need on `targets`,
    /// by project, and what is needed but not stored.
    pub(super) async fn closure(
        &self,
        projects: &dyn StoredProjects,
        wanted: &[Wanted],
        targets: &Targets,
    ) -> Result<(Vec<Planned>, Vec<Missing>)> {
        let mut found = Found::default();
        let mut pages: HashMap<ProjectName, Option<ProjectPage>> = HashMap::new();
        // Each version's `Requires-Dist` is read (and a failure reported) once.
        let mut read: HashMap<(ProjectName, String), Option<Vec<String>>> = HashMap::new();
        let mut rounds = Rounds::default();
        let mut wave = wanted.to_vec();
        while let Some(this_round) = rounds.next(wave)? {
            let mut next = Vec::new();
            for want in this_round {
                if !targets.marker_applies(&want.marker, &[]) {
                    continue;
                }
                if !pages.contains_key(&want.name) {
                    let page = projects.stored_page(&want.name).await?;
                    pages.insert(want.name.clone(), page);
                }
                let what = || format!("{} ({})", describe(&want), want.origin);
                let Some(Some(page)) = pages.get(&want.name) else {
                    found.missing.push(Missing {
                        what: what(),
                        reason: format!("no file of `{}` is stored", want.name),
                    });
                    continue;
                };
                let taken = found.versions.get(&want.name);
                let choice = match choose_preferring(page, &want, targets, taken) {
                    Ok(choice) => choice,
                    Err(reason) => {
                        found.missing.push(Missing {
                            what: what(),
                            reason: format!("among the stored files: {reason}"),
                        });
                        continue;
                    }
                };
                found.take(page, &want, &choice, targets);
                let key = (want.name.clone(), choice.version.clone());
                if !read.contains_key(&key) {
                    let lines = self.dependencies_of(&want, &choice, &mut found).await?;
                    read.insert(key.clone(), lines);
                }
                let Some(Some(lines)) = read.get(&key) else {
                    continue;
                };
                let deps = dependencies(lines.clone(), &want, &choice.version, targets);
                for line in deps.unsupported {
                    found.missing.push(Missing {
                        what: format!("{line} ({})", deps.origin),
                        reason: "not a requirement an index serves (a direct URL?): not exported"
                            .to_owned(),
                    });
                }
                next.extend(deps.wanted);
            }
            wave = next;
        }
        if rounds.cut_short() {
            found.missing.push(Missing {
                what: "dependencies".to_owned(),
                reason: format!(
                    "more than {MAX_ROUNDS} levels deep: the deeper ones were not followed"
                ),
            });
        }
        Ok(found.into_plan())
    }

    /// The `Requires-Dist` lines of `choice`, or `None` (reported in
    /// `found`) when they cannot be read: only an sdist is stored, or its
    /// core metadata is unreadable.
    async fn dependencies_of(
        &self,
        want: &Wanted,
        choice: &Choice,
        found: &mut Found,
    ) -> Result<Option<Vec<String>>> {
        let reason = match self.stored_requires_dist(&choice.files).await {
            Ok(Some(lines)) => return Ok(Some(lines)),
            Ok(None) => "only an sdist of it is stored: what it depends on cannot be known \
                         without building it, so that may be missing from the export"
                .to_owned(),
            Err(e) if e.kind() == ErrorKind::Storage => return Err(e),
            Err(e) => format!("cannot read its core metadata: {e}"),
        };
        found.missing.push(Missing {
            what: format!("dependencies of {} {}", want.name, choice.version),
            reason,
        });
        Ok(None)
    }

    /// `Requires-Dist` of a chosen version: from a stored `.metadata` file
    /// of one of its wheels, else from a stored wheel itself; `None` when no
    /// wheel of it is among `files` (an sdist only).
    async fn stored_requires_dist(&self, files: &[ProjectFile]) -> Result<Option<Vec<String>>> {
        let wheels: Vec<&ProjectFile> = files
            .iter()
            .filter(|f| f.filename.ends_with(".whl"))
            .collect();
        for wheel in &wheels {
            let CoreMetadata::Present(hashes) = &wheel.core_metadata else {
                continue;
            };
            let Some(Ok(sha256)) = hashes.get("sha256").map(|h| Sha256Hex::parse(h)) else {
                continue;
            };
            let Some((mut blob, _)) = self.store.open_blob(&sha256).await? else {
                continue;
            };
            let mut bytes = Vec::new();
            blob.read_to_end(&mut bytes).await.map_err(|e| {
                Error::storage(format!("cannot read `{}.metadata`", wheel.filename), e)
            })?;
            return Ok(Some(requires_dist(&String::from_utf8_lossy(&bytes))));
        }
        for wheel in &wheels {
            let Some(Ok(sha256)) = wheel.sha256().map(Sha256Hex::parse) else {
                continue;
            };
            if self.store.size(&sha256).await?.is_none() {
                continue;
            }
            let dist =
                DistFilename::parse(&wheel.filename).map_err(|e| Error::invalid(e.to_string()))?;
            let (path, filename) = (self.store.path(&sha256), wheel.filename.clone());
            let metadata = tokio::task::spawn_blocking(move || {
                crate::app::wheel::read(&path, &dist, &filename)
            })
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Storage, format!("metadata reader failed: {e}"))
            })??;
            return Ok(Some(requires_dist(&String::from_utf8_lossy(
                &metadata.bytes,
            ))));
        }
        Ok(None)
    }
}

impl Found {
    /// Keeps what an installer on `targets` takes of `choice`.
    fn take(&mut self, page: &ProjectPage, want: &Wanted, choice: &Choice, targets: &Targets) {
        if let Ok(version) = Version::from_str(&choice.version) {
            self.versions
                .entry(want.name.clone())
                .or_default()
                .insert(version);
        }
        let (_, kept) = self
            .kept
            .entry(want.name.clone())
            .or_insert_with(|| (page.clone(), BTreeSet::new()));
        kept.extend(
            needed_files(choice.files.clone(), targets)
                .into_iter()
                .map(|f| f.filename),
        );
    }

    fn into_plan(self) -> (Vec<Planned>, Vec<Missing>) {
        let plan = self
            .kept
            .into_iter()
            .map(|(name, (mut page, kept))| {
                page.files.retain(|f| kept.contains(&f.filename));
                page.versions = index::derive_versions(&page.files);
                Planned { name, page }
            })
            .collect();
        (plan, self.missing)
    }
}

/// [`choose_files`], but a version already taken for the project wins when
/// it qualifies: a pinned top-level requirement and a looser dependency on
/// the same project then share one version instead of exporting two.
fn choose_preferring(
    page: &ProjectPage,
    want: &Wanted,
    targets: &Targets,
    taken: Option<&BTreeSet<Version>>,
) -> std::result::Result<Choice, String> {
    if let Some(taken) = taken {
        let mut narrowed = page.clone();
        narrowed.files.retain(|f| {
            DistFilename::parse(&f.filename)
                .ok()
                .and_then(|d| Version::from_str(d.version()).ok())
                .is_some_and(|v| taken.contains(&v))
        });
        if let Ok(choice) = choose_files(&narrowed, want, targets) {
            return Ok(choice);
        }
    }
    choose_files(page, want, targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    use crate::requirements::testing::wanted;

    fn file(filename: &str) -> ProjectFile {
        let sha256 = Sha256Hex::from_bytes(&sha2::Sha256::digest(filename.as_bytes()));
        ProjectFile::bare(filename, &sha256)
    }

    #[test]
    fn a_taken_version_is_preferred_when_it_qualifies() {
        let page = ProjectPage {
            name: "d".into(),
            files: [
                "d-1.0-py3-none-any.whl",
                "d-1.1-py3-none-any.whl",
                "d-2.0.tar.gz",
            ]
            .map(file)
            .to_vec(),
            versions: Vec::new(),
            status: None,
        };
        let any = Targets::default();
        let v = |s: &str| BTreeSet::from([Version::from_str(s).expect("version")]);
        // (requirement, versions taken, chosen)
        let cases: [(&str, Option<BTreeSet<Version>>, &str); 5] = [
            ("d", None, "2.0"),
            ("d>=1.0", Some(v("1.0")), "1.0"),
            ("d>=1.1", Some(v("1.0")), "2.0"),
            ("d<2", Some(v("3.0")), "1.1"),
            ("d", Some(v("1.1")), "1.1"),
        ];
        for (line, taken, expected) in cases {
            let choice =
                choose_preferring(&page, &wanted(line), &any, taken.as_ref()).expect("a choice");
            assert_eq!(choice.version, expected, "{line} with {taken:?} taken");
        }
    }
}
