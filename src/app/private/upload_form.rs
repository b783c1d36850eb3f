//! The fields of an upload form and what they must say.
//!
//! The legacy upload API (what twine and `uv publish` speak) declares the
//! project, version, file type and digests in text fields before the file;
//! pypicache's endpoint sends only the file, named as `sdist` or `wheel`.
//! Everything here is pure: the HTTP layer reads the parts, `upload` streams
//! the file, this decides whether the declarations hold together.

use crate::error::{Error, Result};
use crate::model::{Blake2b256Hex, DistFilename, Md5Hex, ProjectName, Sha256Hex};

/// Which upload API a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadApi {
    /// `POST /` and `POST /legacy/`: text fields, then the file as `content`.
    Legacy,
    /// `POST /uploadpackage/` (pypicache): the file as `sdist` or `wheel`.
    Pypicache,
}

impl UploadApi {
    /// Whether a part named `field` carries the file.
    pub(super) fn is_file_field(self, field: &str) -> bool {
        match self {
            UploadApi::Legacy => field == "content",
            UploadApi::Pypicache => field == "sdist" || field == "wheel",
        }
    }

    fn file_field(self) -> &'static str {
        match self {
            UploadApi::Legacy => "content",
            UploadApi::Pypicache => "sdist` or `wheel",
        }
    }
}

/// The text fields larder reads; every other field (description,
/// classifiers, …) is skipped unread.
const FIELDS: [&str; 10] = [
    ":action",
    "protocol_version",
    "name",
    "version",
    "filetype",
    "pyversion",
    "sha256_digest",
    "md5_digest",
    "blake2_256_digest",
    "requires_python",
];

/// Longest value accepted for one of [`FIELDS`]; real ones are short.
pub(super) const MAX_FIELD_LEN: usize = 64 * 1024;

/// The text fields of an upload, as received.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct UploadForm {
    action: Option<String>,
    protocol_version: Option<String>,
    name: Option<String>,
    version: Option<String>,
    filetype: Option<String>,
    sha256: Option<String>,
    md5: Option<String>,
    blake2b_256: Option<String>,
    requires_python: Option<String>,
}

/// What a valid upload declares about its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Declared {
    pub project: ProjectName,
    pub version: String,
    pub dist: DistFilename,
    pub sha256: Option<Sha256Hex>,
    pub md5: Option<Md5Hex>,
    pub blake2b_256: Option<Blake2b256Hex>,
    pub requires_python: Option<String>,
}

impl UploadForm {
    /// Whether larder reads the value of a field with this name.
    pub(super) fn wants(field: &str) -> bool {
        FIELDS.contains(&field)
    }

    /// Records a field's value (surrounding whitespace removed; an empty value
    /// counts as absent, as clients send empty optional fields). A field sent
    /// twice keeps its first value.
    pub(super) fn set(&mut self, field: &str, value: &str) {
        let slot = match field {
            ":action" => &mut self.action,
            "protocol_version" => &mut self.protocol_version,
            "name" => &mut self.name,
            "version" => &mut self.version,
            "filetype" => &mut self.filetype,
            "sha256_digest" => &mut self.sha256,
            "md5_digest" => &mut self.md5,
            "blake2_256_digest" => &mut self.blake2b_256,
            "requires_python" => &mut self.requires_python,
            _ => return,
        };
        let value = value.trim();
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.to_owned());
        }
    }

    /// Checks `filename` on its own and against the name and version the
    /// form declared so far. Run when the file part starts (so a bad name is
    /// refused before any byte is stored) and again by [`Self::validate`].
    pub(super) fn check_filename(&self, api: UploadApi, filename: &str) -> Result<DistFilename> {
        let dist = DistFilename::parse(filename)?;
        if !(dist.is_wheel() || dist.is_sdist()) {
            return Err(Error::invalid(format!(
                "`{filename}`: only wheels and source distributions can be uploaded"
            )));
        }
        if api == UploadApi::Legacy
            && let (Some(name), Some(version)) = (&self.name, &self.version)
        {
            let project = ProjectName::new(name)?;
            if !dist.matches(&project, version) {
                return Err(Error::invalid(format!(
                    "`{filename}` is not a file of `{}` version `{}`",
                    name.escape_debug(),
                    version.escape_debug()
                )));
            }
        }
        Ok(dist)
    }

    /// Everything the form declares, checked: the action and protocol, the
    /// name and version (legacy API; pypicache takes them from the
    /// filename), the file type against the filename, and the digests.
    pub(super) fn validate(&self, api: UploadApi, filename: Option<&str>) -> Result<Declared> {
        if let Some(action) = &self.action
            && action != "file_upload"
        {
            return Err(Error::invalid(format!(
                "`:action` `{}` is not supported (only `file_upload`)",
                action.escape_debug()
            )));
        }
        if let Some(protocol) = &self.protocol_version
            && protocol != "1"
        {
            return Err(Error::invalid(format!(
                "`protocol_version` `{}` is not supported (only `1`)",
                protocol.escape_debug()
            )));
        }
        if api == UploadApi::Legacy {
            for (field, value) in [("name", &self.name), ("version", &self.version)] {
                if value.is_none() {
                    return Err(Error::invalid(format!("the `{field}` field is missing")));
                }
            }
        }
        let Some(filename) = filename else {
            return Err(Error::invalid(format!(
                "the `{}` file part is missing",
                api.file_field()
            )));
        };
        let dist = self.check_filename(api, filename)?;
        let kind_matches = match self.filetype.as_deref() {
            None => true,
            Some("bdist_wheel") => dist.is_wheel(),
            Some("sdist") => dist.is_sdist(),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "`filetype` `{}` is not supported (use `bdist_wheel` or `sdist`)",
                    other.escape_debug()
                )));
            }
        };
        if !kind_matches {
            return Err(Error::invalid(format!(
                "`{filename}` is not a `{}`",
                self.filetype.as_deref().unwrap_or_default()
            )));
        }
        let digest_error = |field: &str, e: Error| Error::invalid(format!("`{field}`: {e}"));
        Ok(Declared {
            project: dist.project_name(),
            version: self
                .version
                .clone()
                .unwrap_or_else(|| dist.version().to_owned()),
            sha256: self
                .sha256
                .as_deref()
                .map(Sha256Hex::parse)
                .transpose()
                .map_err(|e| digest_error("sha256_digest", e))?,
            md5: self
                .md5
                .as_deref()
                .map(Md5Hex::parse)
                .transpose()
                .map_err(|e| digest_error("md5_digest", e))?,
            blake2b_256: self
                .blake2b_256
                .as_deref()
                .map(Blake2b256Hex::parse)
                .transpose()
                .map_err(|e| digest_error("blake2_256_digest", e))?,
            requires_python: self.requires_python.clone(),
            dist,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const WHEEL: &str = "demo_pkg-1.0-py3-none-any.whl";

    fn form(fields: &[(&str, &str)]) -> UploadForm {
        let mut form = UploadForm::default();
        for (field, value) in fields {
            form.set(field, value);
        }
        form
    }

    fn twine_fields() -> Vec<(&'static str, &'static str)> {
        vec![
            (":action", "file_upload"),
            ("protocol_version", "1"),
            ("name", "Demo.Pkg"),
            ("version", "1.0"),
            ("filetype", "bdist_wheel"),
            ("pyversion", "py3"),
            ("sha256_digest", "AB".repeat(32).leak()),
            ("requires_python", " >=3.8 "),
        ]
    }

    #[test]
    fn accepts_what_twine_sends() {
        let declared = form(&twine_fields())
            .validate(UploadApi::Legacy, Some(WHEEL))
            .unwrap();
        assert_eq!(declared.project.as_str(), "demo-pkg");
        assert_eq!(declared.version, "1.0");
        assert_eq!(declared.sha256.unwrap().as_str(), "ab".repeat(32));
        assert_eq!(declared.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(declared.md5, None);
    }

    #[test]
    fn pypicache_takes_name_and_version_from_the_filename() {
        let declared = form(&[])
            .validate(UploadApi::Pypicache, Some("Demo-Pkg-2.0.tar.gz"))
            .unwrap();
        assert_eq!(declared.project.as_str(), "demo-pkg");
        assert_eq!(declared.version, "2.0");
    }

    #[test]
    fn refuses_bad_declarations() {
        let with = |field: &'static str, value: &'static str| {
            let mut fields: Vec<_> = twine_fields()
                .into_iter()
                .filter(|(f, _)| *f != field)
                .collect();
            if !value.is_empty() {
                fields.push((field, value));
            }
            fields
        };
        type Fields = Vec<(&'static str, &'static str)>;
        let cases: Vec<(Fields, Option<&str>, &str)> = vec![
            (with("name", ""), Some(WHEEL), "the `name` field is missing"),
            (
                with("version", ""),
                Some(WHEEL),
                "the `version` field is missing",
            ),
            (twine_fields(), None, "the `content` file part is missing"),
            (
                with("name", "other"),
                Some(WHEEL),
                "is not a file of `other`",
            ),
            (with("version", "1.1"), Some(WHEEL), "version `1.1`"),
            (twine_fields(), Some("../x.whl"), "starts with `.`"),
            (
                twine_fields(),
                Some("a/demo_pkg-1.0-py3-none-any.whl"),
                "path separator",
            ),
            (
                twine_fields(),
                Some("demo_pkg-1.0-py3.6.egg"),
                "only wheels and source",
            ),
            (with("filetype", "sdist"), Some(WHEEL), "is not a `sdist`"),
            (
                with("filetype", "bdist_wininst"),
                Some(WHEEL),
                "`bdist_wininst` is not supported",
            ),
            (with(":action", "submit"), Some(WHEEL), "`:action` `submit`"),
            (
                with("protocol_version", "2"),
                Some(WHEEL),
                "`protocol_version` `2`",
            ),
            (
                with("sha256_digest", "abc"),
                Some(WHEEL),
                "`sha256_digest`: `abc` is not",
            ),
            (with("md5_digest", "xyz"), Some(WHEEL), "`md5_digest`"),
            (
                with("blake2_256_digest", "00"),
                Some(WHEEL),
                "`blake2_256_digest`",
            ),
        ];
        for (fields, filename, needle) in cases {
            let err = form(&fields)
                .validate(UploadApi::Legacy, filename)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{needle}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn check_filename_before_the_name_arrived() {
        let early = form(&[(":action", "file_upload")]);
        early.check_filename(UploadApi::Legacy, WHEEL).unwrap();
        assert!(early.check_filename(UploadApi::Legacy, "../x.whl").is_err());
    }

    #[test]
    fn fields_keep_their_first_non_empty_value() {
        let form = form(&[
            ("name", ""),
            ("name", "a"),
            ("name", "b"),
            ("classifiers", "x"),
        ]);
        assert_eq!(form.name.as_deref(), Some("a"));
        assert!(UploadForm::wants("blake2_256_digest"));
        assert!(!UploadForm::wants("description"));
        assert!(!UploadForm::wants("content"));
    }
}
