use super::*;
use crate::layer::Content;
use crate::revision::Revision;
use crate::target::KeySpace;

/// Pinned buckets: a change of hash, seed or input layout fails here. The same table is in
/// docs/rollout.md, for other clients.
const VECTORS: &[(&str, &str, u64)] = &[
    ("pod-a", "r1", 589),
    ("pod-b", "r1", 8438),
    ("pod-c", "r1", 6163),
    ("web-0", "2024-06-01-a", 5754),
    ("web-1", "2024-06-01-a", 9922),
    ("", "", 5702),
];

#[test]
fn membership_vectors_are_pinned() {
    for (instance, rollout, expected) in VECTORS {
        assert_eq!(bucket(instance, rollout), *expected, "{instance} {rollout}");
    }
    assert!(is_member("pod-a", "r1", 5.9) && !is_member("pod-a", "r1", 5.89));
    assert_eq!(basis_points(12.5), 1_250);
    assert_eq!(basis_points(f64::NAN), 0);
    assert_eq!(basis_points(250.0), BUCKETS);
    assert!(!is_member("pod-a", "r1", 0.0) && is_member("pod-b", "r1", 100.0));
}

#[test]
fn raising_the_percent_only_adds_members() {
    let instances: Vec<String> = (0..2_000).map(|i| format!("instance-{i}")).collect();
    let mut before = vec![false; instances.len()];
    for step in 0..=400 {
        let percent = f64::from(step) / 4.0;
        for (was, id) in before.iter_mut().zip(&instances) {
            let now = is_member(id, "rollout-7", percent);
            assert!(now || !*was, "{id} left the rollout at {percent} %");
            *was = now;
        }
    }
    assert!(before.iter().all(|m| *m), "100 % holds everyone");
    // Roughly the share asked for.
    let half = instances
        .iter()
        .filter(|id| is_member(id, "rollout-7", 50.0))
        .count();
    assert!((800..1_200).contains(&half), "{half}");
}

#[test]
fn records_parse_and_bad_ones_name_the_record_key() {
    let good = br#"{"id":"r1","candidate":"a: 1","format":"yaml","percent":12.5,"started":"2024-06-01T00:00:00Z","later":"ignored"}"#;
    let record = RolloutRecord::parse("app/c.json.rollout", good).unwrap();
    assert_eq!(record.percent, 12.5);
    assert_eq!(record.candidate_format(Format::Json), Format::Yaml);
    let bad: &[(&[u8], &str)] = &[
        (b"not json", "invalid JSON"),
        (br#"{"id":"r1","percent":5}"#, "missing field `candidate`"),
        (
            br#"{"id":"r1","candidate":"s3cr3t","percent":"x"}"#,
            "wrong type",
        ),
        (br#"{"id":"","candidate":"x","percent":5}"#, "id of 0 bytes"),
        (
            br#"{"id":"r","candidate":"x","percent":100.5}"#,
            "outside 0 to 100",
        ),
        (
            br#"{"id":"r","candidate":"x","percent":5,"format":"xml"}"#,
            "unknown format",
        ),
    ];
    for (bytes, why) in bad {
        let error = RolloutRecord::parse("app/c.json.rollout", bytes).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("`app/c.json.rollout`") && text.contains(why),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "never quotes the record: {text}");
        assert!(error.is_transient());
    }
    let huge = vec![b' '; MAX_RECORD_BYTES + 1];
    assert!(RolloutRecord::parse("k.rollout", &huge).is_err());
}

#[test]
fn state_for_follows_membership() {
    let mut record = RolloutRecord::new("r1", "{}", 0.0);
    assert_eq!(state_for("pod-a", Some(&record)), Chosen::Key);
    assert_eq!(state_for("pod-a", None), Chosen::Key);
    record.percent = 6.0; // pod-a's bucket is 589
    let candidate = Chosen::Candidate {
        rollout_id: "r1".into(),
    };
    assert_eq!(state_for("pod-a", Some(&record)), candidate);
    assert_eq!(state_for("pod-b", Some(&record)), Chosen::Key);
}

fn text(layer: &crate::layer::Layer) -> Option<String> {
    match &layer.content {
        Content::Document { bytes, .. } => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

#[test]
fn the_layer_is_the_candidate_for_members_only() {
    let space = KeySpace::key("app/c.json", Format::Json);
    let record = br#"{"id":"r1","candidate":"{\"v\":2}","percent":6}"#.to_vec();
    let entries = |record: Option<Vec<u8>>| {
        let mut e = vec![
            ("app/c.json".to_owned(), b"{\"v\":1}".to_vec()),
            ("app/c.jsonx".to_owned(), b"other".to_vec()),
        ];
        e.extend(record.map(|r| ("app/c.json.rollout".to_owned(), r)));
        e
    };
    let layer = |id: &str, record: Option<Vec<u8>>| {
        rollout_layer(&space, id, entries(record), Revision::Ordered(3))
    };
    let a = layer("pod-a", Some(record.clone())).unwrap();
    assert_eq!(text(&a).as_deref(), Some("{\"v\":2}"));
    assert_eq!(
        a.rollout,
        Some(Membership::new("pod-a", Some("r1".into()), true))
    );
    assert_eq!(a.revision, Revision::Ordered(3));
    let b = layer("pod-b", Some(record)).unwrap();
    assert_eq!(text(&b).as_deref(), Some("{\"v\":1}"));
    assert_eq!(
        b.rollout,
        Some(Membership::new("pod-b", Some("r1".into()), false))
    );
    let none = layer("pod-a", None).unwrap();
    assert_eq!(text(&none).as_deref(), Some("{\"v\":1}"));
    assert_eq!(none.rollout, Some(Membership::new("pod-a", None, false)));
    let error = layer("pod-a", Some(b"{".to_vec())).unwrap_err();
    assert!(error.to_string().contains("app/c.json.rollout"), "{error}");
    let empty = rollout_layer(
        &space,
        "pod-a",
        Vec::<(String, Vec<u8>)>::new(),
        Revision::Ordered(1),
    );
    assert!(matches!(empty.unwrap().content, Content::Empty));
    let prefix = rollout_layer(
        &KeySpace::prefix("app"),
        "x",
        entries(None),
        Revision::Ordered(1),
    );
    assert!(prefix.is_err());
}

#[test]
fn the_instance_id_can_be_set_for_the_process() {
    set_instance_id("from-the-cli");
    assert_eq!(instance_id(), "from-the-cli");
    set_instance_id("");
    assert_ne!(instance_id(), "from-the-cli");
    assert!(!instance_id().is_empty());
}
