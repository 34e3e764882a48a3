//! A real `switchboard serve` process for tests: started with the caller's
//! arguments, its address read from its `listening on` log line, its logs
//! drained so it never blocks on a full pipe.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
};

/// Start `command` (a `switchboard serve …` with `--listen 127.0.0.1:0`) and
/// wait for the address it listens on.
pub(crate) fn spawn_listening(mut command: Command) -> (Child, SocketAddr) {
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
