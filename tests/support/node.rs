//! A real `switchboard serve` process for tests: started with the caller's
//! arguments, its address read from its `listening on` log line, its logs
//! drained so it never blocks on a full pipe, killed on drop.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
};

/// One `switchboard serve` process, killed (and reaped) on drop.
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Node {
    /// Start `command` (a `switchboard serve …` with `--listen 127.0.0.1:0`)
    /// and wait for the address it listens on.
    pub(crate) fn spawn(command: Command) -> Self {
        let (child, addr) = spawn_listening(command);
        Self { child, addr }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_listening(mut command: Command) -> (Child, SocketAddr) {
    let mut child = command
        .env_remove("SWITCHBOARD_LISTEN")
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchboard starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("node exited before listening")
            .expect("readable log");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest
                .trim()
                .parse()
                .expect("an address after `listening on`");
        }
    };
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, addr)
}
