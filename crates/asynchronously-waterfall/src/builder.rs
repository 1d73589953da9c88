use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use asynchronously_time::{Clock, RealClock};

use crate::shared::{Limits, Shared, Weigher};
use crate::{BatchFn, BatchOutput, BuildError, Waterfall, WaterfallWorker};

/// Configures a batcher; made by [`Waterfall::builder`].
///
/// Defaults: no weight limit, one batch in flight, a queue of `2 × max_items` items, no
/// finalize timeout (close waits for every batch), [`RealClock`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::waterfall::Waterfall;
///
/// let (waterfall, worker) = Waterfall::builder(500, Duration::from_millis(20))
///     .max_weight(1 << 20, |row: &Vec<u8>| row.len()) // at most 1 MiB per batch
///     .max_in_flight(4)
///     .queue_capacity(10_000)
///     .finalize_timeout(Duration::from_secs(5))
///     .build(|_rows: Vec<Vec<u8>>| async move { Ok::<(), std::io::Error>(()) })?;
/// # let _ = (waterfall, worker);
/// # Ok::<_, asynchronously::waterfall::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct WaterfallBuilder<T, C: Clock = RealClock> {
    max_items: usize,
    max_wait: Duration,
    weight: Option<(usize, Weigher<T>)>,
    max_in_flight: usize,
    queue_capacity: Option<usize>,
    finalize_timeout: Duration,
    clock: C,
}

impl<T> WaterfallBuilder<T> {
    pub(crate) fn new(max_items: usize, max_wait: Duration) -> Self {
        WaterfallBuilder {
            max_items,
            max_wait,
            weight: None,
            max_in_flight: 1,
            queue_capacity: None,
            finalize_timeout: Duration::MAX,
            clock: RealClock,
        }
    }
}

impl<T, C: Clock> WaterfallBuilder<T, C> {
    /// Also closes a batch before its total weight would exceed `max_weight`; `weigher` gives
    /// each item's weight (bytes, rows, tokens, …).
    ///
    /// A batch holds at most `max_items` items **and** at most `max_weight`. An item that
    /// alone weighs more than `max_weight` is refused by `put` and `submit`
    /// ([`PutError::TooHeavy`](crate::PutError::TooHeavy)). Zero is rejected by
    /// [`build`](WaterfallBuilder::build).
    ///
    /// The weigher runs in the caller of `put`/`submit`, before anything is locked: a
    /// panicking weigher panics that caller and queues nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let (log, batches) = std::sync::mpsc::channel();
    /// let (waterfall, worker) = Waterfall::builder(10, Duration::MAX)
    ///     .max_weight(10, |word: &&'static str| word.len())
    ///     .build(move |batch: Vec<&'static str>| { let _ = log.send(batch); async {} })?;
    /// for word in ["four", "five", "three", "one"] {
    ///     waterfall.try_put(word)?;
    /// }
    /// futures::join!(waterfall.close(), worker);
    /// assert_eq!(batches.try_iter().collect::<Vec<_>>(), [vec!["four", "five"], vec!["three", "one"]]);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn max_weight(
        mut self,
        max_weight: usize,
        weigher: impl Fn(&T) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.weight = Some((max_weight, Box::new(weigher)));
        self
    }

    /// How many batches may run at once (default 1). Further batches wait, sealed and in
    /// order, and the queue fills behind them.
    ///
    /// # Examples
    ///
    /// See [`WaterfallBuilder`].
    pub fn max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// How many items may wait for a batch (default `2 × max_items`); `put` and `submit`
    /// wait for room beyond it, `try_put` and `try_submit` return
    /// [`TryPutError::Full`](crate::TryPutError::Full). Items in running batches do not count.
    ///
    /// # Examples
    ///
    /// See [`Waterfall::try_put`].
    pub fn queue_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = Some(queue_capacity);
        self
    }

    /// Bounds [`close`](Waterfall::close): once `timeout` has passed since the close, running
    /// batches are cancelled and reported, and items not yet sent are handed back. Default
    /// `Duration::MAX`: close waits for every batch.
    ///
    /// # Examples
    ///
    /// See [`WaterfallBuilder`].
    pub fn finalize_timeout(mut self, timeout: Duration) -> Self {
        self.finalize_timeout = timeout;
        self
    }

    /// Measures `max_wait` and the finalize timeout on `clock` (for example a
    /// [`VirtualClock`](asynchronously_time::VirtualClock) in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::time::VirtualClock;
    /// use asynchronously::waterfall::Waterfall;
    ///
    /// let clock = VirtualClock::new();
    /// let (_waterfall, _worker) = Waterfall::builder(10, Duration::from_secs(1))
    ///     .with_clock(clock.clone())
    ///     .build(|_batch: Vec<u32>| async {})?;
    /// # Ok::<_, asynchronously::waterfall::BuildError>(())
    /// ```
    pub fn with_clock<C2: Clock>(self, clock: C2) -> WaterfallBuilder<T, C2> {
        WaterfallBuilder {
            max_items: self.max_items,
            max_wait: self.max_wait,
            weight: self.weight,
            max_in_flight: self.max_in_flight,
            queue_capacity: self.queue_capacity,
            finalize_timeout: self.finalize_timeout,
            clock,
        }
    }

    /// Validates the settings and returns the [`Waterfall`] handle and the
    /// [`WaterfallWorker`] that calls `batch_fn` with every batch; spawn the worker.
    ///
    /// `batch_fn` returns `()` or `Result<(), E>` for fire-and-forget batches, or one result
    /// per item (`Vec<Out>` or `Result<Vec<Out>, E>`) for [`submit`](Waterfall::submit);
    /// see [`BatchOutput`].
    ///
    /// # Errors
    ///
    /// [`BuildError`] if `max_items`, `max_wait`, `max_weight`, `max_in_flight` or
    /// `queue_capacity` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::waterfall::{BuildError, Waterfall};
    ///
    /// let zero_wait = Waterfall::builder(10, Duration::ZERO).build(|_batch: Vec<u32>| async {});
    /// assert_eq!(zero_wait.err(), Some(BuildError::ZeroMaxWait));
    /// ```
    #[expect(clippy::type_complexity, reason = "the pair is spelled out so rustdoc shows it")]
    pub fn build<F>(
        self,
        batch_fn: F,
    ) -> Result<
        (
            Waterfall<T, <F::Output as BatchOutput>::Out, <F::Output as BatchOutput>::Error>,
            WaterfallWorker<T, F, C>,
        ),
        BuildError,
    >
    where
        F: BatchFn<T>,
    {
        if self.max_items == 0 {
            return Err(BuildError::ZeroMaxItems);
        }
        if self.max_wait.is_zero() {
            return Err(BuildError::ZeroMaxWait);
        }
        if matches!(self.weight, Some((0, _))) {
            return Err(BuildError::ZeroMaxWeight);
        }
        if self.max_in_flight == 0 {
            return Err(BuildError::ZeroMaxInFlight);
        }
        if self.queue_capacity == Some(0) {
            return Err(BuildError::ZeroQueueCapacity);
        }
        let limits = Limits {
            max_items: self.max_items,
            max_wait: (self.max_wait != Duration::MAX).then_some(self.max_wait),
            weight: self.weight,
            capacity: self.queue_capacity.unwrap_or(self.max_items.saturating_mul(2)),
            finalize_timeout: self.finalize_timeout,
        };
        let now = {
            let clock = self.clock.clone();
            Box::new(move || clock.now())
        };
        let shared = Arc::new(Shared::new(limits, now));
        let worker =
            WaterfallWorker::new(Arc::clone(&shared), batch_fn, self.clock, self.max_in_flight);
        Ok((Waterfall { shared }, worker))
    }
}

impl<T, C: Clock> fmt::Debug for WaterfallBuilder<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaterfallBuilder")
            .field("max_items", &self.max_items)
            .field("max_wait", &self.max_wait)
            .field("max_weight", &self.weight.as_ref().map(|(max, _)| *max))
            .field("max_in_flight", &self.max_in_flight)
            .field("queue_capacity", &self.queue_capacity)
            .field("finalize_timeout", &self.finalize_timeout)
            .field("clock", &self.clock)
            .finish()
    }
}
