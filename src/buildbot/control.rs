//! `/shutdown`: reaching the master process, which Buildbot's API cannot do.
//!
//! `buildbot stop --clean` sends SIGUSR1 (shut down once running builds finish) and
//! `buildbot stop` SIGTERM (now) to the pid in `twistd.pid`; a master on this host can be
//! signalled the same way. A master elsewhere is reached by the admin's own commands (e.g.
//! over ssh). Whatever the chosen mode cannot do is not offered, and the bot says why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::pidfile::{self, Distrust, Liveness};
use crate::command::ShutdownAction;
use crate::settings::MasterControlSettings;

pub struct MasterControl {
    settings: MasterControlSettings,
}

impl MasterControl {
    pub fn new(settings: MasterControlSettings) -> MasterControl {
        MasterControl { settings }
    }

    /// The command configured for `action` in command mode.
    fn command(&self, action: ShutdownAction) -> Option<&[String]> {
        let MasterControlSettings::Commands {
            check,
            start,
            stop,
            now,
        } = &self.settings
        else {
            return None;
        };
        let argv = match action {
            ShutdownAction::Check => check,
            ShutdownAction::Start => start,
            ShutdownAction::Stop => stop,
            ShutdownAction::Now => now,
        };
        argv.as_deref()
    }

    /// Why `action` cannot be done in this mode, or `None` when it can.
    pub fn why_not(&self, action: ShutdownAction) -> Option<Unavailable> {
        match (&self.settings, action) {
            (MasterControlSettings::None, _) => Some(Unavailable::NoWay),
            (MasterControlSettings::Pidfile(_), ShutdownAction::Stop) => {
                Some(Unavailable::CannotCancel)
            }
            (MasterControlSettings::Pidfile(_), _) => None,
            (MasterControlSettings::Commands { .. }, action) => self
                .command(action)
                .is_none()
                .then_some(Unavailable::NoCommand),
        }
    }

    /// Carries out `action`.
    pub async fn run(&self, action: ShutdownAction) -> Result<Done, ControlError> {
        if let Some(why) = self.why_not(action) {
            return Err(ControlError::Unavailable(why));
        }
        match &self.settings {
            MasterControlSettings::Pidfile(path) => signal(path, action),
            _ => run_command(self.command(action).unwrap_or_default()).await,
        }
    }
}

/// Why an action is not offered in this mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// `[buildbot.master_control]` is empty.
    NoWay,
    /// A clean shutdown started by SIGUSR1 cannot be ended by any signal.
    CannotCancel,
    /// Commands are configured, but not for this action.
    NoCommand,
}

/// What reaching the master did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The master took the signal for this action (`Check`: it is alive).
    Signalled { pid: i32, action: ShutdownAction },
    /// The pid file names a process that is gone: for a check, that is the answer.
    NotRunning { pid: i32 },
    /// The admin's command succeeded; what it printed (shortened), maybe nothing.
    Said(String),
}

/// Why reaching the master failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    Unavailable(Unavailable),
    PidfileUnreadable {
        path: PathBuf,
        error: String,
    },
    PidfileInvalid {
        path: PathBuf,
    },
    /// The pid file names a process that is not the master which wrote it: nothing was
    /// signalled.
    PidfileUntrusted {
        path: PathBuf,
        pid: i32,
        why: Distrust,
    },
    Signal {
        pid: i32,
        error: String,
    },
    EmptyCommand,
    TimedOut {
        program: String,
        minutes: u64,
    },
    NotRun {
        program: String,
        error: String,
    },
    Failed {
        program: String,
        status: String,
        said: String,
    },
}

/// How long an admin's command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of a command's output reaches the chat.
const SAID_LIMIT: usize = 1000;

fn read_pid(path: &Path) -> Result<i32, ControlError> {
    let text = std::fs::read_to_string(path).map_err(|e| ControlError::PidfileUnreadable {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| *pid > 1)
        .ok_or_else(|| ControlError::PidfileInvalid {
            path: path.to_owned(),
        })
}

fn signal(path: &Path, action: ShutdownAction) -> Result<Done, ControlError> {
    let pid = read_pid(path)?;
    match pidfile::inspect(path, pid) {
        Ok(Liveness::Master) => {}
        Ok(Liveness::Gone) => return Ok(Done::NotRunning { pid }),
        Err(why) => {
            return Err(ControlError::PidfileUntrusted {
                path: path.to_owned(),
                pid,
                why,
            });
        }
    }
    let signal = match action {
        ShutdownAction::Check => 0,
        ShutdownAction::Start => libc::SIGUSR1,
        ShutdownAction::Now => libc::SIGTERM,
        ShutdownAction::Stop => return Err(ControlError::Unavailable(Unavailable::CannotCancel)),
    };
    // SAFETY: kill has no memory effects; pid is the master's, as far as /proc can tell.
    let result = unsafe { libc::kill(pid, signal) };
    if result == 0 {
        return Ok(Done::Signalled { pid, action });
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::ESRCH) => Ok(Done::NotRunning { pid }),
        _ => Err(ControlError::Signal {
            pid,
            error: error.to_string(),
        }),
    }
}

/// The admin's command, in the bot's environment without its `BBTG_*` settings (the token,
/// the password): PATH, HOME, SSH_AUTH_SOCK and the like stay, so commands work as in a shell.
fn command(program: &str, args: &[String]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.args(args).kill_on_drop(true);
    let prefix = format!("{}_", crate::settings::ENV_PREFIX);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().to_uppercase().starts_with(&prefix) {
            command.env_remove(name);
        }
    }
    command
}

/// What a command printed, for the chat and the log: secrets out first (a cut must not leave
/// half of one), then shortened.
fn said(output: &std::process::Output) -> String {
    let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stderr));
    crate::logging::redact(said.trim())
        .chars()
        .take(SAID_LIMIT)
        .collect()
}

async fn run_command(argv: &[String]) -> Result<Done, ControlError> {
    let (program, args) = argv.split_first().ok_or(ControlError::EmptyCommand)?;
    let output = tokio::time::timeout(COMMAND_TIMEOUT, command(program, args).output())
        .await
        .map_err(|_| ControlError::TimedOut {
            program: program.clone(),
            minutes: COMMAND_TIMEOUT.as_secs() / 60,
        })?
        .map_err(|e| ControlError::NotRun {
            program: program.clone(),
            error: e.to_string(),
        })?;
    let said = said(&output);
    if output.status.success() {
        Ok(Done::Said(said))
    } else {
        Err(ControlError::Failed {
            program: program.clone(),
            status: output.status.to_string(),
            said,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pidfile_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("twistd.pid");
        let control = MasterControl::new(MasterControlSettings::Pidfile(pidfile.clone()));
        assert_eq!(
            control.why_not(ShutdownAction::Stop),
            Some(Unavailable::CannotCancel)
        );
        assert_eq!(control.why_not(ShutdownAction::Now), None);
        assert!(matches!(
            control.run(ShutdownAction::Check).await,
            Err(ControlError::PidfileUnreadable { .. })
        ));
        // a process that looks like the master, in the pid file's directory
        let master = pidfile::testing::Sleeper::start(dir.path(), "twistd");
        let pid = master.pid();
        std::fs::write(&pidfile, format!("{pid}\n")).unwrap();
        std::fs::set_permissions(&pidfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let check = control.run(ShutdownAction::Check).await;
        assert_eq!(
            check,
            Ok(Done::Signalled {
                pid,
                action: ShutdownAction::Check
            })
        );
        // this test process is not a master: nothing is signalled
        let me = i32::try_from(std::process::id()).unwrap();
        std::fs::write(&pidfile, format!("{me}\n")).unwrap();
        assert!(matches!(
            control.run(ShutdownAction::Now).await,
            Err(ControlError::PidfileUntrusted { pid, why: Distrust::NotMaster { .. }, .. }) if pid == me
        ));
        std::fs::write(&pidfile, "garbage").unwrap();
        assert_eq!(
            control.run(ShutdownAction::Check).await,
            Err(ControlError::PidfileInvalid { path: pidfile })
        );
    }

    #[tokio::test]
    async fn command_output_has_no_secrets() {
        crate::logging::add_secret("control-test-secret");
        let control = MasterControl::new(MasterControlSettings::Commands {
            check: Some(vec!["echo".into(), "pw=control-test-secret".into()]),
            start: None,
            stop: None,
            now: None,
        });
        assert_eq!(
            control.run(ShutdownAction::Check).await,
            Ok(Done::Said("pw=<redacted>".into()))
        );
    }

    #[tokio::test]
    async fn command_mode() {
        let control = MasterControl::new(MasterControlSettings::Commands {
            check: Some(vec!["echo".into(), "master is running".into()]),
            start: Some(vec!["false".into()]),
            stop: None,
            now: None,
        });
        assert_eq!(
            control.run(ShutdownAction::Check).await,
            Ok(Done::Said("master is running".into()))
        );
        assert!(matches!(
            control.run(ShutdownAction::Start).await,
            Err(ControlError::Failed { program, .. }) if program == "false"
        ));
        assert_eq!(
            control.why_not(ShutdownAction::Now),
            Some(Unavailable::NoCommand)
        );
        let none = MasterControl::new(MasterControlSettings::None);
        assert_eq!(
            none.why_not(ShutdownAction::Check),
            Some(Unavailable::NoWay)
        );
    }
}
