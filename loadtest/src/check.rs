//! The correctness checker (in progress).
