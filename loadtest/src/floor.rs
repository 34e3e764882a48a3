//! The transport floor (in progress).
