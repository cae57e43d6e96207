//! A real Buildbot master and worker (from PyPI, in a virtualenv that
//! `scripts/buildbot-venv.sh` creates on first use), started on free loopback ports with
//! `tests/buildbot/master.cfg`, and stopped when the test process ends.
//!
//! The processes are started from a thread that lives as long as the test process and carry
//! `PR_SET_PDEATHSIG`, so the kernel kills them when the tests end, however they end.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running master, as the tests see it.
#[derive(Debug, Clone)]
pub struct Master {
    /// buildbotURL, with a trailing slash.
    pub url: String,
    pub dir: PathBuf,
    /// www credentials, for masters that require a login.
    pub login: Option<(String, String)>,
    /// Orders for the thread that owns the processes.
    control: mpsc::Sender<(Control, mpsc::Sender<bool>)>,
}

/// What a test can do to a master's processes.
#[derive(Debug, Clone, Copy)]
enum Control {
    StopWorker,
    StartWorker,
    RestartMaster,
    /// Answers whether the master process exits within 60 s.
    WaitMasterExit,
}

/// The www user of the master that requires a login.
pub const LOGIN: (&str, &str) = ("tgbot", "s3cret-pass");

static SHARED: OnceLock<Master> = OnceLock::new();
static WITH_LOGIN: OnceLock<Master> = OnceLock::new();

/// How a master is set up.
#[derive(Clone, Copy)]
struct Options {
    login: Option<(&'static str, &'static str)>,
    /// Seconds after a disconnect before Buildbot reports local-worker missing.
    missing_timeout: u32,
    /// Extra builders `many-000`… that share local-worker, with a ForceScheduler "many" of
    /// their own: more than a Telegram keyboard holds.
    many_builders: u32,
}

/// The master most tests share (anonymous www, one connected worker).
pub async fn shared() -> Master {
    let options = Options {
        login: None,
        missing_timeout: 3600,
        many_builders: 0,
    };
    tokio::task::spawn_blocking(move || {
        SHARED
            .get_or_init(|| start_in_keeper_thread("shared", options))
            .clone()
    })
    .await
    .unwrap()
}

/// A master whose www requires [`LOGIN`] for everything, as locked-down masters do.
pub async fn with_login() -> Master {
    let options = Options {
        login: Some(LOGIN),
        missing_timeout: 3600,
        many_builders: 0,
    };
    tokio::task::spawn_blocking(move || {
        WITH_LOGIN
            .get_or_init(|| start_in_keeper_thread("login", options))
            .clone()
    })
    .await
    .unwrap()
}

/// A master of the test's own, to stop and restart at will; its processes end when the last
/// clone of the returned value is dropped. local-worker is reported missing 3 s after it goes.
pub async fn dedicated(name: &'static str) -> Master {
    dedicated_with(name, 0).await
}

/// Like [`dedicated`], with `many` extra builders (`many-000`…) and a ForceScheduler "many"
/// (labelled "Many builders") for them.
pub async fn dedicated_with(name: &'static str, many: u32) -> Master {
    let options = Options {
        login: None,
        missing_timeout: 3,
        many_builders: many,
    };
    tokio::task::spawn_blocking(move || start_in_keeper_thread(name, options))
        .await
        .unwrap()
}

impl Master {
    async fn order(&self, control: Control) -> bool {
        let (ack, done) = mpsc::channel();
        self.control
            .send((control, ack))
            .expect("the master's keeper thread is gone");
        tokio::task::spawn_blocking(move || {
            done.recv()
                .expect("the order failed; see the messages above")
        })
        .await
        .unwrap()
    }

    /// Whether the master process ends by itself within 60 s.
    pub async fn exits(&self) -> bool {
        self.order(Control::WaitMasterExit).await
    }

    /// The master's pid file, for `[buildbot.master_control] pidfile`.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("master/twistd.pid")
    }

    /// Stops the worker (as a crash or a reboot of its machine would).
    pub async fn stop_worker(&self) {
        self.order(Control::StopWorker).await;
    }

    /// Starts the worker again and waits until it is connected.
    pub async fn start_worker(&self) {
        self.order(Control::StartWorker).await;
    }

    /// Stops the master with SIGTERM, as `buildbot stop` does, starts it again and waits until
    /// it serves its API and the worker is back.
    pub async fn restart(&self) {
        self.order(Control::RestartMaster).await;
    }
}

/// The processes of one master, owned by its keeper thread.
struct Site {
    venv: PathBuf,
    master_dir: PathBuf,
    worker_dir: PathBuf,
    www_port: u16,
    pb_port: u16,
    options: Options,
    master: Option<Child>,
    worker: Option<Child>,
}

impl Site {
    fn start_master(&mut self) {
        let login = self.options.login;
        self.master = Some(spawn_tied(
            twistd(&self.venv, &self.master_dir)
                .env("BBTG_TEST_WWW_PORT", self.www_port.to_string())
                .env("BBTG_TEST_PB_PORT", self.pb_port.to_string())
                .env("BBTG_TEST_AUTH_USER", login.map_or("", |l| l.0))
                .env("BBTG_TEST_AUTH_PASSWORD", login.map_or("", |l| l.1))
                .env(
                    "BBTG_TEST_MISSING_TIMEOUT",
                    self.options.missing_timeout.to_string(),
                )
                .env(
                    "BBTG_TEST_MANY_BUILDERS",
                    self.options.many_builders.to_string(),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        ));
    }

    fn start_worker(&mut self) {
        self.worker = Some(spawn_tied(
            twistd(&self.venv, &self.worker_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        ));
    }

    fn apply(&mut self, control: Control) -> bool {
        match control {
            Control::WaitMasterExit => {
                let Some(master) = self.master.as_mut() else {
                    return true;
                };
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    if master.try_wait().ok().flatten().is_some() {
                        self.master = None;
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                return false;
            }
            Control::StopWorker => terminate(self.worker.take()),
            Control::StartWorker => self.start_worker(),
            Control::RestartMaster => {
                terminate(self.master.take());
                self.start_master();
            }
        }
        true
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        terminate(self.worker.take());
        terminate(self.master.take());
    }
}

/// SIGTERM, then SIGKILL if the process is still there after 30 s.
fn terminate(child: Option<Child>) {
    let Some(mut child) = child else { return };
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_in_keeper_thread(name: &'static str, options: Options) -> Master {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("buildbot-{name}"))
        .spawn(move || {
            let (master, mut site, orders) = match std::panic::catch_unwind(|| start(name, options))
            {
                Ok(started) => started,
                Err(panic) => {
                    let _ = tx.send(Err(panic));
                    return;
                }
            };
            let _ = tx.send(Ok(master.clone()));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // The children die with this thread (PDEATHSIG) or when `site` drops: the thread
            // lives until the last Master clone is gone, for the shared ones the whole run.
            drop(master);
            while let Ok((control, ack)) = orders.recv() {
                let answer = site.apply(control);
                if matches!(control, Control::StartWorker | Control::RestartMaster) {
                    runtime.block_on(wait_until_up(&site));
                }
                let _ = ack.send(answer);
            }
        })
        .unwrap();
    match rx.recv().unwrap() {
        Ok(master) => master,
        Err(_) => panic!("the Buildbot master did not start; see the messages above"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv with Buildbot, created on first use.
pub fn venv() -> PathBuf {
    let output = Command::new("bash")
        .arg(root().join("scripts/buildbot-venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/buildbot-venv.sh");
    assert!(output.status.success(), "scripts/buildbot-venv.sh failed");
    PathBuf::from(
        String::from_utf8(output.stdout)
            .unwrap()
            .trim()
            .lines()
            .last()
            .unwrap(),
    )
}

/// A child process that the kernel kills when the thread that started it ends.
fn spawn_tied(command: &mut Command) -> Child {
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().expect("spawn a Buildbot process")
}

/// Runs a master's or worker's `buildbot.tac` in the foreground, logging to `twistd.log`.
///
/// On the poll reactor: with Twisted's default epoll reactor the tests' master sometimes
/// stopped accepting connections for good ("epoll modify: No such file or directory" on
/// every accept in twistd.log, after a client disconnected mid-answer), which showed as REST
/// calls never answered and many tests failing at once.
fn twistd(venv: &Path, dir: &Path) -> Command {
    let mut command = Command::new(venv.join("bin/twistd"));
    command
        .args([
            "--reactor=poll",
            "--nodaemon",
            "--no_save",
            "--logfile=twistd.log",
            "--pidfile=twistd.pid",
            "-y",
            "buildbot.tac",
        ])
        .current_dir(dir);
    command
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

type Orders = mpsc::Receiver<(Control, mpsc::Sender<bool>)>;

fn start(name: &str, options: Options) -> (Master, Site, Orders) {
    let venv = venv();
    let dir = root()
        .join("target/e2e")
        .join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let mut site = Site {
        master_dir: dir.join("master"),
        worker_dir: dir.join("worker"),
        www_port: free_port(),
        pb_port: free_port(),
        venv,
        options,
        master: None,
        worker: None,
    };
    run(
        Command::new(site.venv.join("bin/buildbot"))
            .args(["create-master", "-r"])
            .arg(&site.master_dir),
        "buildbot create-master",
    );
    std::fs::copy(
        root().join("tests/buildbot/master.cfg"),
        site.master_dir.join("master.cfg"),
    )
    .unwrap();
    site.start_master();
    run(
        Command::new(site.venv.join("bin/buildbot-worker"))
            .args(["create-worker", "--umask=0o22"])
            .arg(&site.worker_dir)
            .arg(format!("127.0.0.1:{}", site.pb_port))
            .args(["local-worker", "pass"]),
        "buildbot-worker create-worker",
    );
    site.start_worker();

    let (control, orders) = mpsc::channel();
    let master = Master {
        url: format!("http://127.0.0.1:{}/", site.www_port),
        dir,
        login: options.login.map(|(u, p)| (u.to_owned(), p.to_owned())),
        control,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(wait_until_up(&site));
    eprintln!(
        "Buildbot master {name} up at {} in {:.1} s",
        master.url,
        started.elapsed().as_secs_f64()
    );
    (master, site, orders)
}

/// Waits (up to 90 s) until the master answers and local-worker is connected to it.
async fn wait_until_up(site: &Site) {
    let url = format!("http://127.0.0.1:{}/", site.www_port);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some((user, password)) = site.options.login {
            let _ = client
                .get(format!("{url}auth/login"))
                .basic_auth(user, Some(password))
                .send()
                .await;
        }
        let workers = client
            .get(format!("{url}api/v2/workers?name=local-worker"))
            .send()
            .await;
        if let Ok(response) = workers
            && let Ok(body) = response.json::<Value>().await
            && body["workers"][0]["connected_to"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the Buildbot master in {} did not come up with its worker within 90 s; see twistd.log there",
            site.master_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Master {
    /// An HTTP client with a www session (logged in when the master requires it).
    async fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        let client = reqwest::Client::builder().cookie_store(true).build()?;
        if let Some((user, password)) = &self.login {
            client
                .get(format!("{}auth/login", self.url))
                .basic_auth(user, Some(password))
                .send()
                .await?
                .error_for_status()?;
        }
        Ok(client)
    }

    pub async fn get(&self, path: &str) -> Result<Value, reqwest::Error> {
        let client = self.client().await?;
        client
            .get(format!("{}api/v2/{path}", self.url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    pub async fn builder_id(&self, name: &str) -> i64 {
        let builders = self.get("builders").await.unwrap();
        builders["builders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("no builder {name}"))["builderid"]
            .as_i64()
            .unwrap()
    }

    /// Forces a build through the ForceScheduler; returns the build request id.
    pub async fn force(&self, builder: &str, properties: Value) -> i64 {
        let builderid = self.builder_id(builder).await;
        let mut params = json!({"builderid": builderid.to_string(), "reason": "e2e test"});
        for (k, v) in properties.as_object().into_iter().flatten() {
            params[k] = v.clone();
        }
        let body = json!({"jsonrpc": "2.0", "method": "force", "id": 1, "params": params});
        let answer: Value = self
            .client()
            .await
            .unwrap()
            .post(format!("{}api/v2/forceschedulers/force", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["result"][1][builderid.to_string()]
            .as_i64()
            .unwrap_or_else(|| panic!("force failed: {answer}"))
    }

    /// Waits until the build for `request` exists (and, with `finished`, is complete).
    pub async fn wait_build(&self, request: i64, finished: bool) -> Value {
        let query = format!("builds?buildrequestid={request}");
        self.wait_first_build(&query, finished, &format!("build request {request}"))
            .await
    }

    /// Waits until build `number` of `builder` exists and finished (a build a scheduler
    /// started, not the test).
    pub async fn wait_build_number(&self, builder: &str, number: i64) -> Value {
        let builderid = self.builder_id(builder).await;
        let query = format!("builders/{builderid}/builds?number={number}");
        self.wait_first_build(&query, true, &format!("build {number} of {builder}"))
            .await
    }

    /// Waits until `query` finds a build (and, with `finished`, a complete one).
    async fn wait_first_build(&self, query: &str, finished: bool, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let builds = self.get(query).await.unwrap();
            if let Some(build) = builds["builds"].as_array().and_then(|b| b.first())
                && (!finished || build["complete"] == true)
            {
                return build.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not get a build in time; master log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Forces a build and waits for it to finish.
    pub async fn build(&self, builder: &str) -> Value {
        let request = self.force(builder, json!({})).await;
        self.wait_build(request, true).await
    }

    /// Records a change on branch "main" through the `base` change hook, as a VCS hook would.
    pub async fn add_change(&self, author: &str, comments: &str, revision: &str) {
        self.add_change_on("main", author, comments, revision).await;
    }

    /// Records a change on `branch` (changes on "blame" start a failing toggle build).
    pub async fn add_change_on(&self, branch: &str, author: &str, comments: &str, revision: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}change_hook/base", self.url))
            .form(&[
                ("author", author),
                ("comments", comments),
                ("revision", revision),
                ("branch", branch),
                ("repository", "https://example.org/repo.git"),
                ("revlink", &format!("https://example.org/commit/{revision}")),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "change hook: {}",
            response.status()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(Path::new(&self.dir).join("master/twistd.log")).unwrap_or_default()
    }
}
