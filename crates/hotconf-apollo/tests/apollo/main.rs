//! The Apollo backend's tests, in one binary, against the Apollo emulator of the test kit: the
//! behaviour suite, Apollo's own scenarios (namespaces created and deleted, the shared long
//! poll, gray releases, access keys, meta-server failover, lost notifications, restarts), and
//! secrets.

mod common;
mod emulated;
mod optional;
mod secrets;
mod suite;
