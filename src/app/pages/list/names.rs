//! Sorted name files: how the project list is kept on disk. One normalized
//! name per line, sorted, no duplicates, so lists merge as streams and a
//! name is found by binary search, with nothing held in memory.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::os::unix::fs::FileExt;

use crate::model::ProjectName;

/// Names as they arrive, kept compactly (one string, spans into it) so
/// 750,000 of them cost about their own size, then sorted in place.
#[derive(Debug, Default)]
pub(super) struct NameBuffer {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl NameBuffer {
    /// Adds `raw` normalized (PEP 503); names that are not valid project
    /// names are left out.
    pub(super) fn push(&mut self, raw: &str) {
        let Ok(name) = ProjectName::new(raw) else {
            return;
        };
        let (Ok(start), Ok(end)) = (
            u32::try_from(self.text.len()),
            u32::try_from(self.text.len() + name.as_str().len()),
        ) else {
            return; // over 4 GiB of names: not an index anyone runs
        };
        self.text.push_str(name.as_str());
        self.spans.push((start, end));
    }

    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Writes the names sorted and without duplicates, one per line.
    pub(super) fn write_sorted(mut self, out: &mut impl Write) -> io::Result<()> {
        let text = &self.text;
        let name = |&(start, end): &(u32, u32)| &text[start as usize..end as usize];
        self.spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        self.spans.dedup_by(|a, b| name(a) == name(b));
        for span in &self.spans {
            out.write_all(name(span).as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Merges sorted name streams (and a sorted slice) into one sorted stream
/// without duplicates, calling `emit` for each name in order.
pub(super) fn merge(
    mut inputs: Vec<Box<dyn BufRead + Send>>,
    extra: &[String],
    emit: &mut dyn FnMut(&str) -> io::Result<()>,
) -> io::Result<()> {
    let mut heads: Vec<Option<String>> = inputs
        .iter_mut()
        .map(next_line)
        .collect::<io::Result<_>>()?;
    let mut extra = extra.iter().peekable();
    let mut last: Option<String> = None;
    loop {
        let smallest_input = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_deref().map(|h| (i, h)))
            .min_by(|a, b| a.1.cmp(b.1));
        let take_extra = match (smallest_input, extra.peek()) {
            (None, None) => return Ok(()),
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some((_, name)), Some(e)) => e.as_str() < name,
        };
        let name = if take_extra {
            extra.next().cloned().unwrap_or_default()
        } else {
            let (i, _) = smallest_input.expect("an input has a name");
            let name = heads[i].take().unwrap_or_default();
            heads[i] = next_line(&mut inputs[i])?;
            name
        };
        if last.as_deref() != Some(name.as_str()) {
            emit(&name)?;
            last = Some(name);
        }
    }
}

fn next_line(input: &mut Box<dyn BufRead + Send>) -> io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    if line.ends_with('\n') {
        line.pop();
    }
    Ok(Some(line))
}

/// Whether a sorted name file of `len` bytes holds `name`: a binary search
/// over byte offsets, a few small positioned reads, nothing loaded.
pub(super) fn contains(file: &File, len: u64, name: &str) -> io::Result<bool> {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match line_from(file, len, mid)? {
            None => hi = mid,
            Some((line, end)) => match line.as_str().cmp(name) {
                Ordering::Equal => return Ok(true),
                Ordering::Less => lo = end,
                Ordering::Greater => hi = mid,
            },
        }
    }
    Ok(false)
}

/// The first whole line starting at or after `pos`, and the offset after it.
fn line_from(file: &File, len: u64, pos: u64) -> io::Result<Option<(String, u64)>> {
    let mut start = pos;
    if pos > 0 {
        // The line containing `pos - 1` ends at the first `\n` from there.
        match find_newline(file, len, pos - 1)? {
            Some(newline) => start = newline + 1,
            None => return Ok(None),
        }
    }
    if start >= len {
        return Ok(None);
    }
    let end = find_newline(file, len, start)?.unwrap_or(len);
    let mut line = vec![0; usize::try_from(end - start).unwrap_or(0)];
    file.read_exact_at(&mut line, start)?;
    let line = String::from_utf8(line).map_err(io::Error::other)?;
    Ok(Some((line, end + 1)))
}

fn find_newline(file: &File, len: u64, from: u64) -> io::Result<Option<u64>> {
    let mut buf = [0u8; 256];
    let mut pos = from;
    while pos < len {
        let want = usize::try_from((len - pos).min(buf.len() as u64)).unwrap_or(buf.len());
        file.read_exact_at(&mut buf[..want], pos)?;
        if let Some(i) = buf[..want].iter().position(|&b| b == b'\n') {
            return Ok(Some(pos + i as u64));
        }
        pos += want as u64;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<u8> {
        let mut buffer = NameBuffer::default();
        for name in names {
            buffer.push(name);
        }
        let mut out = Vec::new();
        buffer.write_sorted(&mut out).unwrap();
        out
    }

    #[test]
    fn names_are_normalized_sorted_and_unique() {
        let out = sorted(&[
            "Django",
            "a",
            "zope.interface",
            "django",
            "A_b",
            "not a name!",
        ]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\na-b\ndjango\nzope-interface\n"
        );
    }

    #[test]
    fn binary_search_finds_every_name_and_nothing_else() {
        let names: Vec<String> = (0..500)
            .map(|i| format!("p{:04}{}", i * 3, "x".repeat(i % 150)))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names");
        std::fs::write(&path, sorted(&refs)).unwrap();
        let file = File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        for name in &names {
            assert!(contains(&file, len, name).unwrap(), "{name}");
        }
        for absent in ["", "a", "p0001", "p0000x", "zzz", "p1497"] {
            assert!(!contains(&file, len, absent).unwrap(), "{absent}");
        }
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(!contains(&File::open(&empty).unwrap(), 0, "a").unwrap());
    }

    #[test]
    fn merge_interleaves_and_dedups() {
        let a: Box<dyn BufRead + Send> = Box::new(&b"a\nc\ne\n"[..]);
        let b: Box<dyn BufRead + Send> = Box::new(&b"b\nc\nf\n"[..]);
        let mut out = Vec::new();
        merge(
            vec![a, b],
            &["c".into(), "d".into(), "g".into()],
            &mut |n| {
                out.push(n.to_owned());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out, ["a", "b", "c", "d", "e", "f", "g"]);
    }
}
