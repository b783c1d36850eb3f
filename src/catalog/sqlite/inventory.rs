//! SQLite queries for `export` and `import`.

use async_trait::async_trait;

use super::{SqliteCatalog, query_error, sha_from_row};
use crate::catalog::Inventory;
use crate::error::Result;
use crate::model::Sha256Hex;

#[async_trait]
impl Inventory for SqliteCatalog {
    async fn stored_metadata(&self, project: &str, dist: &str) -> Result<Option<Sha256Hex>> {
        let row = sqlx::query(
            "SELECT n.sha256 FROM blob_name n JOIN blob b ON b.sha256 = n.sha256
             WHERE n.project = ?1 AND n.filename = ?2 || '.metadata' AND b.state = 'stored'
             ORDER BY b.created_at LIMIT 1",
        )
        .bind(project)
        .bind(dist)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        row.as_ref().map(sha_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{BlobName, Catalog};
    use crate::model::Source;

    #[tokio::test]
    async fn finds_stored_metadata_by_project_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = SqliteCatalog::open(&dir.path().join("catalog.sqlite"))
            .await
            .unwrap();
        let sha = Sha256Hex::parse(&"a".repeat(64)).unwrap();
        catalog.record_blob(&sha, 10, 1).await.unwrap();
        catalog
            .add_name(&BlobName {
                sha256: sha.clone(),
                source: Source::Import,
                filename: "demo-1.0-py3-none-any.whl.metadata".into(),
                url: String::new(),
                project: "demo".into(),
            })
            .await
            .unwrap();
        let found = catalog
            .stored_metadata("demo", "demo-1.0-py3-none-any.whl")
            .await
            .unwrap();
        assert_eq!(found, Some(sha));
        for (project, dist) in [
            ("demo", "demo-2.0-py3-none-any.whl"),
            ("other", "demo-1.0-py3-none-any.whl"),
        ] {
            assert_eq!(catalog.stored_metadata(project, dist).await.unwrap(), None);
        }
    }
}
