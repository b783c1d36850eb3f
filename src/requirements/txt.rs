//! Requirements-file syntax (pip's), which `pip freeze` output is too.
//!
//! Handled: PEP 508 requirements (pins, ranges, extras, markers), `\` line
//! continuations, `#` comments, `--hash` options, `-r`/`--requirement`
//! includes (through the caller's loader, cycles and depth bounded).
//! `-c`/`--constraint` files are *ignored* (a constraint narrows versions of
//! projects something else asks for; it never adds a project, and larder does
//! not resolve), as are index options (`-i`, `--extra-index-url`, `-f`, ...).
//! Editable installs, direct URLs (`name @ url`, which is how `pip freeze`
//! writes projects installed from files) and local paths are reported as
//! unsupported.

use std::str::FromStr;

use pep508_rs::{Requirement, VersionOrUrl};

use super::{Loader, Note, NoteKind, Parsed, Source, Wanted, sha256_of};
use crate::model::ProjectName;

/// How deep `-r` includes may nest.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses requirements syntax, following `-r` includes through `loader`.
pub fn parse_requirements_txt(source: &Source, loader: &mut Loader<'_>) -> Parsed {
    let mut parsed = Parsed::default();
    let mut stack = vec![source.name.clone()];
    parse_into(source, loader, &mut stack, &mut parsed);
    parsed
}

fn parse_into(source: &Source, loader: &mut Loader<'_>, stack: &mut Vec<String>, out: &mut Parsed) {
    for (line_no, line) in logical_lines(&source.text) {
        let origin = format!("{}:{line_no}", source.name);
        let note = |kind, reason: &str| Note {
            kind,
            origin: origin.clone(),
            text: line.clone(),
            reason: reason.to_owned(),
        };
        if line.starts_with('-') {
            match option_line(&line) {
                LineOption::Include(path) => {
                    include(&path, source, &origin, &line, loader, stack, out);
                }
                LineOption::Constraint => out.notes.push(note(
                    NoteKind::Ignored,
                    "constraint files are ignored (they add no projects)",
                )),
                LineOption::Editable => out.notes.push(note(
                    NoteKind::Unsupported,
                    "editable installs are not fetched from an index",
                )),
                LineOption::Other => out
                    .notes
                    .push(note(NoteKind::Ignored, "option ignored by larder")),
                LineOption::Malformed(reason) => out.notes.push(note(NoteKind::Invalid, &reason)),
            }
            continue;
        }
        match requirement_line(&line, &origin) {
            Ok(wanted) => out.wanted.push(wanted),
            Err((kind, reason)) => out.notes.push(note(kind, &reason)),
        }
    }
}

fn include(
    path: &str,
    from: &Source,
    origin: &str,
    line: &str,
    loader: &mut Loader<'_>,
    stack: &mut Vec<String>,
    out: &mut Parsed,
) {
    let invalid = |reason: String| Note {
        kind: NoteKind::Invalid,
        origin: origin.to_owned(),
        text: line.to_owned(),
        reason,
    };
    if stack.len() > MAX_INCLUDE_DEPTH {
        out.notes.push(invalid(format!(
            "includes nest deeper than {MAX_INCLUDE_DEPTH}"
        )));
        return;
    }
    match loader(path, &from.name) {
        Ok(included) if stack.contains(&included.name) => {
            out.notes.push(invalid(format!(
                "`{}` includes itself (through {})",
                included.name,
                stack.join(" -> ")
            )));
        }
        Ok(included) => {
            stack.push(included.name.clone());
            parse_into(&included, loader, stack, out);
            stack.pop();
        }
        Err(reason) => out.notes.push(invalid(reason)),
    }
}

/// Physical lines joined at trailing `\`, comments and blanks dropped, with
/// the number of the line each starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (start, mut acc) = current.take().unwrap_or((index + 1, String::new()));
        let stripped = strip_comment(raw);
        if let Some(head) = stripped.strip_suffix('\\') {
            acc.push_str(head);
            acc.push(' ');
            current = Some((start, acc));
            continue;
        }
        acc.push_str(stripped);
        let line = acc.trim();
        if !line.is_empty() {
            out.push((start, line.to_owned()));
        }
    }
    if let Some((start, acc)) = current {
        let line = acc.trim();
        if !line.is_empty() {
            out.push((start, line.to_owned()));
        }
    }
    out
}

/// pip's rule: `#` at the start of a line or after whitespace starts a comment
/// (so a URL fragment `#sha256=` survives).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

enum LineOption {
    Include(String),
    Constraint,
    Editable,
    Other,
    Malformed(String),
}

/// A line that starts with an option.
fn option_line(line: &str) -> LineOption {
    let (flag, value) = split_option(line);
    match flag {
        "-r" | "--requirement" => match value {
            Some(path) if !path.is_empty() => LineOption::Include(path.to_owned()),
            _ => LineOption::Malformed(format!("`{flag}` needs a file name")),
        },
        "-c" | "--constraint" => LineOption::Constraint,
        "-e" | "--editable" => LineOption::Editable,
        _ => LineOption::Other,
    }
}

/// `-r x`, `-rx`, `--requirement=x`, `--requirement x` → (flag, value).
fn split_option(line: &str) -> (&str, Option<&str>) {
    if let Some(long) = line.strip_prefix("--") {
        let end = long
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(long.len());
        let flag = &line[..end + 2];
        let rest = long[end..].trim_start_matches('=').trim();
        return (flag, (!rest.is_empty()).then_some(rest));
    }
    let flag = line.get(..2).unwrap_or(line);
    let rest = line.get(2..).unwrap_or("").trim();
    (flag, (!rest.is_empty()).then_some(rest))
}

/// A requirement with its trailing per-requirement options (`--hash`).
fn requirement_line(line: &str, origin: &str) -> Result<Wanted, (NoteKind, String)> {
    let (spec, options) = split_trailing_options(line);
    let mut hashes = Vec::new();
    let mut tokens = options.split_whitespace();
    while let Some(token) = tokens.next() {
        let value = match token.strip_prefix("--hash") {
            Some("") => tokens.next(),
            Some(rest) => rest.strip_prefix('='),
            None => continue, // other per-requirement options do not matter here
        };
        let Some(value) = value else {
            return Err((NoteKind::Invalid, "`--hash` needs a value".to_owned()));
        };
        match sha256_of(value) {
            Some(Ok(sha)) => hashes.push(sha),
            Some(Err(reason)) => return Err((NoteKind::Invalid, reason)),
            None if value.contains(':') => {} // another algorithm: larder keys by SHA-256
            None => {
                return Err((
                    NoteKind::Invalid,
                    format!("`--hash={value}` is not `algorithm:digest`"),
                ));
            }
        }
    }
    if looks_like_path_or_url(spec) {
        return Err((
            NoteKind::Unsupported,
            "local paths and URLs are not fetched from an index".to_owned(),
        ));
    }
    check_name_ends(spec).map_err(|reason| (NoteKind::Invalid, reason))?;
    let requirement = Requirement::<pep508_rs::VerbatimUrl>::from_str(spec)
        .map_err(|e| (NoteKind::Invalid, format!("not a PEP 508 requirement: {e}")))?;
    let specifiers = match requirement.version_or_url {
        None => pep440_rs::VersionSpecifiers::empty(),
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers,
        Some(VersionOrUrl::Url(_)) => {
            return Err((
                NoteKind::Unsupported,
                "`name @ URL` requirements are not fetched from an index".to_owned(),
            ));
        }
    };
    let name = ProjectName::new(requirement.name.as_ref())
        .map_err(|e| (NoteKind::Invalid, e.to_string()))?;
    Ok(Wanted {
        name,
        specifiers,
        extras: requirement.extras.iter().map(ToString::to_string).collect(),
        marker: requirement.marker,
        hashes,
        pinned_files: Vec::new(),
        origin: origin.to_owned(),
    })
}

/// pep508_rs panics, instead of returning an error, on a name or extra that
/// ends in `.`, `-` or `_` before another character (`demo- ==1`, `demo-;`,
/// `demo[extra-]`): such requirements are refused here first. Tokens are
/// cut as pep508_rs cuts them (leading whitespace, then name characters).
fn check_name_ends(spec: &str) -> Result<(), String> {
    fn token(text: &str) -> (&str, &str) {
        let text = text.trim_start();
        let end = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .unwrap_or(text.len());
        text.split_at(end)
    }
    let bad_end = |name: &str| name.ends_with(['.', '-', '_']);
    let (name, rest) = token(spec);
    if bad_end(name) {
        return Err(format!(
            "not a PEP 508 requirement: the name `{name}` must end with a letter or digit"
        ));
    }
    let Some(extras) = rest.trim_start().strip_prefix('[') else {
        return Ok(());
    };
    let extras = extras.split(']').next().unwrap_or(extras);
    for extra in extras.split(',') {
        let (extra, _) = token(extra);
        if bad_end(extra) {
            return Err(format!(
                "not a PEP 508 requirement: the extra `{extra}` must end with a letter or digit"
            ));
        }
    }
    Ok(())
}

/// Splits `spec --opt ...` at the first whitespace-preceded `-` outside quotes.
fn split_trailing_options(line: &str) -> (&str, &str) {
    let mut quote = None;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'-') if i > 0 && bytes[i - 1].is_ascii_whitespace() => {
                return (line[..i].trim(), &line[i..]);
            }
            _ => {}
        }
    }
    (line.trim(), "")
}

fn looks_like_path_or_url(spec: &str) -> bool {
    let head = spec.split([';', ' ']).next().unwrap_or(spec);
    head.starts_with('.')
        || head.starts_with('/')
        || head.starts_with('~')
        || (head.contains("://") && !spec.contains('@'))
        || head.starts_with("file:")
        || head.ends_with(".whl")
        || head.ends_with(".tar.gz")
        || head.ends_with(".zip")
}

#[cfg(test)]
mod tests {
    use super::super::{Source, no_includes};
    use super::*;

    fn parse(text: &str) -> Parsed {
        let source = Source {
            name: "req.txt".into(),
            text: text.into(),
        };
        parse_requirements_txt(&source, &mut no_includes)
    }

    fn one(text: &str) -> Wanted {
        let parsed = parse(text);
        assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
        assert_eq!(parsed.wanted.len(), 1, "{text}");
        parsed.wanted.into_iter().next().expect("one")
    }

    #[test]
    fn requirement_lines() {
        // (line, name, specifiers, extras, marker)
        let cases = [
            ("demo", "demo", "", "", ""),
            ("Demo_Pkg==1.0", "demo-pkg", "==1.0", "", ""),
            ("demo >= 1.0, <2", "demo", ">=1.0, <2", "", ""),
            (
                "demo[fast,Extra_X]~=1.2",
                "demo",
                "~=1.2",
                "fast,extra-x",
                "",
            ),
            (
                "demo==1.0; python_version >= '3.8'",
                "demo",
                "==1.0",
                "",
                "python_full_version >= '3.8'",
            ),
            ("demo==1.0  # pinned for a reason", "demo", "==1.0", "", ""),
            ("demo (>=1.0)", "demo", ">=1.0", "", ""),
        ];
        for (line, name, specs, extras, marker) in cases {
            let wanted = one(line);
            assert_eq!(wanted.name.as_str(), name, "{line}");
            assert_eq!(wanted.specifiers.to_string(), specs, "{line}");
            assert_eq!(wanted.extras.join(","), extras, "{line}");
            assert_eq!(
                wanted.marker.try_to_string().unwrap_or_default(),
                marker,
                "{line}"
            );
            assert_eq!(wanted.origin, "req.txt:1");
        }
    }

    #[test]
    fn hashes_and_continuations() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            "# a comment\n\ndemo==1.0 \\\n    --hash=sha256:{a} \\\n    --hash sha256:{b} \\\n    --hash=md5:0123\nother==2.0\n"
        );
        let parsed = parse(&text);
        assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
        assert_eq!(parsed.wanted.len(), 2);
        let demo = &parsed.wanted[0];
        assert_eq!(demo.origin, "req.txt:3");
        let hashes: Vec<&str> = demo.hashes.iter().map(|h| h.as_str()).collect();
        assert_eq!(hashes, [a.as_str(), b.as_str()]);
        assert_eq!(parsed.wanted[1].origin, "req.txt:7");
    }

    #[test]
    fn options_and_unsupported_lines() {
        let parsed = parse(
            "-i http://127.0.0.1/simple/\n--index-url=http://127.0.0.1/simple/\n\
             --extra-index-url http://127.0.0.1/x/\n--pre\n-c constraints.txt\n\
             -e ./src\n--editable git+http://127.0.0.1/x.git#egg=x\n./local/pkg\n\
             /abs/demo-1.0.tar.gz\nhttp://127.0.0.1/demo-1.0.tar.gz\n\
             demo @ file:///tmp/demo-1.0.tar.gz\nkept==1.0\nnot a requirement!!\n--hash\n",
        );
        assert_eq!(parsed.wanted.len(), 1);
        assert_eq!(parsed.wanted[0].name.as_str(), "kept");
        let kinds: Vec<NoteKind> = parsed.notes.iter().map(|n| n.kind).collect();
        use NoteKind::*;
        assert_eq!(
            kinds,
            [
                Ignored,
                Ignored,
                Ignored,
                Ignored,
                Ignored,
                Unsupported,
                Unsupported,
                Unsupported,
                Unsupported,
                Unsupported,
                Unsupported,
                Invalid,
                Ignored,
            ]
        );
        assert!(parsed.has_invalid());
    }

    #[test]
    fn names_ending_in_punctuation_are_invalid_not_a_panic() {
        // Each of these made pep508_rs panic (found by tests/prop).
        for (line, named) in [
            ("0-[ ", "`0-`"),
            ("0-\u{10fe0}", "`0-`"),
            ("demo_ ==1.0", "`demo_`"),
            ("demo.;python_version>'3'", "`demo.`"),
            ("demo[fast-]", "extra `fast-`"),
            ("demo [ok, x_ ]==1", "extra `x_`"),
        ] {
            let parsed = parse(line);
            assert!(parsed.wanted.is_empty(), "{line}");
            assert_eq!(parsed.notes.len(), 1, "{line}: {:?}", parsed.notes);
            let note = &parsed.notes[0];
            assert_eq!(note.kind, NoteKind::Invalid, "{line}");
            assert!(note.reason.contains(named), "{line}: {}", note.reason);
        }
        // Punctuation inside names and extras is fine.
        assert_eq!(one("demo-pkg[x-y]==1").extras, ["x-y"]);
    }

    #[test]
    fn bad_hash_is_invalid() {
        let parsed = parse("demo==1.0 --hash=sha256:nothex\n");
        assert!(parsed.wanted.is_empty());
        assert_eq!(parsed.notes[0].kind, NoteKind::Invalid);
    }

    #[test]
    fn pip_freeze_output() {
        let parsed = parse(
            "# Editable install with no version control (x==0.1)\n-e /src/x\n\
             attrs==23.2.0\nidna @ file:///home/u/idna-3.6-py3-none-any.whl\nsix==1.16.0\n",
        );
        let names: Vec<&str> = parsed.wanted.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["attrs", "six"]);
        assert_eq!(parsed.notes.len(), 2);
        assert!(parsed.notes.iter().all(|n| n.kind == NoteKind::Unsupported));
    }

    #[test]
    fn includes_go_through_the_loader() {
        let mut loader = |path: &str, from: &str| -> Result<Source, String> {
            let text = match path {
                "base.txt" => "-r more.txt\nbase==1.0\n",
                "more.txt" => "more>=2\n--requirement=req.txt\n",
                _ => return Err(format!("{path} not found (from {from})")),
            };
            Ok(Source {
                name: path.to_owned(),
                text: text.to_owned(),
            })
        };
        let source = Source {
            name: "req.txt".into(),
            text: "top\n-r base.txt\n-r missing.txt\n-rbase.txt\n".into(),
        };
        let parsed = parse_requirements_txt(&source, &mut loader);
        let names: Vec<&str> = parsed.wanted.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["top", "more", "base", "more", "base"]);
        assert_eq!(parsed.wanted[1].origin, "more.txt:1");
        // The cycle back to req.txt (twice) and the missing file are notes.
        let invalid: Vec<&str> = parsed
            .notes
            .iter()
            .filter(|n| n.kind == NoteKind::Invalid)
            .map(|n| n.origin.as_str())
            .collect();
        assert_eq!(invalid, ["more.txt:2", "req.txt:3", "more.txt:2"]);
    }

    #[test]
    fn comments_keep_url_fragments() {
        assert_eq!(strip_comment("a # b"), "a ");
        assert_eq!(strip_comment("# b"), "");
        assert_eq!(
            strip_comment("x @ http://h/x.whl#sha256=1"),
            "x @ http://h/x.whl#sha256=1"
        );
    }
}
