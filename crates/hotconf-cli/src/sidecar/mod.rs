//! Sidecar mode (`hotconf render`, `hotconf exec`): every version is rendered while it is
//! validated, so a template or schema error rejects it before anything is written; applied
//! versions are written atomically after the `--wait` quiescence.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotconf::{Event, Reloader, ReloaderBuilder, Startup};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub(crate) mod atomic;
pub(crate) mod child;
pub(crate) mod child_env;
pub(crate) mod command;
pub(crate) mod event;
pub(crate) mod exposure;
pub(crate) mod format;
pub(crate) mod launch;
pub(crate) mod log;
pub(crate) mod renderer;
pub(crate) mod signals;

use crate::exit::Exit;
use event::SidecarEvent;
use exposure::Exposure;
use log::EventLog;
use renderer::{Rendered, Renderer};

/// Renders not yet written are kept for at most this many versions.
const MAX_PENDING: usize = 64;

/// The options `render` and `exec` share.
#[derive(Debug, clap::Args)]
pub(crate) struct SidecarArgs {
    /// The sources, lowest layer first.
    #[arg(required = true, value_name = "SOURCE")]
    pub(crate) sources: Vec<String>,
    /// Render the Jinja template TPL into the file OUT at every change (repeatable). The
    /// template sees `config`, `version` and `revisions`; a missing key is an error.
    #[arg(long = "template", value_name = "TPL:OUT", value_parser = parse_template)]
    pub(crate) templates: Vec<(PathBuf, PathBuf)>,
    /// The outputs' permission bits, in octal. The default, 0600, lets only hotconf's user
    /// read them: they hold config values, secrets included.
    #[arg(long, value_name = "MODE", default_value = "0600", value_parser = parse_mode)]
    pub(crate) mode: u32,
    /// Reject every merged config that does not satisfy this JSON Schema.
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: Option<PathBuf>,
    /// Quiescence: act once no change came for MIN, but no later than MAX (default 4 × MIN)
    /// after the first change (e.g. 2s or 2s:10s).
    #[arg(long, value_name = "MIN[:MAX]", value_parser = parse_wait)]
    pub(crate) wait: Option<Wait>,
    /// Wait a random time up to this long before the command or signal, so a fleet does not
    /// reload at once.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration)]
    pub(crate) splay: Option<Duration>,
    /// Append the JSON-line events to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) events: Option<PathBuf>,
}

/// `--wait MIN[:MAX]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    min: Duration,
    max: Duration,
}

impl Wait {
    /// No quiescence: every applied version is written.
    const NONE: Wait = Wait {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// When a burst that began at `first` and last changed at `last` has settled: `min` after
    /// the last change, but no later than `max` after the first.
    fn deadline(&self, first: Instant, last: Instant) -> Instant {
        (last + self.min).min(first + self.max)
    }
}

fn parse_wait(text: &str) -> Result<Wait, String> {
    let (min, max) = match text.split_once(':') {
        Some((min, max)) => (
            crate::parse_duration(min)?,
            Some(crate::parse_duration(max)?),
        ),
        None => (crate::parse_duration(text)?, None),
    };
    let max = max.unwrap_or(min.saturating_mul(4));
    if max < min {
        return Err(format!(
            "MAX must not be below MIN in {}",
            crate::output::quoted(text)
        ));
    }
    Ok(Wait { min, max })
}

fn parse_template(text: &str) -> Result<(PathBuf, PathBuf), String> {
    match text.split_once(':') {
        Some((template, out)) if !template.is_empty() && !out.is_empty() => {
            Ok((template.into(), out.into()))
        }
        _ => Err(format!(
            "expected TEMPLATE:OUTPUT, got {}",
            crate::output::quoted(text)
        )),
    }
}

fn parse_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(format!(
            "expected octal permission bits like 0644, got {}",
            crate::output::quoted(text)
        )),
    }
}

/// One applied version, written.
#[derive(Debug)]
pub(crate) struct Change {
    /// The version written.
    pub(crate) version: u64,
    /// The outputs whose bytes changed (paths as given).
    pub(crate) changed: Vec<String>,
    /// Whether every output was written (a failed write keeps that file's last content).
    pub(crate) complete: bool,
    /// What was rendered.
    pub(crate) rendered: Arc<Rendered>,
}

type Pending = Arc<Mutex<BTreeMap<u64, Arc<Rendered>>>>;

/// Follows a reloader's events and writes each applied version's outputs.
#[derive(Debug)]
pub(crate) struct Sidecar {
    log: EventLog,
    renderer: Arc<Renderer>,
    pending: Pending,
    mode: u32,
    exposure: Exposure,
    wait: Wait,
    splay: Option<Duration>,
    events: broadcast::Receiver<Event>,
    reloader: Option<Reloader<Value>>,
    starting: Option<JoinHandle<hotconf::Result<Reloader<Value>>>>,
}

impl Sidecar {
    /// The sidecar and the reloader to start: sources, `--schema`, then rendering as the last
    /// validation. Bad arguments are [`Exit::Usage`].
    pub(crate) fn new(
        args: &SidecarArgs,
        config_out: Option<(PathBuf, format::Format)>,
        env_prefix: Option<String>,
    ) -> Result<(Sidecar, ReloaderBuilder<Value>), ExitCode> {
        // No rollback here: keeping 256 versions (as `watch` does for its lookups) would hold
        // 256 copies of a large config for nothing.
        let mut builder = crate::builder(&args.sources, &[])?.history(1);
        if let Some(path) = &args.schema {
            let validate = crate::schema::validator(path).map_err(|e| crate::usage_error(&e))?;
            builder = builder.validate(validate);
        }
        let renderer = Renderer::new(&args.templates, config_out, env_prefix)
            .map_err(|e| crate::usage_error(&e))?;
        let renderer = Arc::new(renderer);
        let pending = Pending::default();
        let (render, keep) = (renderer.clone(), pending.clone());
        builder = builder.validate_async(move |snapshot| {
            let rendered = render.render(&snapshot).map(Arc::new);
            let keep = keep.clone();
            async move {
                let rendered = rendered?;
                let mut keep = keep.lock().unwrap_or_else(|p| p.into_inner());
                keep.insert(rendered.version, rendered);
                while keep.len() > MAX_PENDING {
                    keep.pop_first();
                }
                Ok(())
            }
        });
        let log = EventLog::open(args.events.as_deref()).map_err(|e| {
            eprintln!("hotconf: cannot open the events file: {e}");
            ExitCode::from(Exit::Usage)
        })?;
        let exposure = Exposure::new(renderer.outputs().len());
        let sidecar = Sidecar {
            log,
            renderer,
            pending,
            mode: args.mode,
            exposure,
            wait: args.wait.unwrap_or(Wait::NONE),
            splay: args.splay,
            events: builder.events(),
            reloader: None,
            starting: None,
        };
        Ok((sidecar, builder))
    }

    /// The event log, for the caller's own events.
    pub(crate) fn log(&mut self) -> &mut EventLog {
        &mut self.log
    }

    /// Starts following in the background, waiting up to `timeout` (`None`: for ever) for a
    /// first valid config; past it, [`next_change`](Self::next_change) fails naming every
    /// source that kept the start from a config.
    pub(crate) fn follow(&mut self, builder: ReloaderBuilder<Value>, timeout: Option<Duration>) {
        let timeout = timeout.unwrap_or(Duration::MAX);
        let start = builder.startup(Startup::Wait(timeout)).start();
        self.starting = Some(tokio::spawn(start));
    }

    /// Waits up to `timeout` for a first valid config and writes it (`--once`).
    pub(crate) async fn first(
        &mut self,
        builder: ReloaderBuilder<Value>,
        timeout: Duration,
    ) -> Result<Change, String> {
        let start = builder.startup(Startup::Wait(timeout)).start();
        tokio::pin!(start);
        // Events are logged as they come: a start never waits in silence.
        let started = loop {
            tokio::select! {
                started = &mut start => break started,
                event = self.events.recv() => match event {
                    Ok(event) => self.log.event(&event),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        self.log.emit(SidecarEvent::Lagged { missed });
                    }
                    Err(broadcast::error::RecvError::Closed) => break (&mut start).await,
                },
            }
        };
        while let Ok(event) = self.events.try_recv() {
            self.log.event(&event);
        }
        let reloader = started.map_err(|e| format!("no config could be loaded: {e}"))?;
        let version = reloader.store().version();
        self.reloader = Some(reloader);
        self.write(version)
            .ok_or_else(|| "the first config could not be rendered".into())
    }

    /// Logs events until an applied version has settled (`--wait`), then writes it.
    pub(crate) async fn next_change(&mut self) -> Result<Change, String> {
        // The latest applied version, when the first change of the burst came, the last one.
        let mut settling: Option<(u64, Instant, Instant)> = None;
        loop {
            let deadline = settling.map(|(_, first, last)| self.wait.deadline(first, last));
            // A deadline already passed (always, without `--wait`) is not left to the timer,
            // which would round it up to its next millisecond.
            if let (Some(deadline), Some((version, _, _))) = (deadline, settling) {
                if deadline <= Instant::now() {
                    settling = None;
                    if let Some(change) = self.write(version) {
                        return Ok(change);
                    }
                    continue;
                }
            }
            tokio::select! {
                // A settled version is written before the next event is read: without `--wait`
                // (a zero wait), each applied version is written on its own.
                biased;
                () = sleep_until(deadline), if deadline.is_some() => {
                    if let Some((version, _, _)) = settling.take() {
                        if let Some(change) = self.write(version) {
                            return Ok(change);
                        }
                    }
                }
                event = self.events.recv() => {
                    let version = match event {
                        Ok(event) => {
                            self.log.event(&event);
                            match event {
                                Event::Applied { version, .. } => version,
                                _ => continue,
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            self.log.emit(SidecarEvent::Lagged { missed });
                            match &self.reloader {
                                Some(reloader) => reloader.store().version(),
                                None => continue,
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => {
                            // A start that failed drops its events first: say why it failed.
                            let why = match self.starting.take() {
                                Some(starting) => match starting.await {
                                    Ok(Err(error)) => format!("no config could be loaded: {error}"),
                                    Err(error) => error.to_string(),
                                    Ok(Ok(_)) => "the reloader stopped".to_owned(),
                                },
                                None => "the reloader stopped".to_owned(),
                            };
                            return Err(why);
                        }
                    };
                    let now = Instant::now();
                    let first = settling.map_or(now, |(_, first, _)| first);
                    settling = Some((version, first, now));
                }
                started = wait_started(&mut self.starting), if self.starting.is_some() => {
                    self.starting = None;
                    match started {
                        Ok(Ok(reloader)) => self.reloader = Some(reloader),
                        Ok(Err(error)) => return Err(format!("no config could be loaded: {error}")),
                        Err(error) => return Err(error.to_string()),
                    }
                }
            }
        }
    }

    /// Sleeps a random time up to `--splay`.
    pub(crate) async fn splay(&self) {
        if let Some(splay) = self.splay {
            tokio::time::sleep(splay_delay(splay)).await;
        }
    }

    /// Writes `version`'s outputs and logs `rendered` (and `output_error` per failed write).
    fn write(&mut self, version: u64) -> Option<Change> {
        let started = Instant::now();
        let rendered = self.rendered(version)?;
        let (mut changed, mut unchanged, mut complete) = (Vec::new(), Vec::new(), true);
        for (output, bytes) in self.renderer.outputs().iter().zip(&rendered.files) {
            let name = output.path.display().to_string();
            match atomic::write_if_changed(&output.path, bytes, self.mode) {
                Ok(true) => changed.push(name),
                Ok(false) => unchanged.push(name),
                Err(error) => {
                    complete = false;
                    self.log.emit(SidecarEvent::OutputError {
                        error: error.to_string(),
                        output: Some(name),
                        version: rendered.version,
                    });
                }
            }
        }
        self.log.emit(SidecarEvent::Rendered {
            changed: changed.clone(),
            duration_us: started.elapsed().as_micros() as u64,
            unchanged,
            version: rendered.version,
        });
        self.exposure
            .check(&self.renderer, &rendered, self.mode, &mut self.log);
        Some(Change {
            version: rendered.version,
            changed,
            complete,
            rendered,
        })
    }

    /// What was rendered for `version` while it was validated; if that is gone (events were
    /// missed), the current version rendered again.
    fn rendered(&mut self, version: u64) -> Option<Arc<Rendered>> {
        let kept = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let kept = pending.remove(&version);
            pending.retain(|v, _| *v > version);
            kept
        };
        if kept.is_some() {
            return kept;
        }
        let snapshot = self.reloader.as_ref()?.store().get();
        match self.renderer.render(&snapshot) {
            Ok(rendered) => Some(Arc::new(rendered)),
            Err(error) => {
                self.log.emit(SidecarEvent::OutputError {
                    error: error.to_string(),
                    output: None,
                    version: snapshot.version(),
                });
                None
            }
        }
    }
}

/// A random delay in `[0, splay)`.
fn splay_delay(splay: Duration) -> Duration {
    match u64::try_from(splay.as_nanos()).unwrap_or(u64::MAX) {
        0 => Duration::ZERO,
        nanos => Duration::from_nanos(fastrand::u64(..nanos)),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

async fn wait_started(
    starting: &mut Option<JoinHandle<hotconf::Result<Reloader<Value>>>>,
) -> Result<hotconf::Result<Reloader<Value>>, tokio::task::JoinError> {
    match starting {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_settles_after_min_quiet_but_never_past_max() {
        let wait = parse_wait("2s").unwrap();
        assert_eq!(
            (wait.min, wait.max),
            (Duration::from_secs(2), Duration::from_secs(8))
        );
        let wait = parse_wait("1s:3s").unwrap();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(wait.deadline(t0, t0), t0 + s(1), "one change: min after it");
        assert_eq!(
            wait.deadline(t0, t0 + s(1)),
            t0 + s(2),
            "quiet is counted from the last"
        );
        assert_eq!(
            wait.deadline(t0, t0 + s(5)),
            t0 + s(3),
            "a burst ends at max"
        );
        assert!(parse_wait("3s:1s").is_err());
        assert!(parse_wait("soon").is_err());
    }

    #[test]
    fn splay_is_random_below_its_bound() {
        let bound = Duration::from_millis(100);
        let delays: Vec<Duration> = (0..200).map(|_| splay_delay(bound)).collect();
        assert!(delays.iter().all(|d| *d < bound));
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "not one fixed delay"
        );
        assert_eq!(splay_delay(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn templates_and_modes_parse() {
        assert_eq!(
            parse_template("a.tpl:/run/a.conf"),
            Ok(("a.tpl".into(), "/run/a.conf".into()))
        );
        assert!(parse_template("a.tpl").is_err() && parse_template(":x").is_err());
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert!(parse_mode("999").is_err() && parse_mode("17777").is_err());
    }
}
