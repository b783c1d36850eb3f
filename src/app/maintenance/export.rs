//! `larder export`: a self-contained tree (or one `.tar.zst`) holding exactly
//! the chosen stored files, which pip, uv and zc.buildout install from with no
//! network and no larder running. Only stored files are exported; what was
//! asked for but is not stored is reported, never fetched.
//!
//! With `deps` ([`Selection::deps`]), requirements become their closure
//! over the stored files (`closure.rs`): each one's newest stored version
//! and what it depends on, only the files an installer on the targets takes.
//!
//! The tree is built in a hidden scratch directory beside the destination
//! and renamed into place at the end (an archive: written to a hidden name,
//! then renamed), so a failed export leaves nothing half-written.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::info;

mod closure;

use super::{Maintenance, StoredProjects};
use crate::app::Progress;
use crate::error::{Error, ErrorKind, Result};
use crate::export::{Layout, Scratch, archive, manifest};
use crate::index;
use crate::model::{
    CoreMetadata, DistFilename, ProjectFile, ProjectList, ProjectName, ProjectPage, Sha256Hex,
    percent,
};
use crate::requirements::{Targets, Version, Wanted};
use crate::store::{Expected, Hasher};

/// Which stored files to export: everything, or the union of whole
/// projects and requirement / lock-file entries.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Every stored package file (cached, imported and uploaded).
    pub all: bool,
    /// Every stored file of these projects.
    pub projects: Vec<String>,
    /// The stored files matching requirements or lock-file entries (their
    /// pinned files, hashes or version specifiers; markers are not evaluated,
    /// so every target's files are exported).
    pub wanted: Vec<Wanted>,
    /// Instead, export `wanted` and everything it depends on, for these
    /// targets: one stored version per requirement (the newest allowed)
    /// and only the files an installer on the targets takes (see the
    /// module docs).
    pub deps: Option<Targets>,
}

/// Where the export goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A directory that must not exist yet or be empty.
    Dir(PathBuf),
    /// A `.tar.zst` file that must not exist yet.
    Archive(PathBuf),
}

impl Destination {
    fn path(&self) -> &Path {
        match self {
            Self::Dir(path) | Self::Archive(path) => path,
        }
    }
}

/// What `larder export` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    /// The directory or archive written.
    pub output: String,
    pub layout: Layout,
    /// The projects with at least one exported file.
    pub projects: Vec<String>,
    pub files: Vec<ExportedFile>,
    /// Bytes of the distribution files (pages and metadata not counted).
    pub bytes: u64,
    /// What was asked for but is not in the store (not exported).
    pub missing: Vec<Missing>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedFile {
    pub project: String,
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    /// Whether its `.metadata` file is in the tree.
    pub metadata: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Missing {
    /// A project name or a requirement.
    pub what: String,
    pub reason: String,
}

/// One project's files to export.
struct Planned {
    name: ProjectName,
    page: ProjectPage,
}

impl Maintenance {
    /// Exports the selected stored files to `destination` in `layout`.
    pub(crate) async fn export(
        &self,
        projects: &dyn StoredProjects,
        selection: &Selection,
        destination: &Destination,
        layout: Layout,
        progress: &dyn Progress,
    ) -> Result<ExportReport> {
        check_destination(destination).await?;
        let (plan, missing) = self.plan(projects, selection).await?;
        let parent = crate::store::parent_dir(destination.path()).to_path_buf();
        let stem = match destination.path().file_name() {
            Some(name) => format!("{}.larder-export", name.to_string_lossy()),
            None => "larder-export".to_owned(),
        };
        let scratch = Scratch::create_in(&parent, &stem)?;
        let mut report = ExportReport {
            output: destination.path().display().to_string(),
            layout,
            projects: Vec::new(),
            files: Vec::new(),
            bytes: 0,
            missing,
        };
        let entries = self
            .write_tree(scratch.path(), &plan, layout, &mut report, progress)
            .await?;
        write_file(
            &scratch.path().join(manifest::FILE_NAME),
            manifest::render(&entries).as_bytes(),
        )
        .await?;
        match destination {
            Destination::Dir(dest) => {
                // An empty destination is replaced by the finished tree.
                if tokio::fs::metadata(dest).await.is_ok() {
                    tokio::fs::remove_dir(dest).await.map_err(|e| {
                        Error::storage(format!("`{}` is not empty", dest.display()), e)
                    })?;
                }
                scratch.persist_as(dest)?;
            }
            Destination::Archive(dest) => {
                let partial = parent.join(format!(".{stem}.partial-{}", std::process::id()));
                let (tree, out) = (scratch.path().to_path_buf(), partial.clone());
                let written = tokio::task::spawn_blocking(move || archive::write_tree(&tree, &out))
                    .await
                    .map_err(|e| {
                        Error::storage("the archive writer failed", std::io::Error::other(e))
                    })?;
                if let Err(e) = written {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(e);
                }
                tokio::fs::rename(&partial, dest).await.map_err(|e| {
                    Error::storage(
                        format!("cannot move the archive to `{}`", dest.display()),
                        e,
                    )
                })?;
            }
        }
        crate::store::sync_parent(destination.path()).await?;
        info!(
            output = %report.output,
            files = report.files.len(),
            bytes = report.bytes,
            missing = report.missing.len(),
            "export finished"
        );
        Ok(report)
    }

    /// The stored files the selection names, by project, and what it names
    /// that is not stored.
    async fn plan(
        &self,
        projects: &dyn StoredProjects,
        selection: &Selection,
    ) -> Result<(Vec<Planned>, Vec<Missing>)> {
        let mut plan = Vec::new();
        let mut missing = Vec::new();
        if selection.all {
            for project in self.catalog.stored_projects().await? {
                let name = ProjectName::new(&project)?;
                if let Some(page) = projects.stored_page(&name).await? {
                    plan.push(Planned { name, page });
                }
            }
            return Ok((plan, missing));
        }
        let mut whole = HashSet::new();
        for project in &selection.projects {
            let name = ProjectName::new(project)?;
            if !whole.insert(name.clone()) {
                continue;
            }
            match projects.stored_page(&name).await? {
                Some(page) => plan.push(Planned { name, page }),
                None => missing.push(Missing {
                    what: project.clone(),
                    reason: "no file of this project is stored".to_owned(),
                }),
            }
        }
        if let Some(targets) = &selection.deps {
            let (closure, lost) = self.closure(projects, &selection.wanted, targets).await?;
            // A whole project is already planned with every file.
            plan.extend(closure.into_iter().filter(|p| !whole.contains(&p.name)));
            missing.extend(lost);
            return Ok((plan, missing));
        }
        let mut wanted_by_project: BTreeMap<ProjectName, Vec<&Wanted>> = BTreeMap::new();
        for want in &selection.wanted {
            if !whole.contains(&want.name) {
                wanted_by_project
                    .entry(want.name.clone())
                    .or_default()
                    .push(want);
            }
        }
        for (name, wants) in wanted_by_project {
            let Some(mut page) = projects.stored_page(&name).await? else {
                for want in wants {
                    missing.push(Missing {
                        what: want.origin.clone(),
                        reason: format!("no file of `{name}` is stored"),
                    });
                }
                continue;
            };
            let mut keep = HashSet::new();
            for want in &wants {
                let matching: Vec<&ProjectFile> =
                    page.files.iter().filter(|f| wanted_file(want, f)).collect();
                if matching.is_empty() {
                    missing.push(Missing {
                        what: want.origin.clone(),
                        reason: format!("no stored file of `{name}` matches"),
                    });
                }
                keep.extend(matching.iter().map(|f| f.filename.clone()));
            }
            page.files.retain(|f| keep.contains(&f.filename));
            if !page.files.is_empty() {
                page.versions = index::derive_versions(&page.files);
                plan.push(Planned { name, page });
            }
        }
        Ok((plan, missing))
    }

    /// Writes the files and pages; returns the MANIFEST entries.
    async fn write_tree(
        &self,
        root: &Path,
        plan: &[Planned],
        layout: Layout,
        report: &mut ExportReport,
        progress: &dyn Progress,
    ) -> Result<Vec<manifest::Entry>> {
        let files_dir = root.join(layout.files_dir());
        create_dir(&files_dir).await?;
        let mut entries = Vec::new();
        let mut taken = HashSet::new();
        let mut total = 0;
        for file in plan.iter().flat_map(|p| &p.page.files) {
            if let Some(Ok(sha256)) = file.sha256().map(Sha256Hex::parse) {
                total += self.store.size(&sha256).await?.unwrap_or(0);
            }
        }
        progress.start(total);
        let mut list = ProjectList::default();
        for planned in plan {
            let mut files = Vec::new();
            for file in &planned.page.files {
                let Some(sha256) = file.sha256().and_then(|s| Sha256Hex::parse(s).ok()) else {
                    continue;
                };
                if !taken.insert(file.filename.clone()) {
                    report.missing.push(Missing {
                        what: file.filename.clone(),
                        reason: "another exported file has this name".to_owned(),
                    });
                    continue;
                }
                let relative = format!("{}/{}", layout.files_dir(), file.filename);
                let Some(size) = self.copy_blob(&sha256, &root.join(&relative)).await? else {
                    report.missing.push(Missing {
                        what: file.filename.clone(),
                        reason: "its bytes are not in the store (run `larder verify`)".to_owned(),
                    });
                    continue;
                };
                entries.push(manifest::Entry {
                    sha256: sha256.clone(),
                    size,
                    path: relative.clone(),
                });
                let mut exported = file.clone();
                exported.core_metadata = CoreMetadata::Absent;
                if layout.has_pages()
                    && let CoreMetadata::Present(hashes) = &file.core_metadata
                    && let Some(Ok(meta)) = hashes.get("sha256").map(|h| Sha256Hex::parse(h))
                {
                    let meta_path = format!("{relative}.metadata");
                    if let Some(meta_size) = self.copy_blob(&meta, &root.join(&meta_path)).await? {
                        entries.push(manifest::Entry {
                            sha256: meta,
                            size: meta_size,
                            path: meta_path,
                        });
                        exported.core_metadata = file.core_metadata.clone();
                    }
                }
                exported.size = Some(size);
                report.bytes += size;
                report.files.push(ExportedFile {
                    project: planned.name.to_string(),
                    filename: file.filename.clone(),
                    sha256: sha256.to_string(),
                    size,
                    metadata: exported.core_metadata.is_present(),
                });
                progress.advance(size, &file.filename);
                files.push(exported);
            }
            if files.is_empty() {
                continue;
            }
            report.projects.push(planned.name.to_string());
            list.projects.push(planned.name.to_string());
            if layout.has_pages() {
                let page = ProjectPage {
                    name: planned.page.name.clone(),
                    versions: index::derive_versions(&files),
                    files,
                    status: planned.page.status.clone(),
                };
                let dir = format!("simple/{}", planned.name);
                let link = |f: &ProjectFile| {
                    format!("../../files/{}", percent::encode_segment(&f.filename))
                };
                let html = index::html::render_project(&page, &link);
                let json = index::json::render_project(&page, &link);
                entries.push(
                    self.write_page(root, &format!("{dir}/index.html"), &html)
                        .await?,
                );
                entries.push(
                    self.write_page(root, &format!("{dir}/index.json"), &json)
                        .await?,
                );
            }
        }
        if layout.has_pages() {
            let html = index::html::render_list(&list, &|name| format!("{name}/"));
            let json = index::json::render_list(&list);
            entries.push(self.write_page(root, "simple/index.html", &html).await?);
            entries.push(self.write_page(root, "simple/index.json", &json).await?);
        }
        Ok(entries)
    }

    async fn write_page(&self, root: &Path, relative: &str, body: &str) -> Result<manifest::Entry> {
        let path = root.join(relative);
        create_dir(crate::store::parent_dir(&path)).await?;
        write_file(&path, body.as_bytes()).await?;
        Ok(manifest::Entry {
            sha256: Sha256Hex::from_bytes(&sha2::Sha256::digest(body.as_bytes())),
            size: body.len() as u64,
            path: relative.to_owned(),
        })
    }

    /// Copies a blob to `dest`, streaming and re-hashing it on the way (a
    /// corrupt blob fails the export); `None` when it is not stored.
    async fn copy_blob(&self, sha256: &Sha256Hex, dest: &Path) -> Result<Option<u64>> {
        let Some((mut blob, _)) = self.store.open_blob(sha256).await? else {
            return Ok(None);
        };
        let write_error = |e| Error::storage(format!("cannot write `{}`", dest.display()), e);
        let out = tokio::fs::File::create_new(dest)
            .await
            .map_err(write_error)?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, out);
        let mut hasher = Hasher::new(false);
        let mut buf = vec![0; 256 * 1024];
        loop {
            let n = blob
                .read(&mut buf)
                .await
                .map_err(|e| Error::storage(format!("cannot read blob `{sha256}`"), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).await.map_err(write_error)?;
        }
        out.flush().await.map_err(write_error)?;
        out.into_inner().sync_all().await.map_err(write_error)?;
        let digests = hasher.finish();
        let expected = Expected {
            sha256: Some(sha256.clone()),
            md5: None,
            len: None,
        };
        digests.verify(&expected, &format!("stored blob `{sha256}`"))?;
        Ok(Some(digests.len))
    }
}

/// Whether a stored file is one a requirement asks for: its pinned files
/// when it names some, else its hashes, else its version specifiers.
fn wanted_file(want: &Wanted, file: &ProjectFile) -> bool {
    if !want.pinned_files.is_empty() {
        return want.pinned_files.iter().any(|pinned| {
            pinned.filename == file.filename
                && pinned
                    .sha256
                    .as_ref()
                    .is_none_or(|sha| Some(sha.as_str()) == file.sha256())
        });
    }
    if !want.hashes.is_empty() {
        return want
            .hashes
            .iter()
            .any(|sha| Some(sha.as_str()) == file.sha256());
    }
    let Ok(dist) = DistFilename::parse(&file.filename) else {
        return false;
    };
    match Version::from_str(dist.version()) {
        Ok(version) => want.specifiers.contains(&version),
        Err(_) => want.specifiers.is_empty(),
    }
}

async fn check_destination(destination: &Destination) -> Result<()> {
    let path = destination.path();
    let taken = match destination {
        Destination::Archive(_) => tokio::fs::symlink_metadata(path).await.is_ok(),
        Destination::Dir(_) => match tokio::fs::read_dir(path).await {
            Ok(mut entries) => entries
                .next_entry()
                .await
                .map_err(|e| Error::storage(format!("cannot read `{}`", path.display()), e))?
                .is_some(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(Error::invalid(format!(
                    "`{}` is not a directory larder can export to: {e}",
                    path.display()
                )));
            }
        },
    };
    if taken {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "`{}` exists and is not empty; export to a new or empty directory or file",
                path.display()
            ),
        ));
    }
    Ok(())
}

async fn create_dir(dir: &Path) -> Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Error::storage(format!("cannot create `{}`", dir.display()), e))
}

async fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| Error::storage(format!("cannot write `{}`", path.display()), e))
}
