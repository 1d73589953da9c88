//! Behaviour tests of `asynchronously::periodic`.
