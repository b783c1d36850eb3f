//! The embedded catalog: one SQLite file in WAL mode.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{BlobName, BlobRecord, BlobState, Catalog, Link, MirrorEntry, StoredPage};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Sha256Hex, Source};

/// Versioned schema migrations, embedded in the binary; append, never edit.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "blobs and their names",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "pages and announced links",
        include_str!("../../migrations/sqlite/0002_pages.sql"),
    ),
    (
        3,
        "private files and API tokens",
        include_str!("../../migrations/sqlite/0003_private.sql"),
    ),
    (
        4,
        "mirror entries",
        include_str!("../../migrations/sqlite/0004_mirror.sql"),
    ),
    (
        5,
        "persisted counters, blobs by state",
        include_str!("../../migrations/sqlite/0005_maintenance.sql"),
    ),
    (
        6,
        "links keyed by digest and filename",
        include_str!("../../migrations/sqlite/0006_links_by_name.sql"),
    ),
];

mod inventory;
mod maintenance;
mod private;

#[derive(Debug, Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|e| db_error("invalid SQLite options", e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| db_error(&format!("cannot open catalog `{}`", path.display()), e))?;
        migrator(MIGRATIONS)
            .run(&pool)
            .await
            .map_err(|e| db_error(&format!("cannot migrate catalog `{}`", path.display()), e))?;
        Ok(Self { pool })
    }
}

fn migrator(migrations: &[(i64, &str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Owned(description.to_owned()),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(sql),
                    false,
                )
            })
            .collect(),
    )
}

fn db_error(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Storage, what.to_owned()).with_source(e)
}

fn query_error(e: sqlx::Error) -> Error {
    db_error("catalog query failed", e)
}

fn to_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn sha_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Sha256Hex> {
    let raw: String = row.try_get("sha256").map_err(query_error)?;
    Sha256Hex::parse(&raw)
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn record_blob(&self, sha256: &Sha256Hex, size: u64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO blob (sha256, size, state, created_at, last_access_at)
             VALUES (?1, ?2, 'stored', ?3, ?3)
             ON CONFLICT (sha256) DO UPDATE SET state = 'stored'",
        )
        .bind(sha256.as_str())
        .bind(to_i64(size))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn add_name(&self, name: &BlobName) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO blob_name (sha256, source, filename, url, project)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(name.sha256.as_str())
        .bind(name.source.as_stored())
        .bind(&name.filename)
        .bind(&name.url)
        .bind(&name.project)
        .execute(&self.pool)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn blob(&self, sha256: &Sha256Hex) -> Result<Option<BlobRecord>> {
        let row = sqlx::query(
            "SELECT sha256, size, state, created_at, last_access_at FROM blob WHERE sha256 = ?1",
        )
        .bind(sha256.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        row.map(|row| {
            let size: i64 = row.try_get("size").map_err(query_error)?;
            let state: String = row.try_get("state").map_err(query_error)?;
            Ok(BlobRecord {
                sha256: sha_from_row(&row)?,
                size: u64::try_from(size).unwrap_or(0),
                state: BlobState::parse(&state),
                created_at: row.try_get("created_at").map_err(query_error)?,
                last_access_at: row.try_get("last_access_at").map_err(query_error)?,
            })
        })
        .transpose()
    }

    async fn names(&self, sha256: &Sha256Hex) -> Result<Vec<BlobName>> {
        let rows = sqlx::query(
            "SELECT sha256, source, filename, url, project FROM blob_name
             WHERE sha256 = ?1 ORDER BY source, filename, url",
        )
        .bind(sha256.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(query_error)?;
        rows.iter()
            .map(|row| {
                let source: String = row.try_get("source").map_err(query_error)?;
                let project: String = row.try_get("project").map_err(query_error)?;
                Ok(BlobName {
                    sha256: sha_from_row(row)?,
                    source: Source::from_stored(&source, !project.is_empty()),
                    filename: row.try_get("filename").map_err(query_error)?,
                    url: row.try_get("url").map_err(query_error)?,
                    project,
                })
            })
            .collect()
    }

    async fn touch(&self, accesses: &[(Sha256Hex, i64)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        for (sha256, at) in accesses {
            sqlx::query(
                "UPDATE blob SET last_access_at = MAX(last_access_at, ?2) WHERE sha256 = ?1",
            )
            .bind(sha256.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        }
        tx.commit().await.map_err(query_error)
    }

    async fn store_page(&self, page: &StoredPage) -> Result<()> {
        sqlx::query(
            "INSERT INTO page (project, upstream, body, etag, last_modified, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (project) DO UPDATE SET upstream = ?2, body = ?3, etag = ?4,
                 last_modified = ?5, fetched_at = ?6",
        )
        .bind(&page.project)
        .bind(&page.upstream)
        .bind(&page.body)
        .bind(&page.etag)
        .bind(&page.last_modified)
        .bind(page.fetched_at)
        .execute(&self.pool)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn page(&self, project: &str) -> Result<Option<StoredPage>> {
        let row = sqlx::query(
            "SELECT project, upstream, body, etag, last_modified, fetched_at FROM page
             WHERE project = ?1",
        )
        .bind(project)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        row.map(|row| {
            Ok(StoredPage {
                project: row.try_get("project").map_err(query_error)?,
                upstream: row.try_get("upstream").map_err(query_error)?,
                body: row.try_get("body").map_err(query_error)?,
                etag: row.try_get("etag").map_err(query_error)?,
                last_modified: row.try_get("last_modified").map_err(query_error)?,
                fetched_at: row.try_get("fetched_at").map_err(query_error)?,
            })
        })
        .transpose()
    }

    async fn announce(&self, links: &[Link]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        for link in links {
            sqlx::query(
                "INSERT OR REPLACE INTO link
                 (sha256, project, filename, url, upstream, size, has_metadata, metadata_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .bind(link.sha256.as_str())
            .bind(&link.project)
            .bind(&link.filename)
            .bind(&link.url)
            .bind(&link.upstream)
            .bind(link.size.map(to_i64))
            .bind(i64::from(link.has_metadata))
            .bind(link.metadata_sha256.as_ref().map(Sha256Hex::as_str))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        }
        tx.commit().await.map_err(query_error)
    }

    async fn link(&self, sha256: &Sha256Hex, filename: &str) -> Result<Option<Link>> {
        let row = sqlx::query(
            "SELECT sha256, project, filename, url, upstream, size, has_metadata, metadata_sha256
             FROM link WHERE sha256 = ?1 AND filename = ?2",
        )
        .bind(sha256.as_str())
        .bind(filename)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn stored_in_project(&self, project: &str) -> Result<Vec<(Sha256Hex, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT n.sha256, n.filename FROM blob_name n
             JOIN blob b ON b.sha256 = n.sha256
             WHERE n.project = ?1 AND b.state = 'stored' AND n.filename NOT LIKE '%.metadata'
             ORDER BY n.filename",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    sha_from_row(row)?,
                    row.try_get("filename").map_err(query_error)?,
                ))
            })
            .collect()
    }

    async fn blob_by_url(&self, url: &str) -> Result<Option<Sha256Hex>> {
        let row = sqlx::query(
            "SELECT n.sha256 FROM blob_name n JOIN blob b ON b.sha256 = n.sha256
             WHERE n.url = ?1 AND b.state = 'stored' LIMIT 1",
        )
        .bind(url)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        row.as_ref().map(sha_from_row).transpose()
    }

    async fn stored_projects(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT n.project FROM blob_name n JOIN blob b ON b.sha256 = n.sha256
             WHERE n.project != '' AND b.state = 'stored' ORDER BY n.project",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_error)?;
        rows.iter()
            .map(|row| row.try_get("project").map_err(query_error))
            .collect()
    }

    async fn mirror_entry(&self, mirror: &str, path: &str) -> Result<Option<MirrorEntry>> {
        let row = sqlx::query(
            "SELECT mirror, path, sha256, size, source, etag, last_modified, fetched_at
             FROM mirror_entry WHERE mirror = ?1 AND path = ?2",
        )
        .bind(mirror)
        .bind(path)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        row.map(|row| {
            let size: i64 = row.try_get("size").map_err(query_error)?;
            Ok(MirrorEntry {
                mirror: row.try_get("mirror").map_err(query_error)?,
                path: row.try_get("path").map_err(query_error)?,
                sha256: sha_from_row(&row)?,
                size: u64::try_from(size).unwrap_or(0),
                source: row.try_get("source").map_err(query_error)?,
                etag: row.try_get("etag").map_err(query_error)?,
                last_modified: row.try_get("last_modified").map_err(query_error)?,
                fetched_at: row.try_get("fetched_at").map_err(query_error)?,
            })
        })
        .transpose()
    }

    async fn store_mirror_entry(&self, entry: &MirrorEntry) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO mirror_entry
             (mirror, path, sha256, size, source, etag, last_modified, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&entry.mirror)
        .bind(&entry.path)
        .bind(entry.sha256.as_str())
        .bind(to_i64(entry.size))
        .bind(&entry.source)
        .bind(&entry.etag)
        .bind(&entry.last_modified)
        .bind(entry.fetched_at)
        .execute(&self.pool)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn forget_blob(&self, sha256: &Sha256Hex) -> Result<()> {
        sqlx::query("DELETE FROM blob WHERE sha256 = ?1")
            .bind(sha256.as_str())
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
        Ok(())
    }
}

fn link_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Link> {
    let size: Option<i64> = row.try_get("size").map_err(query_error)?;
    let metadata: Option<String> = row.try_get("metadata_sha256").map_err(query_error)?;
    let has_metadata: i64 = row.try_get("has_metadata").map_err(query_error)?;
    Ok(Link {
        sha256: sha_from_row(row)?,
        project: row.try_get("project").map_err(query_error)?,
        filename: row.try_get("filename").map_err(query_error)?,
        url: row.try_get("url").map_err(query_error)?,
        upstream: row.try_get("upstream").map_err(query_error)?,
        size: size.and_then(|s| u64::try_from(s).ok()),
        has_metadata: has_metadata != 0,
        metadata_sha256: metadata.as_deref().map(Sha256Hex::parse).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    async fn catalog(dir: &Path) -> SqliteCatalog {
        SqliteCatalog::open(&dir.join("catalog.sqlite"))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn records_blobs_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        catalog.record_blob(&sha('a'), 42, 1000).await.unwrap();
        catalog.record_blob(&sha('a'), 42, 2000).await.unwrap();
        let name = BlobName {
            sha256: sha('a'),
            source: Source::from_stored("downloads", false),
            filename: "foo-1.0.tar.gz".into(),
            url: "http://127.0.0.1:1/foo-1.0.tar.gz".into(),
            project: String::new(),
        };
        catalog.add_name(&name).await.unwrap();
        catalog.add_name(&name).await.unwrap();

        let blob = catalog.blob(&sha('a')).await.unwrap().unwrap();
        assert_eq!(
            (blob.size, blob.created_at, blob.state),
            (42, 1000, BlobState::Stored)
        );
        assert_eq!(catalog.names(&sha('a')).await.unwrap(), vec![name]);
        assert_eq!(catalog.blob(&sha('b')).await.unwrap(), None);
    }

    #[tokio::test]
    async fn touch_only_moves_forward_and_forget_cascades() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        catalog.record_blob(&sha('c'), 1, 100).await.unwrap();
        catalog
            .touch(&[(sha('c'), 500), (sha('d'), 600)])
            .await
            .unwrap();
        catalog.touch(&[(sha('c'), 300)]).await.unwrap();
        assert_eq!(
            catalog
                .blob(&sha('c'))
                .await
                .unwrap()
                .unwrap()
                .last_access_at,
            500
        );

        catalog
            .add_name(&BlobName {
                sha256: sha('c'),
                source: Source::from_stored("x", false),
                filename: "f".into(),
                url: String::new(),
                project: String::new(),
            })
            .await
            .unwrap();
        catalog.forget_blob(&sha('c')).await.unwrap();
        assert_eq!(catalog.blob(&sha('c')).await.unwrap(), None);
        assert!(catalog.names(&sha('c')).await.unwrap().is_empty());
    }

    fn link(sha256: Sha256Hex, filename: &str, metadata: Option<Sha256Hex>) -> Link {
        Link {
            sha256,
            project: "demo".into(),
            filename: filename.into(),
            url: format!("http://127.0.0.1:1/packages/{filename}"),
            upstream: "upstream-1".into(),
            size: Some(3),
            has_metadata: metadata.is_some(),
            metadata_sha256: metadata,
        }
    }

    #[tokio::test]
    async fn links_are_keyed_by_digest_and_filename() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        let any = link(sha('a'), "demo-1.0-py3-none-any.whl", Some(sha('e')));
        let win = link(sha('a'), "demo-1.0-py3-none-win_amd64.whl", Some(sha('f')));
        let other = link(sha('b'), "demo-1.0.tar.gz", None);
        catalog
            .announce(&[any.clone(), win.clone(), other.clone()])
            .await
            .unwrap();
        for want in [&any, &win, &other] {
            let got = catalog.link(&want.sha256, &want.filename).await.unwrap();
            assert_eq!(got.as_ref(), Some(want), "{}", want.filename);
        }
        assert_eq!(
            catalog.link(&sha('b'), &any.filename).await.unwrap(),
            None,
            "a name is fetchable only with the digest announced for it"
        );

        // Announcing a name again replaces that name's link only.
        let moved = Link {
            url: "http://127.0.0.1:2/elsewhere.whl".into(),
            ..win.clone()
        };
        catalog
            .announce(std::slice::from_ref(&moved))
            .await
            .unwrap();
        assert_eq!(
            catalog.link(&sha('a'), &win.filename).await.unwrap(),
            Some(moved)
        );
        assert_eq!(
            catalog.link(&sha('a'), &any.filename).await.unwrap(),
            Some(any)
        );
    }

    #[tokio::test]
    async fn migrating_a_catalog_keyed_by_digest_keeps_its_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let old = link(sha('a'), "demo-1.0-py3-none-any.whl", Some(sha('e')));
        {
            // A data directory from before links were keyed by name.
            let options = SqliteConnectOptions::from_str("sqlite:")
                .unwrap()
                .filename(&path)
                .create_if_missing(true);
            let pool = SqlitePool::connect_with(options).await.unwrap();
            migrator(&MIGRATIONS[..5]).run(&pool).await.unwrap();
            SqliteCatalog { pool: pool.clone() }
                .announce(std::slice::from_ref(&old))
                .await
                .unwrap();
            pool.close().await;
        }
        let catalog = SqliteCatalog::open(&path).await.unwrap();
        assert_eq!(
            catalog.link(&old.sha256, &old.filename).await.unwrap(),
            Some(old.clone())
        );
        let other_name = link(sha('a'), "demo-1.0-py3-none-win_amd64.whl", None);
        catalog
            .announce(std::slice::from_ref(&other_name))
            .await
            .unwrap();
        assert_eq!(
            catalog.link(&old.sha256, &old.filename).await.unwrap(),
            Some(old)
        );
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        catalog(dir.path())
            .await
            .record_blob(&sha('e'), 7, 1)
            .await
            .unwrap();
        let reopened = catalog(dir.path()).await;
        assert_eq!(reopened.blob(&sha('e')).await.unwrap().unwrap().size, 7);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&reopened.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
