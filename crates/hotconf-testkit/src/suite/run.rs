//! Which behaviours run: the one list of them, each with the capability it needs, and the two
//! ways of running it (a test per behaviour, or all in one go). A behaviour whose capability
//! the provider lacks is not generated; the suite says which were.

use hotconf_core::provider::Capabilities;

use super::say;
use crate::fixture::Fixture;

/// The one list of the suite's behaviours, each with the capability of
/// [`Capabilities`](hotconf_core::provider::Capabilities) it needs (`all`: every provider).
/// Expands to `$crate::$then!($($args)* ; [behaviour, need], …)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __behaviours {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then!($($args)*;
            [initial_load, all],
            [update_seen, all],
            [delete_falls_back, all],
            [burst_coalesced, all],
            [invalid_rejected, all],
            [revision_never_goes_backwards, all],
            [reconnect_resume, interruptible],
            [errors_named_and_not_repeated, interruptible],
            [permanent_error_ends_the_stream, permanent_failures],
            [no_busy_loop, long_poll]
        );
    };
}

/// One `#[tokio::test]` per behaviour of the suite that applies, so a failure names the
/// behaviour, and one more, `capabilities_match_the_generated_behaviours`, that checks the
/// listed capabilities against the provider's [`Capabilities`] and prints which behaviours were
/// generated. After the fixture (an expression to await: `async { MyFixture::new() }`, or a
/// call of an `async fn`) come the capabilities beyond watching that the provider has, of
/// `interruptible`, `permanent_failures` and `long_poll`; a behaviour that needs one not listed
/// is not generated. The tests run one at a time (fixtures may start servers). Put it in a
/// module of its own:
///
/// ```
/// mod memory {
///     hotconf_testkit::behaviour_tests!(async { hotconf_testkit::MemoryFixture::new() }; interruptible);
/// }
/// ```
#[macro_export]
macro_rules! behaviour_tests {
    (@generate $make:tt $caps:tt; $([$behaviour:ident, $need:ident]),*) => {
        $($crate::behaviour_tests!(@one $make $caps $behaviour $need);)*

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn capabilities_match_the_generated_behaviours() {
            let _serial = SERIAL.lock().await;
            let fixture = $make.await;
            $crate::suite::check_capabilities(
                &fixture,
                &$crate::behaviour_tests!(@names $caps),
                &[$((stringify!($behaviour), stringify!($need))),*],
            )
            .await;
        }
    };
    (@names [$($cap:ident),*]) => { [$(stringify!($cap)),*] };
    (@one $make:tt $caps:tt $behaviour:ident all) => {
        $crate::behaviour_tests!(@test $make $behaviour);
    };
    (@one $make:tt [$($cap:ident),*] $behaviour:ident $need:ident) => {
        $crate::behaviour_tests!(@find $make $behaviour $need; $($cap),*);
    };
    (@find $make:tt $behaviour:ident $need:ident;) => {};
    (@find $make:tt $behaviour:ident interruptible; interruptible $(, $rest:ident)*) => {
        $crate::behaviour_tests!(@test $make $behaviour);
    };
    (@find $make:tt $behaviour:ident permanent_failures; permanent_failures $(, $rest:ident)*) => {
        $crate::behaviour_tests!(@test $make $behaviour);
    };
    (@find $make:tt $behaviour:ident long_poll; long_poll $(, $rest:ident)*) => {
        $crate::behaviour_tests!(@test $make $behaviour);
    };
    (@find $make:tt $behaviour:ident $need:ident; $other:ident $(, $rest:ident)*) => {
        $crate::behaviour_tests!(@find $make $behaviour $need; $($rest),*);
    };
    (@test $make:tt $behaviour:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $behaviour() {
            let _serial = SERIAL.lock().await;
            let fixture = $make.await;
            $crate::suite::$behaviour(&fixture).await;
        }
    };
    ($make:expr $(; $($capability:ident),* $(,)?)?) => {
        static SERIAL: $crate::suite::Serial = $crate::suite::Serial::const_new(());
        $crate::__behaviours!(behaviour_tests!(@generate ($make) [$($($capability),*)?]));
    };
}

/// Runs each behaviour of the list that applies to the capabilities `$caps`, each on a fresh
/// fixture from `$make`, naming each in `$ran` or `$not_run`.
#[doc(hidden)]
#[macro_export]
macro_rules! __run_behaviours {
    (@applies $caps:ident all) => { true };
    (@applies $caps:ident $need:ident) => { $caps.$need };
    ($make:ident, $caps:ident, $ran:ident, $not_run:ident; $([$behaviour:ident, $need:ident]),*) => {$(
        if $crate::__run_behaviours!(@applies $caps $need) {
            $crate::suite::$behaviour(&$make().await).await;
            $ran.push(stringify!($behaviour));
        } else {
            $not_run.push((stringify!($behaviour), stringify!($need)));
        }
    )*};
}

/// The lock [`behaviour_tests!`](crate::behaviour_tests) runs its tests under, one at a time.
#[doc(hidden)]
pub type Serial = tokio::sync::Mutex<()>;

/// Runs every behaviour that applies to the provider's capabilities, each on a fresh fixture
/// from `make`, and prints which ran.
pub async fn run_all<F: Fixture, M>(make: M)
where
    M: Fn() -> F,
{
    run_all_with(|| std::future::ready(make())).await;
}

/// Runs every behaviour that applies to the provider's capabilities, each on a fresh fixture
/// from the async `make` (e.g. one that starts a server), and prints which ran.
pub async fn run_all_with<F: Fixture, M, Fut>(make: M)
where
    M: Fn() -> Fut,
    Fut: std::future::Future<Output = F>,
{
    let provider = make().await.provider().await;
    let source = provider.metadata().name;
    let caps = provider.metadata().capabilities;
    drop(provider);
    let mut ran: Vec<&str> = Vec::new();
    let mut not_run: Vec<(&str, &str)> = Vec::new();
    crate::__behaviours!(__run_behaviours!(make, caps, ran, not_run));
    say(&summary(&source, "ran", &ran, &not_run));
}

/// Checks that `listed` (the capabilities given to [`behaviour_tests!`](crate::behaviour_tests))
/// are exactly those the fixture's provider has, so that what was generated is what applies;
/// prints which of `behaviours` (name, the capability it needs) were generated.
///
/// # Panics
/// When a capability is listed that the provider lacks, or the provider has one not listed, or
/// a listed name is not a capability.
pub async fn check_capabilities<F: Fixture>(
    fixture: &F,
    listed: &[&str],
    behaviours: &[(&str, &str)],
) {
    let metadata = fixture.provider().await.metadata();
    for name in listed {
        assert!(
            capability(&metadata.capabilities, name).is_some(),
            "`{name}` is not a capability: give interruptible, permanent_failures or long_poll"
        );
    }
    for name in ["interruptible", "permanent_failures", "long_poll"] {
        let has = capability(&metadata.capabilities, name) == Some(true);
        assert_eq!(
            has,
            listed.contains(&name),
            "{}: Capabilities::{name} is {has}, so behaviour_tests! must {}list `{name}`",
            metadata.name,
            if has { "" } else { "not " }
        );
    }
    let (ran, not_run): (Vec<_>, Vec<_>) = behaviours
        .iter()
        .partition(|(_, need)| *need == "all" || listed.contains(need));
    let ran: Vec<&str> = ran.iter().map(|(name, _)| *name).collect();
    say(&summary(&metadata.name, "generated", &ran, &not_run));
}

/// Whether `capabilities` has the one named `name`; `None` for a name that is not one.
fn capability(capabilities: &Capabilities, name: &str) -> Option<bool> {
    match name {
        "interruptible" => Some(capabilities.interruptible),
        "permanent_failures" => Some(capabilities.permanent_failures),
        "long_poll" => Some(capabilities.long_poll),
        _ => None,
    }
}

/// `behaviours of SOURCE: N ran (a, b, …); not applicable: x (needs long_poll), …`.
fn summary(source: &str, verb: &str, ran: &[&str], not_run: &[(&str, &str)]) -> String {
    let mut line = format!(
        "behaviours of {source}: {} {verb} ({})",
        ran.len(),
        ran.join(", ")
    );
    if !not_run.is_empty() {
        let skipped: Vec<String> = not_run
            .iter()
            .map(|(name, need)| format!("{name} (needs {need})"))
            .collect();
        line.push_str(&format!("; not applicable: {}", skipped.join(", ")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::check_capabilities;
    use crate::MemoryFixture;

    const BEHAVIOURS: &[(&str, &str)] = &[("initial_load", "all")];

    #[tokio::test]
    async fn the_listed_capabilities_are_the_providers() {
        check_capabilities(&MemoryFixture::new(), &["interruptible"], BEHAVIOURS).await;
    }

    #[tokio::test]
    #[should_panic(expected = "must list `interruptible`")]
    async fn a_capability_left_out_fails() {
        check_capabilities(&MemoryFixture::new(), &[], BEHAVIOURS).await;
    }

    #[tokio::test]
    #[should_panic(expected = "must not list `long_poll`")]
    async fn a_capability_the_provider_lacks_fails() {
        let listed = ["interruptible", "long_poll"];
        check_capabilities(&MemoryFixture::new(), &listed, BEHAVIOURS).await;
    }

    #[tokio::test]
    #[should_panic(expected = "`cut_off` is not a capability")]
    async fn an_unknown_capability_fails() {
        check_capabilities(&MemoryFixture::new(), &["cut_off"], BEHAVIOURS).await;
    }
}
