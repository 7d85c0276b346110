//! The transitions of a source's state: offers, accepts, reverts, undos, and absence.

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
    source_of(false)
}

fn source_of(optional: bool) -> SourceState {
    let layers = [("app".into(), "memory:app".into())];
    SourceState::new(LayerId::for_layers(&layers, |_| false, |_| optional)[0].clone())
}

fn error(kind: ErrorKind) -> Error {
    Error::new(kind, "test")
}

#[test]
fn an_optional_source_not_found_or_unreachable_at_first_is_absent_and_ready() {
    for kind in [ErrorKind::NotFound, ErrorKind::Unavailable] {
        let mut required = source();
        assert!(!required.absent(&error(kind)));
        assert!(!required.is_ready());

        let mut optional = source_of(true);
        assert!(optional.absent(&error(kind)));
        assert!(optional.is_ready() && optional.is_dirty() && optional.is_absent());
        assert!(optional.latest().is_none() && optional.latest_revision().is_none());
        optional.accept();
        assert!(optional.is_absent() && !optional.is_dirty());
        // Still absent: nothing to rebuild.
        assert!(optional.absent(&error(kind)));
        assert!(!optional.is_dirty());
    }
    let mut refused = source_of(true);
    assert!(!refused.absent(&error(ErrorKind::PermissionDenied)));
    assert!(!refused.is_ready());
}

#[test]
fn an_optional_source_with_a_state_is_absent_when_not_found_not_when_unreachable() {
    let mut optional = source_of(true);
    offer(&mut optional, r#"{"a":1}"#, 1);
    optional.accept();
    assert!(!optional.absent(&error(ErrorKind::Unavailable)));
    assert_eq!(optional.latest_revision(), Some(&Revision::Ordered(1)));
    assert!(optional.absent(&error(ErrorKind::NotFound)));
    assert!(optional.is_dirty() && optional.is_absent());
    optional.accept();
    // The same state again, once back, is a change.
    assert!(matches!(
        offer(&mut optional, r#"{"a":1}"#, 1),
        Offer::Changed
    ));
    assert!(!optional.is_absent());
}

#[test]
fn a_rejected_appearance_goes_back_to_absent_and_a_rejected_absence_to_the_state() {
    let mut optional = source_of(true);
    optional.absent(&error(ErrorKind::NotFound));
    // The first config, built without it, is rejected: it stays absent (and ready).
    optional.revert();
    assert!(optional.is_ready() && optional.is_absent() && !optional.is_dirty());
    offer(&mut optional, r#"{"a":1}"#, 1);
    optional.revert();
    assert!(optional.is_absent() && optional.is_rejected());
    offer(&mut optional, r#"{"a":2}"#, 2);
    optional.accept();
    optional.absent(&error(ErrorKind::NotFound));
    optional.revert();
    assert_eq!(optional.latest_revision(), Some(&Revision::Ordered(2)));
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
    assert_eq!(
        source.applied().map(|s| s.revision),
        None::<Option<Revision>>
    );
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
