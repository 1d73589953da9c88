//! Behaviour tests of `asynchronously::priority_semaphore`.
