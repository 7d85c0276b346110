//! Helpers shared by the examples (each example is an `[[example]]` target beside this file).

use std::process::ExitCode;
use std::time::Duration;

use hotconf::{Provider, Reloader, Startup};

/// What an example's `main` returns: success, or its error printed on stderr with `Display`
/// (an `Err` returned from `main` would be printed with `Debug`) and exit status 1.
pub fn exit_code(outcome: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Follows `provider` until Ctrl-C, printing every event as a JSON line and every applied
/// config. Waits for ever for the first valid config.
///
/// # Errors
/// When the reloader stops.
pub async fn print_until_ctrl_c(
    provider: impl Provider + 'static,
) -> Result<(), Box<dyn std::error::Error>> {
    print_layers_until_ctrl_c(vec![provider]).await
}

/// As [`print_until_ctrl_c`], for several providers as layers, later over earlier.
///
/// # Errors
/// When the reloader stops.
pub async fn print_layers_until_ctrl_c(
    providers: Vec<impl Provider + 'static>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder =
        Reloader::<serde_json::Value>::builder().startup(Startup::Wait(Duration::MAX));
    for provider in providers {
        builder = builder.layer(provider);
    }
    let mut events = builder.events();
    let printer = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            println!("{}", serde_json::to_string(&event).unwrap_or_default());
        }
    });
    let reloader = tokio::select! {
        started = builder.start() => started?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
    };
    let mut changes = reloader.store().subscribe();
    loop {
        println!(
            "config: {}",
            serde_json::to_string(changes.borrow_and_update().merged())?
        );
        tokio::select! {
            changed = changes.changed() => changed?,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    printer.abort();
    Ok(())
}
