//! What the fleet must show at each point of a rollout, and when it is unhealthy: pure
//! functions of the fleet before the rollout (the baseline) and the fleet now.

use std::collections::BTreeMap;

use hotconf::rollout::is_member;

use super::prometheus::{Fleet, Sample};

/// What the controller waits for the fleet to show.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// Every instance follows rollout `id`; exactly the members at `percent` serve its
    /// candidate, and the others still run the key's value: the content they were first seen
    /// with as non-members of this rollout (`key_hashes`, kept by [`note_key_hashes`]).
    Step {
        id: &'a str,
        percent: f64,
        key_hashes: &'a BTreeMap<String, String>,
    },
    /// No instance shows a rollout, and each one listed in `hashes` (by instance id) runs
    /// that content: the key's value after an abort, the candidate after a promotion.
    Ended {
        hashes: &'a BTreeMap<String, String>,
    },
}

/// Records the hash of each instance of `now` that shows rollout `id` without being on its
/// candidate and was not recorded yet: the content of the key's value it runs. (Hashes read
/// before the record was written could be older than the key's value: a scrape lags.)
pub(crate) fn note_key_hashes(id: &str, now: &Fleet, key_hashes: &mut BTreeMap<String, String>) {
    for (instance_id, instance) in now {
        if instance.rollout == id && !instance.member {
            (key_hashes.entry(instance_id.clone())).or_insert_with(|| instance.hash.clone());
        }
    }
}

/// The instances' hashes in `fleet`, by instance id.
pub(crate) fn hashes(fleet: &Fleet) -> BTreeMap<String, String> {
    (fleet.iter())
        .map(|(id, instance)| (id.clone(), instance.hash.clone()))
        .collect()
}

/// Why `now` does not show what `expect` says for the instances of `baseline` (the first
/// reason, and how many instances are not there yet); `None` when it does. Membership is read
/// from `member`, which an instance shows only once the candidate is in its applied config.
pub(crate) fn lagging(expect: Expect<'_>, baseline: &Fleet, now: &Fleet) -> Option<String> {
    let mut reasons = Vec::new();
    for id in baseline.keys() {
        let Some(instance) = now.get(id) else {
            reasons.push(format!("{id} is not scraped"));
            continue;
        };
        let reason = match expect {
            Expect::Step {
                id: rollout,
                percent,
                key_hashes,
            } => {
                let member = is_member(id, rollout, percent);
                if instance.rollout != rollout {
                    Some(format!("{id} does not show the rollout"))
                } else if member && !instance.member {
                    Some(format!("{id} is a member but not on the candidate"))
                } else if !member && instance.member {
                    Some(format!("{id} is on the candidate but not a member"))
                } else if !member && key_hashes.get(id).is_some_and(|h| *h != instance.hash) {
                    Some(format!("{id} is not a member but its config changed"))
                } else {
                    None
                }
            }
            Expect::Ended { hashes } => {
                if !instance.rollout.is_empty() {
                    Some(format!("{id} still shows rollout {}", instance.rollout))
                } else if hashes.get(id).is_some_and(|hash| *hash != instance.hash) {
                    Some(format!("{id} does not run the expected config"))
                } else {
                    None
                }
            }
        };
        reasons.extend(reason);
    }
    let first = reasons.first()?;
    Some(match reasons.len() {
        1 => first.clone(),
        n => format!("{first} (and {} more)", n - 1),
    })
}

/// Why the fleet is unhealthy at rollout `id` at `percent`: a member rejected the candidate or
/// its post-apply check reverted it since the baseline. `None` when neither happened.
pub(crate) fn unhealthy(id: &str, percent: f64, baseline: &Fleet, now: &Fleet) -> Option<String> {
    for (instance_id, before) in baseline {
        if !is_member(instance_id, id, percent) {
            continue;
        }
        let Some(instance) = now.get(instance_id) else {
            continue;
        };
        if instance.rejected > before.rejected {
            return Some(format!("{instance_id} rejected the candidate"));
        }
        if instance.origin == "revert" && instance.version > before.version {
            return Some(format!(
                "{instance_id} reverted the candidate (its post-apply check failed)"
            ));
        }
    }
    None
}

/// Why the answer to the health query `query` makes the step unhealthy: any series at all.
pub(crate) fn flagged(query: &str, answer: &[Sample]) -> Option<String> {
    let first = answer.first()?;
    let labels: Vec<String> = (first.labels.iter())
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    Some(format!(
        "the health query `{query}` returned {} series ({{{}}} = {})",
        answer.len(),
        labels.join(","),
        first.value
    ))
}

#[cfg(test)]
mod tests {
    use super::super::prometheus::Instance;
    use super::*;

    fn fleet(instances: &[(&str, &str, bool, &str)]) -> Fleet {
        (instances.iter())
            .map(|(id, rollout, member, hash)| {
                let instance = Instance {
                    instance_id: (*id).into(),
                    rollout: (*rollout).into(),
                    member: *member,
                    hash: (*hash).into(),
                    ..Instance::default()
                };
                ((*id).to_owned(), instance)
            })
            .collect()
    }

    #[test]
    fn a_step_is_observed_when_exactly_the_members_moved() {
        // At 50 % of r1, pod-a is a member (bucket 589), pod-b is not (8438).
        let baseline = fleet(&[("pod-a", "", false, "old"), ("pod-b", "", false, "old")]);
        let mut key_hashes = BTreeMap::new();
        let seen = fleet(&[("pod-a", "r1", true, "new"), ("pod-b", "r1", false, "key")]);
        note_key_hashes("r1", &seen, &mut key_hashes);
        assert_eq!(key_hashes, [("pod-b".to_owned(), "key".to_owned())].into());
        let step = Expect::Step {
            id: "r1",
            percent: 50.0,
            key_hashes: &key_hashes,
        };
        assert_eq!(lagging(step, &baseline, &seen), None);
        let changed = fleet(&[
            ("pod-a", "r1", true, "new"),
            ("pod-b", "r1", false, "other"),
        ]);
        assert_eq!(
            lagging(step, &baseline, &changed).as_deref(),
            Some("pod-b is not a member but its config changed")
        );
        let not_yet = fleet(&[("pod-a", "r1", true, "new"), ("pod-b", "", false, "old")]);
        assert_eq!(
            lagging(step, &baseline, &not_yet).as_deref(),
            Some("pod-b does not show the rollout")
        );
        let wrong = fleet(&[("pod-a", "r1", false, "key"), ("pod-b", "r1", true, "new")]);
        assert_eq!(
            lagging(step, &baseline, &wrong).as_deref(),
            Some("pod-a is a member but not on the candidate (and 1 more)")
        );
        let gone = fleet(&[("pod-a", "r1", true, "new")]);
        assert!(lagging(step, &baseline, &gone)
            .unwrap()
            .contains("pod-b is not scraped"));
    }

    #[test]
    fn an_end_is_observed_when_no_rollout_shows_and_every_hash_is_back() {
        let baseline = fleet(&[("pod-a", "", false, "old"), ("pod-b", "", false, "old")]);
        let hashes = hashes(&baseline);
        let ended = Expect::Ended { hashes: &hashes };
        let back = fleet(&[("pod-a", "", false, "old"), ("pod-b", "", false, "old")]);
        assert_eq!(lagging(ended, &baseline, &back), None);
        let still = fleet(&[("pod-a", "", false, "new"), ("pod-b", "", false, "old")]);
        assert_eq!(
            lagging(ended, &baseline, &still).as_deref(),
            Some("pod-a does not run the expected config")
        );
    }

    #[test]
    fn a_member_that_rejects_or_reverts_is_unhealthy_and_a_non_member_is_not_asked() {
        let baseline = fleet(&[("pod-a", "", false, "old"), ("pod-b", "", false, "old")]);
        let mut now = baseline.clone();
        now.get_mut("pod-b").unwrap().rejected = 3.0;
        assert_eq!(unhealthy("r1", 50.0, &baseline, &now), None);
        now.get_mut("pod-a").unwrap().rejected = 1.0;
        assert_eq!(
            unhealthy("r1", 50.0, &baseline, &now).as_deref(),
            Some("pod-a rejected the candidate")
        );
        let mut reverted = baseline.clone();
        let a = reverted.get_mut("pod-a").unwrap();
        (a.origin, a.version) = ("revert".into(), 3.0);
        assert!(unhealthy("r1", 50.0, &baseline, &reverted)
            .unwrap()
            .contains("reverted"));
        assert_eq!(flagged("q", &[]), None);
    }
}
