//! Follows Apollo namespaces as layers (in order, later over earlier) and prints every applied
//! config and event. The namespaces share one long poll.
//!
//! Run against the test kit's emulator (it prints its address and publishes `application` of
//! app `demo` every 10 s):
//! `cargo run -p hotconf-testkit --features apollo --example apollo_emulator`, then
//! `cargo run -p hotconf-examples --features apollo --example apollo_watch -- 127.0.0.1:PORT demo application`
//! — or against a real config service (`127.0.0.1:8080`), with the app id and namespaces of
//! yours. Set `APOLLO_ACCESS_KEY_SECRET` to sign requests with the app's access key,
//! `APOLLO_CLUSTER` for a cluster other than `default`, `APOLLO_META=true` when the address is a
//! meta server.

use hotconf::{ApolloClient, ApolloProvider, ApolloSource, Secret};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hotconf_examples::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let app = args.next().unwrap_or_else(|| "demo".into());
    let mut namespaces: Vec<String> = args.collect();
    if namespaces.is_empty() {
        namespaces.push("application".into());
    }
    let mut client = ApolloClient::new([address]).app_id(app);
    if let Ok(secret) = std::env::var("APOLLO_ACCESS_KEY_SECRET") {
        client = client.secret(Secret::new(secret));
    }
    if let Ok(cluster) = std::env::var("APOLLO_CLUSTER") {
        client = client.cluster(cluster);
    }
    if std::env::var("APOLLO_META").is_ok_and(|v| v == "true") {
        client = client.meta(true);
    }
    let providers: Vec<ApolloProvider> = namespaces
        .iter()
        .map(|namespace| ApolloProvider::new(&client, ApolloSource::namespace(namespace.as_str())))
        .collect();
    for provider in &providers {
        println!("following {}", provider.name());
    }
    println!("(Ctrl-C to stop)");
    hotconf_examples::print_layers_until_ctrl_c(providers).await
}
