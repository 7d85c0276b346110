//! A proposal: a state of one layer that someone means to publish, tried on a copy of the
//! sources as a reload would try it, and never applied.
//!
//! The copy shares the sources' trees (nothing is parsed again), offers the proposal to the
//! named layer (a parse failure is a rejection, named like any), builds the candidate with the
//! same strategies, deserializes and validates it with the same rules (sync and async
//! validators; not the post-apply check, which needs the config published), and compares its
//! merged tree with the config serving now. Nothing is published, no event is sent, no
//! counter, status or history entry changes, and the engine's own sources stay as they were.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::changes::Changes;
use crate::error::{Error, ErrorKind, Result};
use crate::layer::{Content, Layer};
use crate::revision::Revision;
use crate::store::{Origin, Snapshot};
use crate::verdict::Verdict;

use super::blame::blame;
use super::candidate::Candidate;
use super::checks;
use super::source::{Offer, SourceState};
use super::Engine;

impl<T: DeserializeOwned + Send + Sync + 'static> Engine<T> {
    /// Whether this reloader would accept `content` as the next state of the layer `layer`
    /// (its name, or its printable name), every other layer keeping its latest good state.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when no layer has that name (the message lists the layers);
    /// [`ErrorKind::Unavailable`] when another layer has no good state yet (no config can be
    /// built until it has). A rejection is not an error: it is [`Verdict::Rejected`].
    pub(crate) async fn check_proposal(&self, layer: &str, content: Content) -> Result<Verdict> {
        let index = self.layer_named(layer)?;
        if let Some(waiting) = (self.sources.iter().enumerate())
            .find(|(i, s)| *i != index && !s.is_ready())
            .map(|(_, s)| s)
        {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "layer `{}` has no good state yet: no config can be built until it has",
                    waiting.label()
                ),
            ));
        }
        let mut sources: Vec<SourceState> =
            self.sources.iter().map(SourceState::detached).collect();
        let proposal = Layer::new(content, Revision::Tag("proposal".into()));
        if let Offer::Rejected(error) = sources[index].offer(proposal, &self.rules.limits) {
            return Ok(Verdict::Rejected { error });
        }
        let current = self.current();
        match self.try_on(&sources, current.as_deref()).await {
            Ok(Some(snapshot)) => accepted(current.as_deref(), &snapshot),
            Ok(None) => Ok(Verdict::Accepted {
                changes: Changes::default(),
                restart_required: Vec::new(),
            }),
            Err(error) => Ok(Verdict::Rejected {
                error: blame(&sources, error),
            }),
        }
    }

    /// The position of the layer named `name` (its name first, then its printable name).
    fn layer_named(&self, name: &str) -> Result<usize> {
        let by_label = self.sources.iter().position(|s| s.label() == name);
        by_label
            .or_else(|| self.sources.iter().position(|s| s.name() == name))
            .ok_or_else(|| {
                let names: Vec<String> = (self.sources.iter())
                    .map(|s| format!("`{}` ({})", s.label(), s.name()))
                    .collect();
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "no layer is named `{name}`; the layers are {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// Builds and checks the config `sources` make, as the next version would be (`None`:
    /// the same content as the config serving now).
    async fn try_on(
        &self,
        sources: &[SourceState],
        current: Option<&Snapshot<T>>,
    ) -> Result<Option<Arc<Snapshot<T>>>> {
        let Some(candidate) = Candidate::build(sources, &self.rules.restart_required, current)?
        else {
            return Ok(None);
        };
        let version = self.next_version();
        checks::check_candidate(&self.rules, sources, candidate, version, Origin::Sources)
            .await
            .map(Some)
    }
}

/// The verdict on a proposal that passed every check: the key paths it changes from the
/// config serving now (`current`, if any).
fn accepted<T>(current: Option<&Snapshot<T>>, proposed: &Snapshot<T>) -> Result<Verdict> {
    let empty = Value::Object(Default::default());
    let before = current.map_or(Ok(&empty), Snapshot::try_merged)?;
    let after = match proposed.try_merged() {
        Ok(after) => after,
        Err(error) => return Ok(Verdict::Rejected { error }),
    };
    Ok(Verdict::Accepted {
        changes: Changes::between(before, after),
        restart_required: proposed.pending_restart().to_vec(),
    })
}

#[cfg(test)]
mod tests;
