//! Which files of a project a [`Wanted`] needs, for the chosen targets.
//!
//! Pure. A version qualifies when the requirement's specifiers allow it and
//! at least one of its files is usable: not yanked (unless pinned with `==`),
//! matching `--hash` digests or a lock file's named files, with a
//! `requires-python` that admits a target Python, and (wheels) tags that fit
//! a target. The newest qualifying version wins; pre-releases only when the
//! specifiers mention one or nothing else qualifies (pip's rule). Without
//! targets every file of the chosen version is needed.
//!
//! [`needed_files`] narrows a choice to what an installer on the targets
//! takes (`export --deps`): the fitting wheels, and the sdist only when some
//! target has no wheel to take instead.
//!
//! The tag check is deliberately simple and generous: it decides what to
//! *cache*, so a wheel that might fit is kept rather than missed.

use std::str::FromStr;

use pep440_rs::{Operator, Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};

use crate::error::{Error, Result};
use crate::model::{DistFilename, ProjectFile, ProjectPage, Yanked};
use crate::requirements::Wanted;

/// The interpreters and platforms files are chosen for (`--python`,
/// `--platform`); empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pythons: Vec<(u64, u64)>,
    platforms: Vec<String>,
}

/// The version chosen for a requirement and the files it needs.
#[derive(Debug, Clone)]
pub struct Choice {
    pub version: String,
    pub files: Vec<ProjectFile>,
}

impl Targets {
    /// `pythons` like `3.12`; `platforms` wheel platform tags like
    /// `manylinux_2_28_x86_64`, `macosx_14_0_arm64`, `win_amd64`.
    pub fn new(pythons: &[String], platforms: &[String]) -> Result<Self> {
        let pythons = pythons
            .iter()
            .map(|p| {
                let mut parts = p.trim().split('.').map(str::parse::<u64>);
                match (parts.next(), parts.next()) {
                    (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor)),
                    _ => Err(Error::invalid(format!(
                        "`--python {p}`: expected MAJOR.MINOR such as 3.12"
                    ))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let platforms = platforms
            .iter()
            .map(|p| {
                let p = p.trim().to_ascii_lowercase().replace(['-', '.'], "_");
                if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    Err(Error::invalid(format!(
                        "`--platform {p}`: not a platform tag"
                    )))
                } else {
                    Ok(p)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { pythons, platforms })
    }

    /// Whether files are narrowed at all.
    pub fn is_any(&self) -> bool {
        self.pythons.is_empty() && self.platforms.is_empty()
    }

    /// Whether a requirement's marker can hold for some target, with these
    /// extras active. Dimensions without a target are assumed to match
    /// (a superset is what a cache wants).
    pub fn marker_applies(&self, marker: &MarkerTree, extras: &[String]) -> bool {
        if marker.is_true() {
            return true;
        }
        let extras: Vec<ExtraName> = extras
            .iter()
            .filter_map(|e| ExtraName::from_str(e).ok())
            .collect();
        if self.platforms.is_empty() {
            let versions: Vec<Version> = if self.pythons.is_empty() {
                (6..=20).map(|minor| Version::new([3, minor])).collect()
            } else {
                self.pythons
                    .iter()
                    .map(|&(a, b)| Version::new([a, b]))
                    .collect()
            };
            return marker
                .evaluate_extras_and_python_version(&extras.iter().cloned().collect(), &versions);
        }
        self.environments()
            .iter()
            .any(|env| marker.evaluate(env, &extras))
    }

    /// A marker environment per (python, platform) pair; every known Python
    /// when none was given.
    fn environments(&self) -> Vec<MarkerEnvironment> {
        let pythons = if self.pythons.is_empty() {
            (6..=20).map(|minor| (3, minor)).collect()
        } else {
            self.pythons.clone()
        };
        let mut out = Vec::new();
        for &(major, minor) in &pythons {
            for platform in &self.platforms {
                let (sys_platform, system, os_name, machine) = platform_facts(platform);
                let version = format!("{major}.{minor}");
                let full = format!("{major}.{minor}.0");
                let builder = MarkerEnvironmentBuilder {
                    implementation_name: "cpython",
                    implementation_version: &full,
                    os_name,
                    platform_machine: &machine,
                    platform_python_implementation: "CPython",
                    platform_release: "",
                    platform_system: system,
                    platform_version: "",
                    python_full_version: &full,
                    python_version: &version,
                    sys_platform,
                };
                if let Ok(env) = MarkerEnvironment::try_from(builder) {
                    out.push(env);
                }
            }
        }
        out
    }

    /// Whether a file is needed for some target (sdists always are, if their
    /// `requires-python` admits a target Python).
    pub fn fits(&self, file: &ProjectFile) -> bool {
        if !self.requires_python_fits(file.requires_python.as_deref()) {
            return false;
        }
        let Some(tags) = WheelTags::of(&file.filename) else {
            return true; // an sdist (or other archive): buildable anywhere
        };
        let python_ok =
            self.pythons.is_empty() || self.pythons.iter().any(|&py| tags.python_fits(py.0, py.1));
        let platform_ok = self.platforms.is_empty()
            || self
                .platforms
                .iter()
                .any(|target| tags.platforms.iter().any(|p| platform_fits(p, target)));
        python_ok && platform_ok
    }

    fn requires_python_fits(&self, requires_python: Option<&str>) -> bool {
        let Some(spec) = requires_python.filter(|s| !s.trim().is_empty()) else {
            return true;
        };
        if self.pythons.is_empty() {
            return true;
        }
        let Ok(specifiers) = VersionSpecifiers::from_str(spec) else {
            return true; // unreadable: keep rather than miss
        };
        self.pythons.iter().any(|&(major, minor)| {
            // Any patch release of the target minor will do.
            [0, 99]
                .iter()
                .any(|&patch| specifiers.contains(&Version::new([major, minor, patch])))
        })
    }
}

impl Targets {
    /// Each (python, platform) pair as a target of its own; a dimension
    /// not given stays open ("any") in every pair.
    fn each(&self) -> Vec<Targets> {
        let pythons: Vec<Vec<(u64, u64)>> = if self.pythons.is_empty() {
            vec![Vec::new()]
        } else {
            self.pythons.iter().map(|&p| vec![p]).collect()
        };
        let platforms: Vec<Vec<String>> = if self.platforms.is_empty() {
            vec![Vec::new()]
        } else {
            self.platforms.iter().map(|p| vec![p.clone()]).collect()
        };
        pythons
            .iter()
            .flat_map(|python| {
                platforms.iter().map(|platform| Targets {
                    pythons: python.clone(),
                    platforms: platform.clone(),
                })
            })
            .collect()
    }

    /// Whether the wheel `file` installs wherever this single target allows:
    /// it fits, and an open dimension is covered only by a generic wheel
    /// (`any` platform; `py3-none` Python), since the installer's own
    /// platform or Python could be anything.
    fn wheel_covers(&self, file: &ProjectFile) -> bool {
        let Some(tags) = WheelTags::of(&file.filename) else {
            return false;
        };
        self.fits(file)
            && (!self.platforms.is_empty() || tags.platforms.iter().any(|p| p == "any"))
            && (!self.pythons.is_empty() || tags.generic_python())
    }
}

/// `(sys_platform, platform_system, os_name, platform_machine)` for a tag.
fn platform_facts(tag: &str) -> (&'static str, &'static str, &'static str, String) {
    let arch = |prefix_len: usize| -> String {
        let parts: Vec<&str> = tag.split('_').collect();
        parts
            .get(prefix_len..)
            .map(|rest| rest.join("_"))
            .unwrap_or_default()
    };
    if tag.starts_with("manylinux") || tag.starts_with("musllinux") || tag.starts_with("linux") {
        let machine = if tag.starts_with("manylinux_") || tag.starts_with("musllinux_") {
            arch(3)
        } else {
            arch(1)
        };
        ("linux", "Linux", "posix", machine)
    } else if tag.starts_with("macosx") {
        ("darwin", "Darwin", "posix", arch(3))
    } else if tag.starts_with("win") {
        let machine = match tag {
            "win_amd64" => "AMD64",
            "win_arm64" => "ARM64",
            _ => "x86",
        };
        ("win32", "Windows", "nt", machine.to_owned())
    } else {
        ("", "", "", String::new())
    }
}

/// A wheel's compressed tag sets.
struct WheelTags {
    pythons: Vec<String>,
    abis: Vec<String>,
    platforms: Vec<String>,
}

impl WheelTags {
    fn of(filename: &str) -> Option<Self> {
        let stem = filename.strip_suffix(".whl")?;
        let mut parts = stem.rsplitn(4, '-');
        let platform = parts.next()?;
        let abi = parts.next()?;
        let python = parts.next()?;
        parts.next()?;
        let split = |s: &str| s.split('.').map(str::to_ascii_lowercase).collect();
        Some(Self {
            pythons: split(python),
            abis: split(abi),
            platforms: split(platform),
        })
    }

    /// Whether any Python 3 takes it: `py3` (or `py2.py3`) with no ABI.
    fn generic_python(&self) -> bool {
        self.pythons.iter().any(|p| p == "py3") && self.abis.iter().any(|a| a == "none")
    }

    /// `py3`, `py3Y'` (Y' ≤ Y), `cp3Y`, and `cp3Y'` with `abi3`.
    fn python_fits(&self, major: u64, minor: u64) -> bool {
        let abi3 = self.abis.iter().any(|a| a == "abi3");
        let abi_ok = |exact_cp: bool| {
            self.abis.iter().any(|abi| {
                abi == "none"
                    || abi == "abi3"
                    || (exact_cp
                        && (abi == &format!("cp{major}{minor}")
                            || abi == &format!("cp{major}{minor}m")))
            })
        };
        self.pythons.iter().any(|tag| {
            if let Some(rest) = tag.strip_prefix("py") {
                return match version_digits(rest, major) {
                    Some(None) => abi_ok(false),
                    Some(Some(m)) => m <= minor && abi_ok(false),
                    None => false,
                };
            }
            if let Some(rest) = tag.strip_prefix("cp") {
                return match version_digits(rest, major) {
                    Some(Some(m)) if m == minor => abi_ok(true),
                    Some(Some(m)) => m < minor && abi3,
                    _ => false,
                };
            }
            false
        })
    }
}

/// `3` → `Some(None)`, `312` → `Some(Some(12))`, other majors → `None`.
fn version_digits(rest: &str, major: u64) -> Option<Option<u64>> {
    let major_str = major.to_string();
    let minor = rest.strip_prefix(&major_str)?;
    if minor.is_empty() {
        return Some(None);
    }
    minor.parse().ok().map(Some)
}

/// Whether a wheel's platform tag runs on `target`.
fn platform_fits(tag: &str, target: &str) -> bool {
    if tag == "any" || tag == target {
        return true;
    }
    if let Some((family, glibc, arch)) = linux_tag(target) {
        if tag == format!("linux_{arch}") {
            return true;
        }
        return linux_tag(tag).is_some_and(|(f, v, a)| f == family && a == arch && v <= glibc);
    }
    if let (Some((tv, ta)), Some((wv, wa))) = (macos_tag(target), macos_tag(tag)) {
        let arch_ok = wa == ta
            || wa == "universal2" && (ta == "x86_64" || ta == "arm64")
            || (wa == "intel" || wa == "universal") && ta == "x86_64";
        return arch_ok && wv <= tv;
    }
    false
}

/// `manylinux_2_28_x86_64` → (`manylinux`, (2, 28), `x86_64`), legacy
/// aliases included; `musllinux_1_2_aarch64` likewise.
fn linux_tag(tag: &str) -> Option<(&'static str, (u64, u64), String)> {
    for (alias, version) in [
        ("manylinux1_", (2, 5)),
        ("manylinux2010_", (2, 12)),
        ("manylinux2014_", (2, 17)),
    ] {
        if let Some(arch) = tag.strip_prefix(alias) {
            return Some(("manylinux", version, arch.to_owned()));
        }
    }
    for family in ["manylinux", "musllinux"] {
        if let Some(rest) = tag.strip_prefix(family).and_then(|r| r.strip_prefix('_')) {
            let mut parts = rest.splitn(3, '_');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            let arch = parts.next()?.to_owned();
            return Some((family, (major, minor), arch));
        }
    }
    None
}

/// `macosx_11_0_arm64` → ((11, 0), `arm64`).
fn macos_tag(tag: &str) -> Option<((u64, u64), String)> {
    let rest = tag.strip_prefix("macosx_")?;
    let mut parts = rest.splitn(3, '_');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some(((major, minor), parts.next()?.to_owned()))
}

/// Whether the specifiers pin one exact version (`==1.0`, not `==1.*`), which
/// lets a yanked file be chosen (PEP 592).
fn is_pinned(specifiers: &VersionSpecifiers) -> bool {
    specifiers.len() == 1
        && matches!(
            specifiers[0].operator(),
            Operator::Equal | Operator::ExactEqual
        )
}

/// Picks the version and files `wanted` needs from `page`, or says why none
/// qualifies.
pub fn choose_files(
    page: &ProjectPage,
    wanted: &Wanted,
    targets: &Targets,
) -> Result<Choice, String> {
    let pinned = is_pinned(&wanted.specifiers) || !wanted.pinned_files.is_empty();
    let mut by_version: Vec<(Version, String, Vec<&ProjectFile>)> = Vec::new();
    for file in &page.files {
        let Ok(dist) = DistFilename::parse(&file.filename) else {
            continue;
        };
        let Ok(version) = Version::from_str(dist.version()) else {
            continue;
        };
        match by_version.iter_mut().find(|(v, _, _)| *v == version) {
            Some((_, _, files)) => files.push(file),
            None => by_version.push((version, dist.version().to_owned(), vec![file])),
        }
    }
    if by_version.is_empty() {
        return Err(format!("the index lists no files of `{}`", wanted.name));
    }
    by_version.sort_by(|a, b| b.0.cmp(&a.0));
    let allowed: Vec<_> = by_version
        .iter()
        .filter(|(v, _, _)| wanted.specifiers.contains(v))
        .collect();
    if allowed.is_empty() {
        return Err(format!(
            "no version of `{}` matches `{}`",
            wanted.name, wanted.specifiers
        ));
    }
    let pre_ok = wanted.specifiers.iter().any(|s| s.any_prerelease());
    let usable = |files: &[&ProjectFile]| -> Vec<ProjectFile> {
        files
            .iter()
            .filter(|f| pinned || f.yanked == Yanked::No)
            .filter(|f| hash_ok(f, wanted))
            .filter(|f| targets.fits(f))
            .map(|f| (*f).clone())
            .collect()
    };
    let mut fallback_pre = None;
    for (version, raw, files) in &allowed {
        let files = usable(files);
        if files.is_empty() {
            continue;
        }
        let choice = Choice {
            version: raw.clone(),
            files,
        };
        if version.any_prerelease() && !pre_ok {
            fallback_pre.get_or_insert(choice);
            continue;
        }
        return Ok(choice);
    }
    fallback_pre.ok_or_else(|| {
        format!(
            "no file of `{}` {} is usable (yanked, hash mismatch, or no file for the targets)",
            wanted.name, wanted.specifiers
        )
    })
}

/// The files of a chosen version (`choice.files`, already narrowed to what
/// fits some target) an installer on `targets` takes. Without targets,
/// every file: nothing says which one it will want. With targets, the
/// wheels, plus the sdists only when some target (a python and platform
/// pair) has no wheel that covers it: pip (`--no-index --find-links`) and uv
/// prefer a fitting wheel and build the sdist only when there is none.
pub fn needed_files(files: Vec<ProjectFile>, targets: &Targets) -> Vec<ProjectFile> {
    if targets.is_any() {
        return files;
    }
    let sdist_needed = targets
        .each()
        .iter()
        .any(|target| !files.iter().any(|f| target.wheel_covers(f)));
    files
        .into_iter()
        .filter(|f| sdist_needed || WheelTags::of(&f.filename).is_some())
        .collect()
}

/// `--hash` digests and lock-file files, when given, must match.
fn hash_ok(file: &ProjectFile, wanted: &Wanted) -> bool {
    let sha = file.sha256().unwrap_or_default();
    let hashes_ok = wanted.hashes.is_empty() || wanted.hashes.iter().any(|h| h.as_str() == sha);
    let pinned_ok = wanted.pinned_files.is_empty()
        || wanted.pinned_files.iter().any(|p| {
            p.filename == file.filename && p.sha256.as_ref().is_none_or(|h| h.as_str() == sha)
        });
    hashes_ok && pinned_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CoreMetadata, Hashes};
    use crate::requirements::testing::{targets, wanted};

    fn file(filename: &str) -> ProjectFile {
        ProjectFile {
            filename: filename.to_owned(),
            url: format!("http://127.0.0.1:1/{filename}"),
            hashes: Hashes::from([("sha256".to_owned(), format!("{:0>64}", filename.len()))]),
            requires_python: None,
            yanked: Yanked::No,
            core_metadata: CoreMetadata::Absent,
            gpg_sig: None,
            size: None,
            upload_time: None,
            provenance: None,
        }
    }

    #[test]
    fn wheel_tags_fit_targets() {
        // (wheel, python, platform, fits)
        let cases = [
            (
                "d-1.0-py3-none-any.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                true,
            ),
            ("d-1.0-py2.py3-none-any.whl", "3.8", "win_amd64", true),
            ("d-1.0-py2-none-any.whl", "3.12", "", false),
            ("d-1.0-py313-none-any.whl", "3.12", "", false),
            ("d-1.0-py311-none-any.whl", "3.12", "", true),
            (
                "d-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                true,
            ),
            (
                "d-1.0-cp312-cp312-manylinux_2_34_x86_64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                false,
            ),
            (
                "d-1.0-cp312-cp312-manylinux_2_17_aarch64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                false,
            ),
            (
                "d-1.0-cp311-cp311-manylinux1_x86_64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                false,
            ),
            (
                "d-1.0-cp38-abi3-manylinux2010_x86_64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                true,
            ),
            (
                "d-1.0-cp312-cp312-linux_x86_64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                true,
            ),
            (
                "d-1.0-cp312-cp312-musllinux_1_2_x86_64.whl",
                "3.12",
                "manylinux_2_28_x86_64",
                false,
            ),
            (
                "d-1.0-cp312-cp312-musllinux_1_1_x86_64.whl",
                "3.12",
                "musllinux_1_2_x86_64",
                true,
            ),
            (
                "d-1.0-cp312-cp312-macosx_10_9_universal2.whl",
                "3.12",
                "macosx_14_0_arm64",
                true,
            ),
            (
                "d-1.0-cp312-cp312-macosx_15_0_arm64.whl",
                "3.12",
                "macosx_14_0_arm64",
                false,
            ),
            ("d-1.0-cp312-cp312-win_amd64.whl", "3.12", "win_amd64", true),
            ("d-1.0-cp312-cp312-win32.whl", "3.12", "win_amd64", false),
            (
                "d-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
                "3.10",
                "",
                false,
            ),
            ("d-1.0-cp312-cp312-win32.whl", "", "", true),
            ("d-1.0.tar.gz", "3.12", "win_amd64", true),
        ];
        for (wheel, python, platform, fits) in cases {
            let pythons: &[&str] = if python.is_empty() { &[] } else { &[python] };
            let platforms: &[&str] = if platform.is_empty() {
                &[]
            } else {
                &[platform]
            };
            assert_eq!(
                targets(pythons, platforms).fits(&file(wheel)),
                fits,
                "{wheel} on {python} {platform}"
            );
        }
    }

    #[test]
    fn requires_python_is_respected_with_a_python_target() {
        let mut f = file("d-1.0.tar.gz");
        f.requires_python = Some(">=3.13".into());
        assert!(!targets(&["3.12"], &[]).fits(&f));
        assert!(targets(&["3.13"], &[]).fits(&f));
        assert!(targets(&[], &[]).fits(&f));
        f.requires_python = Some(">=3.12.1".into());
        assert!(targets(&["3.12"], &[]).fits(&f));
    }

    fn page(files: &[ProjectFile]) -> ProjectPage {
        ProjectPage {
            name: "d".into(),
            files: files.to_vec(),
            versions: Vec::new(),
            status: None,
        }
    }

    #[test]
    fn version_choice() {
        let mut yanked = file("d-2.0.tar.gz");
        yanked.yanked = Yanked::Yes(None);
        let p = page(&[
            file("d-1.0.tar.gz"),
            file("d-1.0-py3-none-any.whl"),
            file("d-1.5.tar.gz"),
            yanked,
            file("d-3.0b1.tar.gz"),
        ]);
        let any = Targets::default();
        // (requirement, chosen version or error)
        let cases = [
            ("d", Ok("1.5")),
            ("d<1.5", Ok("1.0")),
            ("d==2.0", Ok("2.0")),
            ("d>=2", Ok("3.0b1")),
            ("d>=3.0b1", Ok("3.0b1")),
            ("d>4", Err("no version")),
        ];
        for (line, expected) in cases {
            let got = choose_files(&p, &wanted(line), &any).map(|c| c.version);
            match expected {
                Ok(v) => assert_eq!(got.as_deref(), Ok(v), "{line}"),
                Err(e) => assert!(got.is_err_and(|m| m.contains(e)), "{line}"),
            }
        }
        let choice = choose_files(&p, &wanted("d==1.0"), &any).expect("1.0");
        assert_eq!(choice.files.len(), 2);
    }

    #[test]
    fn hashes_and_targets_narrow_files() {
        let p = page(&[
            file("d-1.0.tar.gz"),
            file("d-1.0-py3-none-any.whl"),
            file("d-1.0-cp312-cp312-win_amd64.whl"),
        ]);
        let choice = choose_files(
            &p,
            &wanted("d"),
            &targets(&["3.12"], &["manylinux_2_28_x86_64"]),
        )
        .expect("chosen");
        let names: Vec<&str> = choice.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(names, ["d-1.0.tar.gz", "d-1.0-py3-none-any.whl"]);
        let sha = file("d-1.0-py3-none-any.whl")
            .sha256()
            .unwrap_or_default()
            .to_owned();
        let choice = choose_files(
            &p,
            &wanted(&format!("d --hash=sha256:{sha}")),
            &Targets::default(),
        )
        .expect("chosen");
        assert_eq!(choice.files.len(), 1);
    }

    #[test]
    fn needed_files_take_the_sdist_only_where_no_wheel_covers_a_target() {
        let files = |names: &[&str]| names.iter().map(|n| file(n)).collect::<Vec<_>>();
        let names = |files: Vec<ProjectFile>| {
            files
                .into_iter()
                .map(|f| f.filename)
                .collect::<Vec<String>>()
        };
        let generic = ["d-1.0.tar.gz", "d-1.0-py3-none-any.whl"];
        let binary = [
            "d-1.0.tar.gz",
            "d-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "d-1.0-cp312-cp312-win_amd64.whl",
        ];
        type Names<'a> = &'a [&'a str];
        // (files, pythons, platforms, needed)
        let cases: [(Names, Names, Names, Names); 8] = [
            (&generic, &[], &[], &generic),
            (&generic, &["3.12"], &[], &["d-1.0-py3-none-any.whl"]),
            (&generic, &[], &["win_amd64"], &["d-1.0-py3-none-any.whl"]),
            (&["d-1.0.tar.gz"], &["3.12"], &[], &["d-1.0.tar.gz"]),
            (
                &binary,
                &["3.12"],
                &["manylinux_2_28_x86_64", "win_amd64"],
                &binary[1..],
            ),
            // No platform given: a platform wheel leaves the others open.
            (&binary, &["3.12"], &[], &binary),
            // One target has no wheel: the sdist goes with the wheels.
            (
                &binary[..2],
                &["3.12"],
                &["manylinux_2_28_x86_64", "win_amd64"],
                &binary[..2],
            ),
            (
                &binary[..2],
                &["3.11", "3.12"],
                &["manylinux_2_28_x86_64"],
                &binary[..2],
            ),
        ];
        for (given, pythons, platforms, needed) in cases {
            assert_eq!(
                names(needed_files(files(given), &targets(pythons, platforms))),
                needed,
                "{given:?} on {pythons:?} {platforms:?}"
            );
        }
    }

    #[test]
    fn markers_against_targets() {
        let w = wanted("d; sys_platform == 'win32' and python_version >= '3.10'");
        assert!(Targets::default().marker_applies(&w.marker, &[]));
        assert!(targets(&["3.12"], &["win_amd64"]).marker_applies(&w.marker, &[]));
        assert!(!targets(&["3.12"], &["manylinux_2_28_x86_64"]).marker_applies(&w.marker, &[]));
        assert!(!targets(&["3.9"], &["win_amd64"]).marker_applies(&w.marker, &[]));
        let extra = wanted("d; extra == 'fast'");
        assert!(!Targets::default().marker_applies(&extra.marker, &[]));
        assert!(Targets::default().marker_applies(&extra.marker, &["fast".to_owned()]));
    }
}
