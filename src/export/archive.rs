//! One-file bundles: a tree as a `.tar.zst` (zstd-compressed tar), and the
//! way back. Blocking: run these on the blocking pool.
//!
//! Members are the tree's paths (`files/…`, `simple/…`, `MANIFEST`), with
//! deterministic headers (no owner, fixed mode and time). Reading accepts a
//! zstd-compressed or plain tar and refuses members that would leave the
//! directory they are extracted into (absolute paths, `..`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const ZSTD_LEVEL: i32 = 3;

/// Writes every file under `dir` (recursively, sorted) into a new
/// `.tar.zst` at `dest`, and fsyncs it.
pub fn write_tree(dir: &Path, dest: &Path) -> Result<()> {
    let io_error = |e: io::Error| Error::storage(format!("cannot write `{}`", dest.display()), e);
    let file = File::create_new(dest).map_err(io_error)?;
    let encoder = zstd::Encoder::new(BufWriter::new(file), ZSTD_LEVEL).map_err(io_error)?;
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    for relative in files_under(dir)? {
        builder
            .append_path_with_name(dir.join(&relative), &relative)
            .map_err(io_error)?;
    }
    let encoder = builder.into_inner().map_err(io_error)?;
    let writer = encoder.finish().map_err(io_error)?;
    let file = writer.into_inner().map_err(|e| io_error(e.into_error()))?;
    file.sync_all().map_err(io_error)
}

/// Every regular file under `dir`, relative to it, sorted.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let read_error = |e| Error::storage(format!("cannot read `{}`", dir.display()), e);
        let mut entries = std::fs::read_dir(dir)
            .map_err(read_error)?
            .collect::<io::Result<Vec<_>>>()
            .map_err(read_error)?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let kind = entry.file_type().map_err(read_error)?;
            let path = entry.path();
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file()
                && let Ok(relative) = path.strip_prefix(root)
            {
                out.push(relative.to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// Whether `path` is a tar file this module reads (by its extension).
pub fn is_archive(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".tar.zst") || name.ends_with(".tzst") || name.ends_with(".tar")
}

/// One member of an archive read by [`extract_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's path in the archive.
    pub path: String,
    /// Where it was extracted; `None` when `wanted` declined it (or another
    /// member of the same file name came first).
    pub extracted: Option<PathBuf>,
}

/// Extracts the regular-file members whose file name `wanted` accepts into
/// `into` (flat: `into/<file name>`), streaming each; lists every member.
/// An unsafe member path fails the whole archive.
pub fn extract_files(
    archive: &Path,
    into: &Path,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Member>> {
    let io_error = |e: io::Error| Error::storage(format!("cannot read `{}`", archive.display()), e);
    let mut file = File::open(archive).map_err(io_error)?;
    let mut magic = [0; 4];
    let is_zstd = file.read_exact(&mut magic).is_ok() && magic == ZSTD_MAGIC;
    file.rewind().map_err(io_error)?;
    let reader: Box<dyn Read> = if is_zstd {
        Box::new(zstd::Decoder::new(file).map_err(io_error)?)
    } else {
        Box::new(BufReader::new(file))
    };
    let mut tar = tar::Archive::new(reader);
    let mut members = Vec::new();
    for entry in tar.entries().map_err(io_error)? {
        let mut entry = entry.map_err(io_error)?;
        let path = entry.path().map_err(io_error)?.into_owned();
        let shown = path.to_string_lossy().into_owned();
        check_member(&path, &shown, archive)?;
        let extracted = match path.file_name().and_then(|n| n.to_str()) {
            Some(name) if entry.header().entry_type().is_file() && wanted(name) => {
                let dest = into.join(name);
                match File::create_new(&dest) {
                    Ok(out) => {
                        let mut out = BufWriter::new(out);
                        io::copy(&mut entry, &mut out).map_err(io_error)?;
                        out.into_inner().map_err(|e| io_error(e.into_error()))?;
                        Some(dest)
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => None,
                    Err(e) => return Err(io_error(e)),
                }
            }
            _ => None,
        };
        members.push(Member {
            path: shown,
            extracted,
        });
    }
    Ok(members)
}

/// Refuses absolute member paths and `..`.
fn check_member(path: &Path, shown: &str, archive: &Path) -> Result<()> {
    let safe = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if safe {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{}` has a member outside its tree (`{}`); nothing was imported",
            archive.display(),
            shown.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_tree_and_extracts_wanted_files() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("files")).unwrap();
        std::fs::write(tree.join("files/demo-1.0.tar.gz"), b"sdist").unwrap();
        std::fs::write(tree.join("MANIFEST"), b"m").unwrap();
        let bundle = dir.path().join("bundle.tar.zst");
        write_tree(&tree, &bundle).unwrap();
        assert!(is_archive(&bundle));

        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let members = extract_files(&bundle, &out, &|name| name.ends_with(".gz")).unwrap();
        let paths: Vec<_> = members.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["MANIFEST", "files/demo-1.0.tar.gz"]);
        assert_eq!(members[0].extracted, None);
        assert_eq!(
            std::fs::read(out.join("demo-1.0.tar.gz")).unwrap(),
            b"sdist"
        );
    }

    #[test]
    fn refuses_members_outside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("evil.tar");
        let mut builder = tar::Builder::new(File::create(&bundle).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // `set_path` refuses `..`, so write the name bytes directly.
        header.as_old_mut().name[..22].copy_from_slice(b"../demo-1.0.tar.gz\0\0\0\0");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        builder.finish().unwrap();
        drop(builder);
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let err = extract_files(&bundle, &out, &|_| true).unwrap_err();
        assert!(err.to_string().contains("outside its tree"), "{err}");
        assert!(!dir.path().join("demo-1.0.tar.gz").exists());
    }
}
