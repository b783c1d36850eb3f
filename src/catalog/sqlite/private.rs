//! SQLite queries of the private index: uploaded files and API tokens.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteCatalog, link_from_row, query_error, sha_from_row, to_i64};
use crate::auth::Scope;
use crate::catalog::{Link, PrivateFile, PrivateIndex, TokenRecord};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Sha256Hex, Source, Yanked};

/// `SELECT` of a [`PrivateFile`]: the file row `p` and its metadata blob `m`
/// (a macro so the queries stay static strings).
macro_rules! select_files {
    ($where:literal) => {
        concat!(
            "SELECT p.filename, p.project, p.version, p.sha256, p.size,
                 p.requires_python, p.metadata_sha256, m.size AS metadata_size, p.yanked,
                 p.yanked_reason, p.uploaded_at, p.uploaded_by
             FROM private_file p LEFT JOIN blob m ON m.sha256 = p.metadata_sha256 ",
            $where
        )
    };
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

fn file_from_row(row: &SqliteRow) -> Result<PrivateFile> {
    let get_i64 = |column: &str| -> Result<i64> { row.try_get(column).map_err(query_error) };
    let metadata_sha256: Option<String> = row.try_get("metadata_sha256").map_err(query_error)?;
    let metadata_size: Option<i64> = row.try_get("metadata_size").map_err(query_error)?;
    let metadata = match metadata_sha256 {
        Some(sha) => Some((
            Sha256Hex::parse(&sha)?,
            metadata_size
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
        )),
        None => None,
    };
    let yanked = if get_i64("yanked")? != 0 {
        let reason: Option<String> = row.try_get("yanked_reason").map_err(query_error)?;
        Yanked::Yes(reason.filter(|r| !r.is_empty()))
    } else {
        Yanked::No
    };
    Ok(PrivateFile {
        filename: row.try_get("filename").map_err(query_error)?,
        project: row.try_get("project").map_err(query_error)?,
        version: row.try_get("version").map_err(query_error)?,
        sha256: sha_from_row(row)?,
        size: u64::try_from(get_i64("size")?).unwrap_or(0),
        requires_python: row.try_get("requires_python").map_err(query_error)?,
        metadata,
        yanked,
        uploaded_at: get_i64("uploaded_at")?,
        uploaded_by: row.try_get("uploaded_by").map_err(query_error)?,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord> {
    let scope: String = row.try_get("scope").map_err(query_error)?;
    Ok(TokenRecord {
        name: row.try_get("name").map_err(query_error)?,
        id: row.try_get("id").map_err(query_error)?,
        hash: row.try_get("hash").map_err(query_error)?,
        scope: Scope::parse(&scope).map_err(|_| {
            Error::new(
                ErrorKind::Storage,
                format!("the catalog holds a token with an unknown scope `{scope}`"),
            )
        })?,
        created_at: row.try_get("created_at").map_err(query_error)?,
    })
}

#[async_trait]
impl PrivateIndex for SqliteCatalog {
    async fn add_private_file(&self, file: &PrivateFile) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        let metadata_name = format!("{}.metadata", file.filename);
        let mut blobs = vec![(&file.sha256, file.size, file.filename.as_str())];
        if let Some((sha, size)) = &file.metadata {
            blobs.push((sha, *size, metadata_name.as_str()));
        }
        for (sha256, size, filename) in blobs {
            sqlx::query(
                "INSERT INTO blob (sha256, size, state, created_at, last_access_at)
                 VALUES (?1, ?2, 'stored', ?3, ?3)
                 ON CONFLICT (sha256) DO UPDATE SET state = 'stored'",
            )
            .bind(sha256.as_str())
            .bind(to_i64(size))
            .bind(file.uploaded_at)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            sqlx::query(
                "INSERT OR IGNORE INTO blob_name (sha256, source, filename, url, project)
                 VALUES (?1, ?2, ?3, '', ?4)",
            )
            .bind(sha256.as_str())
            .bind(Source::Upload.as_stored())
            .bind(filename)
            .bind(&file.project)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        }
        let (yanked, reason) = match &file.yanked {
            Yanked::No => (0, None),
            Yanked::Yes(reason) => (1, reason.as_deref()),
        };
        let inserted = sqlx::query(
            "INSERT INTO private_file (filename, project, version, sha256, size,
                 requires_python, metadata_sha256, yanked, yanked_reason, uploaded_at, uploaded_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(&file.filename)
        .bind(&file.project)
        .bind(&file.version)
        .bind(file.sha256.as_str())
        .bind(to_i64(file.size))
        .bind(&file.requires_python)
        .bind(file.metadata.as_ref().map(|(sha, _)| sha.as_str()))
        .bind(yanked)
        .bind(reason)
        .bind(file.uploaded_at)
        .bind(&file.uploaded_by)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => tx.commit().await.map_err(query_error),
            Err(e) if is_unique_violation(&e) => Err(Error::new(
                ErrorKind::Conflict,
                format!("`{}` exists already", file.filename),
            )),
            Err(e) => Err(query_error(e)),
        }
    }

    async fn private_file(&self, filename: &str) -> Result<Option<PrivateFile>> {
        let row = sqlx::query(select_files!("WHERE p.filename = ?1"))
            .bind(filename)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?;
        row.as_ref().map(file_from_row).transpose()
    }

    async fn private_projects(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT project FROM private_file")
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        rows.iter()
            .map(|row| row.try_get("project").map_err(query_error))
            .collect()
    }

    async fn private_files(&self, project: &str) -> Result<Vec<PrivateFile>> {
        let rows = sqlx::query(select_files!(
            "WHERE p.project = ?1 ORDER BY p.uploaded_at, p.rowid"
        ))
        .bind(project)
        .fetch_all(&self.pool)
        .await
        .map_err(query_error)?;
        rows.iter().map(file_from_row).collect()
    }

    async fn link_and_privacy(
        &self,
        sha256: &Sha256Hex,
        filename: &str,
    ) -> Result<Option<(Link, bool)>> {
        let row = sqlx::query(
            "SELECT l.sha256, l.project, l.filename, l.url, l.upstream, l.size, l.has_metadata,
                 l.metadata_sha256,
                 EXISTS (SELECT 1 FROM private_file p WHERE p.project = l.project) AS private
             FROM link l WHERE l.sha256 = ?1 AND l.filename = ?2",
        )
        .bind(sha256.as_str())
        .bind(filename)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let private: i64 = row.try_get("private").map_err(query_error)?;
        Ok(Some((link_from_row(&row)?, private != 0)))
    }

    async fn set_yanked(&self, project: &str, filename: &str, yanked: &Yanked) -> Result<bool> {
        let (flag, reason) = match yanked {
            Yanked::No => (0, None),
            Yanked::Yes(reason) => (1, reason.as_deref()),
        };
        let done = sqlx::query(
            "UPDATE private_file SET yanked = ?1, yanked_reason = ?2
             WHERE project = ?3 AND filename = ?4",
        )
        .bind(flag)
        .bind(reason)
        .bind(project)
        .bind(filename)
        .execute(&self.pool)
        .await
        .map_err(query_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_private_file(
        &self,
        project: &str,
        filename: &str,
    ) -> Result<Option<Vec<Sha256Hex>>> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        let row = sqlx::query(
            "SELECT sha256, metadata_sha256 FROM private_file WHERE project = ?1 AND filename = ?2",
        )
        .bind(project)
        .bind(filename)
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut blobs = vec![sha_from_row(&row)?];
        let metadata: Option<String> = row.try_get("metadata_sha256").map_err(query_error)?;
        if let Some(sha) = metadata {
            blobs.push(Sha256Hex::parse(&sha)?);
        }
        sqlx::query("DELETE FROM private_file WHERE filename = ?1")
            .bind(filename)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        sqlx::query(
            "DELETE FROM blob_name WHERE source = ?1 AND project = ?2
             AND filename IN (?3, ?3 || '.metadata')",
        )
        .bind(Source::Upload.as_stored())
        .bind(project)
        .bind(filename)
        .execute(&mut *tx)
        .await
        .map_err(query_error)?;
        let mut freed = Vec::new();
        for sha256 in blobs {
            // Only blobs nothing names any more; a table that still refers to
            // the blob by foreign key keeps it too.
            let deleted = sqlx::query(
                "DELETE FROM blob WHERE sha256 = ?1
                 AND NOT EXISTS (SELECT 1 FROM blob_name WHERE sha256 = ?1)
                 AND NOT EXISTS (SELECT 1 FROM private_file
                                 WHERE sha256 = ?1 OR metadata_sha256 = ?1)",
            )
            .bind(sha256.as_str())
            .execute(&mut *tx)
            .await;
            match deleted {
                Ok(done) if done.rows_affected() > 0 => freed.push(sha256),
                Ok(_) => {}
                Err(e) if is_foreign_key_violation(&e) => {}
                Err(e) => return Err(query_error(e)),
            }
        }
        tx.commit().await.map_err(query_error)?;
        Ok(Some(freed))
    }

    async fn add_token(&self, token: &TokenRecord) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO api_token (name, id, hash, scope, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&token.name)
        .bind(&token.id)
        .bind(&token.hash)
        .bind(token.scope.as_str())
        .bind(token.created_at)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "a token named `{}` exists already (revoke it first)",
                    token.name
                ),
            )),
            Err(e) => Err(query_error(e)),
        }
    }

    async fn token_by_id(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row =
            sqlx::query("SELECT name, id, hash, scope, created_at FROM api_token WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows =
            sqlx::query("SELECT name, id, hash, scope, created_at FROM api_token ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(query_error)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn remove_token(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_token WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::{BlobName, Catalog};

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    async fn catalog(dir: &Path) -> SqliteCatalog {
        SqliteCatalog::open(&dir.join("catalog.sqlite"))
            .await
            .unwrap()
    }

    fn file(filename: &str, sha256: char, metadata: Option<char>) -> PrivateFile {
        PrivateFile {
            filename: filename.to_owned(),
            project: "demo".to_owned(),
            version: "1.0".to_owned(),
            sha256: sha(sha256),
            size: 10,
            requires_python: Some(">=3.8".to_owned()),
            metadata: metadata.map(|c| (sha(c), 3)),
            yanked: Yanked::No,
            uploaded_at: 100,
            uploaded_by: "token:ci".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_filename_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        let first = file("demo-1.0-py3-none-any.whl", 'a', Some('e'));
        catalog.add_private_file(&first).await.unwrap();
        let again = PrivateFile {
            sha256: sha('b'),
            ..first.clone()
        };
        let err = catalog.add_private_file(&again).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        // The failed attempt left nothing behind: no blob row for `b`.
        assert_eq!(catalog.blob(&sha('b')).await.unwrap(), None);
        assert_eq!(
            catalog.private_file(&first.filename).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(catalog.private_files("demo").await.unwrap(), [first]);
        assert!(catalog.private_files("other").await.unwrap().is_empty());
        assert_eq!(catalog.stored_projects().await.unwrap(), ["demo"]);
    }

    #[tokio::test]
    async fn yank_and_unyank() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        let f = file("demo-1.0.tar.gz", 'a', None);
        catalog.add_private_file(&f).await.unwrap();
        let yanked = Yanked::Yes(Some("broken".to_owned()));
        assert!(
            catalog
                .set_yanked("demo", &f.filename, &yanked)
                .await
                .unwrap()
        );
        let read = catalog.private_file(&f.filename).await.unwrap().unwrap();
        assert_eq!(read.yanked, yanked);
        assert!(
            catalog
                .set_yanked("demo", &f.filename, &Yanked::No)
                .await
                .unwrap()
        );
        let read = catalog.private_file(&f.filename).await.unwrap().unwrap();
        assert_eq!(read.yanked, Yanked::No);
        assert!(
            !catalog
                .set_yanked("other", &f.filename, &yanked)
                .await
                .unwrap()
        );
        assert!(
            !catalog
                .set_yanked("demo", "nope-1.0.tar.gz", &yanked)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn delete_frees_only_unused_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        // Two wheels sharing one METADATA blob; the second file's bytes are
        // also cached under an upstream name.
        let a = file("demo-1.0-py3-none-any.whl", 'a', Some('e'));
        let b = file("demo-1.0-py2.py3-none-any.whl", 'b', Some('e'));
        catalog.add_private_file(&a).await.unwrap();
        catalog.add_private_file(&b).await.unwrap();
        catalog
            .add_name(&BlobName {
                sha256: sha('b'),
                source: Source::from_stored("upstream-1", true),
                filename: b.filename.clone(),
                url: "http://127.0.0.1:1/b".to_owned(),
                project: "demo".to_owned(),
            })
            .await
            .unwrap();

        assert_eq!(
            catalog
                .delete_private_file("other", &a.filename)
                .await
                .unwrap(),
            None
        );
        let freed = catalog
            .delete_private_file("demo", &a.filename)
            .await
            .unwrap();
        assert_eq!(freed, Some(vec![sha('a')]), "the shared METADATA stays");
        assert_eq!(catalog.private_file(&a.filename).await.unwrap(), None);
        assert!(catalog.blob(&sha('e')).await.unwrap().is_some());

        let freed = catalog
            .delete_private_file("demo", &b.filename)
            .await
            .unwrap();
        assert_eq!(
            freed,
            Some(vec![sha('e')]),
            "b's bytes keep their upstream name"
        );
        assert!(catalog.blob(&sha('b')).await.unwrap().is_some());
        assert!(catalog.private_files("demo").await.unwrap().is_empty());
        assert_eq!(
            catalog
                .delete_private_file("demo", &b.filename)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn links_know_whether_their_project_has_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        let link = Link {
            sha256: sha('c'),
            project: "demo".to_owned(),
            filename: "demo-0.9.tar.gz".to_owned(),
            url: "http://127.0.0.1:1/demo-0.9.tar.gz".to_owned(),
            upstream: "upstream-1".to_owned(),
            size: None,
            has_metadata: false,
            metadata_sha256: None,
        };
        catalog.announce(std::slice::from_ref(&link)).await.unwrap();
        assert_eq!(
            catalog
                .link_and_privacy(&sha('c'), &link.filename)
                .await
                .unwrap(),
            Some((link.clone(), false))
        );
        catalog
            .add_private_file(&file("demo-1.0.tar.gz", 'a', None))
            .await
            .unwrap();
        assert_eq!(
            catalog
                .link_and_privacy(&sha('c'), &link.filename)
                .await
                .unwrap(),
            Some((link.clone(), true))
        );
        assert_eq!(
            catalog
                .link_and_privacy(&sha('d'), &link.filename)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            catalog
                .link_and_privacy(&sha('c'), "demo-0.9.zip")
                .await
                .unwrap(),
            None,
            "a digest announced under one name is not fetchable under another"
        );
    }

    #[tokio::test]
    async fn tokens_by_id_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog(dir.path()).await;
        let token = TokenRecord {
            name: "ci".to_owned(),
            id: "0123456789abcdef".to_owned(),
            hash: "$argon2id$...".to_owned(),
            scope: Scope::Upload,
            created_at: 5,
        };
        catalog.add_token(&token).await.unwrap();
        let same_name = TokenRecord {
            id: "fedcba9876543210".to_owned(),
            ..token.clone()
        };
        assert_eq!(
            catalog.add_token(&same_name).await.unwrap_err().kind(),
            ErrorKind::Conflict
        );
        assert_eq!(
            catalog.token_by_id(&token.id).await.unwrap(),
            Some(token.clone())
        );
        assert_eq!(
            catalog.tokens().await.unwrap(),
            std::slice::from_ref(&token)
        );
        assert!(catalog.remove_token("ci").await.unwrap());
        assert!(!catalog.remove_token("ci").await.unwrap());
        assert_eq!(catalog.token_by_id(&token.id).await.unwrap(), None);
    }
}
