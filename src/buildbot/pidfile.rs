//! Whether the process a `twistd.pid` names is the master that wrote it, before `/shutdown`
//! signals it.
//!
//! A pid file outlives its process: after a crash or a reboot its number may belong to any
//! other process, and a file that others may write lets them choose the victim. So the number
//! is trusted only when, read from Linux's `/proc`:
//!
//! | check                 | why                                                           |
//! |-----------------------|---------------------------------------------------------------|
//! | file mode `& 0o022`   | group or world writable: a build step could write any pid     |
//! | `/proc/PID/cmdline`   | a `twistd` or `buildbot` program, or a python running twistd  |
//! | `/proc/PID/cwd`       | the master runs in its base directory, where the file is      |
//! | start time ≤ mtime+2s | twistd writes the file after it starts: a younger process has |
//! |                       | only inherited the number                                     |
//!
//! Elsewhere nothing is trusted, and the reason says so.

use std::path::{Path, PathBuf};

/// A process that started this long after the pid file was written is not the writer (the
/// clocks are read to about a second).
const TOLERANCE_SECONDS: f64 = 2.0;

/// What the pid file's number is, when it can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// No process has that number: the master is not running.
    Gone,
    /// The master that wrote the file.
    Master,
}

/// Why the pid file's number is not the master's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// Group or world writable (`mode` is the permission bits).
    Writable { mode: u32 },
    /// Another program (the name only: a command line may hold secrets).
    NotMaster { program: String },
    /// The process runs in `cwd`, not in the pid file's directory.
    Elsewhere { cwd: PathBuf },
    /// The process started this many seconds after the file was written.
    Younger { seconds: u64 },
    /// `/proc` could not tell (e.g. another user's process).
    Uninspectable { what: String, error: String },
    /// No `/proc` to ask on this system.
    Unsupported,
}

/// Decides whether `pid`, read from the pid file at `path`, is the master's.
#[cfg(target_os = "linux")]
pub fn inspect(path: &Path, pid: i32) -> Result<Liveness, Distrust> {
    use std::os::unix::fs::PermissionsExt as _;
    let file = std::fs::metadata(path).map_err(|e| uninspectable(path, e))?;
    let mode = file.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Distrust::Writable { mode });
    }
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let argv = match std::fs::read(proc.join("cmdline")) {
        Ok(bytes) => words(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Liveness::Gone),
        Err(e) => return Err(uninspectable(&proc.join("cmdline"), e)),
    };
    if !is_master_command(&argv) {
        let program = argv.first().map_or("nothing (a zombie)", |p| basename(p));
        return Err(Distrust::NotMaster {
            program: program.to_owned(),
        });
    }
    let cwd = std::fs::read_link(proc.join("cwd"))
        .and_then(|cwd| cwd.canonicalize())
        .map_err(|e| uninspectable(&proc.join("cwd"), e))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    if dir.canonicalize().ok().as_deref() != Some(cwd.as_path()) {
        return Err(Distrust::Elsewhere { cwd });
    }
    let written = file
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64());
    let started = started_at(&proc).map_err(|e| uninspectable(&proc.join("stat"), e))?;
    match written {
        Some(written) if started > written + TOLERANCE_SECONDS => Err(Distrust::Younger {
            seconds: (started - written) as u64,
        }),
        _ => Ok(Liveness::Master),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn inspect(_path: &Path, _pid: i32) -> Result<Liveness, Distrust> {
    Err(Distrust::Unsupported)
}

fn uninspectable(what: &Path, error: std::io::Error) -> Distrust {
    Distrust::Uninspectable {
        what: what.display().to_string(),
        error: error.to_string(),
    }
}

/// `/proc/PID/cmdline`: the arguments, each ended by a NUL.
fn words(cmdline: &[u8]) -> Vec<String> {
    cmdline
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `twistd …`, `buildbot …`, or a python running twistd or buildbot: a script so named (a
/// venv's `bin/twistd` started through its `#!` line reads `…/python3 …/bin/twistd …`), a
/// `-c` program that runs twistd (what `buildbot start` spawns:
/// `python -c "from twisted.scripts import twistd; twistd.run()" …`), or `-m twisted…` /
/// `-m buildbot…`.
fn is_master_command(argv: &[String]) -> bool {
    let named = |word: &str| matches!(basename(word), "twistd" | "buildbot");
    let Some((first, rest)) = argv.split_first() else {
        return false;
    };
    if named(first) {
        return true;
    }
    if !basename(first).starts_with("python") {
        return false;
    }
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "-c" => return words.next().is_some_and(|code| code.contains("twistd")),
            "-m" => {
                return words.next().is_some_and(|module| {
                    matches!(module.split('.').next(), Some("twisted" | "buildbot"))
                });
            }
            option if option.starts_with('-') => {}
            script => return named(script),
        }
    }
    false
}

/// When the process started, in seconds since the epoch: field 22 of `/proc/PID/stat`
/// (clock ticks since boot) plus the boot time from `/proc/stat`.
#[cfg(target_os = "linux")]
fn started_at(proc: &Path) -> std::io::Result<f64> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let stat = std::fs::read_to_string(proc.join("stat"))?;
    // the program name (field 2) is in parentheses and may hold spaces: count after it
    let ticks: f64 = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(22 - 3))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| invalid("no start time"))?;
    let boot: f64 = std::fs::read_to_string("/proc/stat")?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| invalid("no btime in /proc/stat"))?;
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_second <= 0 {
        return Err(invalid("no clock tick rate"));
    }
    Ok(boot + ticks / per_second as f64)
}

/// Processes that look like a master (or not) for the tests here and in `control`.
#[cfg(all(test, target_os = "linux"))]
pub(crate) mod testing {
    use std::os::unix::process::CommandExt as _;
    use std::path::Path;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    /// A `sleep 600` that calls itself `name`, in `dir`; killed on drop.
    pub struct Sleeper(Child);

    impl Sleeper {
        pub fn start(dir: &Path, name: &str) -> Sleeper {
            let child = Command::new("sleep")
                .arg0(name)
                .arg("600")
                .current_dir(dir)
                .spawn()
                .unwrap();
            // the kernel fills in the new command line a moment after the exec that spawn
            // waited for
            let cmdline = format!("/proc/{}/cmdline", child.id());
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::read(&cmdline).unwrap_or_default().is_empty() {
                assert!(Instant::now() < deadline, "sleep did not start");
                std::thread::sleep(Duration::from_millis(1));
            }
            Sleeper(child)
        }

        pub fn pid(&self) -> i32 {
            self.0.id() as i32
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Command;
    use std::time::{Duration, SystemTime};

    use super::testing::Sleeper;
    use super::*;

    fn pidfile(dir: &Path, pid: i32, mode: u32) -> PathBuf {
        let path = dir.join("twistd.pid");
        std::fs::write(&path, pid.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn the_masters_own_process_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let master = Sleeper::start(dir.path(), "twistd");
        let path = pidfile(dir.path(), master.pid(), 0o644);
        assert_eq!(inspect(&path, master.pid()), Ok(Liveness::Master));
    }

    #[test]
    fn a_writable_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let master = Sleeper::start(dir.path(), "twistd");
        for mode in [0o664, 0o646] {
            let path = pidfile(dir.path(), master.pid(), mode);
            assert_eq!(
                inspect(&path, master.pid()),
                Err(Distrust::Writable { mode })
            );
        }
    }

    #[test]
    fn another_program_or_directory_or_a_younger_process_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id() as i32;
        let path = pidfile(dir.path(), me, 0o600);
        assert!(
            matches!(inspect(&path, me), Err(Distrust::NotMaster { program }) if !program.is_empty())
        );

        let elsewhere = tempfile::tempdir().unwrap();
        let stranger = Sleeper::start(elsewhere.path(), "twistd");
        let path = pidfile(dir.path(), stranger.pid(), 0o644);
        assert_eq!(
            inspect(&path, stranger.pid()),
            Err(Distrust::Elsewhere {
                cwd: elsewhere.path().canonicalize().unwrap()
            })
        );

        // a file written an hour before the process started
        let reused = Sleeper::start(dir.path(), "twistd");
        let path = pidfile(dir.path(), reused.pid(), 0o644);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        assert!(matches!(
            inspect(&path, reused.pid()),
            Err(Distrust::Younger { seconds }) if (3590..3700).contains(&seconds)
        ));
    }

    #[test]
    fn a_process_that_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        let path = pidfile(dir.path(), pid, 0o644);
        assert_eq!(inspect(&path, pid), Ok(Liveness::Gone));
    }

    #[test]
    fn master_command_lines() {
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        for yes in [
            &[
                "/srv/venv/bin/python3",
                "/srv/venv/bin/twistd",
                "--pidfile=twistd.pid",
            ][..],
            &["/usr/bin/python3.12", "-u", "/usr/bin/buildbot", "start"],
            &["twistd", "-y", "buildbot.tac"],
            &["/usr/local/bin/buildbot"],
            &[
                "/usr/bin/python3",
                "-c",
                "from twisted.scripts import twistd; twistd.run()",
                "--no_save",
                "--python=buildbot.tac",
            ],
            &["python3", "-m", "twisted", "--pidfile=twistd.pid"],
        ] {
            assert!(is_master_command(&argv(yes)), "{yes:?}");
        }
        for no in [
            &["sleep", "600"][..],
            &["/usr/bin/python3", "-m", "http.server"],
            &["/usr/bin/python3", "/tmp/evil.py", "twistd"],
            &["/bin/sh", "-c", "twistd"],
            &[
                "/usr/bin/python3",
                "-c",
                "import os; os.system('sleep 600')",
            ],
            &["/usr/bin/python3", "-m", "http.server", "twistd"],
            &["/usr/bin/python3"],
            &[],
        ] {
            assert!(!is_master_command(&argv(no)), "{no:?}");
        }
        assert_eq!(words(b"a\0b c\0\0"), ["a", "b c"]);
    }
}
