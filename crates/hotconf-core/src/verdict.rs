//! `Verdict`: what a running reloader says of a proposed state of one of its layers, before
//! anyone publishes it ([`ReloaderHandle::check`](crate::ReloaderHandle::check)).

use crate::changes::Changes;
use crate::error::Error;

/// Whether a running reloader would accept a proposed state of one of its layers, with its
/// own merge, deserialization and validators (sync and async; not the post-apply check, which
/// needs the config published).
///
/// Nothing in it quotes a config value: an accepted proposal gives the key paths it changes,
/// a rejected one the error that a reload would report (its kind, layer, key and a message
/// that names no value, guarantee G12).
#[derive(Debug)]
#[non_exhaustive]
pub enum Verdict {
    /// The reloader would apply it.
    Accepted {
        /// The key paths that would differ from the config serving now (paths only, never
        /// values; empty when the proposal changes nothing).
        changes: Changes,
        /// Restart-required keys that would change in the sources but keep their running
        /// value until a restart ([`ReloaderBuilder::restart_required`](crate::ReloaderBuilder::restart_required)).
        restart_required: Vec<String>,
    },
    /// The reloader would reject it, keeping the config serving now.
    Rejected {
        /// Why, as a reload would report it: a parse error, a type error, a validator's
        /// refusal, naming the key and the layer where known.
        error: Error,
    },
}

impl Verdict {
    /// Whether the reloader would apply the proposal.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verdict::Accepted { .. })
    }

    /// The key paths an accepted proposal changes (`None` for a rejected one).
    pub fn changes(&self) -> Option<&Changes> {
        match self {
            Verdict::Accepted { changes, .. } => Some(changes),
            Verdict::Rejected { .. } => None,
        }
    }

    /// Why a rejected proposal is rejected (`None` for an accepted one).
    pub fn error(&self) -> Option<&Error> {
        match self {
            Verdict::Accepted { .. } => None,
            Verdict::Rejected { error } => Some(error),
        }
    }
}
