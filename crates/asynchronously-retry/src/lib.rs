//! Retry fallible async operations with backoff, on any runtime.
//!
//! Work in progress: see `docs/guide/retry.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]
