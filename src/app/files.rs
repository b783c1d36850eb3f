//! Package files and their PEP 658 `.metadata` files, addressed by the
//! SHA-256 their page announced: served from the store when stored, else
//! fetched once (see `fetch`) from the URL the page gave.

use url::Url;

use super::fetch::{Job, OpenedFile, Record};
use super::{App, offline_miss};
use crate::catalog::{BlobName, Link};
use crate::error::{Error, ErrorKind, Result};
use crate::model::Sha256Hex;
use crate::store::Expected;

impl App {
    /// Opens `/files/<sha256>/<filename>`: a package file whose page announced
    /// that digest, or (`<filename>` ending in `.metadata`) its core metadata.
    pub async fn open_file(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        match filename.strip_suffix(".metadata") {
            Some(dist) if !dist.is_empty() => self.open_metadata(sha256, dist).await,
            _ => self.open_dist(sha256, filename).await,
        }
    }

    async fn open_dist(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        if let Some(opened) = self.open_stored(sha256, true).await? {
            return Ok(opened);
        }
        if self.offline() {
            return Err(offline_miss(&format!("`{filename}`")));
        }
        let link = self.announced(sha256, filename).await?;
        let job = self.package_job(
            &link,
            &link.url,
            &link.filename,
            Expected {
                sha256: Some(sha256.clone()),
                md5: None,
                len: link.size,
            },
        )?;
        self.follow(job, Some(sha256.to_string()), true).await
    }

    async fn open_metadata(&self, sha256: &Sha256Hex, dist: &str) -> Result<OpenedFile> {
        // An uploaded wheel's METADATA is stored with it, never fetched.
        if let Some(metadata) = self.private_metadata(sha256, dist).await? {
            return self
                .open_stored(&metadata, true)
                .await?
                .ok_or_else(|| Error::not_found(format!("`{dist}.metadata` is not in the store")));
        }
        let link = match self.announced(sha256, dist).await {
            Ok(link) => link,
            // No page announced it: an imported file's METADATA, if stored.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return self.open_stored_metadata(sha256, dist).await?.ok_or(e);
            }
            Err(e) => return Err(e),
        };
        if !link.has_metadata {
            return Err(Error::not_found(format!(
                "`{dist}` has no core metadata file"
            )));
        }
        let url = format!("{}.metadata", link.url);
        let stored = match &link.metadata_sha256 {
            Some(sha) => Some(sha.clone()),
            None => self.inner.catalog.blob_by_url(&url).await?,
        };
        if let Some(sha) = &stored
            && let Some(opened) = self.open_stored(sha, true).await?
        {
            return Ok(opened);
        }
        if self.offline() {
            return Err(offline_miss(&format!("`{dist}.metadata`")));
        }
        let expected = Expected {
            sha256: link.metadata_sha256.clone(),
            md5: None,
            len: None,
        };
        let job = self.package_job(&link, &url, &format!("{dist}.metadata"), expected)?;
        let etag = link.metadata_sha256.map(|s| s.to_string());
        self.follow(job, etag, true).await
    }

    /// The link a page announced for this digest; only such files are fetched.
    async fn announced(&self, sha256: &Sha256Hex, filename: &str) -> Result<Link> {
        match self.inner.catalog.link_and_privacy(sha256).await? {
            // A private project shadows its upstream namesake: none of the
            // upstream's files of it are fetched (see `private`).
            Some((link, private))
                if link.filename == filename && !self.shadows(&link.project, private) =>
            {
                Ok(link)
            }
            _ => Err(Error::not_found(format!(
                "no index page announced `{filename}` with SHA-256 {sha256}"
            ))),
        }
    }

    fn package_job(
        &self,
        link: &Link,
        url: &str,
        filename: &str,
        expected: Expected,
    ) -> Result<Job> {
        let url = Url::parse(url).map_err(|e| {
            Error::new(
                ErrorKind::Upstream,
                format!("announced URL `{url}` is invalid: {e}"),
            )
        })?;
        let headers = self
            .upstream(&link.upstream)
            .map(|u| u.headers_for(&url))
            .unwrap_or_default();
        Ok(Job {
            key: url.to_string(),
            sources: vec![(url.clone(), headers)],
            expected,
            record: Record::Package(BlobName {
                sha256: link.sha256.clone(),
                source: link.upstream.clone(),
                filename: filename.to_owned(),
                url: url.to_string(),
                project: link.project.clone(),
            }),
            fallback: None,
        })
    }
}
