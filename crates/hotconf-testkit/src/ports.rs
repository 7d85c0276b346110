//! Free loopback ports for servers the tests start as other processes (etcd, r-nacos,
//! Prometheus), which must be told their port. A port is found by binding port 0 and releasing
//! it; the server binds it a moment later. Within one process no port is handed out twice.
//! Another process may still take it meanwhile (any outgoing connection's source port comes
//! from the same range), so a server in this process binds port 0 itself instead.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

/// A loopback port nothing in this process was given before.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let mut given = GIVEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if given.insert(port) {
            return port;
        }
    }
}
