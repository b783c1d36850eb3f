//! Uploads: the legacy upload API (twine, `uv publish`) and pypicache's
//! `POST /uploadpackage/`.
//!
//! The HTTP layer hands over the request's parts one at a time through
//! [`UploadParts`], so nothing is read before the credentials are checked and
//! the file streams into a staging file (hashed with SHA-256, MD5 and
//! BLAKE2b-256 on the way) instead of memory. Only when every declaration
//! holds (digests, filename against name and version, a wheel's METADATA) are
//! the bytes committed and the file recorded; a filename is taken once.
//! Any failure before that leaves nothing behind: the staging file removes
//! itself when dropped.

use async_trait::async_trait;
use bytes::Bytes;
use tracing::info;

use super::Private;
use super::upload_form::{Declared, MAX_FIELD_LEN, UploadApi, UploadForm};
use crate::app::clock::unix_now;
use crate::app::wheel::{self, WheelMetadata};
use crate::auth::Identity;
use crate::catalog::PrivateFile;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ProjectName, Sha256Hex, Yanked};
use crate::store::{Expected, Staged, StagingFile};

/// The start of one part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHeader {
    /// The form field's name.
    pub name: String,
    /// The file name, for file parts.
    pub filename: Option<String>,
}

/// Decides, before a byte is stored, whether an upload may start a private
/// project that an upstream also serves (see `[private] shadow`).
#[async_trait]
pub(crate) trait ShadowGuard: Send + Sync {
    async fn may_shadow(&self, project: &ProjectName) -> Result<()>;
}

/// A multipart body, read part by part. Implemented by the HTTP layer; an
/// unread rest of a part is skipped by the next [`UploadParts::next_part`].
#[async_trait]
pub trait UploadParts: Send {
    /// The next part, or `None` at the end of the body.
    async fn next_part(&mut self) -> Result<Option<PartHeader>>;
    /// The next bytes of the current part, or `None` at its end. A body cut
    /// short is an error, never a short part.
    async fn chunk(&mut self) -> Result<Option<Bytes>>;
}

/// What an accepted upload became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The normalized project name.
    pub project: String,
    pub filename: String,
    pub sha256: Sha256Hex,
    pub size: u64,
}

/// The file part, staged and hashed.
struct Received {
    filename: String,
    staged: Staged,
}

impl Private {
    /// Reads the form of an authorized upload, stages and verifies the file
    /// and records it as a private file.
    pub(crate) async fn upload(
        &self,
        identity: &Identity,
        api: UploadApi,
        parts: &mut dyn UploadParts,
        guard: &dyn ShadowGuard,
    ) -> Result<Uploaded> {
        let mut form = UploadForm::default();
        let mut received: Option<Received> = None;
        while let Some(part) = parts.next_part().await? {
            if api.is_file_field(&part.name) {
                if received.is_some() {
                    return Err(Error::invalid("the upload carries more than one file"));
                }
                let Some(filename) = part.filename.filter(|f| !f.is_empty()) else {
                    return Err(Error::invalid(format!(
                        "the `{}` part has no file name",
                        part.name
                    )));
                };
                // Refuse a bad or taken name before storing a byte.
                let dist = form.check_filename(api, &filename)?;
                self.check_not_taken(&filename).await?;
                guard.may_shadow(&dist.project_name()).await?;
                let staged = self.receive(parts, &filename).await?;
                received = Some(Received { filename, staged });
            } else if UploadForm::wants(&part.name) {
                let value = read_field(parts, &part.name).await?;
                form.set(&part.name, &value);
            }
        }
        let declared = form.validate(api, received.as_ref().map(|r| r.filename.as_str()))?;
        let Some(received) = received else {
            return Err(Error::invalid("the file part is missing"));
        };
        self.keep_upload(declared, received, &identity.name).await
    }

    async fn check_not_taken(&self, filename: &str) -> Result<()> {
        if self.catalog.private_file(filename).await?.is_some() {
            return Err(taken(filename));
        }
        Ok(())
    }

    /// Streams the current part into a staging file, up to the size limit.
    async fn receive(&self, parts: &mut dyn UploadParts, filename: &str) -> Result<Staged> {
        let limit = self.max_upload_size;
        let mut staging = StagingFile::create_in(self.store.staging_dir(), true)
            .await?
            .with_blake2b_256();
        while let Some(chunk) = parts.chunk().await? {
            if staging.len().saturating_add(chunk.len() as u64) > limit {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!(
                        "`{filename}` is larger than the upload limit of {} (private.max-upload-size)",
                        crate::config::units::format_size(limit)
                    ),
                ));
            }
            staging.write(&chunk).await?;
        }
        staging.finish().await
    }

    /// Verifies a received file against its declarations, reads a wheel's
    /// METADATA, commits the bytes and records the file.
    async fn keep_upload(
        &self,
        declared: Declared,
        received: Received,
        uploaded_by: &str,
    ) -> Result<Uploaded> {
        let Received { filename, staged } = received;
        let what = format!("`{filename}`");
        let expected = Expected {
            sha256: declared.sha256.clone(),
            md5: declared.md5.clone(),
            len: None,
        };
        // A digest that does not match is the client's mistake (or a
        // corrupted transfer): 400, not the 502 an upstream mismatch gets.
        let as_invalid = |e: Error| Error::invalid(e.to_string());
        staged.verify(&expected, &what).map_err(as_invalid)?;
        if let Some(blake2b) = &declared.blake2b_256 {
            staged
                .digests
                .verify_blake2b_256(blake2b, &what)
                .map_err(as_invalid)?;
        }
        let metadata = if declared.dist.is_wheel() {
            Some(self.wheel_metadata(&staged, &declared, &filename).await?)
        } else {
            None
        };
        let size = staged.digests.len;
        let store = &self.store;
        let sha256 = store.commit(staged, &Expected::default(), &what).await?;
        let metadata_blob = match &metadata {
            Some(metadata) => Some(
                self.store
                    .put_bytes(&metadata.bytes, &format!("`{filename}.metadata`"))
                    .await?,
            ),
            None => None,
        };
        let requires_python = match &metadata {
            Some(metadata) => metadata.requires_python.clone(),
            None => declared.requires_python.clone(),
        };
        let file = PrivateFile {
            filename: filename.clone(),
            project: declared.project.as_str().to_owned(),
            version: declared.version.clone(),
            sha256: sha256.clone(),
            size,
            requires_python,
            metadata: metadata_blob,
            yanked: Yanked::No,
            uploaded_at: unix_now(),
            uploaded_by: uploaded_by.to_owned(),
        };
        if let Err(e) = self.catalog.add_private_file(&file).await {
            // Lost a race for the name: drop bytes this attempt alone stored.
            self.forget_unrecorded(&file).await;
            return Err(if e.kind() == ErrorKind::Conflict {
                taken(&filename)
            } else {
                e
            });
        }
        self.projects.insert(&file.project);
        info!(project = %file.project, %filename, size, by = uploaded_by, "uploaded");
        Ok(Uploaded {
            project: file.project,
            filename,
            sha256,
            size,
        })
    }

    async fn wheel_metadata(
        &self,
        staged: &Staged,
        declared: &Declared,
        filename: &str,
    ) -> Result<WheelMetadata> {
        let path = staged.path().to_path_buf();
        let dist = declared.dist.clone();
        let filename = filename.to_owned();
        tokio::task::spawn_blocking(move || wheel::read(&path, &dist, &filename))
            .await
            .map_err(|e| Error::storage("the wheel reader failed", std::io::Error::other(e)))?
    }

    /// Deletes the committed blobs of an upload the catalog refused, unless
    /// the catalog knows them (then something else uses the same bytes).
    async fn forget_unrecorded(&self, file: &PrivateFile) {
        let blobs = std::iter::once(&file.sha256).chain(file.metadata.as_ref().map(|(sha, _)| sha));
        for sha256 in blobs {
            if let Ok(None) = self.catalog.blob(sha256).await {
                let _ = self.store.delete(sha256).await;
            }
        }
    }
}

/// Reads a text field's value, refusing values longer than any real one.
async fn read_field(parts: &mut dyn UploadParts, field: &str) -> Result<String> {
    let mut value = Vec::new();
    while let Some(chunk) = parts.chunk().await? {
        if value.len() + chunk.len() > MAX_FIELD_LEN {
            return Err(Error::invalid(format!(
                "the `{field}` field is longer than {MAX_FIELD_LEN} bytes"
            )));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value)
        .map_err(|_| Error::invalid(format!("the `{field}` field is not UTF-8")))
}

/// The answer to a second upload of a filename; twine shows the message.
fn taken(filename: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "File already exists: `{filename}` was uploaded before, and larder never \
             replaces an uploaded file (upload a new version instead)"
        ),
    )
}
