//! Packaging: shell completions, man pages, `--version`, the health check,
//! and the Containerfile's commands run against the built binary.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::server::Larder;
use crate::common::{Run, larder};

const LARDER: &str = env!("CARGO_BIN_EXE_larder");

/// Runs any program (bash, man, git) with a time limit.
async fn run_program(program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("{program} did not finish within 60 s"))
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    output.into()
}

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn bash_completion_parses_and_completes_subcommands() {
    let run = larder(&here(), &["completions", "bash"]).await;
    run.assert_ok();
    for command in ["serve", "warm", "healthcheck", "completions"] {
        assert!(run.stdout.contains(command), "no `{command}`: {run:#?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("larder.bash");
    std::fs::write(&script, &run.stdout).unwrap();
    let script = script.to_str().unwrap();
    run_program("bash", &["-n", script], &[]).await.assert_ok();
    // What a user's shell does on `larder wa<TAB>`.
    let complete = format!(
        "source '{script}'; COMP_WORDS=(larder wa); COMP_CWORD=1; _larder larder wa larder; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let run = run_program("bash", &["-c", &complete], &[]).await;
    run.assert_ok();
    assert_eq!(run.stdout.trim(), "warm", "{run:#?}");
}

#[tokio::test]
async fn every_shell_gets_a_script() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let run = larder(&here(), &["completions", shell]).await;
        run.assert_ok();
        assert!(run.stdout.contains("serve"), "{shell}: {run:#?}");
    }
    larder(&here(), &["completions", "tcsh"])
        .await
        .assert_err("tcsh");
}

/// Renders a man page file with man(1), asserting groff warned about nothing.
async fn render_man(page: &Path) -> String {
    let run = run_program(
        "man",
        &["--warnings", "-P", "cat", "-l", page.to_str().unwrap()],
        &[("MANWIDTH", "80"), ("LC_ALL", "C")],
    )
    .await;
    run.assert_ok();
    assert!(run.stderr.is_empty(), "man warned on {page:?}: {run:#?}");
    run.stdout
}

#[tokio::test]
async fn man_page_renders() {
    let run = larder(&here(), &["man"]).await;
    run.assert_ok();
    assert!(run.stdout.contains(".TH larder 1"), "{}", run.stdout);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("larder.1");
    std::fs::write(&page, &run.stdout).unwrap();
    let text = render_man(&page).await;
    for needle in ["NAME", "SYNOPSIS", "larder-serve(1)", "larder-man(1)"] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
}

#[tokio::test]
async fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    // Missing parents are created.
    let out = dir.path().join("share/man/man1");
    let run = larder(&here(), &["man", "--dir", out.to_str().unwrap()]).await;
    run.assert_ok();
    let mut printed: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    printed.sort();
    let mut written: Vec<String> = crate::common::tree(&out)
        .into_iter()
        .map(|name| out.join(name).display().to_string())
        .collect();
    written.sort();
    assert_eq!(printed, written, "prints what it wrote");

    let names = crate::common::tree(&out);
    for page in [
        "larder.1",
        "larder-serve.1",
        "larder-warm.1",
        "larder-download.1",
        "larder-completions.1",
        "larder-man.1",
        "larder-healthcheck.1",
        "larder-token-create.1",
    ] {
        assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    // One page per entry of `larder --help`'s command list, plus larder.1
    // and the nested ones.
    let help = larder(&here(), &["--help"]).await;
    let commands: Vec<&str> = help
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(commands.len() > 10, "{}", help.stdout);
    for command in &commands {
        let page = format!("larder-{command}.1");
        assert!(names.contains(&page), "no {page} in {names:?}");
    }
    let serve = render_man(&out.join("larder-serve.1")).await;
    assert!(serve.contains("--cache-dir"), "{serve}");
}

#[tokio::test]
async fn version_names_the_commit_and_build_date() {
    let run = larder(&here(), &["--version"]).await;
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(concat!("larder ", env!("CARGO_PKG_VERSION"))),
        "{run:#?}"
    );
    let field = |name: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` line: {run:#?}"))
            .to_owned()
    };
    let commit = field("commit: ");
    let date = field("build date: ");
    assert!(is_date(&date), "not YYYY-MM-DD: {date}");

    let hash = commit.strip_suffix("-dirty").unwrap_or(&commit);
    if here().join(".git").exists() {
        assert!(
            hash.len() >= 7 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "not a short hash: {commit}"
        );
        let head = run_program(
            "git",
            &["-C", here().to_str().unwrap(), "rev-parse", "HEAD"],
            &[],
        )
        .await;
        head.assert_ok();
        assert!(
            head.stdout.starts_with(hash),
            "{commit} is not HEAD {head:#?}"
        );
    } else {
        assert_eq!(commit, "unknown", "no .git to take a commit from");
    }

    // `-V`: the same on one line.
    let short = larder(&here(), &["-V"]).await;
    short.assert_ok();
    assert_eq!(
        short.stdout.trim(),
        format!("larder {} ({commit} {date})", env!("CARGO_PKG_VERSION"))
    );
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
        && text[5..7]
            .parse::<u8>()
            .is_ok_and(|m| (1..=12).contains(&m))
        && text[8..10]
            .parse::<u8>()
            .is_ok_and(|d| (1..=31).contains(&d))
}

#[tokio::test]
async fn healthcheck_passes_on_a_live_server_and_fails_otherwise() {
    let server = Larder::start(&["--offline"]).await;
    larder(&here(), &["healthcheck", &server.url("/healthz")])
        .await
        .assert_ok();
    let missing = server.url("/no-such-page");
    let run = larder(&here(), &["healthcheck", &missing]).await;
    assert_eq!(run.status, Some(1), "{run:#?}");
    assert!(run.stderr.contains(&missing), "{run:#?}");
    assert!(run.stderr.contains("404"), "{run:#?}");

    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("http://127.0.0.1:{port}/healthz");
    let run = larder(&here(), &["healthcheck", "--timeout", "5", &closed]).await;
    assert_eq!(run.status, Some(1), "{run:#?}");
    assert!(run.stderr.contains(&closed), "{run:#?}");
}

/// The exec-form (JSON array) arguments of the Containerfile instruction
/// `keyword`, continuation lines joined; for HEALTHCHECK, those after `CMD`.
fn instruction(containerfile: &str, keyword: &str) -> Vec<String> {
    let joined = containerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|line| line.starts_with(&format!("{keyword} ")))
        .unwrap_or_else(|| panic!("no {keyword} in the Containerfile"));
    let json = &line[line
        .find('[')
        .unwrap_or_else(|| panic!("{line}: not exec form"))..];
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[tokio::test]
async fn containerfile_commands_run_with_the_built_binary() {
    let file = std::fs::read_to_string(here().join("Containerfile")).unwrap();
    let entrypoint = instruction(&file, "ENTRYPOINT");
    let healthcheck = instruction(&file, "HEALTHCHECK");
    assert_eq!(
        entrypoint,
        [
            "/usr/local/bin/larder",
            "serve",
            "--listen",
            "0.0.0.0:3141",
            "--cache-dir",
            "/var/lib/larder"
        ]
    );
    assert!(file.lines().any(|l| l == "EXPOSE 3141"), "{file}");
    assert!(
        file.lines().any(|l| l == "VOLUME /var/lib/larder"),
        "{file}"
    );
    assert!(file.contains("COPY --from=builder /out/larder /usr/local/bin/larder"));
    assert_eq!(
        healthcheck,
        [
            "/usr/local/bin/larder",
            "healthcheck",
            "http://127.0.0.1:3141/healthz"
        ]
    );
    larder(&here(), &["healthcheck", "--help"])
        .await
        .assert_ok();

    // The entrypoint as written, with a free local port and a temporary
    // volume; offline, as a container without upstream flags could be.
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("var-lib-larder");
    let args: Vec<String> = entrypoint[1..]
        .iter()
        .map(|arg| match arg.as_str() {
            "0.0.0.0:3141" => "127.0.0.1:0".to_owned(),
            "/var/lib/larder" => volume.display().to_string(),
            other => other.to_owned(),
        })
        .collect();
    let mut command = tokio::process::Command::new(LARDER);
    for (key, _) in std::env::vars() {
        if key.starts_with("LARDER_") || key.to_ascii_lowercase().ends_with("_proxy") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(&args)
        .arg("--offline")
        .env("LARDER_LOG", "larder=warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("larder did not start within 30 s")
        .unwrap()
        .expect("larder exited before listening");
    let base = first.strip_prefix("listening on ").unwrap();
    let url = healthcheck[2].replace("http://127.0.0.1:3141", base);
    assert_ne!(url, healthcheck[2], "the server listens elsewhere");
    larder(&here(), &[&healthcheck[1], &url]).await.assert_ok();
    assert!(volume.is_dir(), "serve created its data directory");
    let _ = child.kill().await;
}
