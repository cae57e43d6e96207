//! Secrets nowhere: the token and the passwords never leave the process, whatever it writes
//! (`--check` lines, settings errors, panics, the log) or runs (`/shutdown` commands).

use crate::support::bot::{
    BotProcess, assert_no_secrets, check_with, run_to_exit, settings_file, token_secrets,
};
use crate::support::buildbot;
use crate::support::closed_port;
use crate::support::fake_telegram::{ALICE, FakeTelegram, Fault, TOKEN};

const PASSWORD: &str = "hunter2-secret-pw";

#[tokio::test]
async fn check_hides_the_token_a_proxy_page_echoes() {
    let fake = FakeTelegram::start().await;
    // a proxy with no route for the path answers with a page that quotes it, token included
    fake.inject("getMe", Fault::error_page(404));
    let dir = tempfile::tempdir().unwrap();
    let file = settings_file(&format!(
        "[telegram]\napi_url = \"{}\"\n[buildbot]\nurl = \"http://127.0.0.1:{}/\"\n[storage]\npath = \"{}\"\n",
        fake.url,
        closed_port(),
        dir.path().join("bot.sqlite").display()
    ));
    let (code, out, err) = check_with(file.path()).await;
    assert_eq!(code, Some(1), "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAIL  telegram"))
        .unwrap_or_else(|| panic!("no telegram line in:\n{out}"));
    assert!(
        line.contains("check telegram.api_url") && line.contains("/bot<redacted>/GetMe"),
        "the line quotes the page, without the token, and says what to fix: {line}"
    );
    assert_no_secrets("--check", &format!("{out}{err}"), &token_secrets());
}

#[test]
fn a_panic_is_printed_without_the_token() {
    let file = settings_file("");
    let (code, out, err) = run_to_exit(
        &[
            "--config",
            file.path().to_str().unwrap(),
            "--panic-after-settings",
        ],
        &[("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)],
    );
    assert_eq!(code, Some(101), "a panic: {err}");
    assert!(
        err.contains("panicked at") && err.contains("the token is <redacted>"),
        "{err}"
    );
    assert_no_secrets("a panic", &format!("{out}{err}"), &token_secrets());
}

#[test]
fn settings_errors_never_show_url_credentials() {
    let cases = [
        (
            format!("[buildbot]\nurl = \"ftp://tg:{PASSWORD}@ci.example.org/\"\n"),
            vec![],
            "\"ftp://<redacted>@ci.example.org/\"",
        ),
        (
            format!("[storage]\nredis_url = \"http://:{PASSWORD}@cache.example.org/0\"\n"),
            vec![],
            "\"http://<redacted>@cache.example.org/0\"",
        ),
        (
            String::new(),
            vec![(
                "BBTG_BUILDBOT__URL",
                format!("gopher://tg:{PASSWORD}@ci.example.org/"),
            )],
            "\"gopher://<redacted>@ci.example.org/\"",
        ),
    ];
    for (toml, extra_env, shown) in cases {
        let file = settings_file(&toml);
        let mut env = vec![("BBTG_TELEGRAM__BOT_TOKEN", TOKEN)];
        env.extend(extra_env.iter().map(|(k, v)| (*k, v.as_str())));
        let (code, out, err) = run_to_exit(&["--config", file.path().to_str().unwrap()], &env);
        assert_eq!(code, Some(2), "{toml}: {err}");
        assert!(err.contains(shown), "{toml}: {shown} in {err}");
        assert_no_secrets("a settings error", &format!("{out}{err}"), &[PASSWORD]);
    }
}

#[tokio::test]
async fn shutdown_commands_get_no_settings_and_say_no_secrets() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // the command reports how many BBTG_ variables it sees, and echoes two copies of secrets
    // the bot was given under other names
    let control = "\n[buildbot.master_control]\ncheck = [\"sh\", \"-c\", \
        \"echo settings: $(env | grep -c ^BBTG_); echo copies: $TOKEN_COPY $PASSWORD_COPY; env\"]\n";
    let bot = BotProcess::start_with_env(
        &fake,
        &master.url,
        control,
        "[authz]\nshutdown = [111111]\n",
        &[
            ("BBTG_BUILDBOT__USERNAME", "tg"),
            ("BBTG_BUILDBOT__PASSWORD", PASSWORD),
            ("TOKEN_COPY", TOKEN),
            ("PASSWORD_COPY", PASSWORD),
        ],
    )
    .await;

    let reply = fake.ask(&ALICE, "/shutdown check").await;
    let text = reply.text();
    assert!(
        text.starts_with("✅ settings: 0 copies: &lt;redacted&gt; &lt;redacted&gt;"),
        "{text}"
    );
    assert!(!text.contains("BBTG_"), "{text}");
    let mut secrets = token_secrets().to_vec();
    secrets.push(PASSWORD);
    assert_no_secrets("the chat", text, &secrets);
    bot.assert_never_wrote(&secrets);
}
