//! Package files and their PEP 658 `.metadata` files, addressed by the
//! SHA-256 their page announced: served from the store when stored, else
//! fetched once (see `fetch`) from the URL the page gave.

use std::sync::Arc;

use url::Url;

use super::fetch::{Fetcher, Job, OpenedFile, Record};
use super::private::Private;
use super::{Upstream, offline_miss};
use crate::catalog::{BlobName, Catalog, Link};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Sha256Hex, Source};
use crate::store::Expected;

#[derive(Debug)]
pub(crate) struct PackageFiles {
    catalog: Arc<dyn Catalog>,
    fetcher: Fetcher,
    /// Uploaded wheels' METADATA, and which projects shadow their upstream.
    private: Arc<Private>,
    upstreams: Arc<[Upstream]>,
    offline: bool,
}

impl PackageFiles {
    pub(crate) fn new(
        catalog: Arc<dyn Catalog>,
        fetcher: Fetcher,
        private: Arc<Private>,
        upstreams: Arc<[Upstream]>,
        offline: bool,
    ) -> Self {
        Self {
            catalog,
            fetcher,
            private,
            upstreams,
            offline,
        }
    }

    /// Opens `/files/<sha256>/<filename>`: a package file whose page announced
    /// that digest, or (`<filename>` ending in `.metadata`) its core metadata.
    pub(crate) async fn open(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        match filename.strip_suffix(".metadata") {
            Some(dist) if !dist.is_empty() => self.open_metadata(sha256, dist).await,
            _ => self.open_dist(sha256, filename).await,
        }
    }

    async fn open_dist(&self, sha256: &Sha256Hex, filename: &str) -> Result<OpenedFile> {
        if let Some(opened) = self.fetcher.open_stored(sha256, true).await? {
            return Ok(opened);
        }
        if self.offline {
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
        self.fetcher
            .follow(job, Some(sha256.to_string()), true)
            .await
    }

    async fn open_metadata(&self, sha256: &Sha256Hex, dist: &str) -> Result<OpenedFile> {
        // An uploaded wheel's METADATA is stored with it, never fetched.
        if let Some(metadata) = self.private.metadata(sha256, dist).await? {
            return self
                .fetcher
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
            None => self.catalog.blob_by_url(&url).await?,
        };
        if let Some(sha) = &stored
            && let Some(opened) = self.fetcher.open_stored(sha, true).await?
        {
            return Ok(opened);
        }
        if self.offline {
            return Err(offline_miss(&format!("`{dist}.metadata`")));
        }
        let expected = Expected {
            sha256: link.metadata_sha256.clone(),
            md5: None,
            len: None,
        };
        let job = self.package_job(&link, &url, &format!("{dist}.metadata"), expected)?;
        let etag = link.metadata_sha256.map(|s| s.to_string());
        self.fetcher.follow(job, etag, true).await
    }

    /// The link a page announced for this digest under this name; only such
    /// files are fetched. One digest may be announced under several names
    /// (a wheel under several platform tags), each its own link.
    async fn announced(&self, sha256: &Sha256Hex, filename: &str) -> Result<Link> {
        match self.catalog.link_and_privacy(sha256, filename).await? {
            // A private project shadows its upstream namesake: none of the
            // upstream's files of it are fetched (see `private`).
            Some((link, private)) if !self.private.shadows(&link.project, private) => Ok(link),
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
        let upstream = self
            .upstreams
            .iter()
            .find(|u| u.name.as_str() == link.upstream);
        let headers = upstream.map(|u| u.headers_for(&url)).unwrap_or_default();
        let source = match upstream {
            Some(u) => Source::Upstream(u.name.clone()),
            // The upstream left the config since it announced the link.
            None => Source::from_stored(&link.upstream, true),
        };
        Ok(Job {
            key: url.to_string(),
            sources: vec![(url.clone(), headers)],
            expected,
            record: Record::Package(BlobName {
                sha256: link.sha256.clone(),
                source,
                filename: filename.to_owned(),
                url: url.to_string(),
                project: link.project.clone(),
            }),
            fallback: None,
        })
    }

    /// The stored METADATA of a stored distribution no page announced
    /// (imported), for `/files/<sha256>/<dist>.metadata`.
    async fn open_stored_metadata(
        &self,
        sha256: &Sha256Hex,
        dist: &str,
    ) -> Result<Option<OpenedFile>> {
        let catalog = &self.catalog;
        let names = catalog.names(sha256).await?;
        let Some(name) = names
            .iter()
            .find(|n| n.filename == dist && !n.project.is_empty())
        else {
            return Ok(None);
        };
        match catalog.stored_metadata(&name.project, dist).await? {
            Some(metadata) => self.fetcher.open_stored(&metadata, true).await,
            None => Ok(None),
        }
    }
}
