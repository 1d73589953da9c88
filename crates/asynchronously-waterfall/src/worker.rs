use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use asynchronously_time::{Alarm, Clock, RealClock};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::reply::{self, Responders};
use crate::shared::{Entry, Shared};
use crate::{BatchFn, BatchOutput, SubmitError, WaterfallEvent};

mod run;

use self::run::{Finished, Run};

/// Batches started in one poll before the worker yields to the executor, so a queue that is
/// always full cannot starve other tasks.
const BATCHES_PER_POLL: u32 = 32;

type Out<T, F> = <<F as BatchFn<T>>::Output as BatchOutput>::Out;
type Error<T, F> = <<F as BatchFn<T>>::Output as BatchOutput>::Error;
type Hook<T, E> = Box<dyn FnMut(WaterfallEvent<T, E>) + Send>;
type RespondersOf<T, F> = Responders<T, Out<T, F>, Error<T, F>>;
type SharedOf<T, F> = Shared<T, Out<T, F>, Error<T, F>>;
type RunOf<T, F> = Run<<F as BatchFn<T>>::Future, T, Out<T, F>, Error<T, F>>;

/// The future that sends a [`Waterfall`](crate::Waterfall)'s batches; spawn it (or join it).
///
/// It watches the queue, closes batches by count, weight, `max_wait` (armed from each
/// batch's first item), flush and close, calls the batch function for each batch (at most
/// `max_in_flight` at a time, driven inside the worker: nothing is spawned), and hands each
/// submitter its result. It completes after [`close`](crate::Waterfall::close) (or once every
/// handle is dropped), when everything has been sent and every batch has finished, or once
/// the finalize timeout has cancelled the rest.
///
/// **If it is not polled**, nothing is sent: no batch function runs, `max_wait` passes
/// unnoticed, `submit` futures never complete, the queue fills up until `put` and `submit`
/// wait forever (and `try_put` returns `Full`), and [`Close`](crate::Close) never completes —
/// the finalize timeout is enforced by the worker too. Put and close still take effect.
///
/// Failed, panicked, cancelled and unsent batches are reported to the hook set with
/// [`on_event`](WaterfallWorker::on_event); their items count as done.
///
/// # Cancel safety
///
/// Dropping the worker loses no collected item silently: running batches are dropped (their
/// submitters get [`SubmitError::Cancelled`], and each is reported as
/// [`WaterfallEvent::Cancelled`]), queued items go back to their submitters as
/// [`SubmitError::Unsent`] carrying the item, and items queued with `put` are handed to the
/// hook in one [`WaterfallEvent::Unsent`]. The waterfall is then closed and every
/// [`Close`](crate::Close) completes.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
///
/// use asynchronously::time::VirtualClock;
/// use asynchronously::waterfall::Waterfall;
///
/// let clock = VirtualClock::new();
/// let (waterfall, worker) = Waterfall::builder(10, Duration::from_millis(50))
///     .with_clock(clock.clone())
///     .build(|_batch: Vec<u32>| async { Err::<(), _>("backend down") })?;
/// let (log, events) = std::sync::mpsc::channel();
/// let worker = worker.on_event(move |event| { let _ = log.send(event.to_string()); });
/// futures::join!(worker, async {
///     waterfall.try_put(1)?;
///     clock.run_for(Duration::from_millis(50)).await; // the batch's wait is over
///     waterfall.close().await;
///     Ok::<_, asynchronously::waterfall::TryPutError<u32>>(())
/// }).1?;
/// assert_eq!(events.try_iter().collect::<Vec<_>>(), ["waterfall batch 1 (1 items) failed: backend down"]);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use = "the worker does nothing unless spawned, joined or polled"]
pub struct WaterfallWorker<T, F: BatchFn<T>, C: Clock = RealClock> {
    shared: Arc<SharedOf<T, F>>,
    batch_fn: F,
    clock: C,
    max_in_flight: usize,
    running: FuturesUnordered<RunOf<T, F>>,
    /// The open batch's `max_wait` deadline.
    alarm: Alarm<C::Sleep>,
    hook: Option<Hook<T, Error<T, F>>>,
    closing: bool,
    /// Fires at the finalize deadline, once closing.
    finalize: Option<C::Sleep>,
    batches_started: u64,
    done: bool,
}

impl<T, F: BatchFn<T>, C: Clock> WaterfallWorker<T, F, C> {
    pub(crate) fn new(
        shared: Arc<SharedOf<T, F>>,
        batch_fn: F,
        clock: C,
        max_in_flight: usize,
    ) -> Self {
        WaterfallWorker {
            shared,
            batch_fn,
            clock,
            max_in_flight,
            running: FuturesUnordered::new(),
            alarm: Alarm::new(),
            hook: None,
            closing: false,
            finalize: None,
            batches_started: 0,
            done: false,
        }
    }

    /// Reports failed, panicked, cancelled and unsent batches to `hook`.
    ///
    /// Without a hook they are dropped (submitters still get their errors). The hook runs
    /// inside the worker's poll: keep it quick. A panic in the hook is not caught: it
    /// propagates out of the worker, whose drop then hands back what it holds.
    ///
    /// # Examples
    ///
    /// See [`WaterfallWorker`].
    pub fn on_event(
        mut self,
        hook: impl FnMut(WaterfallEvent<T, Error<T, F>>) + Send + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    fn emit(&mut self, event: WaterfallEvent<T, Error<T, F>>) {
        #[cfg(feature = "tracing")]
        trace_event(&event);
        if let Some(hook) = &mut self.hook {
            hook(event);
        }
    }

    fn poll_running(&mut self, cx: &mut Context<'_>) {
        while !self.running.is_empty() {
            match self.running.poll_next_unpin(cx) {
                Poll::Ready(Some(finished)) => self.finish_batch(finished),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
    }

    /// Hands every submitter of a finished batch its result, and reports failures.
    fn finish_batch(&mut self, finished: Finished<F::Output, T, Out<T, F>, Error<T, F>>) {
        let Finished { batch, items, outcome, responders } = finished;
        match outcome {
            Ok(output) => match output.into_results(items) {
                Ok(results) => {
                    let returned = results.len();
                    if !responders.is_empty() {
                        responders.send_all(
                            results
                                .into_iter()
                                .map(Ok)
                                .chain(std::iter::repeat_with(|| Err(SubmitError::NoResult))),
                        );
                    }
                    if returned < items {
                        self.emit(WaterfallEvent::MissingResults {
                            batch,
                            items,
                            results: returned,
                        });
                    }
                }
                Err(error) => {
                    let error = Arc::new(error);
                    responders.send_all(std::iter::repeat_with(|| {
                        Err(SubmitError::Failed(Arc::clone(&error)))
                    }));
                    self.emit(WaterfallEvent::Failed { batch, items, error });
                }
            },
            Err(payload) => {
                responders.send_all(std::iter::repeat_with(|| Err(SubmitError::Panicked)));
                self.emit(WaterfallEvent::Panicked { batch, items, payload });
            }
        }
    }

    /// Calls the batch function; a panic in the call is caught and reported like one while
    /// running.
    fn start_batch(&mut self, items: Vec<T>, responders: RespondersOf<T, F>) {
        self.batches_started += 1;
        let batch = self.batches_started;
        let len = items.len();
        let batch_fn = &mut self.batch_fn;
        match panic::catch_unwind(AssertUnwindSafe(|| batch_fn.call(items))) {
            Ok(future) => self.running.push(Run::new(future, batch, len, responders)),
            Err(payload) => {
                responders.send_all(std::iter::repeat_with(|| Err(SubmitError::Panicked)));
                self.emit(WaterfallEvent::Panicked { batch, items: len, payload });
            }
        }
    }

    /// The finalize deadline passed (or the worker is dropped): cancels the running batches
    /// and hands back everything still queued.
    fn abort(&mut self) {
        // Drop the batches' futures before any submitter hears of it.
        let mut cancelled: Vec<(u64, usize, RespondersOf<T, F>)> =
            Pin::new(&mut self.running).iter_pin_mut().map(|run| run.take_responders()).collect();
        self.running.clear();
        cancelled.sort_unstable_by_key(|(batch, ..)| *batch);
        let entries: Vec<Entry<T>> = {
            let mut state = self.shared.lock();
            state.sealed.clear();
            state.seal();
            state.sealed.clear();
            state.queue.drain(..).collect()
        };
        let reporting = !std::thread::panicking();
        for (batch, items, responders) in cancelled {
            drop(responders); // each tells its submitter `Cancelled`
            if reporting {
                self.emit(WaterfallEvent::Cancelled { batch, items });
            }
        }
        let mut unsent = Vec::new();
        let mut handed_back = Vec::new();
        for Entry { item, reply } in entries {
            match reply {
                Some(slot) => handed_back.push((slot, Err(SubmitError::Unsent(item)))),
                None => unsent.push(item),
            }
        }
        reply::send_each(&self.shared, handed_back);
        if !unsent.is_empty() && reporting {
            self.emit(WaterfallEvent::Unsent { items: unsent });
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.alarm.clear();
        self.finalize = None;
        self.shared.finish();
    }

    /// Takes the next sealed batch off the queue, leaving out items whose submitter is gone.
    /// Returns the items, their responders (empty when no item has a submitter), and the
    /// places freed; `None` if no batch is sealed.
    fn take_batch(&mut self, discarded: &mut Vec<T>) -> Taken<T, F> {
        let mut state = self.shared.lock();
        let len = state.sealed.pop_front()?;
        let mut items = Vec::with_capacity(len);
        let mut responders = Responders::new();
        let state = &mut *state;
        for entry in state.queue.drain(..len) {
            match entry.reply {
                None => {
                    responders.push_none();
                    items.push(entry.item);
                }
                Some(slot) if state.replies.release_if_abandoned(slot) => {
                    // Dropped after unlocking: the item's `Drop` is user code.
                    discarded.push(entry.item);
                }
                Some(slot) => {
                    responders.push(&self.shared, items.len(), slot);
                    items.push(entry.item);
                }
            }
        }
        Some((items, responders, len))
    }

    fn step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        let mut budget = BATCHES_PER_POLL;
        let mut discarded = Vec::new();
        loop {
            self.poll_running(cx);
            if let Some(finalize) = &mut self.finalize {
                if Pin::new(finalize).poll(cx).is_ready() {
                    self.abort();
                    self.finish();
                    return Poll::Ready(());
                }
            }
            let (closed, finalize_at, open_since) = {
                let mut state = self.shared.lock();
                match &mut state.worker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    slot @ None => *slot = Some(cx.waker().clone()),
                }
                let open_since = if state.open_len > 0 { state.open_since } else { None };
                (state.closed, state.finalize_at, open_since)
            };
            if closed && !self.closing {
                self.closing = true;
                self.alarm.clear();
                if let Some(deadline) = finalize_at {
                    self.finalize = Some(self.clock.sleep_until(deadline));
                    continue; // poll it, so an expired deadline is seen before anything starts
                }
            }
            if self.running.len() < self.max_in_flight && budget > 0 {
                if let Some((items, responders, freed)) = self.take_batch(&mut discarded) {
                    self.shared.freed(freed);
                    discarded.clear();
                    if !items.is_empty() {
                        budget -= 1;
                        self.start_batch(items, responders);
                    }
                    continue;
                }
            } else if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.closing {
                if self.running.is_empty() && self.shared.lock().queue.is_empty() {
                    self.finish();
                    return Poll::Ready(());
                }
                // Everything is sealed: waiting for running batches (which wake us).
                return Poll::Pending;
            }
            let max_wait = self.shared.limits.max_wait;
            let due = open_since.zip(max_wait).and_then(|(since, wait)| since.checked_add(wait));
            let Some(due) = due else {
                self.alarm.disarm();
                return Poll::Pending;
            };
            if self.alarm.poll_until(&self.clock, due, cx).is_pending() {
                return Poll::Pending;
            }
            let mut state = self.shared.lock();
            if state.open_len > 0 && state.open_since == open_since {
                state.seal();
            }
        }
    }
}

/// A sealed batch taken off the queue: items, responders, places freed.
type Taken<T, F> = Option<(Vec<T>, RespondersOf<T, F>, usize)>;

#[cfg(feature = "tracing")]
fn trace_event<T, E>(event: &WaterfallEvent<T, E>) {
    match event {
        WaterfallEvent::Failed { batch, items, .. } => {
            tracing::warn!(batch, items, "waterfall batch {batch} ({items} items) failed");
        }
        WaterfallEvent::Panicked { batch, items, .. } => {
            tracing::warn!(batch, items, "waterfall batch {batch} ({items} items) panicked");
        }
        WaterfallEvent::Cancelled { batch, items } => tracing::warn!(
            batch,
            items,
            "waterfall batch {batch} ({items} items) was cancelled while running"
        ),
        WaterfallEvent::MissingResults { batch, items, results } => tracing::warn!(
            batch,
            items,
            results,
            "waterfall batch {batch} returned {results} results for {items} items"
        ),
        WaterfallEvent::Unsent { items } => {
            let items = items.len();
            tracing::warn!(items, "waterfall: {items} queued items were never sent");
        }
    }
}

impl<T, F: BatchFn<T>, C: Clock> Future for WaterfallWorker<T, F, C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().step(cx)
    }
}

// The worker pins nothing itself: the running batches are pinned inside `FuturesUnordered`.
impl<T, F: BatchFn<T>, C: Clock> Unpin for WaterfallWorker<T, F, C> {}

impl<T, F: BatchFn<T>, C: Clock> Drop for WaterfallWorker<T, F, C> {
    fn drop(&mut self) {
        if !self.done {
            self.abort();
            self.finish();
        }
    }
}

impl<T, F: BatchFn<T>, C: Clock> fmt::Debug for WaterfallWorker<T, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaterfallWorker")
            .field("batches_started", &self.batches_started)
            .field("running", &self.running.len())
            .field("closing", &self.closing)
            .field("finished", &self.done)
            .finish_non_exhaustive()
    }
}
