//! One source as the engine sees it, and the transitions of its state.
//!
//! A source holds the last state its provider offered (to drop exact repeats), the newest
//! ordered revision seen (guarantee G3), the parsed state to apply next (`latest`) and the one
//! last accepted into an applied config (`accepted`). Offering a state makes it stale, a
//! repeat, a change or a rejection; an apply accepts the changes; a rejected candidate reverts
//! them; a failed post-apply check puts the states saved before the apply back.

use std::sync::Arc;

use crate::error::Error;
use crate::explain::LayerView;
use crate::format::Limits;
use crate::layer::Layer;
use crate::revision::Revision;
use crate::tree::Tree;

use super::content::parse_content;

/// A parsed state of a source: its tree (`None`: an empty layer) and its revision (`None`:
/// no good state yet).
#[derive(Clone, Default)]
pub(super) struct State {
    tree: Option<Arc<Tree>>,
    revision: Option<Revision>,
}

/// What offering a state to a source did.
pub(super) enum Offer {
    /// Older than an ordered revision already seen: ignored (guarantee G3).
    Stale(Revision),
    /// The same as the last state offered: nothing to do.
    Repeat,
    /// A new good state, applied at the next build.
    Changed,
    /// A new state that does not parse (the error names the source): the last good one stays.
    Rejected(Error),
}

/// What the engine knows of one source.
pub(super) struct SourceState {
    /// The layer's name (metric labels, the status).
    label: Arc<str>,
    /// The source's name (errors, events).
    name: Arc<str>,
    /// The last state offered, to drop exact repeats.
    last_layer: Option<Layer>,
    /// The newest ordered revision seen.
    newest: Option<Revision>,
    /// The state last accepted into an applied config.
    accepted: State,
    /// The state to apply next.
    latest: State,
    /// Delivered at least one good state.
    ready: bool,
    /// Changed since the last apply.
    dirty: bool,
    /// Its provider stopped for good.
    stopped: bool,
    /// Its last state offered was rejected (does not parse, or made a config that was): a
    /// repeat of it is no sign of health.
    rejected: bool,
}

impl SourceState {
    /// A source that has delivered nothing yet.
    pub(super) fn new(label: String, name: String) -> SourceState {
        SourceState {
            label: label.into(),
            name: name.into(),
            last_layer: None,
            newest: None,
            accepted: State::default(),
            latest: State::default(),
            ready: false,
            dirty: false,
            stopped: false,
            rejected: false,
        }
    }

    /// The source's name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The layer's name.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Its latest state as a snapshot shows it.
    pub(super) fn view(&self) -> LayerView {
        LayerView {
            layer: self.label.clone(),
            source: self.name.clone(),
            tree: self.latest().cloned(),
        }
    }

    /// The tree to apply next (`None`: an empty layer, or no good state yet).
    pub(super) fn latest(&self) -> Option<&Arc<Tree>> {
        self.latest.tree.as_ref()
    }

    /// The revision of the state to apply next (`None`: no good state yet).
    pub(super) fn latest_revision(&self) -> Option<&Revision> {
        self.latest.revision.as_ref()
    }

    /// Whether it delivered a good state that can be built with.
    pub(super) fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether it changed since the last apply.
    pub(super) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether its provider stopped for good before it delivered a good state.
    pub(super) fn is_stalled(&self) -> bool {
        self.stopped && !self.ready
    }

    /// Whether its last state offered was rejected.
    pub(super) fn is_rejected(&self) -> bool {
        self.rejected
    }

    /// Records that its provider stopped for good.
    pub(super) fn stop(&mut self) {
        self.stopped = true;
    }

    /// Offers a state the provider delivered: parses it unless it is stale or a repeat.
    pub(super) fn offer(&mut self, layer: Layer, limits: &Limits) -> Offer {
        if self
            .newest
            .as_ref()
            .is_some_and(|newest| layer.revision.is_older_than(newest))
        {
            return Offer::Stale(layer.revision);
        }
        if self.last_layer.as_ref() == Some(&layer) {
            return Offer::Repeat;
        }
        if matches!(layer.revision, Revision::Ordered(_)) {
            self.newest = Some(layer.revision.clone());
        }
        let parsed = parse_content(&layer.content, limits);
        let revision = layer.revision.clone();
        self.last_layer = Some(layer);
        self.rejected = parsed.is_err();
        match parsed {
            Ok(tree) => {
                self.latest = State {
                    tree,
                    revision: Some(revision),
                };
                self.ready = true;
                self.dirty = true;
                Offer::Changed
            }
            Err(error) => Offer::Rejected(error.with_source_name(&*self.name)),
        }
    }

    /// Marks it changed, so that the next build applies its latest state (after an unpin).
    pub(super) fn touch(&mut self) {
        self.dirty = true;
    }

    /// Accepts its latest state, if it changed: it went into an applied config, or the config
    /// built with it equals the applied one.
    pub(super) fn accept(&mut self) {
        if self.dirty {
            self.accepted = self.latest.clone();
            self.dirty = false;
        }
    }

    /// Puts it back to its last accepted state, if it changed, so that a later change elsewhere
    /// is not blocked by the rejected one.
    pub(super) fn revert(&mut self) {
        if self.dirty {
            self.rejected = true;
            self.latest = self.accepted.clone();
            self.dirty = false;
            // A source none of whose states was ever accepted is not ready: building without
            // it would apply a config that silently lacks a layer.
            self.ready = self.accepted.revision.is_some();
        }
    }

    /// The state last accepted, to put back with [`undo`](Self::undo).
    pub(super) fn accepted(&self) -> State {
        self.accepted.clone()
    }

    /// Puts back the state accepted before an apply that a post-apply check failed. After a
    /// first config (`keep_latest`) there is nothing to go back to: the latest state stays,
    /// unaccepted, and the next change rebuilds.
    pub(super) fn undo(&mut self, saved: State, keep_latest: bool) {
        if !keep_latest {
            self.latest = saved.clone();
        }
        self.accepted = saved;
    }
}
