//! Admission of futures from an iterator or a stream into the children. Under a
//! concurrency limit the source is pulled only as places free up; without one, everything
//! it has is started at once (a stream at most 1024 futures per poll).

use std::fmt;
use std::future::Future;
use std::iter::Map;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::IntoFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use pin_project::pin_project;

use crate::children::{Children, Node, Pass};

/// Up to this many futures (known from the iterator's size hint), a gather is futures'
/// `try_join_all` / `join_all`, which keep them inline and poll all of them on each wake-up:
/// for so few, that beats the bookkeeping of a waker per child.
const SMALL: usize = 30;

/// Whether `futures` is known to hold at most [`SMALL`] futures.
#[inline]
pub(crate) fn fits_small(futures: &impl Iterator) -> bool {
    matches!(futures.size_hint().1, Some(max) if max <= SMALL)
}

/// The output stored for a child, which is missing only if the child panicked in an earlier
/// poll (that panic reached the caller, and the child was dropped).
///
/// A join polled again after that panics rather than return a result short of a value.
pub(crate) fn finished<T>(output: Option<T>) -> T {
    output.expect("a child of this join panicked in an earlier poll; drop the join instead of polling it again")
}

/// Stores `value` at `index`, growing `outputs` as the source is pulled.
pub(crate) fn store<T>(outputs: &mut Vec<Option<T>>, index: usize, value: T) {
    if index >= outputs.len() {
        outputs.resize_with(index + 1, || None);
    }
    outputs[index] = Some(value);
}

/// A join of fallible futures, each turned into a future of its `Result`.
pub(crate) type TryJoin<F, I> = Join<IntoFuture<F>, Map<I, fn(F) -> IntoFuture<F>>>;

/// Where a join's futures come from: an iterator, or a [`Streamed`] stream.
pub(crate) trait Source {
    type Future: Future;

    /// How many futures one poll of an unlimited join pulls before it lets the executor run
    /// (and wakes itself to go on): an iterator is pulled to its end at once, as every
    /// future is meant to start at once; a stream that is always ready must not hold the
    /// thread forever.
    const PULLS_PER_POLL: usize;

    /// The next future; `Ready(None)` once there are no more, `Pending` (with `cx` to be
    /// woken) while a stream has none yet.
    fn pull(&mut self, cx: &Context<'_>) -> Poll<Option<Self::Future>>;

    fn size_hint(&self) -> (usize, Option<usize>);
}

impl<I: Iterator<Item: Future>> Source for I {
    type Future = I::Item;

    const PULLS_PER_POLL: usize = usize::MAX;

    fn pull(&mut self, _: &Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        Iterator::size_hint(self)
    }
}

/// A stream of futures as a [`Source`] (boxed, as joins are not pinned).
pub(crate) struct Streamed<S>(pub(crate) Pin<Box<S>>);

impl<S: Stream<Item: Future>> Source for Streamed<S> {
    type Future = S::Item;

    const PULLS_PER_POLL: usize = 1024;

    fn pull(&mut self, cx: &Context<'_>) -> Poll<Option<S::Item>> {
        // `poll_next` wants `&mut Context`; a context of the same waker is as good.
        self.0.as_mut().poll_next(&mut Context::from_waker(cx.waker()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// Futures pulled from an iterator and run as children, at most `limit` at a time, keyed by
/// the order they were pulled in.
pub(crate) struct Join<F: Future, I> {
    engine: Engine<F>,
    /// `None` once the iterator returned `None` (or the join was cleared).
    source: Option<I>,
    next_key: usize,
    limit: usize,
    /// Finished outputs the owner holds, counted against the limit.
    held: usize,
    /// Whether the owner may hold each output (see [`Join::set_held`]).
    holds: bool,
}

/// What runs the children.
enum Engine<F: Future> {
    /// Without a limit: futures' `FuturesUnordered`, which keeps each child and its waker
    /// in one allocation (with `unsafe` code we do not write), so a wake-up of one of many
    /// children touches little memory.
    Unordered(FuturesUnordered<Keyed<F>>),
    /// Under a limit: our own set, in which each finished child hands its box and its
    /// waker to the next one, so while the source keeps up a stream of children allocates
    /// nothing per child.
    Slots(Children<F>),
}

/// A child with its key, as `FuturesUnordered` runs it.
#[pin_project]
pub(crate) struct Keyed<F> {
    key: usize,
    #[pin]
    future: F,
}

impl<F: Future> Future for Keyed<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let key = *this.key;
        this.future.poll(cx).map(|output| (key, output))
    }
}

/// One poll of a [`Join`].
pub(crate) struct JoinPass<'c, 'w> {
    cx: &'c Context<'w>,
    slots: Option<Pass>,
}

impl<F: Future, I: Source<Future = F>> Join<F, I> {
    pub(crate) fn new(source: I) -> Self {
        Self::from_source(Some(source))
    }

    /// A join with no source: children come from [`push`](Join::push) only.
    pub(crate) fn empty() -> Self {
        Self::from_source(None)
    }

    fn from_source(source: Option<I>) -> Self {
        Self {
            engine: Engine::Unordered(FuturesUnordered::new()),
            source,
            next_key: 0,
            limit: usize::MAX,
            held: 0,
            holds: false,
        }
    }

    /// How many futures were pulled (or pushed) so far.
    pub(crate) fn total(&self) -> usize {
        self.next_key
    }

    /// Runs at most `limit` children at a time; called before the first poll.
    pub(crate) fn set_limit(&mut self, limit: NonZeroUsize) {
        debug_assert_eq!(self.next_key, 0, "the limit is set before any child starts");
        self.limit = limit.get();
        self.engine = Engine::Slots(Children::recycling());
    }

    /// Adds a future past the limit's accounting: it runs at once, with the next key.
    pub(crate) fn push(&mut self, future: F) {
        match &mut self.engine {
            Engine::Unordered(set) => push_unordered(set, &mut self.next_key, future),
            Engine::Slots(children) => push(children, &mut self.next_key, future),
        }
    }

    /// Starts one poll of the owner. Without a limit, every future the source has now
    /// starts now; under one, children are admitted as the pass goes.
    pub(crate) fn begin<'c, 'w>(&mut self, cx: &'c Context<'w>) -> JoinPass<'c, 'w> {
        match &mut self.engine {
            Engine::Unordered(set) => {
                let mut budget = I::PULLS_PER_POLL;
                while let Some(source) = &mut self.source {
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                        break;
                    }
                    budget -= 1;
                    match source.pull(cx) {
                        Poll::Ready(Some(future)) => {
                            push_unordered(set, &mut self.next_key, future);
                        }
                        Poll::Ready(None) => self.source = None,
                        Poll::Pending => break,
                    }
                }
                JoinPass { cx, slots: None }
            }
            Engine::Slots(children) => {
                if self.next_key == 0 {
                    if let Some(source) = &self.source {
                        // An endless iterator hints `usize::MAX`: reserve a sane batch.
                        let hint = source.size_hint().0.min(self.limit).min(1 << 20);
                        children.reserve(hint);
                    }
                }
                JoinPass { cx, slots: Some(children.begin(cx)) }
            }
        }
    }

    /// The next finished child (its key and output), `Ready(None)` once the source is
    /// exhausted and every child finished.
    pub(crate) fn poll_next(
        &mut self,
        pass: &mut JoinPass<'_, '_>,
    ) -> Poll<Option<(usize, F::Output)>> {
        let Self { engine, source, next_key, limit, held, holds } = self;
        match engine {
            Engine::Unordered(set) => {
                // `poll_next_unpin` wants `&mut Context`; a copy of the waker's context is
                // as good, the set registers the waker it is given.
                let mut cx = Context::from_waker(pass.cx.waker());
                match set.poll_next_unpin(&mut cx) {
                    // A stream with more to come, later: it wakes the owner then.
                    Poll::Ready(None) if source.is_some() => Poll::Pending,
                    poll => poll,
                }
            }
            Engine::Slots(children) => {
                let cx = pass.cx;
                let room = limit.saturating_sub(*held);
                let slots = pass.slots.get_or_insert_with(|| children.begin(cx));
                let poll = children
                    .poll_next(slots, |children| admit(children, source, next_key, room, cx));
                match poll {
                    Poll::Ready(Some(_)) => {
                        // A freed place goes to the next waiting future, polled within this
                        // pass; it takes the finished child's box, or else the finished
                        // future is dropped now.
                        // An ordered owner may hold the output just finished: it counts.
                        let room = room.saturating_sub(usize::from(*holds));
                        admit(children, source, next_key, room, cx);
                        children.discard_spare_node();
                        if source.is_none() && children.len() == 0 {
                            children.clear();
                        }
                        poll
                    }
                    // A stream with more to come, later: it wakes the owner then.
                    Poll::Ready(None) if source.is_some() => Poll::Pending,
                    poll => poll,
                }
            }
        }
    }

    /// One poll of a stream over the join: a pass that takes the next output.
    pub(crate) fn poll_item(&mut self, cx: &Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        let mut pass = self.begin(cx);
        self.poll_next(&mut pass)
    }

    /// Counts `held` outputs (finished, not handed out yet) against the limit, as an
    /// ordered stream must so that one slow child cannot make it buffer without bound.
    pub(crate) fn set_held(&mut self, held: usize) {
        self.held = held;
        self.holds = true;
    }

    /// Drops every running future and the source.
    pub(crate) fn clear(&mut self) {
        match &mut self.engine {
            // A new set, not `clear`: that keeps the set's ready queue, which holds memory.
            Engine::Unordered(set) => *set = FuturesUnordered::new(),
            Engine::Slots(children) => children.clear(),
        }
        self.source = None;
    }

    /// How many outputs to make room for at the first poll: the source's lower size hint,
    /// capped as [`begin`](Join::begin) caps it. Growing the outputs by doubling instead
    /// would free large buffers mid-run, which makes glibc's allocator consolidate every
    /// small block freed so far.
    pub(crate) fn expected(&self) -> usize {
        self.size_hint().0.min(1 << 20)
    }

    /// Whether the source has been exhausted (no future waits to be admitted).
    pub(crate) fn source_done(&self) -> bool {
        self.source.is_none()
    }

    /// Bounds on the children not finished yet, running or waiting in the source.
    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        let running = self.running();
        match &self.source {
            None => (running, Some(running)),
            Some(source) => {
                let (low, high) = source.size_hint();
                (running.saturating_add(low), high.and_then(|high| high.checked_add(running)))
            }
        }
    }
}

/// Adds `future` to the unlimited set as the child keyed `next_key`.
fn push_unordered<F: Future>(
    set: &mut FuturesUnordered<Keyed<F>>,
    next_key: &mut usize,
    future: F,
) {
    set.push(Keyed { key: *next_key, future });
    *next_key += 1;
}

/// Adds `future` as the child keyed `next_key`, in the box of the child that finished last
/// if there is one.
fn push<F: Future>(children: &mut Children<F>, next_key: &mut usize, future: F) {
    let node = match children.take_spare_node() {
        Some(node) => Node::refill(node, *next_key, future),
        None => Node::boxed(*next_key, future),
    };
    children.push(node);
    *next_key += 1;
}

/// Pulls the next future from `source` into `children` if fewer than `limit` run; says
/// whether it did.
fn admit<F: Future, I: Source<Future = F>>(
    children: &mut Children<F>,
    source: &mut Option<I>,
    next_key: &mut usize,
    limit: usize,
    cx: &Context<'_>,
) -> bool {
    if children.len() >= limit {
        return false;
    }
    let Some(pulled) = source else { return false };
    match pulled.pull(cx) {
        Poll::Ready(Some(future)) => {
            push(children, next_key, future);
            true
        }
        Poll::Ready(None) => {
            *source = None;
            false
        }
        Poll::Pending => false,
    }
}

impl<F: Future, I> Join<F, I> {
    /// Children running now.
    pub(crate) fn running(&self) -> usize {
        match &self.engine {
            Engine::Unordered(set) => set.len(),
            Engine::Slots(children) => children.len(),
        }
    }
}

impl<F: Future, I> fmt::Debug for Join<F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("started", &self.next_key)
            .field("running", &self.running())
            .field("source_done", &self.source.is_none())
            .finish()
    }
}
