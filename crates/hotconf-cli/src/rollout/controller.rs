//! The controller of `hotconf rollout start` (docs/rollout.md, "The controller").
//!
//! It writes the record at each step, waits until Prometheus shows exactly the hashed members
//! on the candidate, bakes, and at 100 % promotes (the key written, the record deleted). An
//! unhealthy step, a deadline, Ctrl-C or SIGTERM ends the rollout instead: the record is
//! deleted and the controller waits until every instance is back on its old config.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use hotconf::rollout::{RolloutRecord, RolloutStore};

use super::fleet::{self, Expect};
use super::prometheus::{Fleet, Prometheus};
use super::{emit, Stop};

/// The settings of one rollout.
pub(crate) struct Plan {
    pub(crate) id: String,
    pub(crate) candidate: String,
    pub(crate) steps: Vec<f64>,
    pub(crate) bake: Duration,
    pub(crate) step_timeout: Duration,
    pub(crate) poll: Duration,
    pub(crate) health: Vec<String>,
    pub(crate) deadline: Instant,
}

/// A rollout in progress: the record as written and the versions its writes compare.
pub(crate) struct Controller<'a> {
    pub(crate) store: &'a dyn RolloutStore,
    pub(crate) prometheus: &'a Prometheus,
    pub(crate) plan: Plan,
    pub(crate) record: RolloutRecord,
    pub(crate) key_version: u64,
    pub(crate) record_version: u64,
    pub(crate) baseline: Fleet,
    /// The content each instance runs as a non-member: the key's value
    /// ([`fleet::note_key_hashes`]).
    pub(crate) key_hashes: BTreeMap<String, String>,
    pub(crate) started: Instant,
    /// Ctrl-C or SIGTERM; `None` once the rollout is ending anyway (taken back or promoted).
    pub(crate) interrupt: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Controller<'_> {
    /// Milliseconds since the controller started.
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs every step, then promotes. `Err`: why the rollout must end (and be taken back).
    pub(crate) async fn run(&mut self) -> Result<(), Stop> {
        let steps = self.plan.steps.clone();
        for (index, percent) in steps.into_iter().enumerate() {
            if index > 0 {
                self.write(percent).await?;
            }
            let step_started = Instant::now();
            let id = self.plan.id.clone();
            self.wait_until(Some((&id, percent)), None, step_started)
                .await?;
            let members = (self.baseline.keys())
                .filter(|i| hotconf::rollout::is_member(i, &self.plan.id, percent))
                .count();
            emit(
                "step",
                serde_json::json!({
                    "rollout": self.plan.id, "percent": percent, "members": members,
                    "instances": self.baseline.len(),
                    "observed_ms": millis(step_started.elapsed()),
                    "elapsed_ms": self.elapsed_ms(),
                }),
                &format!(
                    "{percent} %: {members} of {} instances on the candidate, observed after {:.1} s",
                    self.baseline.len(),
                    step_started.elapsed().as_secs_f64()
                ),
            );
            self.bake(percent).await?;
        }
        Ok(())
    }

    /// Writes the record at `percent`.
    async fn write(&mut self, percent: f64) -> Result<(), Stop> {
        self.record.percent = percent;
        let bytes = serde_json::to_vec(&self.record).map_err(|e| Stop::Failed(e.to_string()))?;
        match (self.store)
            .write_record(self.key_version, self.record_version, &bytes)
            .await
        {
            Ok(Some(version)) => {
                self.record_version = version;
                Ok(())
            }
            Ok(None) => Err(Stop::Lost(
                "the key or the record changed under the controller (another writer, or \
                 `hotconf rollout abort`)"
                    .into(),
            )),
            Err(error) => Err(Stop::Failed(error.to_string())),
        }
    }

    /// Polls Prometheus until the fleet shows the rollout's `step` (its id and percent: an
    /// unhealthy fleet ends the wait at once), or its end with each instance on the content of
    /// `ended`, within the step deadline.
    pub(crate) async fn wait_until(
        &mut self,
        step: Option<(&str, f64)>,
        ended: Option<&BTreeMap<String, String>>,
        since: Instant,
    ) -> Result<(), Stop> {
        let until = (since + self.plan.step_timeout).min(self.plan.deadline);
        loop {
            let last = match self.prometheus.fleet().await {
                Ok(now) => match self.lagging(step, ended, &now).await? {
                    None => return Ok(()),
                    Some(why) => why,
                },
                Err(error) => error.to_string(),
            };
            if Instant::now() >= until {
                return Err(Stop::Unhealthy(format!(
                    "not observed within {:?}: {last}",
                    until.saturating_duration_since(since)
                )));
            }
            self.pause().await?;
        }
    }

    /// Why `now` does not show `step` (checking its health first) or the end with `ended`.
    async fn lagging(
        &mut self,
        step: Option<(&str, f64)>,
        ended: Option<&BTreeMap<String, String>>,
        now: &Fleet,
    ) -> Result<Option<String>, Stop> {
        let expect = match (step, ended) {
            (Some((id, percent)), _) => {
                self.check_health(id, percent, now).await?;
                fleet::note_key_hashes(id, now, &mut self.key_hashes);
                Expect::Step {
                    id,
                    percent,
                    key_hashes: &self.key_hashes,
                }
            }
            (None, Some(hashes)) => Expect::Ended { hashes },
            (None, None) => Expect::Ended {
                hashes: &self.key_hashes,
            },
        };
        Ok(fleet::lagging(expect, &self.baseline, now))
    }

    /// Watches the fleet's health for the bake time.
    async fn bake(&mut self, percent: f64) -> Result<(), Stop> {
        let until = Instant::now() + self.plan.bake;
        let id = self.plan.id.clone();
        let mut unseen_since = None;
        loop {
            if Instant::now() >= self.plan.deadline {
                return Err(Stop::Deadline);
            }
            match self.prometheus.fleet().await {
                Ok(now) => {
                    unseen_since = None;
                    if let Some(why) = self.lagging(Some((&id, percent)), None, &now).await? {
                        return Err(Stop::Unhealthy(why));
                    }
                }
                // Prometheus restarting is no verdict on the fleet: only a fleet unseen for
                // longer than a step may take is.
                Err(error) => {
                    let since = *unseen_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.plan.step_timeout {
                        return Err(Stop::Unhealthy(format!(
                            "the fleet could not be seen for {:?}: {error}",
                            self.plan.step_timeout
                        )));
                    }
                }
            }
            if Instant::now() >= until {
                return Ok(());
            }
            self.pause().await?;
        }
    }

    /// Ends the wait with [`Stop::Unhealthy`] when a member rejected or reverted the
    /// candidate or a health query answers with any series.
    async fn check_health(&self, id: &str, percent: f64, now: &Fleet) -> Result<(), Stop> {
        if let Some(why) = fleet::unhealthy(id, percent, &self.baseline, now) {
            return Err(Stop::Unhealthy(why));
        }
        for query in &self.plan.health {
            let answer = (self.prometheus.query(query).await)
                .map_err(|e| Stop::Unhealthy(format!("the health query failed: {e}")))?;
            if let Some(why) = fleet::flagged(query, &answer) {
                return Err(Stop::Unhealthy(why));
            }
        }
        Ok(())
    }

    /// Waits one poll interval, or less when interrupted or past the deadline.
    async fn pause(&mut self) -> Result<(), Stop> {
        let left = self.plan.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Stop::Deadline);
        }
        let sleep = tokio::time::sleep(self.plan.poll.min(left));
        let Some(interrupt) = &mut self.interrupt else {
            sleep.await;
            return Ok(());
        };
        tokio::select! {
            () = sleep => Ok(()),
            _ = interrupt.changed() => Err(Stop::Interrupted),
        }
    }

    /// Writes the candidate into the key and deletes the record, then waits until no
    /// instance shows the rollout and each still runs the candidate.
    pub(crate) async fn promote(&mut self) -> Result<(), Stop> {
        let at_100 = self
            .prometheus
            .fleet()
            .await
            .map_err(|e| Stop::Failed(e.to_string()))?;
        let hashes = fleet::hashes(&at_100);
        let promoted = (self.store)
            .promote(
                self.key_version,
                self.record_version,
                self.plan.candidate.as_bytes(),
            )
            .await
            .map_err(|e| Stop::Failed(e.to_string()))?;
        if !promoted {
            return Err(Stop::Lost(
                "the key or the record changed before the promotion".into(),
            ));
        }
        let since = Instant::now();
        // The rollout is over: the wait below is for the report, and no longer interruptible
        // into an abort (there is no record left to delete).
        self.interrupt = None;
        let seen = self.wait_until(None, Some(&hashes), since).await;
        emit(
            "promoted",
            serde_json::json!({
                "rollout": self.plan.id, "observed": seen.is_ok(),
                "observed_ms": millis(since.elapsed()), "elapsed_ms": self.elapsed_ms(),
            }),
            &format!(
                "promoted: the candidate is the key's value{}",
                if seen.is_ok() {
                    ""
                } else {
                    " (Prometheus did not show every instance yet)"
                }
            ),
        );
        Ok(())
    }

    /// Takes the rollout back after `stop`: deletes the record and waits until every
    /// instance runs its old config again.
    pub(crate) async fn take_back(&mut self, stop: &Stop, detected: Instant) -> bool {
        self.interrupt = None;
        match self.store.delete_record(self.record_version).await {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "hotconf: the record changed since this controller wrote it: not deleted \
                     (see `hotconf rollout status`)"
                );
                return false;
            }
            Err(error) => {
                eprintln!("hotconf: the record could not be deleted: {error}");
                return false;
            }
        }
        // Back on the key's value: each instance seen as a non-member on the content it had
        // then, unless someone wrote the key meanwhile (whose content is not known here).
        let key_moved =
            (self.store.read().await).map_or(true, |s| s.key.version != self.key_version);
        if key_moved {
            self.key_hashes.clear();
        }
        // A fresh deadline: taking back must not be cut short by the one that ended the rollout.
        self.plan.deadline = Instant::now() + self.plan.step_timeout;
        let since = Instant::now();
        let seen = self.wait_until(None, None, since).await;
        emit(
            "aborted",
            serde_json::json!({
                "rollout": self.plan.id, "percent": self.record.percent,
                "reason": stop.to_string(), "observed": seen.is_ok(),
                "back_ms": millis(detected.elapsed()), "elapsed_ms": self.elapsed_ms(),
            }),
            &format!(
                "rolled back at {} % ({stop}); {}",
                self.record.percent,
                match &seen {
                    Ok(()) => format!(
                        "every instance back on its old config after {:.1} s",
                        detected.elapsed().as_secs_f64()
                    ),
                    Err(why) => format!("not every instance is back yet: {why}"),
                }
            ),
        );
        seen.is_ok()
    }
}

/// A new rollout id: the start time in milliseconds and 16 random bits, in hex.
pub(crate) fn new_id() -> String {
    let ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms:x}-{:04x}", fastrand::u16(..))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
