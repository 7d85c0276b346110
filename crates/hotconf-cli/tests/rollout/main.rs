//! `hotconf rollout` end to end (docs/rollout.md): 20 `hotconf watch --admin` processes on a
//! real etcd and on the Consul emulator, a real Prometheus scraping them, and the controller
//! run as a user runs it. On each store, in turn:
//! - a good change goes 10 → 50 → 100 %, exactly the hashed members move at each step, and
//!   after the promotion every process serves it, the record is gone, none ever went back;
//! - a change the members reject (their schema) stops at the first step, exit 1, none serves it;
//! - a change the members accept but a `--health` query flags is taken back: every member
//!   returns to the old value, no non-member ever saw it (and how long that took is printed);
//! - a controller killed mid-rollout: `rollout status` shows it, `rollout abort` from another
//!   process returns the fleet;
//! - a second controller on the same key is refused; SIGTERM takes the first one's rollout back.

mod fleet;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use fleet::{Fleet, TIMEOUT};
use serde_json::{json, Value};

const KEY: &str = "app/config.json";

/// The store under test, as the test reaches it (not through hotconf).
trait Kv {
    /// The key's source URI, as followers and the controller name it.
    fn source(&self) -> String;
    fn put(&self, key: &str, value: &str);
    fn get(&self, key: &str) -> Option<String>;
}

struct Etcd(hotconf_testkit::etcd::EtcdCluster);

impl Kv for Etcd {
    fn source(&self) -> String {
        format!("etcd://{}/{KEY}", self.0.endpoint(0))
    }
    fn put(&self, key: &str, value: &str) {
        self.0.ctl(&["put", key, value]);
    }
    fn get(&self, key: &str) -> Option<String> {
        let value = self.0.ctl(&["get", key, "--print-value-only"]);
        let value = value.trim_end_matches('\n');
        (!value.is_empty()).then(|| value.to_owned())
    }
}

struct Consul(hotconf_testkit::consul::ConsulEmulator);

impl Kv for Consul {
    fn source(&self) -> String {
        format!("consul://{}/{KEY}", self.0.address())
    }
    fn put(&self, key: &str, value: &str) {
        self.0.put(key, value);
    }
    fn get(&self, key: &str) -> Option<String> {
        let entry = self.0.entry(key)?;
        Some(String::from_utf8(entry.value.unwrap_or_default()).unwrap())
    }
}

fn doc(v: &str, pool: u32) -> String {
    json!({"v": v, "pool": pool}).to_string()
}

/// A `hotconf rollout …` process: its JSON events as they come, its stderr.
struct Rollout {
    child: Child,
    events: mpsc::Receiver<Value>,
    stderr: mpsc::Receiver<String>,
}

impl Rollout {
    fn run(fleet: &Fleet, args: &[&str]) -> Rollout {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .arg("rollout")
            .args(args)
            .current_dir(fleet.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, events) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let event = serde_json::from_str(&line).unwrap_or_else(|_| json!({"line": line}));
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        let (tx, stderr) = mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Rollout {
            child,
            events,
            stderr,
        }
    }

    /// Starts a rollout of `file` with the fleet's Prometheus and quick polls.
    fn start(fleet: &Fleet, kv: &dyn Kv, id: &str, file: &str, extra: &[&str]) -> Rollout {
        let source = kv.source();
        let url = fleet.prometheus.url();
        let mut args = vec![
            "start",
            &source,
            "--file",
            file,
            "--id",
            id,
            "--prometheus",
            &url,
            "--poll",
            "200ms",
            "--step-timeout",
            "60s",
        ];
        if !extra.contains(&"--bake") {
            args.extend(["--bake", "2s"]);
        }
        args.extend_from_slice(extra);
        Rollout::run(fleet, &args)
    }

    /// The next event; panics with the stderr so far when none comes.
    fn next(&self) -> Value {
        match self.events.recv_timeout(TIMEOUT) {
            Ok(event) => event,
            Err(_) => panic!("no event in time; stderr:\n{}", self.stderr_now()),
        }
    }

    fn stderr_now(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Waits for the exit: its code and every event not read yet.
    fn finish(mut self) -> (i32, Vec<Value>, String) {
        let status = self.child.wait().unwrap();
        let events = self.events.iter().collect();
        let stderr = self.stderr.iter().collect::<Vec<_>>().join("\n");
        (status.code().unwrap_or(-1), events, stderr)
    }
}

impl Drop for Rollout {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(fleet: &Fleet, name: &str, text: &str) {
    std::fs::write(fleet.dir.path().join(name), text).unwrap();
}

/// A good change: 10 → 50 → 100 %, exactly the members at each step, then promoted.
async fn a_good_change_is_promoted(fleet: &Fleet, kv: &dyn Kv) {
    let id = fleet.rollout_id("good", 10.0);
    write(fleet, "two.json", &doc("two", 20));
    // The key changes just before the start: Prometheus has not scraped the new content yet
    // when the controller reads the fleet (what the controller compares must not be that).
    kv.put(KEY, &doc("one-b", 10));
    fleet.all_serve("one-b").await;
    let started = Instant::now();
    let (check_a, check_b) = (fleet.admin_url(0), fleet.admin_url(1));
    let layer = format!("{}-0", kv.source().split(':').next().unwrap());
    let rollout = Rollout::start(
        fleet,
        kv,
        &id,
        "two.json",
        &[
            "--steps",
            "10,50,100",
            "--check-first",
            &check_a,
            &check_b,
            "--layer",
            &layer,
            "--token-file",
            "admin-token",
        ],
    );
    for _ in 0..2 {
        let checked = rollout.next();
        assert_eq!(checked["accepted"], true, "{checked}");
    }
    assert_eq!(rollout.next()["event"], "started");
    for percent in [10.0, 50.0, 100.0] {
        let event = rollout.next();
        assert_eq!(event["event"], "step", "{event}");
        assert_eq!(event["percent"], percent, "{event}");
        // Non-members have not moved (the next step is written after the bake); members have
        // (Prometheus showed it, so their stdout says so at once or very soon).
        let members = fleet.members(&id, percent);
        assert_eq!(event["members"], members.len(), "{event}");
        let moved = fleet.ever("two");
        assert!(
            moved.is_subset(&members),
            "at {percent} %: {moved:?} moved, members {members:?}"
        );
        hotconf_testkit::eventually("the members' stdout shows the candidate", TIMEOUT, || {
            let ok = fleet.ever("two") == members;
            async move { ok }
        })
        .await;
        eprintln!(
            "rollout {id}: {percent} % observed at {:?}",
            started.elapsed()
        );
    }
    let (code, events, stderr) = rollout.finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(events.last().unwrap()["event"], "promoted", "{events:?}");
    eprintln!(
        "rollout {id}: promoted at {:?}; {stderr}",
        started.elapsed()
    );
    fleet.all_serve("two").await;
    assert_eq!(kv.get(KEY).as_deref(), Some(doc("two", 20).as_str()));
    assert_eq!(
        kv.get(&format!("{KEY}.rollout")),
        None,
        "the record is gone"
    );
    // No flip-back: once a process served the candidate, it never served the old value again.
    for p in &fleet.processes {
        let values = p.values();
        let first = values.iter().position(|v| v == "two").unwrap();
        assert!(
            values[first..].iter().all(|v| v == "two"),
            "{}: {values:?}",
            p.id
        );
    }
}

/// A change every member rejects (their schema): stopped at the first step, nobody serves it.
fn a_rejected_change_stops_at_the_first_step(fleet: &Fleet, kv: &dyn Kv) {
    let id = fleet.rollout_id("rejected", 10.0);
    write(fleet, "three.json", &doc("three", 500));
    // Asked first, a service refuses it: nothing is written.
    let (check, layer) = (
        fleet.admin_url(0),
        format!("{}-0", kv.source().split(':').next().unwrap()),
    );
    let checked = Rollout::start(
        fleet,
        kv,
        &id,
        "three.json",
        &[
            "--check-first",
            &check,
            "--layer",
            &layer,
            "--token-file",
            "admin-token",
        ],
    );
    let (code, events, stderr) = checked.finish();
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(events.len(), 1, "only the check's line: {events:?}");
    assert_eq!(events[0]["accepted"], false, "{events:?}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(kv.get(&format!("{KEY}.rollout")), None);
    // Not asked first, the members refuse it in the first step.
    let rollout = Rollout::start(fleet, kv, &id, "three.json", &["--steps", "10,50,100"]);
    let (code, events, stderr) = rollout.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(events.iter().all(|e| e["event"] != "step"), "{events:?}");
    let aborted = events.last().unwrap();
    assert_eq!(aborted["event"], "aborted", "{events:?}");
    assert_eq!(aborted["percent"], 10.0);
    assert!(
        aborted["reason"]
            .as_str()
            .unwrap()
            .contains("rejected the candidate"),
        "{aborted}"
    );
    assert_eq!(aborted["observed"], true, "{aborted}");
    assert!(fleet.ever("three").is_empty());
    assert_eq!(kv.get(KEY).as_deref(), Some(doc("two", 20).as_str()));
    assert_eq!(kv.get(&format!("{KEY}.rollout")), None);
}

/// A change the members accept but the health query flags: taken back.
async fn a_change_the_health_query_flags_is_taken_back(fleet: &Fleet, kv: &dyn Kv) {
    let id = fleet.rollout_id("flagged", 10.0);
    write(fleet, "bad.json", &doc("bad", 30));
    let members = fleet.members(&id, 10.0);
    let rollout = Rollout::start(
        fleet,
        kv,
        &id,
        "bad.json",
        &["--steps", "10,100", "--health", "bad_candidate > 0"],
    );
    let (code, events, stderr) = rollout.finish();
    assert_eq!(code, 1, "{stderr}");
    let aborted = events.last().unwrap();
    assert_eq!(aborted["event"], "aborted", "{events:?}");
    assert!(
        aborted["reason"]
            .as_str()
            .unwrap()
            .contains("bad_candidate"),
        "{aborted}"
    );
    fleet.all_serve("two").await;
    assert_eq!(fleet.ever("bad"), members, "exactly the members saw it");
    // From the first member on the bad config (the gauge's source) to the last one back.
    let flagged = (fleet.processes.iter())
        .filter_map(|p| p.first("bad"))
        .min()
        .unwrap();
    let back = (fleet.processes.iter())
        .filter(|p| members.contains(&p.id))
        .filter_map(|p| p.last("two"))
        .max()
        .unwrap();
    eprintln!(
        "rollout {id}: {} members back on the old value {:?} after the first applied the bad one \
         (controller: back_ms {}, scrape interval 1 s, poll 200 ms)",
        members.len(),
        back.duration_since(flagged),
        aborted["back_ms"]
    );
}

/// A controller killed mid-rollout; `status` shows the rollout, `abort` ends it.
async fn a_killed_controllers_rollout_is_aborted_from_elsewhere(fleet: &Fleet, kv: &dyn Kv) {
    let id = fleet.rollout_id("killed", 50.0);
    write(fleet, "four.json", &doc("four", 40));
    let mut rollout = Rollout::start(
        fleet,
        kv,
        &id,
        "four.json",
        &["--steps", "50,100", "--bake", "10m"],
    );
    assert_eq!(rollout.next()["event"], "started");
    assert_eq!(rollout.next()["event"], "step");
    rollout.child.kill().unwrap();
    let _ = rollout.child.wait();
    let members = fleet.members(&id, 50.0);
    assert_eq!(fleet.ever("four"), members);

    let source = kv.source();
    let url = fleet.prometheus.url();
    let (code, events, stderr) =
        Rollout::run(fleet, &["status", &source, "--prometheus", &url]).finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(events[0]["rollout"]["id"], id.as_str(), "{events:?}");
    assert_eq!(events[0]["rollout"]["percent"], 50.0);
    let instances: Vec<&Value> = events.iter().filter(|e| e["event"] == "instance").collect();
    assert_eq!(instances.len(), fleet.processes.len(), "{events:?}");
    for instance in instances {
        let member = members.contains(instance["instance_id"].as_str().unwrap());
        assert_eq!(instance["member"], member, "{instance}");
        assert_eq!(instance["should_be_member"], member, "{instance}");
    }

    let (code, events, stderr) =
        Rollout::run(fleet, &["abort", &source, "--prometheus", &url]).finish();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(events[0]["rollout"], id.as_str(), "{events:?}");
    assert_eq!(events[0]["observed"], true, "{events:?}");
    fleet.all_serve("two").await;
    assert_eq!(kv.get(&format!("{KEY}.rollout")), None);
    let (code, events, _) = Rollout::run(fleet, &["abort", &source]).finish();
    assert_eq!(
        (code, &events[0]["rollout"]),
        (0, &Value::Null),
        "nothing left to abort"
    );
}

/// A second controller on the same key is refused; SIGTERM takes the first one's rollout back.
async fn a_second_controller_is_refused(fleet: &Fleet, kv: &dyn Kv) {
    let id = fleet.rollout_id("first", 50.0);
    write(fleet, "five.json", &doc("five", 50));
    let first = Rollout::start(
        fleet,
        kv,
        &id,
        "five.json",
        &["--steps", "50,100", "--bake", "10m"],
    );
    assert_eq!(first.next()["event"], "started");
    assert_eq!(first.next()["event"], "step");
    let second = Rollout::start(fleet, kv, "second", "five.json", &[]);
    let (code, events, stderr) = second.finish();
    assert_eq!(code, 1, "{stderr}");
    assert!(events.is_empty(), "{events:?}");
    assert!(
        stderr.contains("refused") && stderr.contains(&id),
        "{stderr}"
    );

    let pid = first.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let (code, events, stderr) = first.finish();
    assert_eq!(code, 1, "{stderr}");
    let aborted = events.last().unwrap();
    assert_eq!(
        (&aborted["event"], &aborted["reason"]),
        (&json!("aborted"), &json!("interrupted"))
    );
    assert_eq!(aborted["observed"], true, "{aborted}");
    fleet.all_serve("two").await;
    assert_eq!(kv.get(&format!("{KEY}.rollout")), None);
}

/// The key written while a rollout runs: the promotion is refused (the key keeps the new
/// write, never overwritten by the candidate) and the rollout taken back.
async fn a_key_changed_during_the_rollout_is_not_overwritten(fleet: &Fleet, kv: &dyn Kv) {
    write(fleet, "six.json", &doc("six", 60));
    let rollout = Rollout::start(
        fleet,
        kv,
        "changed-0",
        "six.json",
        &["--steps", "100", "--bake", "3s"],
    );
    assert_eq!(rollout.next()["event"], "started");
    assert_eq!(rollout.next()["event"], "step");
    kv.put(KEY, &doc("manual", 70));
    let (code, events, stderr) = rollout.finish();
    assert_eq!(code, 1, "{stderr}");
    let aborted = events.last().unwrap();
    assert_eq!(aborted["event"], "aborted", "{events:?}");
    assert!(
        aborted["reason"].as_str().unwrap().contains("changed"),
        "{aborted}"
    );
    assert_eq!(kv.get(KEY).as_deref(), Some(doc("manual", 70).as_str()));
    fleet.all_serve("manual").await;
    assert_eq!(kv.get(&format!("{KEY}.rollout")), None);
}

async fn every_scenario(kv: &dyn Kv) {
    kv.put(KEY, &doc("one", 10));
    let fleet = Fleet::start(&format!("{}?rollout=true", kv.source())).await;
    fleet.all_serve("one").await;
    a_good_change_is_promoted(&fleet, kv).await;
    a_rejected_change_stops_at_the_first_step(&fleet, kv);
    a_change_the_health_query_flags_is_taken_back(&fleet, kv).await;
    a_killed_controllers_rollout_is_aborted_from_elsewhere(&fleet, kv).await;
    a_second_controller_is_refused(&fleet, kv).await;
    a_key_changed_during_the_rollout_is_not_overwritten(&fleet, kv).await;
}

/// Every conditional write of a store refuses versions that moved.
async fn conditional_writes(kv: &dyn Kv) {
    let store = hotconf::rollout_store_from_uri(&kv.source()).unwrap();
    assert_eq!(store.key(), KEY);
    let record = format!("{KEY}.rollout");
    kv.put(KEY, "1");
    let read = store.read().await.unwrap();
    assert_eq!(read.key.value.as_deref(), Some(&b"1"[..]));
    assert_eq!(
        (read.record.value.as_deref(), read.record.version),
        (None, 0)
    );
    kv.put(KEY, "2");
    let stale = store
        .write_record(read.key.version, 0, b"{}")
        .await
        .unwrap();
    assert_eq!(stale, None, "the key moved since it was read");
    assert_eq!(kv.get(&record), None, "and no record stays behind");
    let key = store.read().await.unwrap().key.version;
    let version = store.write_record(key, 0, b"{}").await.unwrap().unwrap();
    assert_eq!(
        store.write_record(key, 0, b"{}").await.unwrap(),
        None,
        "a second create"
    );
    let moved = store
        .write_record(key, version, b"{\"a\":1}")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(moved, version);
    assert!(
        !store.promote(key, version, b"x").await.unwrap(),
        "the record moved"
    );
    kv.put(KEY, "3");
    assert!(
        !store.promote(key, moved, b"x").await.unwrap(),
        "the key moved"
    );
    assert_eq!(kv.get(KEY).as_deref(), Some("3"));
    let key = store.read().await.unwrap().key.version;
    assert!(
        !store.delete_record(version).await.unwrap(),
        "an old record version"
    );
    assert!(store.promote(key, moved, b"x").await.unwrap());
    assert_eq!((kv.get(KEY).as_deref(), kv.get(&record)), (Some("x"), None));
    assert!(store.delete_record(moved).await.unwrap(), "already gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_refuse_writes_on_versions_that_moved() {
    let etcd = Etcd(hotconf_testkit::etcd::EtcdCluster::single());
    conditional_writes(&etcd).await;
    let consul = Consul(hotconf_testkit::consul::ConsulEmulator::start().await);
    conditional_writes(&consul).await;
    let refused = hotconf::rollout_store_from_uri("consul://127.0.0.1:1/app/")
        .err()
        .unwrap();
    assert!(refused.to_string().contains("single key"), "{refused}");
    let refused = hotconf::rollout_store_from_uri("nacos://127.0.0.1:1/app.yaml")
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("etcd:// and consul://"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollouts_on_etcd() {
    let etcd = Etcd(hotconf_testkit::etcd::EtcdCluster::single());
    every_scenario(&etcd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollouts_on_consul() {
    let consul = Consul(hotconf_testkit::consul::ConsulEmulator::start().await);
    every_scenario(&consul).await;
}

/// A follower with `?rollout=true` as `token_or_user`, and the stores of the instance's and the
/// controller's credentials: the instance's can read but not write, the controller's can run a
/// rollout to its promotion.
async fn permissions_as_documented(follower: &str, instance: &str, controller: &str, kv: &dyn Kv) {
    let reloader = hotconf::Reloader::<Value>::builder()
        .layer(hotconf::provider_from_uri(follower).unwrap())
        .start()
        .await
        .unwrap();
    let as_instance = hotconf::rollout_store_from_uri(instance).unwrap();
    let state = as_instance.read().await.unwrap();
    let refused = as_instance.write_record(state.key.version, 0, b"{}").await;
    assert!(refused.is_err(), "{refused:?}");
    let as_controller = hotconf::rollout_store_from_uri(controller).unwrap();
    let record = hotconf::rollout::RolloutRecord::new("r1", doc("two", 20), 100.0);
    let record = serde_json::to_vec(&record).unwrap();
    let version = as_controller
        .write_record(state.key.version, 0, &record)
        .await
        .unwrap()
        .unwrap();
    hotconf_testkit::wait_until(&reloader.store(), |c| c["v"] == "two").await;
    assert!(as_controller
        .promote(state.key.version, version, doc("two", 20).as_bytes())
        .await
        .unwrap());
    assert_eq!(kv.get(KEY).as_deref(), Some(doc("two", 20).as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_etcd_roles_and_consul_policies_are_enough() {
    // etcd: the roles of docs/rollout.md, "Permissions".
    let mut etcd = hotconf_testkit::etcd::EtcdCluster::single();
    let range_end = format!("{KEY}.rollout!");
    for (role, permission, user) in [
        ("app-reader", "read", "reader:reader-pw"),
        ("app-rollout", "readwrite", "controller:controller-pw"),
    ] {
        etcd.ctl(&["role", "add", role]);
        etcd.ctl(&[
            "role",
            "grant-permission",
            role,
            permission,
            KEY,
            &range_end,
        ]);
        etcd.ctl(&["user", "add", user]);
        etcd.ctl(&["user", "grant-role", user.split(':').next().unwrap(), role]);
    }
    etcd.ctl(&["put", KEY, &doc("one", 10)]);
    etcd.enable_auth("root-pw");
    let endpoint = etcd.endpoint(0);
    let at = |user: &str| format!("etcd://{user}@{endpoint}/{KEY}");
    let instance = at("reader:reader-pw");
    let follower = format!("{instance}?rollout=true");
    let kv = Etcd(etcd);
    permissions_as_documented(&follower, &instance, &at("controller:controller-pw"), &kv).await;

    // Consul: the key_prefix policies of docs/rollout.md.
    let consul = Consul(hotconf_testkit::consul::ConsulEmulator::start().await);
    consul.put(KEY, &doc("one", 10));
    let rule = |write| hotconf_testkit::consul::AclRule {
        prefix: KEY.into(),
        write,
    };
    let acl = hotconf_testkit::consul::Acl {
        tokens: [
            ("instance-token".to_owned(), vec![rule(false)]),
            ("controller-token".to_owned(), vec![rule(true)]),
        ]
        .into(),
        anonymous: vec![],
    };
    consul.0.set_acl(Some(acl));
    let at = |token: &str| format!("consul://{}/{KEY}?token={token}", consul.0.address());
    let instance = at("instance-token");
    let follower = format!("{instance}&rollout=true");
    permissions_as_documented(&follower, &instance, &at("controller-token"), &consul).await;
}
