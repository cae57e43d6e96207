//! `/shutdown`: the menu, the confirmation, and the outcome. What the master control could
//! not do is always said, with why, instead of offering a button that cannot work.

use std::fmt::Write as _;

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
}
