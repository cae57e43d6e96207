//! The shared PostgreSQL server itself: the databases it hands out are distinct and usable,
//! it checks the password, and it listens on 127.0.0.1 only, so the storage tests can trust
//! it.

use ::postgres::error::SqlState;
use ::postgres::{Client, NoTls};

use crate::support::postgres as pg;

#[tokio::test]
async fn databases_are_distinct_and_usable() {
    let first = pg::database("distinct").await;
    let second = pg::database("distinct").await;
    assert_ne!(first, second);
    let server = pg::shared().await;
    let prefix = format!(
        "postgres://{}:{}@127.0.0.1:{}/",
        pg::USER,
        pg::PASSWORD,
        server.port
    );
    assert!(first.starts_with(&prefix), "{first}");

    tokio::task::spawn_blocking(move || {
        let mut one = Client::connect(&first, NoTls).unwrap();
        let mut two = Client::connect(&second, NoTls).unwrap();
        for (client, url) in [(&mut one, &first), (&mut two, &second)] {
            let name: String = client
                .query_one("SELECT current_database()", &[])
                .unwrap()
                .get(0);
            assert!(url.ends_with(&format!("/{name}")), "{url} is {name}");
        }

        one.batch_execute(
            "CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);
             INSERT INTO notes VALUES (1, 'kept')",
        )
        .unwrap();
        let body: String = one
            .query_one("SELECT body FROM notes WHERE id = $1", &[&1i64])
            .unwrap()
            .get(0);
        assert_eq!(body, "kept");

        let absent = two.query("SELECT body FROM notes", &[]).unwrap_err();
        assert_eq!(absent.code(), Some(&SqlState::UNDEFINED_TABLE), "{absent}");
        // the second database is usable all the same, with a table of the same name
        two.batch_execute("CREATE TABLE notes (id bigint PRIMARY KEY)")
            .unwrap();
        let count: i64 = two
            .query_one("SELECT count(*) FROM notes", &[])
            .unwrap()
            .get(0);
        assert_eq!(count, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn checks_the_password() {
    let url = pg::database("password").await;
    let wrong = url.replace(pg::PASSWORD, "not-the-password");
    assert_ne!(url, wrong);
    tokio::task::spawn_blocking(move || {
        let refused = Client::connect(&wrong, NoTls)
            .err()
            .expect("a wrong password got in");
        assert_eq!(
            refused.code(),
            Some(&SqlState::INVALID_PASSWORD),
            "{refused}"
        );
        let without = url.replace(&format!(":{}@", pg::PASSWORD), "@");
        assert!(Client::connect(&without, NoTls).is_err());
        let method: String = Client::connect(&url, NoTls)
            .unwrap()
            .query_one("SHOW password_encryption", &[])
            .unwrap()
            .get(0);
        assert_eq!(method, "scram-sha-256");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn listens_on_loopback_only() {
    let url = pg::database("listen").await;
    let port = pg::shared().await.port;

    let addresses: String = tokio::task::spawn_blocking(move || {
        Client::connect(&url, NoTls)
            .unwrap()
            .query_one("SHOW listen_addresses", &[])
            .unwrap()
            .get(0)
    })
    .await
    .unwrap();
    assert_eq!(addresses, "127.0.0.1");

    // every listening socket on the port, IPv4 and IPv6, as the kernel lists them
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(&"0A")) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((address, hex_port)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(hex_port, 16) != Ok(port) {
                continue;
            }
            // an IPv4 address is written as the native-endian u32 of its network-order bytes
            match u32::from_str_radix(address, 16) {
                Ok(v4) if table.ends_with("tcp") => {
                    listening.push(std::net::Ipv4Addr::from(v4.to_ne_bytes()).to_string());
                }
                _ => listening.push(format!("{table} {address}")),
            }
        }
    }
    assert_eq!(listening, ["127.0.0.1"], "sockets listening on port {port}");

    assert!(
        tokio::net::TcpStream::connect(("127.0.0.2", port))
            .await
            .is_err(),
        "the server answers on 127.0.0.2"
    );
}

#[tokio::test]
async fn runs_unprivileged_from_its_directory() {
    let url = pg::database("owner").await;
    let server = pg::shared().await;
    let (data_directory, server_version): (String, String) =
        tokio::task::spawn_blocking(move || {
            let mut client = Client::connect(&url, NoTls).unwrap();
            let row = client
                .query_one(
                    "SELECT current_setting('data_directory'), current_setting('server_version')",
                    &[],
                )
                .unwrap();
            (row.get(0), row.get(1))
        })
        .await
        .unwrap();
    assert_eq!(
        std::path::Path::new(&data_directory),
        server.dir.join("data")
    );
    assert!(
        server.version.contains(&server_version),
        "{} runs {server_version}",
        server.version
    );
    assert!(server.bin.join("postgres").is_file());

    // the postmaster's pid is the first line of postmaster.pid; initdb refuses root, and so
    // does the server
    let pidfile = std::fs::read_to_string(server.dir.join("data/postmaster.pid")).unwrap();
    let pid = pidfile.lines().next().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .unwrap();
    assert_ne!(
        uid,
        "0",
        "the server runs as root; its log:\n{}",
        server.log()
    );
}
