//! Who may read and upload: checks credentials against config users and
//! catalog tokens, and manages tokens for `larder token`.
//!
//! Every failure looks the same to the client (401, no detail) and is logged
//! with the reason. Successful checks are remembered (see
//! [`crate::auth::cache`]) so argon2 runs once per credential, not once per
//! request.

use std::sync::OnceLock;

use tracing::warn;

use std::sync::Arc;

use crate::app::clock::unix_now;
use crate::auth::cache::VerifiedCache;
use crate::auth::{Credentials, Identity, Scope, TOKEN_USER, password, token, unauthorized};
use crate::catalog::{Catalog, TokenRecord};
use crate::config::AuthConfig;
use crate::error::{Error, Result};

/// A token as `larder token list` shows it: never its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub name: String,
    pub scope: Scope,
    /// Unix seconds.
    pub created_at: i64,
}

/// Checks credentials and keeps the tokens.
#[derive(Debug)]
pub(crate) struct Access {
    config: AuthConfig,
    catalog: Arc<dyn Catalog>,
    /// Credentials that recently passed an argon2 check.
    verified: VerifiedCache,
}

impl Access {
    pub(crate) fn new(config: AuthConfig, catalog: Arc<dyn Catalog>) -> Self {
        Self {
            config,
            catalog,
            verified: VerifiedCache::default(),
        }
    }

    /// The identity behind `credentials` if it may do what `needed` asks.
    /// Reads need no credentials unless the config says so; uploads always do.
    pub(crate) async fn authorize(
        &self,
        credentials: Option<&Credentials>,
        needed: Scope,
    ) -> Result<Identity> {
        if needed == Scope::Read && self.config.anonymous_read {
            return Ok(Identity::anonymous());
        }
        let Some(credentials) = credentials else {
            warn!(needed = %needed, "authentication failed: no credentials");
            return Err(unauthorized(needed));
        };
        let user = credentials.user.escape_debug().to_string();
        match self.identify(credentials).await? {
            Ok(identity) if identity.scope.allows(needed) => Ok(identity),
            Ok(identity) => {
                warn!(who = %identity.name, needed = %needed, "authentication failed: scope `{}` is not enough", identity.scope);
                Err(unauthorized(needed))
            }
            Err(reason) => {
                warn!(%user, needed = %needed, "authentication failed: {reason}");
                Err(unauthorized(needed))
            }
        }
    }

    /// Who the credentials belong to, or why they are wrong (for the log).
    async fn identify(
        &self,
        credentials: &Credentials,
    ) -> Result<std::result::Result<Identity, &'static str>> {
        let secret = credentials.password.expose();
        if credentials.user == TOKEN_USER {
            let Some(id) = token::id_of(secret) else {
                return Ok(Err("not a larder token"));
            };
            let Some(record) = self.catalog.token_by_id(id).await? else {
                return Ok(Err("unknown token"));
            };
            let material = [b"token\0".as_slice(), secret.as_bytes()].concat();
            if !self.verify_secret(&material, secret, &record.hash).await? {
                return Ok(Err("wrong token secret"));
            }
            return Ok(Ok(Identity {
                name: format!("token:{}", record.name),
                scope: record.scope,
            }));
        }
        let user = self
            .config
            .users
            .iter()
            .find(|u| u.name == credentials.user);
        let Some(user) = user else {
            // Spend the same time as for a known user, so response times do
            // not tell which user names exist.
            let _ = self.verify_secret(&[], secret, dummy_hash()?).await?;
            return Ok(Err("unknown user"));
        };
        let material = [
            b"user\0".as_slice(),
            user.name.as_bytes(),
            b"\0",
            secret.as_bytes(),
        ]
        .concat();
        if !self
            .verify_secret(&material, secret, user.password_hash.expose())
            .await?
        {
            return Ok(Err("wrong password"));
        }
        Ok(Ok(Identity {
            name: format!("user:{}", user.name),
            scope: user.scope,
        }))
    }

    /// Checks `secret` against `phc`, through the cache of recent successes
    /// (keyed by `material`; empty material is never cached).
    async fn verify_secret(&self, material: &[u8], secret: &str, phc: &str) -> Result<bool> {
        let cache = &self.verified;
        if !material.is_empty() && cache.contains(material, phc) {
            return Ok(true);
        }
        let (secret_owned, phc_owned) = (secret.to_owned(), phc.to_owned());
        let ok = tokio::task::spawn_blocking(move || {
            password::verify(secret_owned.as_bytes(), &phc_owned)
        })
        .await
        .map_err(|e| Error::storage("the password check failed", std::io::Error::other(e)))?;
        if ok && !material.is_empty() {
            cache.insert(material, phc);
        }
        Ok(ok)
    }

    /// Creates a token and returns it; only its hash is kept, so this is the
    /// one time it can be shown.
    pub(crate) async fn create_token(&self, name: &str, scope: Scope) -> Result<String> {
        token::check_name(name)?;
        let new = token::generate()?;
        let secret = new.token.clone();
        let hash = tokio::task::spawn_blocking(move || password::hash(secret.as_bytes()))
            .await
            .map_err(|e| Error::storage("the hashing task failed", std::io::Error::other(e)))??;
        self.catalog
            .add_token(&TokenRecord {
                name: name.to_owned(),
                id: new.id,
                hash,
                scope,
                created_at: unix_now(),
            })
            .await?;
        Ok(new.token)
    }

    /// Every token, by name.
    pub(crate) async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        Ok(self
            .catalog
            .tokens()
            .await?
            .into_iter()
            .map(|t| TokenInfo {
                name: t.name,
                scope: t.scope,
                created_at: t.created_at,
            })
            .collect())
    }

    /// Revokes a token: the next request with it fails.
    pub(crate) async fn revoke_token(&self, name: &str) -> Result<()> {
        if self.catalog.remove_token(name).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "there is no token named `{}`",
                name.escape_debug()
            )))
        }
    }
}

/// A valid hash of nothing in particular, made once, for unknown users.
fn dummy_hash() -> Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = password::hash(b"larder: no such user")?;
    Ok(DUMMY.get_or_init(|| hash))
}
