//! Free loopback ports for servers the tests start as other processes (etcd, r-nacos,
//! Prometheus, OpenBao, PostgreSQL), which must be told their port. A port is found by binding
//! port 0 and releasing it; the server binds it a moment later. Within one process no port is
//! handed out twice. Another process may still take it meanwhile (any outgoing connection's source
//! port comes from the same range), so a server in this process binds port 0 itself instead.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard, OnceLock};

fn given() -> MutexGuard<'static, HashSet<u16>> {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    GIVEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn any_free() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A loopback port nothing in this process was given before.
pub fn free_port() -> u16 {
    let mut given = given();
    loop {
        let port = any_free();
        if given.insert(port) {
            return port;
        }
    }
}

/// A loopback port `p` such that `p` and `p + 1` are both free now and neither was given before
/// in this process; both are recorded as given. For servers that take the next port for
/// themselves, such as an OpenBao dev server (its cluster listener binds the API port + 1).
pub fn free_port_pair() -> u16 {
    let mut given = given();
    loop {
        let port = any_free();
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if given.contains(&port) || given.contains(&next) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", next)).is_ok() {
            given.insert(port);
            given.insert(next);
            return port;
        }
    }
}
