//! A warning, once per output, when an output that shows a secret is readable beyond its owner.

use super::event::SidecarEvent;
use super::log::EventLog;
use super::renderer::{Rendered, Renderer};

/// Permission bits that let a group or other users at a file.
const BEYOND_OWNER: u32 = 0o077;

/// Which outputs were already warned about.
#[derive(Debug)]
pub(crate) struct Exposure {
    warned: Vec<bool>,
}

impl Exposure {
    /// Nothing warned about yet, for `outputs` outputs.
    pub(crate) fn new(outputs: usize) -> Exposure {
        Exposure {
            warned: vec![false; outputs],
        }
    }

    /// With `mode` wider than 0600 (any group or other bit), logs one `output_mode_warning`
    /// event for each output of `rendered` that shows a value the redaction policy covers, the
    /// first time it does: the output's path and mode, never a value. Secret layers (G13) do
    /// not exist yet; once they do, a value that one supplies must count here too.
    pub(crate) fn check(
        &mut self,
        renderer: &Renderer,
        rendered: &Rendered,
        mode: u32,
        log: &mut EventLog,
    ) {
        if mode & BEYOND_OWNER == 0 || self.warned.iter().all(|warned| *warned) {
            return;
        }
        // Redacted once for every output, and only while one may still be warned about.
        let Some(redacted) = Renderer::redacted(rendered) else {
            return;
        };
        for (index, output) in renderer.outputs().iter().enumerate() {
            if self.warned.get(index) != Some(&false)
                || !renderer.shows_covered_value(index, rendered, &redacted)
            {
                continue;
            }
            self.warned[index] = true;
            log.emit(SidecarEvent::OutputModeWarning {
                mode: format!("{mode:04o}"),
                output: output.path.display().to_string(),
                version: rendered.version,
                warning: "shows values the redaction policy covers to other users: use --mode 0600",
            });
        }
    }
}
