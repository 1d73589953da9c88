//! Behaviour tests of `asynchronously::retry`.
