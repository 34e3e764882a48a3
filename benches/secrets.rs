//! ns per message for the secret scanner; written below.
fn main() {}
