//! The [`gather!`](crate::gather!) macro: a strict gather of futures of different types.

/// A strict gather of futures of different value types: a future of a tuple of values in
/// argument order, or of the first error, after the other futures were dropped.
///
/// Every future must have the same error type. Expands to futures' `try_join!` inside an
/// `async` block: all futures are polled on each wake-up, which is the fastest choice for
/// the handful of arguments a macro takes.
///
/// # Cancel safety
///
/// Dropping the returned future drops every argument future.
///
/// # Errors
///
/// The first error of an argument, unchanged.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let (n, name) = asynchronously::gather::gather!(async { Ok(1) }, async { Ok("one") }).await?;
/// assert_eq!((n, name), (1, "one"));
/// # Ok::<(), ()>(())
/// # }).unwrap();
/// ```
#[macro_export]
macro_rules! gather {
    ($($future:expr),+ $(,)?) => {
        async { $crate::__private::futures::try_join!($($future),+) }
    };
}
