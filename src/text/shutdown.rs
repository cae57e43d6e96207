//! `/shutdown`: the menu, the confirmation, and the outcome. What the master control could
//! not do is always said, with why, instead of offering a button that cannot work.

use std::fmt::{Display, Write as _};

use super::html::escape;
use crate::buildbot::control::{ControlError, Done, Unavailable};
use crate::buildbot::pidfile::Distrust;

pub fn shutdown_menu(unavailable: &[(&str, &str)], any: bool) -> String {
    let mut out = if any {
        "What do you want to do with the master?".to_owned()
    } else {
        "I cannot shut the master down:".to_owned()
    };
    for (action, why) in unavailable {
        let _ = write!(out, "\n• {action}: not offered, {}", escape(why));
    }
    out
}

pub fn shutdown_unavailable(action: &str, why: &str) -> String {
    format!("I cannot do /shutdown {action}: {}.", escape(why))
}

pub fn shutdown_confirm(action: &str) -> String {
    match action {
        "start" => "Begin a clean shutdown? The master takes no new builds and exits when the running ones finish.".to_owned(),
        _ => "Shut the master down now? Running builds are interrupted.".to_owned(),
    }
}

pub fn shutdown_done(outcome: &str) -> String {
    format!("✅ {}", escape(outcome))
}

pub fn shutdown_failed(error: &str) -> String {
    format!("⚠️ That did not work: {}", escape(error))
}

// ---------------------------------------------------------------------------------------------
/// Why an action is not offered in this mode (plain text; the callers escape it).
pub fn unavailable(why: Unavailable) -> &'static str {
    match why {
        Unavailable::NoWay => master_unreachable(),
        Unavailable::CannotCancel => clean_shutdown_not_cancellable(),
        Unavailable::NoCommand => no_master_command(),
    }
}

/// What reaching the master did, for [`shutdown_done`].
pub fn control_done(done: &Done) -> String {
    match done {
        Done::Signalled { pid, action } => master_signalled(*pid, action.name()),
        Done::NotRunning { pid } => master_not_running(*pid),
        Done::Said(said) if said.is_empty() => master_command_done(),
        Done::Said(said) => said.clone(),
    }
}

/// Why reaching the master failed, for [`shutdown_failed`].
pub fn control_failed(error: &ControlError) -> String {
    match error {
        ControlError::Unavailable(why) => unavailable(*why).to_owned(),
        ControlError::PidfileUnreadable { path, error } => {
            pid_file_unreadable(path.display(), error)
        }
        ControlError::PidfileInvalid { path } => pid_file_invalid(path.display()),
        ControlError::PidfileUntrusted { path, pid, why } => {
            pid_file_untrusted(path.display(), *pid, why)
        }
        ControlError::Signal { pid, error } => signal_failed(*pid, error),
        ControlError::EmptyCommand => master_command_empty(),
        ControlError::TimedOut { program, minutes } => master_command_timed_out(program, *minutes),
        ControlError::NotRun { program, error } => master_command_not_run(program, error),
        ControlError::Failed {
            program,
            status,
            said,
        } => master_command_failed(program, status, said),
    }
}

// What reaching the master process says. Plain text: it reaches the chat through
// `shutdown_unavailable`, `shutdown_menu`, `shutdown_done` or `shutdown_failed`, which escape
// it. The admin reads these too, so they name the setting or file to look at.

/// Why nothing can be done: `[buildbot.master_control]` is empty.
fn master_unreachable() -> &'static str {
    "the bot's settings give it no way to reach the master ([buildbot.master_control] is empty)"
}

/// Why `stop` is not offered with a pid file: SIGUSR1 starts a clean shutdown, no signal ends it.
fn clean_shutdown_not_cancellable() -> &'static str {
    "a clean shutdown cannot be cancelled from outside the master"
}

/// Why an action is not offered when the admin configured commands, but not this one.
fn no_master_command() -> &'static str {
    "no command is configured for it in [buildbot.master_control]"
}

fn pid_file_unreadable(path: impl Display, error: impl Display) -> String {
    format!("cannot read {path}: {error}")
}

fn pid_file_invalid(path: impl Display) -> String {
    format!("{path} does not hold a process id")
}

/// The pid file's number is not the master's: said with why, and that nothing was signalled.
fn pid_file_untrusted(path: impl Display, pid: i32, why: &Distrust) -> String {
    let why = match why {
        Distrust::Writable { mode } => {
            return format!(
                "untrusted pidfile {path}: it is writable by its group or by everyone (mode {mode:o}), so whoever may write it chooses which process gets the signal; make it writable by its owner only (chmod go-w). Nothing was signalled."
            );
        }
        Distrust::NotMaster { program } => {
            format!("pid {pid} is not a Buildbot master, it runs {program}")
        }
        Distrust::Elsewhere { cwd } => format!(
            "pid {pid} runs in {}, not in the pidfile's directory as the master does",
            cwd.display()
        ),
        Distrust::Younger { seconds } => format!(
            "pid {pid} started {seconds} s after the file was written, so it only got the number of a master that is gone"
        ),
        Distrust::Uninspectable { what, error } => format!(
            "cannot tell whether pid {pid} is the master: cannot read {what} ({error}); the bot must run as the master's user"
        ),
        Distrust::Unsupported => {
            return format!(
                "cannot trust pidfile {path} on this system: telling the master from another process needs Linux's /proc; use the check/start/now commands of [buildbot.master_control] instead. Nothing was signalled."
            );
        }
    };
    format!("stale pidfile {path}: {why}. Nothing was signalled.")
}

/// The master took the signal for `action` ("check", "start" or "now"; anything else reads as
/// "now", as in [`shutdown_button`](super::shutdown_button)).
fn master_signalled(pid: i32, action: &str) -> String {
    let done = match action {
        "check" => "running",
        "start" => "asked to shut down cleanly once its running builds finish",
        _ => "asked to stop now",
    };
    format!("The master (pid {pid}) is {done}.")
}

/// The pid file names a process that is gone: for "check", that is the answer, not an error.
fn master_not_running(pid: i32) -> String {
    format!("The master (pid {pid}) is not running.")
}

fn signal_failed(pid: i32, error: impl Display) -> String {
    format!("cannot signal pid {pid}: {error}")
}

fn master_command_empty() -> String {
    "the command is empty".to_owned()
}

fn master_command_timed_out(program: &str, minutes: u64) -> String {
    format!("{program} did not finish within {minutes} minutes")
}

fn master_command_not_run(program: &str, error: impl Display) -> String {
    format!("cannot run {program}: {error}")
}

/// The admin's command succeeded and printed nothing.
fn master_command_done() -> String {
    "Done.".to_owned()
}

/// `said` is what the command printed, already shortened by the caller.
fn master_command_failed(program: &str, status: impl Display, said: &str) -> String {
    format!("{program} failed ({status}): {said}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown() {
        let why = "a clean shutdown cannot be cancelled from outside the master";
        insta::assert_snapshot!(
            "shutdown",
            [
                shutdown_menu(&[("stop", why)], true),
                shutdown_menu(&[("check", "no <way>"), ("now", "no <way>")], false),
                shutdown_unavailable("stop", why),
                shutdown_confirm("start"),
                shutdown_confirm("now"),
                shutdown_done("The master (pid 42) is running."),
                shutdown_failed("cannot read /m/twistd.pid: <gone>"),
            ]
            .join("\n\n")
        );
    }

    #[test]
    fn master_control() {
        use crate::command::ShutdownAction;
        let signalled = |action| Done::Signalled { pid: 4242, action };
        let failed = |error: ControlError| control_failed(&error);
        let program = || "ssh".to_owned();
        insta::assert_snapshot!(
            "master_control",
            [
                unavailable(Unavailable::NoWay).to_owned(),
                unavailable(Unavailable::CannotCancel).to_owned(),
                unavailable(Unavailable::NoCommand).to_owned(),
                failed(ControlError::PidfileUnreadable {
                    path: "/m/twistd.pid".into(),
                    error: "No such file or directory (os error 2)".into(),
                }),
                failed(ControlError::PidfileInvalid {
                    path: "/m/twistd.pid".into(),
                }),
                control_done(&signalled(ShutdownAction::Check)),
                control_done(&signalled(ShutdownAction::Start)),
                control_done(&signalled(ShutdownAction::Now)),
                control_done(&Done::NotRunning { pid: 4242 }),
                failed(ControlError::Signal {
                    pid: 4242,
                    error: "Operation not permitted (os error 1)".into(),
                }),
                failed(ControlError::EmptyCommand),
                failed(ControlError::TimedOut {
                    program: program(),
                    minutes: 2,
                }),
                failed(ControlError::NotRun {
                    program: program(),
                    error: "No such file or directory (os error 2)".into(),
                }),
                control_done(&Done::Said(String::new())),
                failed(ControlError::Failed {
                    program: program(),
                    status: "exit status: 255".into(),
                    said: "Connection refused".into(),
                }),
                control_done(&Done::Said("master is running".into())),
                failed(ControlError::Unavailable(Unavailable::CannotCancel)),
            ]
            .join("\n")
        );
    }

    #[test]
    fn untrusted_pidfile() {
        let untrusted = |why| {
            control_failed(&ControlError::PidfileUntrusted {
                path: "/m/twistd.pid".into(),
                pid: 4242,
                why,
            })
        };
        insta::assert_snapshot!(
            "untrusted_pidfile",
            [
                untrusted(Distrust::Writable { mode: 0o664 }),
                untrusted(Distrust::NotMaster {
                    program: "sleep".into()
                }),
                untrusted(Distrust::Elsewhere {
                    cwd: "/home/ci".into()
                }),
                untrusted(Distrust::Younger { seconds: 3600 }),
                untrusted(Distrust::Uninspectable {
                    what: "/proc/4242/cwd".into(),
                    error: "Permission denied (os error 13)".into(),
                }),
                untrusted(Distrust::Unsupported),
            ]
            .join("\n")
        );
    }
}
