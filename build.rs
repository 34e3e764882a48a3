//! Rebuild when a file is added to or removed from the embedded web folders:
//! `rust-embed` includes each file it found, so cargo sees edits to those, but
//! not a new file beside them.

fn main() {
    println!("cargo:rerun-if-changed=web-widget/src");
    println!("cargo:rerun-if-changed=web-widget/demo");
    println!("cargo:rerun-if-changed=web-widget/console");
}
