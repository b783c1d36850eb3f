//! SQLite queries of maintenance: blob usage for prune, verify and stats,
//! the two steps of removing a cached blob, and persisted counters.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteCatalog, query_error, sha_from_row, to_i64};
use crate::catalog::{BlobState, BlobUsage, Maintenance, UsageName};
use crate::error::Result;
use crate::model::{Sha256Hex, Source};

/// True when an upload uses blob `?1` (by name or by reference); one macro
/// so prune's and forget's guards cannot drift apart, and the queries stay
/// static strings.
macro_rules! used_by_upload {
    () => {
        "(EXISTS (SELECT 1 FROM private_file p WHERE p.sha256 = ?1 OR p.metadata_sha256 = ?1)
          OR EXISTS (SELECT 1 FROM blob_name n WHERE n.sha256 = ?1 AND n.source = 'private'))"
        // 'private' is how `Source::Upload` is stored; a test holds them together.
    };
}

#[async_trait]
impl Maintenance for SqliteCatalog {
    async fn blob_usage(&self) -> Result<Vec<BlobUsage>> {
        let rows = sqlx::query(
            "SELECT b.sha256, b.size, b.state, b.last_access_at,
                 EXISTS (SELECT 1 FROM private_file p
                     WHERE p.sha256 = b.sha256 OR p.metadata_sha256 = b.sha256) AS referenced,
                 n.source, n.project, n.filename
             FROM blob b LEFT JOIN blob_name n ON n.sha256 = b.sha256
             ORDER BY b.sha256, n.source, n.filename",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(query_error)?;
        let mut out: Vec<BlobUsage> = Vec::new();
        for row in &rows {
            let sha256 = sha_from_row(row)?;
            if out.last().is_none_or(|last| last.sha256 != sha256) {
                let size: i64 = row.try_get("size").map_err(query_error)?;
                let state: String = row.try_get("state").map_err(query_error)?;
                let referenced: i64 = row.try_get("referenced").map_err(query_error)?;
                out.push(BlobUsage {
                    sha256,
                    size: u64::try_from(size).unwrap_or(0),
                    state: BlobState::parse(&state),
                    last_access_at: row.try_get("last_access_at").map_err(query_error)?,
                    private: referenced != 0,
                    names: Vec::new(),
                });
            }
            let source: Option<String> = row.try_get("source").map_err(query_error)?;
            if let (Some(source), Some(usage)) = (source, out.last_mut()) {
                let project: String = row.try_get("project").map_err(query_error)?;
                let source = Source::from_stored(&source, !project.is_empty());
                usage.private |= source == Source::Upload;
                usage.names.push(UsageName {
                    source,
                    project,
                    filename: row.try_get("filename").map_err(query_error)?,
                });
            }
        }
        Ok(out)
    }

    async fn stored_bytes(&self) -> Result<u64> {
        let total: Option<i64> =
            sqlx::query_scalar("SELECT SUM(size) FROM blob WHERE state = 'stored'")
                .fetch_one(&self.pool)
                .await
                .map_err(query_error)?;
        Ok(total.and_then(|t| u64::try_from(t).ok()).unwrap_or(0))
    }

    async fn mark_deleting(&self, sha256: &Sha256Hex) -> Result<bool> {
        let done = sqlx::query(concat!(
            "UPDATE blob SET state = 'deleting'
             WHERE sha256 = ?1 AND state = 'stored' AND NOT ",
            used_by_upload!()
        ))
        .bind(sha256.as_str())
        .execute(&self.pool)
        .await
        .map_err(query_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn forget_cached(&self, sha256: &Sha256Hex, only_deleting: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        let done = sqlx::query(concat!(
            "DELETE FROM blob WHERE sha256 = ?1 AND (state = 'deleting' OR ?2 = 0) AND NOT ",
            used_by_upload!()
        ))
        .bind(sha256.as_str())
        .bind(i64::from(only_deleting))
        .execute(&mut *tx)
        .await
        .map_err(query_error)?;
        let forgotten = done.rows_affected() == 1;
        if forgotten {
            sqlx::query("DELETE FROM mirror_entry WHERE sha256 = ?1")
                .bind(sha256.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
        }
        tx.commit().await.map_err(query_error)?;
        Ok(forgotten)
    }

    async fn add_counters(&self, deltas: &[(&str, u64)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        for (name, delta) in deltas {
            sqlx::query(
                "INSERT INTO counter (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = value + ?2",
            )
            .bind(name)
            .bind(to_i64(*delta))
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        }
        tx.commit().await.map_err(query_error)
    }

    async fn counters(&self) -> Result<Vec<(String, u64)>> {
        let rows = sqlx::query("SELECT name, value FROM counter ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        rows.iter()
            .map(|row| {
                let value: i64 = row.try_get("value").map_err(query_error)?;
                Ok((
                    row.try_get("name").map_err(query_error)?,
                    u64::try_from(value).unwrap_or(0),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::{BlobName, Catalog, MirrorEntry, PrivateFile, PrivateIndex};
    use crate::model::Yanked;

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    async fn catalog(dir: &Path) -> SqliteCatalog {
        SqliteCatalog::open(&dir.join("catalog.sqlite"))
            .await
            .unwrap()
    }

    fn name(sha256: char, source: &str, filename: &str) -> BlobName {
        BlobName {
            sha256: sha(sha256),
            source: Source::from_stored(source, true),
            filename: filename.to_owned(),
            url: String::new(),
            project: "demo".to_owned(),
        }
    }

    #[tokio::test]
    async fn usage_lists_names_and_privacy() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        catalog.record_blob(&sha('a'), 10, 100).await.unwrap();
        catalog
            .add_name(&name('a', "main", "demo-1.0.tar.gz"))
            .await
            .unwrap();
        catalog.record_blob(&sha('c'), 5, 100).await.unwrap();
        catalog
            .add_private_file(&PrivateFile {
                filename: "demo-2.0.tar.gz".into(),
                project: "demo".into(),
                version: "2.0".into(),
                sha256: sha('b'),
                size: 7,
                requires_python: None,
                metadata: None,
                yanked: Yanked::No,
                uploaded_at: 200,
                uploaded_by: "token:ci".into(),
            })
            .await
            .unwrap();
        let usage = catalog.blob_usage().await.unwrap();
        assert_eq!(usage.len(), 3);
        assert_eq!((usage[0].size, usage[0].private), (10, false));
        assert_eq!(usage[0].names[0].filename, "demo-1.0.tar.gz");
        assert_eq!((usage[1].size, usage[1].private), (7, true));
        assert!(usage[2].names.is_empty());
        assert_eq!(catalog.stored_bytes().await.unwrap(), 22);
    }

    #[tokio::test]
    async fn removal_marks_then_forgets_but_never_an_upload() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        catalog.record_blob(&sha('a'), 10, 100).await.unwrap();
        catalog
            .add_name(&name('a', "distfiles", "x.tar"))
            .await
            .unwrap();
        catalog
            .store_mirror_entry(&MirrorEntry {
                mirror: "distfiles".into(),
                path: "x.tar".into(),
                sha256: sha('a'),
                size: 10,
                source: "http://127.0.0.1:1/x.tar".into(),
                etag: None,
                last_modified: None,
                fetched_at: 100,
            })
            .await
            .unwrap();
        // Not marked yet: the guarded forget leaves it alone.
        assert!(!catalog.forget_cached(&sha('a'), true).await.unwrap());
        assert!(catalog.mark_deleting(&sha('a')).await.unwrap());
        assert!(!catalog.mark_deleting(&sha('a')).await.unwrap());
        let row = catalog.blob(&sha('a')).await.unwrap().unwrap();
        assert_eq!(row.state, BlobState::Deleting);
        assert!(catalog.forget_cached(&sha('a'), true).await.unwrap());
        assert_eq!(catalog.blob(&sha('a')).await.unwrap(), None);
        assert_eq!(
            catalog.mirror_entry("distfiles", "x.tar").await.unwrap(),
            None
        );

        catalog.record_blob(&sha('b'), 1, 100).await.unwrap();
        catalog
            .add_name(&name('b', "private", "p.tar.gz"))
            .await
            .unwrap();
        assert!(!catalog.mark_deleting(&sha('b')).await.unwrap());
        assert!(!catalog.forget_cached(&sha('b'), false).await.unwrap());
        assert!(catalog.blob(&sha('b')).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn counters_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        catalog
            .add_counters(&[("hits", 2), ("bytes", 10)])
            .await
            .unwrap();
        catalog.add_counters(&[("hits", 3)]).await.unwrap();
        assert_eq!(
            catalog.counters().await.unwrap(),
            vec![("bytes".to_owned(), 10), ("hits".to_owned(), 5)]
        );
    }
}
