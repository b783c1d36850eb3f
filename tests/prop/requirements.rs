//! Requirements and lock files: arbitrary text, and text shaped like them,
//! never panics the parsers; includes stay bounded whatever they contain.

use larder::requirements::{
    Source, no_includes, parse_pylock, parse_requirements_txt, parse_uv_lock,
};
use proptest::prelude::*;

fn source(name: &str, text: String) -> Source {
    Source {
        name: name.to_owned(),
        text,
    }
}

/// Lines shaped like a requirements file's, joined in random order.
fn requirements_soup() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("demo==1.0".to_owned()),
        Just("Demo_Lib[extra, other] >= 1.0, < 2 ; python_version < \"3.13\"".to_owned()),
        Just("demo==1.0 --hash=sha256:".to_owned()),
        Just(
            "--hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                .to_owned()
        ),
        Just("--hash=md5:00".to_owned()),
        Just("-r other.txt".to_owned()),
        Just("--requirement=self.txt".to_owned()),
        Just("-c constraints.txt".to_owned()),
        Just("-e .".to_owned()),
        Just("--index-url http://127.0.0.1:1/simple/".to_owned()),
        Just("git+http://127.0.0.1:1/demo.git#egg=demo".to_owned()),
        Just("./local/dir".to_owned()),
        Just("demo @ http://127.0.0.1:1/demo-1.0.tar.gz".to_owned()),
        Just("\\".to_owned()),
        Just("# comment".to_owned()),
        Just("demo ===".to_owned()),
        Just("[".to_owned()),
        Just(";".to_owned()),
        "[A-Za-z0-9._=<>!~ -]{0,20}",
        "\\PC{0,10}",
    ];
    proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

/// A TOML string literal holding `value`.
fn quoted(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// Values lock files hold, the ordinary and the odd.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("demo".to_owned()),
        Just("1.0".to_owned()),
        Just("not a version".to_owned()),
        Just("http://127.0.0.1:1/files/demo-1.0-py3-none-any.whl".to_owned()),
        Just("http://127.0.0.1:1/files/".to_owned()),
        Just("http://127.0.0.1:1/files/%zz".to_owned()),
        Just("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_owned()),
        Just("sha256:xyz".to_owned()),
        Just("md5:00".to_owned()),
        Just(String::new()),
        "\\PC{0,12}",
    ]
}

/// One `[[package]]`-like table: `header` names the array, the keys are a
/// random subset of those both lock formats read.
fn lock_package(header: &'static str) -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name"),
        Just("version"),
        Just("marker"),
        Just("source = { registry = \"x\" }"),
        Just("source = { git = \"x\" }"),
        Just("sdist"),
        Just("wheels"),
        Just("directory = { path = \".\" }"),
    ];
    proptest::collection::vec((key, value(), value()), 0..8).prop_map(move |keys| {
        let mut table = format!("[[{header}]]\n");
        for (key, a, b) in keys {
            let line = match key {
                "sdist" => format!(
                    "sdist = {{ url = {}, hash = {}, hashes = {{ sha256 = {} }} }}",
                    quoted(&a),
                    quoted(&b),
                    quoted(&b)
                ),
                "wheels" => format!(
                    "wheels = [{{ url = {}, hash = {}, name = {} }}]",
                    quoted(&a),
                    quoted(&b),
                    quoted(&a)
                ),
                "name" | "version" | "marker" => format!("{key} = {}", quoted(&a)),
                literal => literal.to_owned(),
            };
            table.push_str(&line);
            table.push('\n');
        }
        table
    })
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_requirements_txt(&source("requirements.txt", text.clone()), &mut no_includes);
        let _ = parse_uv_lock(&source("uv.lock", text.clone()));
        let _ = parse_pylock(&source("pylock.toml", text));
    }

    #[test]
    fn requirements_shaped_text_never_panics(text in requirements_soup(), included in requirements_soup()) {
        let _ = parse_requirements_txt(&source("req.txt", text.clone()), &mut no_includes);
        // Every include gets text that may include again (itself too): the
        // parser bounds the depth and cycles, so this ends.
        let mut calls = 0;
        let mut loader = |path: &str, _from: &str| {
            calls += 1;
            Ok(source(path, included.clone()))
        };
        let parsed = parse_requirements_txt(&source("req.txt", text), &mut loader);
        prop_assert!(calls <= 1_000_000, "{} loads", calls);
        for wanted in &parsed.wanted {
            prop_assert!(!wanted.origin.is_empty());
        }
    }

    #[test]
    fn lock_shaped_toml_never_panics(
        uv in proptest::collection::vec(lock_package("package"), 0..4),
        pylock in proptest::collection::vec(lock_package("packages"), 0..4),
    ) {
        let _ = parse_uv_lock(&source("uv.lock", format!("version = 1\n{}", uv.concat())));
        let text = format!("lock-version = \"1.0\"\n{}", pylock.concat());
        let _ = parse_pylock(&source("pylock.toml", text));
    }
}
