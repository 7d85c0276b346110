//! The Consul backend's tests, in one binary: against the emulator, or a real agent when
//! `HOTCONF_CONSUL_ADDR` is set (the KV behaviours and the behaviour suite), against the
//! emulator's faults, against hostile servers, for secrets, and for `consul://` URIs.

mod common;
mod emulated;
mod hostile;
mod kv;
mod optional;
mod rollout;
mod secrets;
