//! A fair priority semaphore: lower priority values are served first, FIFO among equals, on any runtime.
//!
//! Work in progress: see `docs/guide/priority-semaphore.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]
