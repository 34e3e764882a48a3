//! `switchboard-loadtest`: the command line.

fn main() {}
