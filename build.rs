//! Stamps the binary with the git commit and the build date for `--version`.
//!
//! Never fails the build for want of git: a source tarball or a container
//! build without `.git` says "unknown" instead. Reruns only when the checked
//! out commit or the crate's sources change, so the date does not force a
//! rebuild of an otherwise unchanged crate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const UNKNOWN: &str = "unknown";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=LARDER_GIT_COMMIT");

    let commit = match non_empty_env("LARDER_GIT_COMMIT") {
        // A packager building without `.git` (a tarball, a container) who
        // knows the commit passes it in.
        Some(commit) => commit,
        None => git_commit(&manifest_dir).unwrap_or_else(|| UNKNOWN.to_owned()),
    };
    println!("cargo:rustc-env=LARDER_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=LARDER_BUILD_DATE={}", build_date());
    println!(
        "cargo:rustc-env=LARDER_BUILD_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| UNKNOWN.to_owned())
    );
}

/// The short hash of HEAD, with `-dirty` when tracked files differ from it;
/// `None` when git is missing or the crate is not the top of a work tree
/// (an unpacked tarball inside some other repository must not borrow its
/// commit).
fn git_commit(manifest_dir: &Path) -> Option<String> {
    let toplevel = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&toplevel).canonicalize().ok()? != manifest_dir.canonicalize().ok()? {
        return None;
    }
    watch_git_files(manifest_dir);
    let hash = git(manifest_dir, &["rev-parse", "--short", "HEAD"])?;
    let status = git(
        manifest_dir,
        &["status", "--porcelain", "--untracked-files=no"],
    )?;
    Some(if status.is_empty() {
        hash
    } else {
        format!("{hash}-dirty")
    })
}

/// Asks cargo to rerun this script when HEAD moves (checkout, commit) or
/// the sources change (the `-dirty` mark; edits elsewhere, say README.md,
/// show at the next rerun). Not the index: `git status` rewrites it, which
/// would rebuild the crate for nothing. Only existing paths are named:
/// cargo reruns on every build for a path that does not exist.
fn watch_git_files(manifest_dir: &Path) {
    let mut watched = vec![manifest_dir.join("src"), manifest_dir.join("Cargo.toml")];
    // In a linked work tree HEAD lives in the per-tree git dir, branch refs
    // in the common one.
    if let Some(git_dir) = git_path(manifest_dir, "--git-dir") {
        watched.push(git_dir.join("HEAD"));
    }
    if let Some(common_dir) = git_path(manifest_dir, "--git-common-dir") {
        watched.push(common_dir.join("packed-refs"));
        if let Some(head_ref) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common_dir.join(head_ref));
        }
    }
    for path in watched.iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn git_path(manifest_dir: &Path, flag: &str) -> Option<PathBuf> {
    let path = PathBuf::from(git(manifest_dir, &["rev-parse", flag])?);
    // Relative answers are relative to the directory git ran in.
    Some(manifest_dir.join(path))
}

/// Trimmed stdout of a successful `git` run in `dir`, or `None`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The UTC date (YYYY-MM-DD) of `SOURCE_DATE_EPOCH` when set, for
/// reproducible builds; of now otherwise.
fn build_date() -> String {
    let seconds = match non_empty_env("SOURCE_DATE_EPOCH") {
        // The reproducible-builds spec asks a malformed value to fail the
        // build rather than silently embed the current date.
        Some(value) => value.trim().parse::<u64>().unwrap_or_else(|_| {
            panic!("SOURCE_DATE_EPOCH is `{value}`, not a count of seconds since 1970")
        }),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0),
    };
    let (year, month, day) = civil_from_days(seconds / 86_400);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so that no date crate is needed at build time.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
