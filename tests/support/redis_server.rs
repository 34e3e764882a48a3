//! A real `redis-server` for one test, on a free loopback port, killed on drop.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// One `redis-server` process.
pub struct RedisServer {
    child: Option<Child>,
    /// Append-only file with fsync on every write: a restart keeps everything.
    durable: bool,
    pub port: u16,
    pub url: String,
    dir: tempfile::TempDir,
    /// With TLS: the TLS port (the URL's) and the PEM files it serves.
    tls: Option<(u16, Tls)>,
}

/// The PEM files of a TLS `redis-server`: its certificate and key, and the CA
/// that signed the certificate.
#[derive(Clone)]
pub struct Tls {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub ca: std::path::PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl RedisServer {
    /// Start one with nothing persisted.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// Start one that persists every write (AOF, `appendfsync always`), so a
    /// restart brings everything back.
    pub fn start_durable() -> Self {
        Self::launch(true)
    }

    /// Start one serving TLS with these files (`url` is its `rediss://`
    /// one); the plain port stays open for the readiness check only.
    pub fn start_tls(tls: Tls) -> Self {
        let tls_port = free_port();
        let mut server = Self::unstarted(false);
        server.url = format!("rediss://127.0.0.1:{tls_port}/");
        server.tls = Some((tls_port, tls));
        server.spawn();
        server
    }

    fn launch(durable: bool) -> Self {
        let mut server = Self::unstarted(durable);
        server.spawn();
        server
    }

    fn unstarted(durable: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        Self {
            durable,
            child: None,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
            dir,
            tls: None,
        }
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        if let Some((tls_port, tls)) = &self.tls {
            command
                .args(["--tls-port", &tls_port.to_string(), "--tls-cert-file"])
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                if self.durable { "yes" } else { "no" },
                "--appendfsync",
                "always",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// kill -9, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port: empty, or as it was if durable.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
