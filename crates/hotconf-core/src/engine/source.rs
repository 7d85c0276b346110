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

use std::mem;
use std::sync::Arc;

use crate::error::Error;
use crate::explain::LayerView;
use crate::format::Limits;
use crate::layer::Layer;
use crate::layer_id::LayerId;
use crate::revision::Revision;
use crate::rollout::Membership;
use crate::tree::Tree;

use super::content::parse_content;

/// A good state of a source, parsed: its tree (`None`: an empty layer) and its revision.
#[derive(Clone)]
pub(super) struct Parsed {
    tree: Option<Arc<Tree>>,
    revision: Revision,
    /// The instance's rollout membership this state carries (docs/rollout.md).
    rollout: Option<Membership>,
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

    /// The revision of the state to apply next (`None`: no good state yet).
    pub(super) fn latest_revision(&self) -> Option<&Revision> {
        self.latest_state().map(|state| &state.revision)
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
                    revision: layer.revision.clone(),
                    rollout: layer.rollout.clone(),
                };
                self.last = Some(Offered::Good(layer));
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
                Offer::Changed
            }
            Err(error) => {
                self.last = Some(Offered::Refused(layer));
                Offer::Rejected(error.with_layer(self.id.clone()))
            }
        }
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
    /// again: building without it would apply a config that silently lacks a layer.
    pub(super) fn revert(&mut self) {
        self.stage = match mem::replace(&mut self.stage, Stage::Waiting) {
            Stage::Changed { applied, .. } => {
                if let Some(Offered::Good(layer)) = self.last.take() {
                    self.last = Some(Offered::Refused(layer));
                }
                applied.map_or(Stage::Waiting, Stage::Applied)
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
mod tests {
    use super::*;
    use crate::format::Format;
    use crate::layer::Content;

    /// A YAML document: parsed when offered (a JSON one is parsed when first built with).
    fn layer(text: &str, revision: u64) -> Layer {
        Layer {
            content: Content::Document {
                format: Format::Yaml,
                bytes: text.as_bytes().into(),
            },
            revision: Revision::Ordered(revision),
            rollout: None,
        }
    }

    fn offer(source: &mut SourceState, text: &str, revision: u64) -> Offer {
        source.offer(layer(text, revision), &Limits::default())
    }

    fn source() -> SourceState {
        SourceState::new(
            LayerId::for_layers(&[("app".into(), "memory:app".into())], |_| false)[0].clone(),
        )
    }

    #[test]
    fn a_source_is_ready_once_it_offers_a_good_state_and_dirty_until_accepted() {
        let mut source = source();
        assert!(!source.is_ready() && !source.is_dirty());
        assert!(matches!(offer(&mut source, "{}", 1), Offer::Changed));
        assert!(source.is_ready() && source.is_dirty());
        source.accept();
        assert!(source.is_ready() && !source.is_dirty());
        assert_eq!(source.latest_revision(), Some(&Revision::Ordered(1)));
    }

    #[test]
    fn a_repeat_a_stale_state_and_a_refused_state_change_nothing_to_build_with() {
        let mut source = source();
        offer(&mut source, r#"{"a":1}"#, 2);
        source.accept();
        assert!(matches!(offer(&mut source, r#"{"a":1}"#, 2), Offer::Repeat));
        assert!(matches!(
            offer(&mut source, r#"{"a":0}"#, 1),
            Offer::Stale(_)
        ));
        assert!(matches!(offer(&mut source, "a: [", 3), Offer::Rejected(_)));
        assert!(source.is_rejected() && !source.is_dirty());
        assert_eq!(source.latest_revision(), Some(&Revision::Ordered(2)));
    }

    #[test]
    fn a_revert_goes_back_to_the_applied_state_or_waits_when_there_is_none() {
        let mut first = source();
        offer(&mut first, r#"{"a":1}"#, 1);
        first.revert();
        assert!(!first.is_ready() && first.is_rejected());

        let mut later = source();
        offer(&mut later, r#"{"a":1}"#, 1);
        later.accept();
        offer(&mut later, r#"{"a":2}"#, 2);
        later.revert();
        assert!(later.is_ready() && !later.is_dirty() && later.is_rejected());
        assert_eq!(later.latest_revision(), Some(&Revision::Ordered(1)));
    }

    #[test]
    fn an_undo_without_an_applied_state_keeps_the_state_built_with() {
        let mut source = source();
        offer(&mut source, r#"{"a":1}"#, 1);
        let saved = source.applied();
        source.accept();
        source.undo(saved);
        assert!(source.is_ready() && !source.is_dirty());
        assert_eq!(source.applied().map(|s| s.revision), None);
        source.touch();
        assert!(source.is_dirty());
        source.revert();
        assert!(!source.is_ready());
    }

    #[test]
    fn an_undo_puts_the_applied_state_back() {
        let mut source = source();
        offer(&mut source, r#"{"a":1}"#, 1);
        source.accept();
        offer(&mut source, r#"{"a":2}"#, 2);
        let saved = source.applied();
        source.accept();
        source.undo(saved);
        assert!(source.is_ready() && !source.is_dirty());
        assert_eq!(source.latest_revision(), Some(&Revision::Ordered(1)));
    }
}
