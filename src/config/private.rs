//! `[private]`, `[auth]` and `[[user]]`: the private index's limits, which
//! private projects merge with their upstream namesakes, and who may read
//! and upload.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Secret, invalid, units};
use crate::auth::{Scope, TOKEN_USER, password};
use crate::error::Result;
use crate::model::ProjectName;

/// PyPI's default limit: big enough for ordinary wheels, small enough that
/// a runaway upload cannot fill the disk.
const DEFAULT_MAX_UPLOAD_SIZE: u64 = 100 << 20;

/// The private index (`[private]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateConfig {
    /// The largest file an upload may carry; larger ones are refused (413).
    pub max_upload_size: u64,
    /// Normalized names of private projects whose upstream files are listed
    /// next to the private ones. Every other private project shadows its
    /// upstream namesake completely (the dependency-confusion guard).
    pub merge_upstream: BTreeSet<String>,
    /// Whether the first upload of a project an upstream serves is taken
    /// (`shadow = "allow"`); refused by default, since it hides the public
    /// project from everyone (a mistyped or mistaken upload breaks builds).
    pub allow_shadow: bool,
}

impl Default for PrivateConfig {
    fn default() -> Self {
        Self {
            max_upload_size: DEFAULT_MAX_UPLOAD_SIZE,
            merge_upstream: BTreeSet::new(),
            allow_shadow: false,
        }
    }
}

/// Who may read and upload (`[auth]` and `[[user]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Whether `/simple/`, `/local/simple/` and `/files/` answer without
    /// credentials. Uploads always need them.
    pub anonymous_read: bool,
    /// What `POST /requirements.txt` needs. Warming fetches only what any
    /// reader could make larder fetch one file at a time, so by default it
    /// follows the read policy (`read`); `upload` reserves it for uploaders.
    pub warm_scope: Scope,
    pub users: Vec<UserConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            anonymous_read: true,
            warm_scope: Scope::Read,
            users: Vec::new(),
        }
    }
}

/// One `[[user]]`: a name and an argon2 hash of its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    pub name: String,
    /// A PHC string from `larder user hash`; shown as `***`.
    pub password_hash: Secret,
    pub scope: Scope,
}

/// `[private]` as written in the file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub(super) struct FilePrivate {
    #[serde(with = "units::size")]
    max_upload_size: u64,
    merge_upstream: Vec<String>,
    shadow: Shadow,
}

/// `[private] shadow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Shadow {
    Refuse,
    Allow,
}

/// `[auth]` as written in the file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub(super) struct FileAuth {
    anonymous_read: bool,
    warm_scope: Scope,
}

/// `[[user]]` as written in the file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct FileUser {
    name: String,
    password_hash: Secret,
    #[serde(default = "default_user_scope")]
    scope: Scope,
}

fn default_user_scope() -> Scope {
    Scope::Upload
}

impl Default for FilePrivate {
    fn default() -> Self {
        Self::redacted(&PrivateConfig::default())
    }
}

impl Default for FileAuth {
    fn default() -> Self {
        let defaults = AuthConfig::default();
        Self {
            anonymous_read: defaults.anonymous_read,
            warm_scope: defaults.warm_scope,
        }
    }
}

impl FilePrivate {
    pub(super) fn into_config(self) -> Result<PrivateConfig> {
        let merge_upstream = self
            .merge_upstream
            .iter()
            .map(|raw| {
                ProjectName::new(raw)
                    .map(|name| name.as_str().to_owned())
                    .map_err(|e| invalid("private.merge-upstream", e))
            })
            .collect::<Result<_>>()?;
        Ok(PrivateConfig {
            max_upload_size: self.max_upload_size,
            merge_upstream,
            allow_shadow: self.shadow == Shadow::Allow,
        })
    }

    pub(super) fn redacted(config: &PrivateConfig) -> Self {
        Self {
            max_upload_size: config.max_upload_size,
            merge_upstream: config.merge_upstream.iter().cloned().collect(),
            shadow: if config.allow_shadow {
                Shadow::Allow
            } else {
                Shadow::Refuse
            },
        }
    }
}

impl FileAuth {
    pub(super) fn into_config(self, users: Vec<FileUser>) -> AuthConfig {
        AuthConfig {
            anonymous_read: self.anonymous_read,
            warm_scope: self.warm_scope,
            users: users
                .into_iter()
                .map(|user| UserConfig {
                    name: user.name,
                    password_hash: user.password_hash,
                    scope: user.scope,
                })
                .collect(),
        }
    }

    pub(super) fn redacted(config: &AuthConfig) -> (Self, Vec<FileUser>) {
        let users = config
            .users
            .iter()
            .map(|user| FileUser {
                name: user.name.clone(),
                password_hash: user.password_hash.clone(),
                scope: user.scope,
            })
            .collect();
        (
            Self {
                anonymous_read: config.anonymous_read,
                warm_scope: config.warm_scope,
            },
            users,
        )
    }
}

/// Checks the private index and user settings; `user[N]` counts from 1.
pub(super) fn validate(private: &PrivateConfig, auth: &AuthConfig) -> Result<()> {
    if private.max_upload_size == 0 {
        return Err(invalid(
            "private.max-upload-size",
            "`0 B` would refuse every upload",
        ));
    }
    let mut names = BTreeSet::new();
    for (index, user) in auth.users.iter().enumerate() {
        let key = |field: &str| format!("user[{}].{field}", index + 1);
        // Basic auth splits at the first `:`, and `__token__` means "a token follows".
        let valid = !user.name.is_empty()
            && user.name != TOKEN_USER
            && !user
                .name
                .chars()
                .any(|c| c == ':' || c.is_control() || c.is_whitespace());
        if !valid {
            return Err(invalid(
                &key("name"),
                format!(
                    "`{}` must be non-empty, without `:` or whitespace, and not `{TOKEN_USER}`",
                    user.name.escape_debug()
                ),
            ));
        }
        if !names.insert(user.name.as_str()) {
            return Err(invalid(
                &key("name"),
                format!("`{}` is the name of another user", user.name),
            ));
        }
        password::check(user.password_hash.expose()).map_err(|problem| {
            invalid(
                &key("password-hash"),
                format!("{problem}; `larder user hash` prints one"),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::super::{Config, Overrides};
    use super::*;
    use crate::error::ErrorKind;

    /// `larder user hash` of "pw" (argon2id, default parameters).
    fn hash() -> String {
        password::hash(b"pw").unwrap()
    }

    fn from_file(text: &str) -> Result<Config> {
        Config::from_sources(
            Some((Path::new("larder.toml"), text)),
            &BTreeMap::new(),
            &Overrides::default(),
        )
    }

    #[test]
    fn reads_private_auth_and_users() {
        let text = format!(
            r#"
            [private]
            max-upload-size = "5 MiB"
            merge-upstream = ["Internal.Utils", "other_pkg"]
            [auth]
            anonymous-read = false
            [[user]]
            name = "alice"
            password-hash = "{hash}"
            [[user]]
            name = "reader"
            password-hash = "{hash}"
            scope = "read"
            "#,
            hash = hash()
        );
        let config = from_file(&text).unwrap();
        assert_eq!(config.private.max_upload_size, 5 << 20);
        let merged: Vec<_> = config.private.merge_upstream.iter().cloned().collect();
        assert_eq!(merged, ["internal-utils", "other-pkg"]);
        assert!(!config.auth.anonymous_read);
        let users: Vec<_> = config
            .auth
            .users
            .iter()
            .map(|u| (u.name.as_str(), u.scope))
            .collect();
        assert_eq!(users, [("alice", Scope::Upload), ("reader", Scope::Read)]);

        let toml = config.to_redacted_toml();
        assert!(!toml.contains("$argon2"), "{toml}");
        assert!(toml.contains("password-hash = \"***\""), "{toml}");
        assert!(toml.contains("max-upload-size = \"5 MiB\""), "{toml}");
        assert!(toml.contains("anonymous-read = false"), "{toml}");
    }

    #[test]
    fn defaults_allow_anonymous_reads_and_100_mib() {
        let config = from_file("").unwrap();
        assert_eq!(config.private, PrivateConfig::default());
        assert_eq!(config.private.max_upload_size, 100 * 1024 * 1024);
        assert!(config.auth.anonymous_read);
        assert!(config.auth.users.is_empty());
    }

    #[test]
    fn refuses_bad_users_and_limits() {
        let good = hash();
        let user = |name: &str, hash: &str| {
            format!("[[user]]\nname = \"{name}\"\npassword-hash = \"{hash}\"\n")
        };
        let cases = [
            (user("__token__", &good), "`user[1].name`"),
            (user("a:b", &good), "`user[1].name`"),
            (user("", &good), "`user[1].name`"),
            (
                user("alice", "hunter2"),
                "`user[1].password-hash`: not a PHC string",
            ),
            (
                format!("{}{}", user("alice", &good), user("alice", &good)),
                "`user[2].name`: `alice` is the name of another user",
            ),
            (
                "[private]\nmax-upload-size = \"0\"\n".to_owned(),
                "`private.max-upload-size`",
            ),
            (
                "[private]\nmerge-upstream = [\"../x\"]\n".to_owned(),
                "`private.merge-upstream`",
            ),
            (
                "[[user]]\nname = \"a\"\npassword-hash = \"x\"\nscope = \"admin\"\n".to_owned(),
                "scope",
            ),
            ("[auth]\nanonymous = true\n".to_owned(), "anonymous"),
        ];
        for (text, needle) in cases {
            let err = from_file(&text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{text}");
            let message = err.to_string();
            assert!(message.contains(needle), "{text}\n{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
