//! `/shutdown`: reaching the master process, which Buildbot's API cannot do.
//!
//! `buildbot stop --clean` sends SIGUSR1 (shut down once running builds finish) and
//! `buildbot stop` SIGTERM (now) to the pid in `twistd.pid`; a master on this host can be
//! signalled the same way. A master elsewhere is reached by the admin's own commands (e.g.
//! over ssh). Whatever the chosen mode cannot do is not offered, and the bot says why.

use std::path::Path;
use std::time::Duration;

use crate::command::ShutdownAction;
use crate::settings::MasterControlSettings;

pub struct MasterControl {
    settings: MasterControlSettings,
}

impl MasterControl {
    pub fn new(settings: MasterControlSettings) -> MasterControl {
        MasterControl { settings }
    }

    /// Why `action` cannot be done in this mode, or `None` when it can.
    pub fn why_not(&self, action: ShutdownAction) -> Option<&'static str> {
        match (&self.settings, action) {
            (MasterControlSettings::None, _) => Some(
                "the bot's settings give it no way to reach the master ([buildbot.master_control] is empty)",
            ),
            (MasterControlSettings::Pidfile(_), ShutdownAction::Stop) => {
                Some("a clean shutdown cannot be cancelled from outside the master")
            }
            (MasterControlSettings::Pidfile(_), _) => None,
            (
                MasterControlSettings::Commands {
                    check,
                    start,
                    stop,
                    now,
                },
                action,
            ) => {
                let command = match action {
                    ShutdownAction::Check => check,
                    ShutdownAction::Start => start,
                    ShutdownAction::Stop => stop,
                    ShutdownAction::Now => now,
                };
                command
                    .is_none()
                    .then_some("no command is configured for it in [buildbot.master_control]")
            }
        }
    }

    /// Carries out `action`; the text says what happened, for the chat.
    pub async fn run(&self, action: ShutdownAction) -> Result<String, String> {
        if let Some(reason) = self.why_not(action) {
            return Err(reason.to_owned());
        }
        match &self.settings {
            MasterControlSettings::Pidfile(path) => signal(path, action),
            MasterControlSettings::Commands {
                check,
                start,
                stop,
                now,
            } => {
                let argv = match action {
                    ShutdownAction::Check => check,
                    ShutdownAction::Start => start,
                    ShutdownAction::Stop => stop,
                    ShutdownAction::Now => now,
                };
                run_command(argv.as_deref().unwrap_or_default()).await
            }
            MasterControlSettings::None => Err("not configured".to_owned()),
        }
    }
}

fn read_pid(path: &Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| *pid > 1)
        .ok_or_else(|| format!("{} does not hold a process id", path.display()))
}

fn signal(path: &Path, action: ShutdownAction) -> Result<String, String> {
    let pid = read_pid(path)?;
    let (signal, done) = match action {
        ShutdownAction::Check => (0, "running"),
        ShutdownAction::Start => (
            libc::SIGUSR1,
            "asked to shut down cleanly once its running builds finish",
        ),
        ShutdownAction::Now => (libc::SIGTERM, "asked to stop now"),
        ShutdownAction::Stop => {
            return Err("a clean shutdown cannot be cancelled from outside the master".into());
        }
    };
    // SAFETY: kill has no memory effects; pid comes from the master's own pid file.
    let result = unsafe { libc::kill(pid, signal) };
    if result == 0 {
        Ok(format!("The master (pid {pid}) is {done}."))
    } else {
        let error = std::io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::ESRCH) => Ok(format!("The master (pid {pid}) is not running.")),
            _ => Err(format!("cannot signal pid {pid}: {error}")),
        }
    }
}

async fn run_command(argv: &[String]) -> Result<String, String> {
    let (program, args) = argv.split_first().ok_or("the command is empty")?;
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| format!("{program} did not finish within 2 minutes"))?
    .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stderr));
    let said: String = said.trim().chars().take(1000).collect();
    if output.status.success() {
        Ok(if said.is_empty() {
            "Done.".to_owned()
        } else {
            said
        })
    } else {
        Err(format!("{program} failed ({}): {said}", output.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pidfile_mode() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("twistd.pid");
        let control = MasterControl::new(MasterControlSettings::Pidfile(pidfile.clone()));
        assert!(control.why_not(ShutdownAction::Stop).is_some());
        assert!(control.why_not(ShutdownAction::Now).is_none());
        assert!(
            control
                .run(ShutdownAction::Check)
                .await
                .unwrap_err()
                .contains("cannot read")
        );
        std::fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
        assert!(
            control
                .run(ShutdownAction::Check)
                .await
                .unwrap()
                .contains("is running")
        );
        std::fs::write(&pidfile, "garbage").unwrap();
        assert!(
            control
                .run(ShutdownAction::Check)
                .await
                .unwrap_err()
                .contains("does not hold a process id")
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
            control.run(ShutdownAction::Check).await.unwrap(),
            "master is running"
        );
        assert!(
            control
                .run(ShutdownAction::Start)
                .await
                .unwrap_err()
                .contains("false failed")
        );
        assert!(
            control
                .why_not(ShutdownAction::Now)
                .unwrap()
                .contains("no command")
        );
        let none = MasterControl::new(MasterControlSettings::None);
        assert!(
            none.why_not(ShutdownAction::Check)
                .unwrap()
                .contains("master_control")
        );
    }
}
