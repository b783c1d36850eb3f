//! Which data directory a command uses is never a surprise: each says it on
//! stderr, and those that only read refuse one that does not exist rather
//! than create an empty cache and report it empty.

use crate::common::larder;

#[tokio::test]
async fn read_only_commands_refuse_a_missing_data_directory() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("no-such-dir");
    let missing_arg = missing.to_str().unwrap();
    for args in [
        vec!["stats", "--cache-dir", missing_arg],
        vec!["verify", "--cache-dir", missing_arg],
        vec![
            "prune",
            "--dry-run",
            "--max-size",
            "1GiB",
            "--cache-dir",
            missing_arg,
        ],
        vec!["export", "--all", "--to", "out", "--cache-dir", missing_arg],
    ] {
        let run = larder(work.path(), &args).await;
        run.assert_err("does not exist");
        assert!(run.stderr.contains(missing_arg), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("--cache-dir"), "{}", run.stderr);
        assert_eq!(run.status, Some(4), "{args:?}");
        assert!(!missing.exists(), "{args:?} created the directory");
    }
}

#[tokio::test]
async fn every_command_names_the_data_directory_it_uses() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let data_arg = data.to_str().unwrap();
    // A command that writes creates it, and says where.
    let run = larder(
        work.path(),
        &["token", "create", "ci", "--cache-dir", data_arg],
    )
    .await;
    run.assert_ok();
    assert!(
        run.stderr
            .contains(&format!("larder: data directory {data_arg}")),
        "{}",
        run.stderr
    );
    for args in [
        vec!["stats", "--cache-dir", data_arg],
        vec!["verify", "--cache-dir", data_arg],
    ] {
        let run = larder(work.path(), &args).await;
        run.assert_ok();
        assert!(
            run.stderr.contains(&format!("data directory {data_arg}")),
            "{}",
            run.stderr
        );
    }
    // A relative directory is shown absolute.
    let run = larder(work.path(), &["stats", "--cache-dir", "data"]).await;
    run.assert_ok();
    assert!(run.stderr.contains(data_arg), "{}", run.stderr);
}
