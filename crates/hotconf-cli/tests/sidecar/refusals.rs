//! Arguments `hotconf render` and `hotconf exec` refuse at start, before a source is read: a
//! `--pid` that is not one program's, an empty `--env-prefix`.

use crate::harness::{write, Sidecar};

/// Starts hotconf with `args` after the subcommand and a source that never gives a config (a
/// missing file, and a schema nothing satisfies): a hotconf that accepted the arguments would
/// wait for ever, and never signal or start anything. Returns its first line on stderr, which
/// must be an error message, and checks that it exited 2.
fn refused(subcommand: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "none.json", r#"{"not": {}}"#);
    let mut all = vec!["./missing.json", "--schema", "none.json"];
    all.extend_from_slice(args);
    let sidecar = Sidecar::start(subcommand, &all, dir.path());
    let first = sidecar.next();
    let message = match first.as_str() {
        Some(message) => message.to_owned(),
        None => panic!("hotconf {subcommand} {args:?} started: {first}"),
    };
    assert_eq!(sidecar.exit_code(), 2, "{message}");
    message
}

#[test]
fn render_refuses_a_pid_that_is_not_one_program() {
    for pid in ["--pid=-1", "--pid=0", "--pid=1", "--pid=-42"] {
        let message = refused("render", &["--out", "out.json", "--signal", "SIGHUP", pid]);
        assert!(
            message.contains("--pid must be above 1"),
            "{pid}: {message}"
        );
    }
    // Also as a separate argument, where a negative number could pass for an option.
    let message = refused(
        "render",
        &["--out", "out.json", "--signal", "SIGHUP", "--pid", "-1"],
    );
    assert!(message.contains("--pid must be above 1"), "{message}");
}

#[test]
fn exec_refuses_an_empty_env_prefix() {
    let message = refused("exec", &["--env-prefix", "", "--", "true"]);
    assert!(message.contains("must not be empty"), "{message}");
}
