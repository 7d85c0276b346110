//! Property-based tests: random trees round-trip through every format, hotconf's merge equals
//! figment's (a reloader over many layers too, after every change to one of them), the
//! single-JSON-document fast path agrees with the general path, and random input never panics
//! a parser. `PROPTEST_CASES=<n>` raises the number of cases of every property.

mod fast_path;
mod formats;
mod known_bugs;
mod layer_changes;
mod merge;
mod no_panic;
mod strategies;

/// A runtime for one case: a reloader's tasks run on it while the case waits.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
