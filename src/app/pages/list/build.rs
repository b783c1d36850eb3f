//! The project list's files, made on the blocking pool: an upstream's list
//! read into a sorted name file, and the merged list (every upstream's names
//! and the local ones) written as the documents `/simple/` sends.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::names::{self, NameBuffer};
use crate::index::{Format, list};

/// What one read of an upstream list came to.
pub(super) struct ListRead {
    pub names: usize,
}

/// Reads the upstream list in `body` (JSON or HTML) into the sorted name
/// file `out`, replacing it only once whole.
pub(super) fn names_file(body: &Path, is_json: bool, out: &Path) -> crate::error::Result<ListRead> {
    let input = File::open(body).map_err(|e| storage(body, e))?;
    let mut buffer = NameBuffer::default();
    let mut push = |name: String| buffer.push(&name);
    if is_json {
        list::json_names(BufReader::with_capacity(256 * 1024, input), &mut push)?;
    } else {
        let mut reader = list::HtmlNames::default();
        let mut input = input;
        let mut chunk = vec![0; 256 * 1024];
        loop {
            let n = input.read(&mut chunk).map_err(|e| storage(body, e))?;
            if n == 0 {
                break;
            }
            reader.feed(&chunk[..n], &mut push);
        }
    }
    let names = buffer.len();
    write_atomically(out, |file| buffer.write_sorted(file))?;
    Ok(ListRead { names })
}

/// The merged list's files.
pub(super) struct Merged {
    pub names: PathBuf,
    pub html: PathBuf,
    pub json: PathBuf,
}

impl Merged {
    pub(super) fn in_dir(dir: &Path) -> Self {
        Self {
            names: dir.join("index.names"),
            html: dir.join("index.html"),
            json: dir.join("index.json"),
        }
    }
}

/// Merges the sorted name files `parts` and the sorted `local` names into
/// the merged name file and both documents, each replaced only once whole.
pub(super) fn merge(
    parts: &[PathBuf],
    local: &[String],
    merged: &Merged,
) -> crate::error::Result<()> {
    let dir = crate::store::parent_dir(&merged.names);
    let (mut names, names_tmp) = temp_in(dir)?;
    let (mut html, html_tmp) = temp_in(dir)?;
    let (mut json, json_tmp) = temp_in(dir)?;
    let inputs = parts
        .iter()
        .map(|path| {
            let file = File::open(path).map_err(|e| storage(path, e))?;
            Ok(Box::new(BufReader::new(file)) as Box<dyn io::BufRead + Send>)
        })
        .collect::<crate::error::Result<Vec<_>>>()?;
    let written = (|| {
        html.write_all(list::head(Format::Html).as_bytes())?;
        json.write_all(list::head(Format::Json).as_bytes())?;
        let mut first = true;
        let mut entry = String::new();
        names::merge(inputs, local, &mut |name| {
            names.write_all(name.as_bytes())?;
            names.write_all(b"\n")?;
            for (format, out) in [(Format::Html, &mut html), (Format::Json, &mut json)] {
                entry.clear();
                list::push_entry(&mut entry, format, name, &format!("{name}/"), first);
                out.write_all(entry.as_bytes())?;
            }
            first = false;
            Ok(())
        })?;
        html.write_all(list::tail(Format::Html).as_bytes())?;
        json.write_all(list::tail(Format::Json).as_bytes())?;
        for out in [&mut names, &mut html, &mut json] {
            out.flush()?;
            out.get_ref().sync_all()?;
        }
        Ok::<_, io::Error>(())
    })();
    written.map_err(|e| storage(dir, e))?;
    // The documents first, the name file last: a crash in between leaves
    // names that the documents already hold.
    for (tmp, path) in [
        (html_tmp, &merged.html),
        (json_tmp, &merged.json),
        (names_tmp, &merged.names),
    ] {
        tmp.persist(path).map_err(|e| storage(path, e))?;
    }
    Ok(())
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> crate::error::Result<()> {
    let (mut out, tmp) = temp_in(crate::store::parent_dir(path))?;
    let written = write(&mut out)
        .and_then(|()| out.flush())
        .and_then(|()| out.get_ref().sync_all());
    written.map_err(|e| storage(path, e))?;
    tmp.persist(path).map_err(|e| storage(path, e))?;
    Ok(())
}

/// A hidden file in `dir` that removes itself unless persisted, and a
/// buffered writer on it.
fn temp_in(dir: &Path) -> crate::error::Result<(BufWriter<File>, TempPath)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".larder-list-{}-{n}", std::process::id()));
    let file = File::create_new(&path).map_err(|e| storage(&path, e))?;
    Ok((
        BufWriter::with_capacity(256 * 1024, file),
        TempPath(Some(path)),
    ))
}

/// A file under construction: removed when dropped, unless persisted.
struct TempPath(Option<PathBuf>);

impl TempPath {
    fn persist(mut self, dest: &Path) -> io::Result<()> {
        let path = self.0.take().expect("persisted once");
        std::fs::rename(&path, dest).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn storage(path: &Path, e: io::Error) -> crate::error::Error {
    crate::error::Error::storage(
        format!("cannot write the project list at `{}`", path.display()),
        e,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_lists_merge_with_local_names_into_both_documents() {
        let dir = tempfile::tempdir().unwrap();
        let html = dir.path().join("a.html");
        std::fs::write(&html, "<a href=\"x/\">Zope</a><a href='y/'>Alpha</a>").unwrap();
        let json = dir.path().join("b.json");
        std::fs::write(
            &json,
            r#"{"meta":{},"projects":[{"name":"beta"},{"name":"alpha"}]}"#,
        )
        .unwrap();
        let (a, b) = (dir.path().join("a.names"), dir.path().join("b.names"));
        assert_eq!(names_file(&html, false, &a).unwrap().names, 2);
        assert_eq!(names_file(&json, true, &b).unwrap().names, 2);
        let merged = Merged::in_dir(dir.path());
        merge(&[a, b], &["mine".to_owned()], &merged).unwrap();
        assert_eq!(
            std::fs::read_to_string(&merged.names).unwrap(),
            "alpha\nbeta\nmine\nzope\n"
        );
        let list = crate::model::ProjectList {
            projects: ["alpha", "beta", "mine", "zope"].map(String::from).to_vec(),
        };
        assert_eq!(
            std::fs::read_to_string(&merged.html).unwrap(),
            crate::index::html::render_list(&list, &|n| format!("{n}/"))
        );
        assert_eq!(
            std::fs::read_to_string(&merged.json).unwrap(),
            crate::index::json::render_list(&list)
        );
        // Nothing but the results is left behind.
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "a.html",
                "a.names",
                "b.json",
                "b.names",
                "index.html",
                "index.json",
                "index.names"
            ]
        );
    }
}
