//! hotconf's test kit: the behaviour suite every provider runs, the [`Fixture`] trait a
//! backend implements to drive its source, and helpers that wait on events instead of sleeping.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::{suite, MemoryFixture};
//! suite::run_all(MemoryFixture::new).await;
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "age")]
pub mod age;
#[cfg(feature = "apollo")]
pub mod apollo;
#[cfg(feature = "consul")]
pub mod consul;
#[cfg(feature = "etcd")]
pub mod etcd;
mod fixture;
pub mod front;
pub mod golden;
pub mod hostile;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod latency;
pub mod leaks;
#[cfg(feature = "logs")]
pub mod logs;
#[cfg(feature = "nacos")]
pub mod nacos;
#[cfg(feature = "openbao")]
pub mod openbao;
pub mod optional;
#[cfg(feature = "pki")]
pub mod pki;
pub mod ports;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod proxy;
pub mod rollout;
#[cfg(feature = "scale")]
pub mod scale;
mod scripted;
pub mod suite;
mod wait;

pub use fixture::{Fixture, MemoryFixture};
pub use proxy::{Accepted, TcpProxy};
pub use scripted::{Script, ScriptedProvider};
pub use wait::{eventually, wait_for_event, wait_until, TIMEOUT};

#[cfg(test)]
mod tests {

    mod memory_provider {
        crate::behaviour_tests!(async { crate::MemoryFixture::new() }; interruptible);
    }
}
