use std::fmt;

/// How urgent a waiter is: a **lower value is served first**, like Unix `nice`.
///
/// Waiters with equal priority are served in arrival order (FIFO). Any `i32` is allowed; the
/// named constants make call sites read clearly. `Priority` orders by value, so
/// `Priority::HIGH < Priority::LOW`: the smaller one is served first.
///
/// # Examples
///
/// ```
/// use asynchronously::priority_semaphore::Priority;
///
/// assert!(Priority::HIGH < Priority::NORMAL);
/// assert_eq!(Priority::from(5).value(), 5);
/// assert_eq!(Priority::default(), Priority::NORMAL);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Priority(i32);

impl Priority {
    /// Served before everything else (`i32::MIN`).
    pub const HIGHEST: Priority = Priority(i32::MIN);
    /// Urgent work (`-10`).
    pub const HIGH: Priority = Priority(-10);
    /// The default (`0`), also the ambient priority outside any [`with_priority`](crate::with_priority) scope.
    pub const NORMAL: Priority = Priority(0);
    /// Work that can wait (`10`).
    pub const LOW: Priority = Priority(10);
    /// Served after everything else (`i32::MAX`).
    pub const LOWEST: Priority = Priority(i32::MAX);

    /// A priority with the given value; lower values are served first.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::Priority;
    ///
    /// assert!(Priority::new(1) < Priority::new(5));
    /// ```
    #[must_use]
    pub const fn new(value: i32) -> Priority {
        Priority(value)
    }

    /// The numeric value; lower values are served first.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::Priority;
    ///
    /// assert_eq!(Priority::HIGH.value(), -10);
    /// ```
    #[must_use]
    pub const fn value(self) -> i32 {
        self.0
    }

    /// The ambient priority of the code running now: the one set by the innermost
    /// [`with_priority`](crate::with_priority) scope being polled on this thread, or
    /// [`Priority::NORMAL`] outside any scope.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use asynchronously::priority_semaphore::{Priority, with_priority};
    ///
    /// assert_eq!(Priority::current(), Priority::NORMAL);
    /// let inside = with_priority(Priority::HIGH, async { Priority::current() }).await;
    /// assert_eq!(inside, Priority::HIGH);
    /// # });
    /// ```
    #[must_use]
    pub fn current() -> Priority {
        crate::with_priority::ambient()
    }
}

impl From<i32> for Priority {
    fn from(value: i32) -> Priority {
        Priority(value)
    }
}

impl From<Priority> for i32 {
    fn from(priority: Priority) -> i32 {
        priority.0
    }
}

impl fmt::Debug for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Priority::HIGHEST => f.write_str("Priority::HIGHEST"),
            Priority::HIGH => f.write_str("Priority::HIGH"),
            Priority::NORMAL => f.write_str("Priority::NORMAL"),
            Priority::LOW => f.write_str("Priority::LOW"),
            Priority::LOWEST => f.write_str("Priority::LOWEST"),
            Priority(value) => write!(f, "Priority({value})"),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
