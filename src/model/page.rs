//! The format-agnostic model of a Simple API page (PEP 503, 691, 592, 658/714,
//! 700, 740's `provenance`, 792's project status).
//!
//! Upstream HTML and JSON parse into these types and render back out of them;
//! values an upstream sent that larder does not interpret (such as
//! `requires-python`) are kept verbatim so clients see what the upstream said.

use std::collections::BTreeMap;

/// Hash algorithm name (lowercase, e.g. `sha256`) to lowercase hex digest.
pub type Hashes = BTreeMap<String, String>;

/// The list of projects an index serves (`/simple/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectList {
    /// Project names as the index spelled them.
    pub projects: Vec<String>,
}

/// One project's page (`/simple/<project>/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPage {
    /// The project name as the index spelled it (PEP 691 `name`).
    pub name: String,
    pub files: Vec<ProjectFile>,
    /// PEP 700 `versions`; when an upstream does not send it, it is derived from filenames.
    pub versions: Vec<String>,
    /// PEP 792 project status, when the index said one.
    pub status: Option<ProjectStatus>,
}

/// PEP 792: a project's status (`active`, `archived`, `deprecated`,
/// `quarantined`) and the reason given for it, verbatim. Larder passes it on;
/// it does not act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStatus {
    pub status: String,
    /// An empty reason is `None`.
    pub reason: Option<String>,
}

/// One file link on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    pub filename: String,
    /// Where the file lives: an absolute upstream URL when parsed (fragment
    /// removed), a larder link when rendered.
    pub url: String,
    pub hashes: Hashes,
    /// PEP 503 `data-requires-python` / PEP 691 `requires-python`, verbatim (not HTML-escaped).
    pub requires_python: Option<String>,
    pub yanked: Yanked,
    pub core_metadata: CoreMetadata,
    /// PEP 503 `data-gpg-sig`.
    pub gpg_sig: Option<bool>,
    /// PEP 700 `size` in bytes.
    pub size: Option<u64>,
    /// PEP 700 `upload-time`, verbatim ISO 8601.
    pub upload_time: Option<String>,
    /// PEP 740 `provenance` / `data-provenance`: the URL of the file's
    /// provenance object at the upstream, passed through (resolved only when
    /// the upstream gave it relative).
    pub provenance: Option<String>,
}

/// PEP 592 yanking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Yanked {
    #[default]
    No,
    /// Yanked, with the reason if one was given (an empty reason is `None`).
    Yes(Option<String>),
}

/// PEP 658 / 714 core metadata availability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CoreMetadata {
    /// The index did not say (which also means there is no `.metadata` file).
    #[default]
    Absent,
    /// The index said there is none (`core-metadata: false`); kept apart from
    /// [`CoreMetadata::Absent`] so a client reading larder's page sees what
    /// the upstream said.
    No,
    /// A `.metadata` file exists; its hashes when the index gave them (may be empty).
    Present(Hashes),
}

impl CoreMetadata {
    /// Whether a `.metadata` file exists.
    pub fn is_present(&self) -> bool {
        matches!(self, Self::Present(_))
    }
}

impl ProjectFile {
    /// A file known only by name and digest (no URL yet, nothing else said).
    pub fn bare(filename: &str, sha256: &super::Sha256Hex) -> Self {
        Self {
            filename: filename.to_owned(),
            url: String::new(),
            hashes: [("sha256".to_owned(), sha256.to_string())]
                .into_iter()
                .collect(),
            requires_python: None,
            yanked: Yanked::No,
            core_metadata: CoreMetadata::Absent,
            gpg_sig: None,
            size: None,
            upload_time: None,
            provenance: None,
        }
    }

    /// The SHA-256 the index announced for this file, if any.
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}
