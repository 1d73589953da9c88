use std::fmt;
use std::sync::Arc;

use asynchronously_time::{Clock, RealClock};

use crate::{Priority, PrioritySemaphore};

/// Permits from a [`PrioritySemaphore`], borrowed from it; they are returned when dropped.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
///
/// let semaphore = PrioritySemaphore::new(1);
/// let permit = semaphore.acquire(Priority::HIGH).await?;
/// assert_eq!(semaphore.available_permits(), 0);
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 1);
/// # Ok::<(), asynchronously::priority_semaphore::AcquireError>(())
/// # }).unwrap();
/// ```
#[must_use = "if unused the permit is released immediately"]
pub struct Permit<'a, C: Clock = RealClock> {
    semaphore: &'a PrioritySemaphore<C>,
    permits: usize,
    priority: Priority,
}

/// Permits from a [`PrioritySemaphore`] held in an `Arc`; they are returned when dropped.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
///
/// let semaphore = Arc::new(PrioritySemaphore::new(2));
/// let permit = Arc::clone(&semaphore).try_acquire_many_owned(2, Priority::LOW)?;
/// assert_eq!(semaphore.available_permits(), 0);
/// drop(permit);
/// assert_eq!(semaphore.available_permits(), 2);
/// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
/// ```
#[must_use = "if unused the permit is released immediately"]
pub struct OwnedPermit<C: Clock = RealClock> {
    semaphore: Arc<PrioritySemaphore<C>>,
    permits: usize,
    priority: Priority,
}

impl<'a, C: Clock> Permit<'a, C> {
    #[inline]
    pub(crate) fn new(
        semaphore: &'a PrioritySemaphore<C>,
        permits: usize,
        priority: Priority,
    ) -> Self {
        Permit { semaphore, permits, priority }
    }

    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(3);
    /// assert_eq!(semaphore.try_acquire_many(2, Priority::NORMAL)?.num_permits(), 2);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The priority it was acquired at (the resolved ambient one for `*_ambient` acquires).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// assert_eq!(semaphore.try_acquire(Priority::LOW)?.priority(), Priority::LOW);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The semaphore the permits belong to.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(1);
    /// let permit = semaphore.try_acquire(Priority::LOW)?;
    /// assert!(std::ptr::eq(permit.semaphore(), &semaphore));
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn semaphore(&self) -> &'a PrioritySemaphore<C> {
        self.semaphore
    }

    /// Destroys the permits instead of returning them: the semaphore's
    /// [total](PrioritySemaphore::total_permits) shrinks by [`num_permits`](Self::num_permits).
    ///
    /// Queued requests larger than the new total fail with
    /// [`AcquireError::TooLarge`](crate::AcquireError::TooLarge), so they never wait forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(2);
    /// semaphore.try_acquire(Priority::NORMAL)?.forget();
    /// assert_eq!((semaphore.available_permits(), semaphore.total_permits()), (1, 1));
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    pub fn forget(mut self) {
        let permits = std::mem::take(&mut self.permits);
        self.semaphore.forget(permits);
    }

    /// Splits `permits` off into a new permit of the same semaphore and priority, so they can
    /// be given back (dropped) before the rest. Returns `None`, changing nothing, if this
    /// holds fewer than `permits`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(4);
    /// let mut permit = semaphore.try_acquire_many(4, Priority::NORMAL)?;
    /// let part = permit.split(3).expect("holds 4");
    /// drop(part);
    /// assert_eq!((permit.num_permits(), semaphore.available_permits()), (1, 3));
    /// assert!(permit.split(2).is_none());
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use = "the split-off permits are released at once if unused"]
    pub fn split(&mut self, permits: usize) -> Option<Permit<'a, C>> {
        self.permits = self.permits.checked_sub(permits)?;
        Some(Permit { semaphore: self.semaphore, permits, priority: self.priority })
    }

    /// Moves the permits of `other` into this one; they are then released together.
    ///
    /// # Panics
    ///
    /// Panics if `other` belongs to a different semaphore (its permits are then released
    /// normally, as it is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = PrioritySemaphore::new(3);
    /// let mut permit = semaphore.try_acquire(Priority::NORMAL)?;
    /// permit.merge(semaphore.try_acquire_many(2, Priority::NORMAL)?);
    /// assert_eq!(permit.num_permits(), 3);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    pub fn merge(&mut self, mut other: Permit<'a, C>) {
        assert!(
            std::ptr::eq(self.semaphore, other.semaphore),
            "Permit::merge: the permits belong to different semaphores; merge only permits of one"
        );
        self.permits += std::mem::take(&mut other.permits);
    }
}

impl<C: Clock> OwnedPermit<C> {
    #[inline]
    pub(crate) fn new(
        semaphore: Arc<PrioritySemaphore<C>>,
        permits: usize,
        priority: Priority,
    ) -> Self {
        OwnedPermit { semaphore, permits, priority }
    }

    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(1));
    /// assert_eq!(semaphore.try_acquire_owned(Priority::NORMAL)?.num_permits(), 1);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The priority it was acquired at.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(1));
    /// assert_eq!(semaphore.try_acquire_owned(Priority::HIGH)?.priority(), Priority::HIGH);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The semaphore the permits belong to.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(1));
    /// let permit = Arc::clone(&semaphore).try_acquire_owned(Priority::HIGH)?;
    /// assert!(Arc::ptr_eq(permit.semaphore(), &semaphore));
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use]
    pub fn semaphore(&self) -> &Arc<PrioritySemaphore<C>> {
        &self.semaphore
    }

    /// Destroys the permits instead of returning them, as [`Permit::forget`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(2));
    /// Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL)?.forget();
    /// assert_eq!(semaphore.total_permits(), 1);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    pub fn forget(mut self) {
        let permits = std::mem::take(&mut self.permits);
        self.semaphore.forget(permits);
    }

    /// Splits `permits` off into a new permit, as [`Permit::split`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(2));
    /// let mut permit = Arc::clone(&semaphore).try_acquire_many_owned(2, Priority::NORMAL)?;
    /// drop(permit.split(1));
    /// assert_eq!(semaphore.available_permits(), 1);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    #[must_use = "the split-off permits are released at once if unused"]
    pub fn split(&mut self, permits: usize) -> Option<OwnedPermit<C>> {
        self.permits = self.permits.checked_sub(permits)?;
        Some(OwnedPermit {
            semaphore: Arc::clone(&self.semaphore),
            permits,
            priority: self.priority,
        })
    }

    /// Moves the permits of `other` into this one, as [`Permit::merge`].
    ///
    /// # Panics
    ///
    /// Panics if `other` belongs to a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use asynchronously::priority_semaphore::{Priority, PrioritySemaphore};
    ///
    /// let semaphore = Arc::new(PrioritySemaphore::new(2));
    /// let mut permit = Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL)?;
    /// permit.merge(Arc::clone(&semaphore).try_acquire_owned(Priority::NORMAL)?);
    /// assert_eq!(permit.num_permits(), 2);
    /// # Ok::<(), asynchronously::priority_semaphore::TryAcquireError>(())
    /// ```
    pub fn merge(&mut self, mut other: OwnedPermit<C>) {
        assert!(
            Arc::ptr_eq(&self.semaphore, &other.semaphore),
            "OwnedPermit::merge: the permits belong to different semaphores; merge only permits of one"
        );
        self.permits += std::mem::take(&mut other.permits);
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    #[inline]
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl<C: Clock> Drop for OwnedPermit<C> {
    #[inline]
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl<C: Clock> fmt::Debug for Permit<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> fmt::Debug for OwnedPermit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("permits", &self.permits)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

// Compile-time promises, kept next to the types: losing them is a breaking change.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Permit<'static>>();
    assert_send_sync::<OwnedPermit>();
};
