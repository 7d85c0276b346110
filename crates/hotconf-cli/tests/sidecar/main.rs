//! `hotconf render` and `hotconf exec` as real processes: a Consul emulator changes the config,
//! the tests read the files, the events and what the commands and children print.

mod exec;
mod exec_env;
mod exec_reaping;
mod exec_signals;
mod harness;
mod kubernetes;
mod processes;
mod refusals;
mod render;
mod secrecy;
mod vault;

use std::collections::BTreeSet;

use serde_json::Value;

/// The document `reader_process` expects at change `n`: its fields agree with each other, and
/// its size varies with `n` (8–11 KB), so a torn or partly written file cannot pass.
pub fn document(n: u64) -> Value {
    serde_json::json!({"n": n, "pad": "x".repeat(8000 + (n as usize * 37) % 3000)})
}

/// The reader process of `render::a_reader_never_sees_a_torn_empty_or_invalid_file`: this test
/// binary started again with `HOTCONF_READER_FILE` set. Without it, this returns at once.
#[test]
fn reader_process() {
    let Ok(path) = std::env::var("HOTCONF_READER_FILE") else {
        return;
    };
    let last: u64 = std::env::var("HOTCONF_READER_LAST")
        .unwrap()
        .parse()
        .unwrap();
    let fail = |why: String| -> ! {
        println!("READER BAD {why}");
        std::process::exit(1)
    };
    let (mut reads, mut seen) = (0u64, BTreeSet::new());
    loop {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| fail(format!("missing: {e}")));
        reads += 1;
        let doc: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| fail(format!("{} bytes: {e}", bytes.len())));
        let n = doc["n"]
            .as_u64()
            .unwrap_or_else(|| fail(format!("no n: {doc}")));
        if doc["pad"] != document(n)["pad"] || doc["check"] != n {
            fail(format!("inconsistent document for n = {n}"));
        }
        seen.insert(n);
        if n == last {
            println!("READER OK reads={reads} distinct={}", seen.len());
            std::process::exit(0);
        }
    }
}
