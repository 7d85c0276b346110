//! hotconf's exit codes: every code the command gives of its own, named once, with the help
//! text that lists them. Scripts and orchestrators act on these numbers, so they never change.
//! `hotconf exec` also exits with its program's status ([`child`]).

use std::process::{ExitCode, ExitStatus};

/// An exit code of hotconf's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Stopped by SIGINT or SIGTERM; `--once` done; `explain` found the key; `check`: every
    /// target accepts the change.
    Success = 0,
    /// No config could be loaded (with `--once` or `--timeout`: none in time), the reloader
    /// stopped, hotconf could not start; `render --once`: the outputs were not all written or
    /// the command failed; `check`: a target (a service or the schema) rejects the change.
    Failed = 1,
    /// Bad arguments: an unknown option, an invalid source URI, an unreadable or invalid
    /// schema, template or events file, an admin address in use.
    Usage = 2,
    /// `explain`: the key is not in the config.
    KeyNotFound = 3,
    /// `check`: no target rejects the change, but one could not be asked (unreachable, a
    /// refused token, an unknown layer, an HTTP error).
    Unanswered = 4,
    /// `exec`: the program cannot be run (hotconf's launch step was refused).
    CannotExecute = 126,
    /// `exec`: the program was not found.
    CommandNotFound = 127,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code a shell gives for a program that ended with `status`: its own code, or 128 +
/// the signal that ended it (`hotconf exec` exits with its program's status).
pub(crate) fn child(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => Exit::Failed as u8,
    }
}

/// The exit codes of `watch` and `explain`, for `--help`.
pub(crate) const EXIT_HELP: &str = "\
Exit codes:
  0  stopped by SIGINT or SIGTERM; or, with --once, the first config was printed
  1  no config could be loaded (with --once: none within --timeout)
  2  bad arguments: an unknown option, an invalid source URI, an unreadable or invalid schema
  3  (explain) the key is not in the config";

/// The exit codes of `check`, for `--help`.
pub(crate) const CHECK_EXIT_HELP: &str = "\
Exit codes:
  0  every target (each --against service, the --schema) accepts the change
  1  a target rejects the change
  2  bad arguments: an unknown option, an unreadable document, schema or token file, a bad URL
  4  no target rejects the change, but one could not be asked (unreachable, a refused token,
     an unknown layer, an HTTP error)";

/// The exit codes of `render` and `exec`, for `--help`.
/// The exit codes of `hotconf rollout`.
pub(crate) const ROLLOUT_EXIT_HELP: &str = "\
Exit codes:
  0  start: promoted (the candidate is the key's value); status, abort: done
  1  start: refused (a rollout in progress, the key changed, a --check-first refusal) or
     taken back (unhealthy, interrupted, past --timeout)
  2  bad arguments: an unknown option, a bad URI, steps or document
  4  the store or Prometheus could not be asked (nothing was written)";

pub(crate) const SIDECAR_EXIT_HELP: &str = "\
Exit codes:
  render: 0 stopped by SIGINT or SIGTERM, or --once done; 1 no valid config (with --once: none
          within --timeout), or the --once command failed; 2 bad arguments
  exec:   the program's own exit code (128+N when a signal N ended it); 1 no valid config;
          2 bad arguments; 126/127 the program cannot be run / was not found";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_keep_their_numbers() {
        let codes = [
            (Exit::Success, 0),
            (Exit::Failed, 1),
            (Exit::Usage, 2),
            (Exit::KeyNotFound, 3),
            (Exit::Unanswered, 4),
            (Exit::CannotExecute, 126),
            (Exit::CommandNotFound, 127),
        ];
        for (exit, number) in codes {
            assert_eq!(exit as u8, number, "{exit:?}");
            assert_eq!(ExitCode::from(exit), ExitCode::from(number));
        }
    }

    #[test]
    fn the_help_lists_every_code() {
        for exit in [Exit::Success, Exit::Failed, Exit::Usage, Exit::KeyNotFound] {
            assert!(
                EXIT_HELP.contains(&format!("\n  {}  ", exit as u8)),
                "{exit:?}"
            );
        }
        for exit in [Exit::Success, Exit::Failed, Exit::Usage, Exit::Unanswered] {
            assert!(
                CHECK_EXIT_HELP.contains(&format!("\n  {}  ", exit as u8)),
                "{exit:?}"
            );
        }
        let sidecar = [Exit::CannotExecute as u8, Exit::CommandNotFound as u8];
        assert!(SIDECAR_EXIT_HELP.contains(&format!("{}/{}", sidecar[0], sidecar[1])));
    }

    #[test]
    fn a_child_status_is_its_code_or_128_plus_its_signal() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(child(ExitStatus::from_raw(9)), 137);
        assert_eq!(child(ExitStatus::from_raw(15)), 143);
    }
}
