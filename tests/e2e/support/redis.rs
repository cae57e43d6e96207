//! A real `redis-server` on a free loopback port, for conversations shared by bot replicas.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub url: String,
    child: Child,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let port = super::closed_port();
        // the machine's own redis-server, else the one scripts/buildbot-venv.sh installs
        let on_path = Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        let program = if on_path {
            std::path::PathBuf::from("redis-server")
        } else {
            let venv = tokio::task::spawn_blocking(super::buildbot::venv)
                .await
                .unwrap();
            venv.join("bin/redis-server")
        };
        let child = Command::new(&program)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server is needed for this test: apt-get install redis-server (.ci/run does)",
            );
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        RedisServer {
            url: format!("redis://127.0.0.1:{port}/0"),
            child,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
