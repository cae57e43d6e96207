//! `/shutdown`: the menu, the confirmation, and the outcome. What the master control could
//! not do is always said, with why, instead of offering a button that cannot work.

use std::fmt::{Display, Write as _};

use super::html::escape;

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
// What reaching the master process says. Plain text: it reaches the chat through
// `shutdown_unavailable`, `shutdown_menu`, `shutdown_done` or `shutdown_failed`, which escape
// it. The admin reads these too, so they name the setting or file to look at.

/// Why nothing can be done: `[buildbot.master_control]` is empty.
pub fn master_unreachable() -> &'static str {
    "the bot's settings give it no way to reach the master ([buildbot.master_control] is empty)"
}

/// Why `stop` is not offered with a pid file: SIGUSR1 starts a clean shutdown, no signal ends it.
pub fn clean_shutdown_not_cancellable() -> &'static str {
    "a clean shutdown cannot be cancelled from outside the master"
}

/// Why an action is not offered when the admin configured commands, but not this one.
pub fn no_master_command() -> &'static str {
    "no command is configured for it in [buildbot.master_control]"
}

pub fn master_control_not_configured() -> String {
    "not configured".to_owned()
}

pub fn pid_file_unreadable(path: impl Display, error: impl Display) -> String {
    format!("cannot read {path}: {error}")
}

pub fn pid_file_invalid(path: impl Display) -> String {
    format!("{path} does not hold a process id")
}

/// The master took the signal for `action` ("check", "start" or "now"; anything else reads as
/// "now", as in [`shutdown_button`](super::shutdown_button)).
pub fn master_signalled(pid: i32, action: &str) -> String {
    let done = match action {
        "check" => "running",
        "start" => "asked to shut down cleanly once its running builds finish",
        _ => "asked to stop now",
    };
    format!("The master (pid {pid}) is {done}.")
}

/// The pid file names a process that is gone: for "check", that is the answer, not an error.
pub fn master_not_running(pid: i32) -> String {
    format!("The master (pid {pid}) is not running.")
}

pub fn signal_failed(pid: i32, error: impl Display) -> String {
    format!("cannot signal pid {pid}: {error}")
}

pub fn master_command_empty() -> String {
    "the command is empty".to_owned()
}

pub fn master_command_timed_out(program: &str, minutes: u64) -> String {
    format!("{program} did not finish within {minutes} minutes")
}

pub fn master_command_not_run(program: &str, error: impl Display) -> String {
    format!("cannot run {program}: {error}")
}

/// The admin's command succeeded and printed nothing.
pub fn master_command_done() -> String {
    "Done.".to_owned()
}

/// `said` is what the command printed, already shortened by the caller.
pub fn master_command_failed(program: &str, status: impl Display, said: &str) -> String {
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
        insta::assert_snapshot!(
            "master_control",
            [
                master_unreachable().to_owned(),
                clean_shutdown_not_cancellable().to_owned(),
                no_master_command().to_owned(),
                master_control_not_configured(),
                pid_file_unreadable("/m/twistd.pid", "No such file or directory (os error 2)"),
                pid_file_invalid("/m/twistd.pid"),
                master_signalled(4242, "check"),
                master_signalled(4242, "start"),
                master_signalled(4242, "now"),
                master_not_running(4242),
                signal_failed(4242, "Operation not permitted (os error 1)"),
                master_command_empty(),
                master_command_timed_out("ssh", 2),
                master_command_not_run("ssh", "No such file or directory (os error 2)"),
                master_command_done(),
                master_command_failed("ssh", "exit status: 255", "Connection refused"),
            ]
            .join("\n")
        );
    }
}
