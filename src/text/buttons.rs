//! Button labels. Telegram shows them as plain text (no HTML), so nothing here is escaped, and
//! they stay short, since a row of buttons shares the width of the chat.

pub fn shutdown_button(action: &str) -> String {
    match action {
        "check" => "🔍 Check".to_owned(),
        "start" => "↘️ Begin clean shutdown".to_owned(),
        "stop" => "🔙 Cancel clean shutdown".to_owned(),
        _ => "‼️ Shut down now".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons() {
        let labels: Vec<String> = ["check", "start", "stop", "now"]
            .into_iter()
            .map(shutdown_button)
            .collect();
        insta::assert_snapshot!("buttons", labels.join("\n"));
    }
}
