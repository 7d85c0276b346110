//! `Status`: what a running reloader is doing, per source, for operators (the admin API, metrics).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;

use crate::error::Error;
use crate::revision::Revision;
use crate::rollout::Membership;
use crate::store::Origin;
use crate::timestamp;

/// A running reloader's state, from [`Reloader::status`](crate::ReloaderHandle::status).
/// Serialized as the admin API's `/config/version` answer: the content hash in hex,
/// timestamps in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The applied version.
    pub version: u64,
    /// The applied content's hash ([`Snapshot::content_hash`](crate::Snapshot::content_hash)).
    #[serde(serialize_with = "hex")]
    pub content_hash: u64,
    /// When the applied version was swapped in.
    #[serde(serialize_with = "timestamp::serialize")]
    pub applied_at: SystemTime,
    /// How the applied version came to be (`sources`, `rollback`, `revert`, `disk`).
    pub origin: Origin,
    /// A rollback pinned the config: source changes wait for an unpin.
    pub pinned: bool,
    /// Restart-required keys whose new values wait for a restart.
    pub pending_restart: Vec<String>,
    /// Candidates rejected in a row since the last apply (or unchanged build).
    pub consecutive_rejections: u64,
    /// Why the last candidate was rejected (no values quoted), while rejections go on.
    pub last_rejection: Option<String>,
    /// This process's instance id ([`ReloaderBuilder::instance_id`](crate::ReloaderBuilder::instance_id),
    /// else the one a rollout-following source decides with, else [`instance_id`](crate::instance_id)).
    pub instance_id: String,
    /// The rollout this instance's sources follow, if a rollout record is in place.
    pub rollout: Option<RolloutStatus>,
    /// Every source, in layer order.
    pub sources: Vec<SourceStatus>,
}

/// The rollout part of a [`Status`]: the first rollout-following source with a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RolloutStatus {
    /// The rollout's id (the record's `id`).
    pub id: String,
    /// Whether this instance is on the candidate.
    pub member: bool,
}

/// One source's state, within a [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SourceStatus {
    /// The layer's name (from [`ReloaderBuilder::named_layer`](crate::ReloaderBuilder::named_layer),
    /// or the scheme and position, as `file-0`): the label of its metrics.
    pub layer: String,
    /// The source (its URI, credentials redacted).
    pub source: String,
    /// Whether the layer is optional ([`ReloaderBuilder::optional`](crate::ReloaderBuilder::optional)):
    /// while its source is absent, the config is built without it.
    pub optional: bool,
    /// The revision of its latest state (which may be failing: see `health`).
    pub revision: Option<String>,
    /// Whether it delivers.
    pub health: Health,
    /// When it last delivered a changed state.
    #[serde(serialize_with = "timestamp::serialize_option")]
    pub last_change: Option<SystemTime>,
    /// Errors (or unparsable states) in a row since its last good state.
    pub consecutive_failures: u64,
    /// Its last error, while it goes on failing (errors never quote config values).
    pub last_error: Option<String>,
    /// Errors since the start, by kind (`unavailable`, `parse`, …).
    pub errors: BTreeMap<&'static str, u64>,
    /// For a source that follows rollouts: its instance's membership, as of its last state.
    pub rollout: Option<Membership>,
}

/// Whether a source delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Health {
    /// No state yet.
    Waiting,
    /// Its last delivery was a good state.
    Up,
    /// Its last delivery was an error or a state that does not parse; its last good state stays.
    Erroring,
    /// Its provider stopped for good (a permanent error); its last good state stays.
    Stopped,
    /// An optional layer whose source is absent: missing or not found (`last_error` says
    /// why), not reachable before its first state, or holding nothing. The config is built
    /// without it; it joins as an ordinary change when its source appears.
    Absent,
}

fn hex<S: serde::Serializer>(hash: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{hash:016x}"))
}

/// The per-source and rejection part of the status, kept up to date by the engine and read by
/// [`Reloader::status`](crate::ReloaderHandle::status).
#[derive(Clone)]
pub(crate) struct Board(Arc<Mutex<BoardState>>);

pub(crate) struct BoardState {
    pub(crate) sources: Vec<SourceStatus>,
    pub(crate) pinned: bool,
    pub(crate) consecutive_rejections: u64,
    pub(crate) last_rejection: Option<String>,
    /// The builder's instance id, if one was given.
    pub(crate) instance_id: Option<String>,
}

impl Board {
    /// A board for the sources `(layer, source)`, in layer order, none delivered yet;
    /// `optional(i)` says whether layer `i` is optional.
    pub(crate) fn new(sources: &[(String, String)], optional: impl Fn(usize) -> bool) -> Board {
        let sources = sources
            .iter()
            .enumerate()
            .map(|(index, (layer, source))| SourceStatus {
                layer: layer.clone(),
                source: source.clone(),
                optional: optional(index),
                revision: None,
                health: Health::Waiting,
                last_change: None,
                consecutive_failures: 0,
                last_error: None,
                errors: BTreeMap::new(),
                rollout: None,
            })
            .collect();
        Board(Arc::new(Mutex::new(BoardState {
            sources,
            pinned: false,
            consecutive_rejections: 0,
            last_rejection: None,
            instance_id: None,
        })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Source `index` delivered a new state: it counts as good once it is accepted.
    pub(crate) fn changed(&self, index: usize, revision: &Revision) {
        let mut board = self.lock();
        let source = &mut board.sources[index];
        // Written over the last one's text: no allocation per change.
        let text = source.revision.get_or_insert_with(String::new);
        text.clear();
        let _ = write!(text, "{revision}");
        source.last_change = Some(SystemTime::now());
    }

    /// Source `index` delivered a good state: its latest state went into the applied config
    /// (or equals it), or it delivered again the state already in use.
    pub(crate) fn good(&self, index: usize) {
        let mut board = self.lock();
        let source = &mut board.sources[index];
        if source.health != Health::Stopped {
            source.health = Health::Up;
        }
        source.consecutive_failures = 0;
        source.last_error = None;
    }

    /// Optional source `index` is absent: `why` (a missing file, a server not reachable
    /// before its first state), or `None` when its state holds nothing. Not a failure: the
    /// config is built without it. The error still counts by kind.
    pub(crate) fn absent(&self, index: usize, why: Option<&Error>) {
        let mut board = self.lock();
        let source = &mut board.sources[index];
        if source.health != Health::Stopped {
            source.health = Health::Absent;
        }
        source.consecutive_failures = 0;
        match why {
            Some(error) => {
                source.revision = None;
                source.last_error = Some(error.to_string());
                *source.errors.entry(error.kind().as_str()).or_default() += 1;
            }
            None => source.last_error = None,
        }
    }

    /// Source `index` failed: an error or a state that does not parse.
    pub(crate) fn failed(&self, index: usize, error: &Error) {
        let mut board = self.lock();
        let source = &mut board.sources[index];
        if source.health != Health::Stopped {
            source.health = Health::Erroring;
        }
        source.consecutive_failures += 1;
        source.last_error = Some(error.to_string());
        *source.errors.entry(error.kind().as_str()).or_default() += 1;
    }

    /// Source `index`'s provider stopped for good.
    pub(crate) fn stopped(&self, index: usize) {
        self.lock().sources[index].health = Health::Stopped;
    }

    /// A candidate was rejected (`Some`), or the sources' config was applied or found unchanged.
    pub(crate) fn rejection(&self, error: Option<&Error>) {
        let mut board = self.lock();
        match error {
            Some(error) => {
                board.consecutive_rejections += 1;
                board.last_rejection = Some(error.to_string());
            }
            None if board.consecutive_rejections > 0 => {
                board.consecutive_rejections = 0;
                board.last_rejection = None;
            }
            None => {}
        }
    }

    /// Each source's rollout membership, as of its last accepted state (one lock for all).
    pub(crate) fn rollouts(&self, rollouts: impl Iterator<Item = Option<Membership>>) {
        let mut board = self.lock();
        for (source, rollout) in board.sources.iter_mut().zip(rollouts) {
            source.rollout = rollout;
        }
    }

    pub(crate) fn set_pinned(&self, pinned: bool) {
        self.lock().pinned = pinned;
    }
}

impl Status {
    /// The instance id and rollout part of a status, from its sources: `named` (the builder's
    /// id) first, else the first rollout-following source's, else the process default.
    pub(crate) fn instance(
        named: Option<&str>,
        sources: &[SourceStatus],
    ) -> (String, Option<RolloutStatus>) {
        let following = sources.iter().filter_map(|s| s.rollout.as_ref());
        let instance_id = named
            .map(str::to_owned)
            .or_else(|| following.clone().next().map(|m| m.instance_id.clone()))
            .unwrap_or_else(crate::instance_id);
        let rollout = following.clone().find_map(|m| {
            m.rollout.as_ref().map(|id| RolloutStatus {
                id: id.clone(),
                member: m.member,
            })
        });
        (instance_id, rollout)
    }
}
