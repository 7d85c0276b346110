//! The Apollo emulator as a standalone server, for trying `hotconf watch apollo://…` by hand.
//!
//! Run: `cargo run -p hotconf-testkit --features apollo --example apollo_emulator`. It prints its
//! address and publishes a demo release of `application` (`demo.greeting`, `db.host`) for app
//! `demo`, then a new one every 10 s (`demo.tick`).

use std::time::Duration;

use hotconf_testkit::apollo::ApolloEmulator;

#[tokio::main]
async fn main() {
    let apollo = ApolloEmulator::start().await;
    println!("{}", apollo.url());
    println!(
        "try: hotconf watch apollo://{}/demo/application",
        apollo.address()
    );
    let mut tick = 0u64;
    loop {
        apollo.publish(
            "demo",
            "default",
            "application",
            [
                ("demo.greeting", "hello".to_owned()),
                ("db.host", "127.0.0.1".to_owned()),
                ("demo.tick", tick.to_string()),
            ],
        );
        tick += 1;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
}
