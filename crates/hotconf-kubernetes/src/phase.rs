//! The list-then-watch state machine of one object, without I/O (reference/backends.md §7): list
//! with the `metadata.name` field selector, watch from the **list's** resourceVersion, move the
//! resourceVersion on with every event and bookmark, resume from it when a stream ends, and list
//! again on a 410 (an ERROR event whose Status has code 410, reason `Expired` or `Gone`). A
//! resourceVersion is an opaque tag: it is passed back as it came and never compared.

use hotconf_core::provider::{HttpStatus, Layer};
use hotconf_core::{Error, ErrorKind, Limits, Result};
use kube::core::{Status, WatchEvent};
use kube::ResourceExt;

use crate::convert::{self, DataObject};
use crate::source::KubernetesSource;

/// Where a follower is, in the manner of kube-runtime's `watcher::State`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The object must be listed: at the start, and after a 410.
    List,
    /// Listed: watch (or keep watching) from `rv`, the last resourceVersion seen in a list, an
    /// event or a bookmark.
    Watch {
        /// Where the next watch starts.
        rv: String,
    },
}

/// The followed object as the events say it is, and where to go on from.
#[derive(Debug)]
pub(crate) struct Tracker<K> {
    phase: Phase,
    /// The object, or `None` when it does not exist.
    object: Option<K>,
    /// The resourceVersion of the state `object` reflects: the layer's revision.
    rv: String,
    /// `object` changed since the last layer was taken.
    changed: bool,
}

impl<K: kube::Resource + DataObject> Tracker<K> {
    pub(crate) fn new() -> Self {
        Tracker {
            phase: Phase::List,
            object: None,
            rv: String::new(),
            changed: false,
        }
    }

    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// A list answered at `rv` with `items` (0 or 1 with the field selector; any other object
    /// is not ours).
    pub(crate) fn listed(
        &mut self,
        source: &KubernetesSource,
        rv: Option<String>,
        items: Vec<K>,
    ) -> Result<()> {
        let Some(rv) = rv.filter(|rv| !rv.is_empty()) else {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "k8s: the list of {} came without a resourceVersion",
                    source.describe()
                ),
            ));
        };
        self.object = items
            .into_iter()
            .find(|item| item.name_any() == source.name);
        self.rv = rv.clone();
        self.changed = true;
        self.phase = Phase::Watch { rv };
        Ok(())
    }

    /// One watch event.
    ///
    /// # Errors
    /// A transient error for an ERROR event other than 410 (the stream is then opened again
    /// from the last resourceVersion).
    pub(crate) fn event(&mut self, source: &KubernetesSource, event: WatchEvent<K>) -> Result<()> {
        let (object, exists) = match event {
            WatchEvent::Added(object) | WatchEvent::Modified(object) => (object, true),
            WatchEvent::Deleted(object) => (object, false),
            WatchEvent::Bookmark(bookmark) => {
                let rv = bookmark.metadata.resource_version;
                if !rv.is_empty() {
                    self.phase = Phase::Watch { rv };
                }
                return Ok(());
            }
            WatchEvent::Error(status) => return self.refused(source, "watching", &status),
        };
        let Some(rv) = object.resource_version().filter(|rv| !rv.is_empty()) else {
            // Nowhere to resume from: kube-runtime lists again (`NoResourceVersion`); so do we.
            tracing::warn!(object = %source.describe(), "a watch event without a resourceVersion; listing again");
            self.phase = Phase::List;
            return Ok(());
        };
        self.phase = Phase::Watch { rv: rv.clone() };
        if object.name_any() != source.name {
            return Ok(()); // not ours (a server that ignored the field selector)
        }
        self.object = exists.then_some(object);
        self.rv = rv;
        self.changed = true;
        Ok(())
    }

    /// The server answered a watch (in the stream or as the HTTP status of the request) with
    /// `status`: a 410 lists again; anything else is an error.
    pub(crate) fn refused(
        &mut self,
        source: &KubernetesSource,
        doing: &str,
        status: &Status,
    ) -> Result<()> {
        if is_gone(status) {
            tracing::info!(object = %source.describe(), "the watch's resourceVersion expired (410); listing again");
            self.phase = Phase::List;
            return Ok(());
        }
        Err(status_error(source, doing, status))
    }

    /// Whether the object changed since the last call.
    pub(crate) fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The current state as a layer, at its resourceVersion.
    pub(crate) fn layer(&self, source: &KubernetesSource, limits: &Limits) -> Result<Layer> {
        convert::layer(source, self.object.as_ref(), &self.rv, limits)
    }
}

/// A 410: the resourceVersion is older than the server keeps (reason `Expired`, or `Gone`
/// before Kubernetes 1.18).
pub(crate) fn is_gone(status: &Status) -> bool {
    status.code == 410 || matches!(status.reason.as_str(), "Expired" | "Gone")
}

/// The error for a refusal, the source named, transient (the last good config keeps serving
/// and the provider keeps trying with backoff).
pub(crate) fn status_error(source: &KubernetesSource, doing: &str, status: &Status) -> Error {
    let what = source.describe();
    let message = &status.message;
    let (kind, text) = match status.code {
        403 => (
            ErrorKind::PermissionDenied,
            format!(
                "k8s: {doing} {what} was forbidden (403 {}): {message}; the service account needs `get`, `list` and `watch` on it (see docs/backends/kubernetes.md, RBAC)",
                status.reason
            ),
        ),
        401 => (
            ErrorKind::PermissionDenied,
            format!("k8s: {doing} {what}: the API server refused the credentials (401 {}): {message}", status.reason),
        ),
        404 => (
            ErrorKind::NotFound,
            format!(
                "k8s: {doing} {what}: not found (404 {}): {message}; does the namespace `{}` exist?",
                status.reason, source.namespace
            ),
        ),
        code => (
            ErrorKind::Unavailable,
            format!("k8s: {doing} {what} failed ({code} {}): {message}", status.reason),
        ),
    };
    let error = Error::new(kind, text).with_transient(true);
    if status.code > 0 {
        error.with_cause(HttpStatus(status.code))
    } else {
        error
    }
}

/// The error for a failed request: a refusal as [`status_error`]; anything else (the server
/// unreachable, a cut stream, a token file that cannot be read) transient.
pub(crate) fn client_error(source: &KubernetesSource, doing: &str, error: kube::Error) -> Error {
    match error {
        kube::Error::Api(status) => status_error(source, doing, &status),
        kube::Error::Auth(e) => Error::new(
            ErrorKind::PermissionDenied,
            format!("k8s: {doing} {}: no credentials: {e}", source.describe()),
        )
        .with_transient(true),
        other => Error::new(
            ErrorKind::Unavailable,
            format!("k8s: {doing} {}: {other}", source.describe()),
        )
        .with_cause(other),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::core::watch::{Bookmark, BookmarkMeta};
    use kube::core::TypeMeta;

    use super::*;
    use hotconf_core::provider::Content;
    use hotconf_core::Revision;

    fn source() -> KubernetesSource {
        KubernetesSource::config_map("prod", "app")
    }

    fn cm(name: &str, rv: &str, port: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("prod".into()),
                resource_version: (!rv.is_empty()).then(|| rv.into()),
                ..ObjectMeta::default()
            },
            data: Some([("port".to_owned(), port.to_owned())].into()),
            ..ConfigMap::default()
        }
    }

    fn watch(rv: &str) -> Phase {
        Phase::Watch { rv: rv.into() }
    }

    fn bookmark(rv: &str) -> WatchEvent<ConfigMap> {
        WatchEvent::Bookmark(Bookmark {
            types: TypeMeta::default(),
            metadata: BookmarkMeta {
                resource_version: rv.into(),
                annotations: Default::default(),
            },
        })
    }

    fn status(code: u16, reason: &str) -> Status {
        let mut status = Status::failure("too old resource version: 5 (90)", reason);
        status.code = code;
        status
    }

    /// The layer's port and revision, or `None` for an empty layer.
    fn state(tracker: &Tracker<ConfigMap>) -> (Option<String>, Revision) {
        let layer = tracker.layer(&source(), &Limits::default()).unwrap();
        let port = match layer.content {
            Content::Empty => None,
            Content::Keys { entries, .. } => Some(entries[0].1.clone()),
            other => panic!("{other:?}"),
        };
        (port, layer.revision)
    }

    fn tag(rv: &str) -> Revision {
        Revision::Tag(rv.into())
    }

    #[test]
    fn the_watch_starts_at_the_lists_resource_version_not_the_objects() {
        let mut tracker = Tracker::<ConfigMap>::new();
        assert_eq!(tracker.phase(), &Phase::List);
        tracker
            .listed(&source(), Some("900".into()), vec![cm("app", "12", "1")])
            .unwrap();
        assert_eq!(tracker.phase(), &watch("900"));
        assert!(tracker.take_changed() && !tracker.take_changed());
        assert_eq!(state(&tracker), (Some("1".into()), tag("900")));
    }

    #[test]
    fn a_missing_object_is_an_empty_layer_then_its_creation_and_deletion_are_followed() {
        let mut tracker = Tracker::<ConfigMap>::new();
        tracker.listed(&source(), Some("7".into()), vec![]).unwrap();
        assert!(tracker.take_changed());
        assert_eq!(state(&tracker), (None, tag("7")));
        tracker
            .event(&source(), WatchEvent::Added(cm("app", "8", "1")))
            .unwrap();
        assert!(tracker.take_changed());
        assert_eq!(state(&tracker), (Some("1".into()), tag("8")));
        tracker
            .event(&source(), WatchEvent::Modified(cm("app", "9", "2")))
            .unwrap();
        assert_eq!(state(&tracker), (Some("2".into()), tag("9")));
        tracker
            .event(&source(), WatchEvent::Deleted(cm("app", "10", "2")))
            .unwrap();
        assert!(tracker.take_changed());
        assert_eq!(state(&tracker), (None, tag("10")));
        assert_eq!(tracker.phase(), &watch("10"));
    }

    #[test]
    fn bookmarks_move_the_resource_version_without_a_change() {
        let mut tracker = Tracker::<ConfigMap>::new();
        tracker
            .listed(&source(), Some("5".into()), vec![cm("app", "5", "1")])
            .unwrap();
        tracker.take_changed();
        tracker.event(&source(), bookmark("77")).unwrap();
        assert_eq!(tracker.phase(), &watch("77"));
        assert!(!tracker.take_changed());
        assert_eq!(
            state(&tracker).1,
            tag("5"),
            "the layer's revision is its state's"
        );
        tracker.event(&source(), bookmark("")).unwrap();
        assert_eq!(
            tracker.phase(),
            &watch("77"),
            "an empty bookmark is ignored"
        );
    }

    #[test]
    fn resource_versions_are_opaque_tags_never_compared() {
        let mut tracker = Tracker::<ConfigMap>::new();
        tracker
            .listed(&source(), Some("b-900".into()), vec![])
            .unwrap();
        // An "older-looking" RV after a newer one is taken as it comes.
        tracker
            .event(&source(), WatchEvent::Added(cm("app", "a-10", "1")))
            .unwrap();
        assert_eq!(tracker.phase(), &watch("a-10"));
        assert_eq!(state(&tracker), (Some("1".into()), tag("a-10")));
    }

    #[test]
    fn a_410_in_the_stream_lists_again_and_other_errors_are_reported_with_the_source() {
        for (code, reason) in [(410, "Expired"), (410, "Gone"), (0, "Expired")] {
            let mut tracker = Tracker::<ConfigMap>::new();
            tracker
                .listed(&source(), Some("5".into()), vec![cm("app", "5", "1")])
                .unwrap();
            tracker
                .event(&source(), WatchEvent::Error(Box::new(status(code, reason))))
                .unwrap();
            assert_eq!(tracker.phase(), &Phase::List, "{code} {reason}");
        }
        let mut tracker = Tracker::<ConfigMap>::new();
        tracker.listed(&source(), Some("5".into()), vec![]).unwrap();
        let error = tracker
            .event(
                &source(),
                WatchEvent::Error(Box::new(status(500, "InternalError"))),
            )
            .unwrap_err();
        assert!(error.is_transient() && error.is_answer(), "{error}");
        assert!(
            error.to_string().contains("configmap `prod/app`"),
            "{error}"
        );
        assert_eq!(tracker.phase(), &watch("5"), "resumed from the last RV");
    }

    #[test]
    fn a_stream_that_ends_resumes_from_the_last_resource_version() {
        let mut tracker = Tracker::<ConfigMap>::new();
        tracker.listed(&source(), Some("5".into()), vec![]).unwrap();
        tracker
            .event(&source(), WatchEvent::Added(cm("app", "6", "1")))
            .unwrap();
        // Nothing to do on a clean end: the phase already says where to resume.
        assert_eq!(tracker.phase(), &watch("6"));
    }

    #[test]
    fn an_event_without_a_resource_version_or_of_another_object() {
        let mut tracker = Tracker::<ConfigMap>::new();
        tracker.listed(&source(), Some("5".into()), vec![]).unwrap();
        tracker.take_changed();
        tracker
            .event(&source(), WatchEvent::Added(cm("other", "6", "1")))
            .unwrap();
        assert_eq!(tracker.phase(), &watch("6"));
        assert!(!tracker.take_changed(), "not ours");
        tracker
            .event(&source(), WatchEvent::Modified(cm("app", "", "1")))
            .unwrap();
        assert_eq!(tracker.phase(), &Phase::List);
        let error = tracker.listed(&source(), None, vec![]).unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert_eq!(tracker.phase(), &Phase::List);
        tracker
            .listed(
                &source(),
                Some("9".into()),
                vec![cm("other", "3", "1"), cm("app", "4", "2")],
            )
            .unwrap();
        assert_eq!(state(&tracker), (Some("2".into()), tag("9")));
    }

    #[test]
    fn refusals_name_the_source_and_are_transient() {
        let source = source();
        let forbidden = status_error(&source, "listing", &status(403, "Forbidden"));
        assert_eq!(
            (forbidden.kind(), forbidden.is_transient()),
            (ErrorKind::PermissionDenied, true)
        );
        let text = forbidden.to_string();
        assert!(
            text.contains("configmap `prod/app`") && text.contains("`list`"),
            "{text}"
        );
        let missing = status_error(&source, "listing", &status(404, "NotFound"));
        assert_eq!(
            (missing.kind(), missing.is_transient()),
            (ErrorKind::NotFound, true)
        );
        assert!(
            missing.to_string().contains("namespace `prod`"),
            "{missing}"
        );
        let mut tracker = Tracker::<ConfigMap>::new();
        assert!(tracker
            .refused(&source, "starting the watch", &status(410, "Gone"))
            .is_ok());
        assert_eq!(tracker.phase(), &Phase::List);
        let error = client_error(
            &source,
            "listing",
            kube::Error::Api(Box::new(status(403, "Forbidden"))),
        );
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    }
}
