//! `/shutdown` with a pid file signals the master only: a stale file whose number now belongs
//! to another process, or a file anyone may write, is refused with the reason, and the process
//! it names lives on.

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

use super::{FORCERS, next_screen, say, tap_label};
use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, FakeTelegram};

/// A `sleep 600` called `name`, running in `dir`; killed on drop.
struct Bystander(Child);

impl Bystander {
    fn start(dir: &Path, name: &str) -> Bystander {
        let child = Command::new("sleep")
            .arg0(name)
            .arg("600")
            .current_dir(dir)
            .spawn()
            .unwrap();
        // the kernel fills in the command line a moment after the exec
        let cmdline = format!("/proc/{}/cmdline", child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read(&cmdline).unwrap_or_default().is_empty() {
            assert!(Instant::now() < deadline, "sleep did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        Bystander(child)
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_pidfile(path: &Path, process: &Bystander, mode: u32) {
    std::fs::write(path, format!("{}\n", process.0.id())).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `/shutdown now`, confirmed: what the bot answered.
async fn shutdown_now(fake: &FakeTelegram) -> String {
    let mark = say(fake, &ALICE, "/shutdown now");
    let confirm = next_screen(fake, mark, ALICE.id, "Shut the master down now?").await;
    let mark = tap_label(fake, &ALICE, &confirm, "‼️ Yes, ‼️ Shut down now");
    let done = next_screen(fake, mark, ALICE.id, "⚠️ That did not work").await;
    done.text().to_owned()
}

async fn bot_with_pidfile(fake: &FakeTelegram, pidfile: &Path) -> BotProcess {
    let master = buildbot::shared().await;
    let control = format!(
        "\n[buildbot.master_control]\npidfile = \"{}\"\n",
        pidfile.display()
    );
    BotProcess::start_with(fake, &master.url, &control, FORCERS).await
}

#[tokio::test]
async fn a_stale_pidfile_signals_nothing() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pidfile: PathBuf = dir.path().join("twistd.pid");
    let _bot = bot_with_pidfile(&fake, &pidfile).await;

    // a process that calls itself twistd, but runs somewhere else
    let elsewhere = tempfile::tempdir().unwrap();
    let mut stranger = Bystander::start(elsewhere.path(), "twistd");
    write_pidfile(&pidfile, &stranger, 0o644);
    let answer = shutdown_now(&fake).await;
    assert!(
        answer.contains("stale pidfile")
            && answer.contains("not in the pidfile's directory")
            && answer.contains("Nothing was signalled"),
        "{answer}"
    );
    let check = fake.ask(&ALICE, "/shutdown check").await;
    assert!(check.text().contains("stale pidfile"), "{}", check.text());
    assert!(stranger.alive(), "the stranger got no signal");

    // the right name in the right place, but started after the file was written
    let mut reused = Bystander::start(dir.path(), "twistd");
    write_pidfile(&pidfile, &reused, 0o644);
    std::fs::File::options()
        .write(true)
        .open(&pidfile)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let answer = shutdown_now(&fake).await;
    assert!(
        answer.contains("stale pidfile") && answer.contains("after the file was written"),
        "{answer}"
    );
    assert!(reused.alive(), "the younger process got no signal");

    // another program altogether
    let mut other = Bystander::start(dir.path(), "sleep");
    write_pidfile(&pidfile, &other, 0o644);
    let answer = shutdown_now(&fake).await;
    assert!(
        answer.contains("is not a Buildbot master, it runs sleep"),
        "{answer}"
    );
    assert!(other.alive(), "the other program got no signal");
}

#[tokio::test]
async fn a_pidfile_others_may_write_is_refused() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("twistd.pid");
    let _bot = bot_with_pidfile(&fake, &pidfile).await;

    // everything else looks right: only the mode is wrong
    let mut lookalike = Bystander::start(dir.path(), "twistd");
    for mode in [0o664, 0o666] {
        write_pidfile(&pidfile, &lookalike, mode);
        let answer = shutdown_now(&fake).await;
        assert!(
            answer.contains("untrusted pidfile")
                && answer.contains(&format!("mode {mode:o}"))
                && answer.contains("chmod go-w"),
            "{answer}"
        );
    }
    assert!(lookalike.alive(), "nothing was signalled");
}
