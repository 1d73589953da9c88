use std::any::type_name;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A caller's schedule, given to [`Backoff::custom`](crate::Backoff::custom): the iterator as
/// it was given, never advanced, so every retry starts its own copy from the beginning.
#[derive(Clone)]
pub(crate) struct Schedule {
    pristine: Arc<dyn Steps>,
}

/// A schedule's iterator, cloneable behind a pointer.
pub(crate) trait Steps: Iterator<Item = Duration> + Send + Sync + 'static {
    /// A copy at the same position, boxed.
    fn clone_boxed(&self) -> Box<dyn Steps>;

    /// The iterator's type, for `Debug`.
    fn type_name(&self) -> &'static str;
}

impl Clone for Box<dyn Steps> {
    fn clone(&self) -> Self {
        (**self).clone_boxed()
    }
}

impl<I> Steps for I
where
    I: Iterator<Item = Duration> + Clone + Send + Sync + 'static,
{
    fn clone_boxed(&self) -> Box<dyn Steps> {
        Box::new(self.clone())
    }

    fn type_name(&self) -> &'static str {
        type_name::<I>()
    }
}

impl Schedule {
    pub(crate) fn new<I>(steps: I) -> Self
    where
        I: Iterator<Item = Duration> + Clone + Send + Sync + 'static,
    {
        Schedule { pristine: Arc::new(steps) }
    }

    /// A fresh copy of the schedule, from its first delay: one allocation, made when a retry
    /// first needs a delay.
    pub(crate) fn start(&self) -> Box<dyn Steps> {
        self.pristine.clone_boxed()
    }
}

impl PartialEq for Schedule {
    /// The same schedule value (a clone of one `Backoff::custom`), not equal delays: the
    /// iterators cannot be compared without running them.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pristine, &other.pristine)
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schedule").field(&self.pristine.type_name()).finish()
    }
}

impl fmt::Debug for dyn Steps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Steps").field(&self.type_name()).finish()
    }
}
