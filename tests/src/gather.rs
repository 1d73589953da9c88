//! Behaviour tests of `asynchronously::gather`.
