//! One source as the engine sees it, and the transitions of its state.
//!
//! A source holds the last state its provider offered (to drop exact repeats, and to know
//! whether a repeat is a sign of health), the newest ordered revision seen (guarantee G3), and
//! its [`Stage`]: where its latest good state stands against the applied config. Offering a
//! state makes it stale, a repeat, a change or a rejection; an apply accepts the changes; a
//! rejected candidate reverts them; a failed post-apply check puts the states saved before the
//! apply back.
//!
//! The stage is an enum, in the manner of kube-rs's watcher `State`, so that a source cannot
//! be "changed" without a state to apply, nor "ready" without one.
//!
//! An optional layer whose source is absent has a good state of its own: the *absent* state,
//! with no tree and no revision. It is built with like any other state (it contributes
//! nothing), so the layer's appearance is an ordinary change and its disappearance a fallback
//! (guarantee G5).

use std::mem;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::explain::LayerView;
use crate::format::Limits;
use crate::layer::Layer;
use crate::layer_id::LayerId;
use crate::revision::Revision;
use crate::rollout::Membership;
use crate::tree::Tree;

use super::content::parse_content;

/// A good state of a source, parsed: its tree (`None`: an empty layer) and its revision
/// (`None`: the absent state of an optional layer, which holds nothing).
#[derive(Clone)]
pub(super) struct Parsed {
    tree: Option<Arc<Tree>>,
    revision: Option<Revision>,
    /// The instance's rollout membership this state carries (docs/rollout.md).
    rollout: Option<Membership>,
}

impl Parsed {
    /// The state of an optional layer whose source is absent.
    const ABSENT: Parsed = Parsed {
        tree: None,
        revision: None,
        rollout: None,
    };

    fn is_absent(&self) -> bool {
        self.revision.is_none()
    }
}

/// Where a source's latest good state stands against the applied config.
enum Stage {
    /// No good state yet (none delivered, or every one was refused): no config can be built,
    /// since it would silently lack this layer.
    Waiting,
    /// A good state the next build applies: it changed since the last apply, or an unpin asked
    /// for a rebuild. `applied` is the state in the applied config, which a rejected build
    /// goes back to (`None`: nothing to go back to, the source waits again).
    Changed {
        latest: Parsed,
        applied: Option<Parsed>,
    },
    /// Its state is the one in the applied config (or in a config equal to it).
    Applied(Parsed),
    /// A state that went into a config the post-apply check took back, with no applied state
    /// of this source to go back to (the first config, or one read from the last-good file):
    /// it is built with again at the next change elsewhere, without a rebuild of its own.
    Kept(Parsed),
}

/// The last state a provider offered.
enum Offered {
    /// It parsed, and no config built with it was rejected.
    Good(Layer),
    /// It did not parse, or a config built with it was rejected: a repeat of it is no sign of
    /// health.
    Refused(Layer),
}

impl Offered {
    fn layer(&self) -> &Layer {
        match self {
            Offered::Good(layer) | Offered::Refused(layer) => layer,
        }
    }
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
    /// Which layer it is (its name in errors and events, its label in metrics and status).
    id: LayerId,
    /// The last state offered (`None`: nothing yet).
    last: Option<Offered>,
    /// The newest ordered revision seen.
    newest: Option<Revision>,
    /// Where its latest good state stands.
    stage: Stage,
    /// Its provider stopped for good. Independent of the stage: a stopped provider's last
    /// good state keeps serving.
    stopped: bool,
}

impl SourceState {
    /// A source that has delivered nothing yet.
    pub(super) fn new(id: LayerId) -> SourceState {
        SourceState {
            id,
            last: None,
            newest: None,
            stage: Stage::Waiting,
            stopped: false,
        }
    }

    /// A copy to try a proposed state on (`engine/proposal.rs`): the same layer, newest
    /// revision and good state to build with, as if applied (so that a rejection is blamed on
    /// the proposal alone), without the last state offered (a proposal is never a repeat). The
    /// trees are shared, not copied.
    pub(super) fn detached(&self) -> SourceState {
        let stage = match &self.stage {
            Stage::Waiting => Stage::Waiting,
            Stage::Changed { latest, .. } | Stage::Applied(latest) | Stage::Kept(latest) => {
                Stage::Applied(latest.clone())
            }
        };
        SourceState {
            id: self.id.clone(),
            last: None,
            newest: self.newest.clone(),
            stage,
            stopped: self.stopped,
        }
    }

    /// Which layer it is.
    pub(super) fn id(&self) -> &LayerId {
        &self.id
    }

    /// The layer's printable name (unique among the layers).
    pub(super) fn name(&self) -> &str {
        self.id.name()
    }

    /// The layer's name.
    pub(super) fn label(&self) -> &str {
        self.id.label()
    }

    /// Its latest state as a snapshot shows it.
    pub(super) fn view(&self) -> LayerView {
        LayerView {
            layer: self.id.shared_label(),
            source: self.id.shared_name(),
            secret: self.id.is_secret(),
            tree: self.latest().cloned(),
        }
    }

    /// The good state to build with next (`None`: no good state yet).
    fn latest_state(&self) -> Option<&Parsed> {
        match &self.stage {
            Stage::Waiting => None,
            Stage::Changed { latest, .. } | Stage::Applied(latest) | Stage::Kept(latest) => {
                Some(latest)
            }
        }
    }

    /// The tree to apply next (`None`: an empty layer, or no good state yet).
    pub(super) fn latest(&self) -> Option<&Arc<Tree>> {
        self.latest_state()?.tree.as_ref()
    }

    /// The revision of the state to apply next (`None`: no good state yet, or absent).
    pub(super) fn latest_revision(&self) -> Option<&Revision> {
        self.latest_state()?.revision.as_ref()
    }

    /// Whether it is an optional layer whose source is absent (its state to apply next is the
    /// absent state).
    pub(super) fn is_absent(&self) -> bool {
        self.latest_state().is_some_and(Parsed::is_absent)
    }

    /// The rollout membership of the state it builds with: after a build, the state in the
    /// applied config (a candidate a member rejected does not make it a member).
    pub(super) fn rollout(&self) -> Option<Membership> {
        self.latest_state()?.rollout.clone()
    }

    /// Whether it delivered a good state that can be built with.
    pub(super) fn is_ready(&self) -> bool {
        !matches!(self.stage, Stage::Waiting)
    }

    /// Whether it changed since the last apply.
    pub(super) fn is_dirty(&self) -> bool {
        matches!(self.stage, Stage::Changed { .. })
    }

    /// Whether its provider stopped for good before it delivered a good state.
    pub(super) fn is_stalled(&self) -> bool {
        self.stopped && !self.is_ready()
    }

    /// Whether its last state offered was refused.
    pub(super) fn is_rejected(&self) -> bool {
        matches!(self.last, Some(Offered::Refused(_)))
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
        if self.last.as_ref().map(Offered::layer) == Some(&layer) {
            return Offer::Repeat;
        }
        if matches!(layer.revision, Revision::Ordered(_)) {
            self.newest = Some(layer.revision.clone());
        }
        match parse_content(&layer.content, limits) {
            Ok(tree) => {
                let latest = Parsed {
                    tree,
                    revision: Some(layer.revision.clone()),
                    rollout: layer.rollout.clone(),
                };
                self.last = Some(Offered::Good(layer));
                self.change_to(latest);
                Offer::Changed
            }
            Err(error) => {
                self.last = Some(Offered::Refused(layer));
                Offer::Rejected(error.with_layer(self.id.clone()))
            }
        }
    }

    /// Takes in a source error: an optional layer whose source the error says is absent
    /// becomes absent (its absent state is applied at the next build) and `true` is returned;
    /// otherwise nothing changes (the last good state stays) and `false` is returned.
    ///
    /// Absent means not found (a missing file or directory, a missing key), at any time; or
    /// not reachable while the layer has no good state yet (at startup, or since it became
    /// absent). A server that goes down once the layer has a state keeps that state, as for
    /// any layer: a blip must not drop the settings it carries.
    pub(super) fn absent(&mut self, error: &Error) -> bool {
        if !self.id.is_optional() {
            return false;
        }
        let has_state = self.is_ready() && !self.is_absent();
        let absent = match error.kind() {
            ErrorKind::NotFound => true,
            ErrorKind::Unavailable => !has_state,
            _ => false,
        };
        if !absent {
            return false;
        }
        if self.is_absent() {
            return true;
        }
        // Whatever comes next is a change, even the state offered before the source went away.
        self.last = None;
        self.change_to(Parsed::ABSENT);
        true
    }

    /// Makes `latest` the state the next build applies, keeping the applied state to go back
    /// to.
    fn change_to(&mut self, latest: Parsed) {
        self.stage = match mem::replace(&mut self.stage, Stage::Waiting) {
            Stage::Waiting | Stage::Kept(_) => Stage::Changed {
                latest,
                applied: None,
            },
            Stage::Changed { applied, .. } => Stage::Changed { latest, applied },
            Stage::Applied(applied) => Stage::Changed {
                latest,
                applied: Some(applied),
            },
        };
    }

    /// Marks it changed, so that the next build applies its latest state (after an unpin). A
    /// source with no good state has nothing to apply.
    pub(super) fn touch(&mut self) {
        self.stage = match mem::replace(&mut self.stage, Stage::Waiting) {
            Stage::Applied(state) => Stage::Changed {
                latest: state.clone(),
                applied: Some(state),
            },
            Stage::Kept(latest) => Stage::Changed {
                latest,
                applied: None,
            },
            stage @ (Stage::Waiting | Stage::Changed { .. }) => stage,
        };
    }

    /// Accepts its latest state: it went into an applied config, or the config built with it
    /// equals the applied one.
    pub(super) fn accept(&mut self) {
        self.stage = match mem::replace(&mut self.stage, Stage::Waiting) {
            Stage::Changed { latest, .. } | Stage::Kept(latest) | Stage::Applied(latest) => {
                Stage::Applied(latest)
            }
            Stage::Waiting => Stage::Waiting,
        };
    }

    /// Puts it back to its applied state, if it changed, so that a later change elsewhere is
    /// not blocked by the rejected one. A source none of whose states was ever applied waits
    /// again: building without it would apply a config that silently lacks a layer. An
    /// absent optional layer stays absent: building without it is what it asks for.
    pub(super) fn revert(&mut self) {
        self.stage = match mem::replace(&mut self.stage, Stage::Waiting) {
            Stage::Changed { applied, latest } => {
                if let Some(Offered::Good(layer)) = self.last.take() {
                    self.last = Some(Offered::Refused(layer));
                }
                match applied {
                    Some(applied) => Stage::Applied(applied),
                    None if latest.is_absent() => Stage::Applied(latest),
                    None => Stage::Waiting,
                }
            }
            stage => stage,
        };
    }

    /// The state in the applied config, to put back with [`undo`](Self::undo).
    pub(super) fn applied(&self) -> Option<Parsed> {
        match &self.stage {
            Stage::Changed { applied, .. } => applied.clone(),
            Stage::Applied(state) => Some(state.clone()),
            Stage::Waiting | Stage::Kept(_) => None,
        }
    }

    /// Puts back the state applied before an apply that a post-apply check failed. With none
    /// (the first config, or one from the last-good file) there is nothing to go back to: the
    /// state built with stays, kept, and the next change rebuilds.
    pub(super) fn undo(&mut self, saved: Option<Parsed>) {
        self.stage = match (saved, mem::replace(&mut self.stage, Stage::Waiting)) {
            (Some(saved), _) => Stage::Applied(saved),
            (
                None,
                Stage::Changed { latest, .. } | Stage::Applied(latest) | Stage::Kept(latest),
            ) => Stage::Kept(latest),
            (None, Stage::Waiting) => Stage::Waiting,
        };
    }
}

#[cfg(test)]
mod tests;
