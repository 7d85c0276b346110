//! The instance id: what names this process in a rollout, in `/config/version` and in metrics.

use std::io::Read;
use std::sync::RwLock;

/// The id set with [`set_instance_id`] (the CLI's `--instance`), if any.
static OVERRIDE: RwLock<Option<String>> = RwLock::new(None);

/// The longest host name read from the kernel, in bytes.
const MAX_HOSTNAME: u64 = 256;

/// This process's default instance id: the one given to [`set_instance_id`], else `$POD_NAME`
/// (Kubernetes), else `$HOSTNAME`, else the kernel's host name
/// (`/proc/sys/kernel/hostname`), else `unknown`. Empty values are skipped.
pub fn instance_id() -> String {
    let set = OVERRIDE
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    set.or_else(|| env("POD_NAME"))
        .or_else(|| env("HOSTNAME"))
        .or_else(kernel_hostname)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Sets this process's default instance id (what [`instance_id`] returns): call it before
/// building the providers that follow rollouts. An empty id resets to the environment's.
pub fn set_instance_id(id: impl Into<String>) {
    let id = id.into();
    let id = (!id.trim().is_empty()).then(|| id.trim().to_owned());
    *OVERRIDE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = id;
}

fn env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn kernel_hostname() -> Option<String> {
    let file = std::fs::File::open("/proc/sys/kernel/hostname").ok()?;
    let mut text = String::new();
    file.take(MAX_HOSTNAME).read_to_string(&mut text).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
