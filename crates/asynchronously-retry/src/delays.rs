use std::hash::{BuildHasher, RandomState};
use std::iter::FusedIterator;
use std::time::Duration;

use crate::backoff::BackoffKind;
use crate::schedule::Steps;
use crate::{Backoff, Jitter};

/// The schedule of a [`RetryPolicy`](crate::RetryPolicy): the delay before each retry, in
/// order. Returned by [`RetryPolicy::delays`](crate::RetryPolicy::delays).
///
/// It yields one delay per allowed retry (forever when retries are unlimited), and ends
/// early where a [`Backoff::custom`] schedule ends; once ended it stays ended (it is a
/// [`FusedIterator`]), and its `size_hint` is the retry limit bounded by the custom
/// schedule's own hint (exact for built-in backoffs with a limit). Every delay
/// lies within the policy's `[min_delay, max_delay]`, jitter included. Arithmetic saturates:
/// it never overflows or panics, whatever the attempt count or inputs.
///
/// A [`Retry`](crate::Retry) follows exactly this schedule (a seeded policy gives the same
/// numbers), except where the classifier answers
/// [`Verdict::RetryAfter`](crate::Verdict::RetryAfter).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::retry::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::builder()
///     .backoff(Backoff::exponential(Duration::from_secs(1), 3.0))
///     .max_retries(4)
///     .build()?;
/// let delays: Vec<u64> = policy.delays().map(|d| d.as_secs()).collect();
/// assert_eq!(delays, [1, 3, 9, 27]);
/// # Ok::<_, asynchronously::retry::PolicyError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "iterators do nothing unless consumed"]
pub struct Delays {
    shape: Shape,
    cursor: Cursor,
    /// Retries left to yield; `None` = unlimited.
    remaining: Option<u32>,
}

/// The settings of a schedule, held by the policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    pub(crate) backoff: Backoff,
    pub(crate) jitter: Jitter,
    pub(crate) min_delay: Duration,
    pub(crate) max_delay: Duration,
}

/// The moving part of a schedule: small, so a [`Retry`](crate::Retry) stays small.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    position: Position,
    rng: SplitMix64,
}

/// Where a schedule is: the state of a built-in backoff, or a copy of a custom schedule.
#[derive(Debug, Clone)]
enum Position {
    /// A built-in backoff.
    Grow {
        /// The backoff's raw delay for the next retry (constant, linear, exponential,
        /// fibonacci), or the previous delay (decorrelated jitter).
        current: Duration,
        /// The fibonacci successor of `current`, in nanoseconds (`u64::MAX`: beyond 584
        /// years, read as `Duration::MAX`), so that the cursor fits in 32 bytes and the
        /// `Retry` future stays small enough to be moved without a `memcpy` call.
        next: u64,
    },
    /// A [`Backoff::custom`] schedule's own iterator; `None` once it ended, so the schedule
    /// stays ended even if the iterator would resume.
    Custom(Option<Box<dyn Steps>>),
}

impl Delays {
    pub(crate) fn new(shape: Shape, remaining: Option<u32>, seed: Option<u64>) -> Self {
        let cursor = Cursor::new(&shape, seed);
        Delays { shape, cursor, remaining }
    }
}

impl Shape {
    /// The delay before every retry when it never changes (constant backoff, no jitter):
    /// computed once so a retry loop need not run the schedule.
    pub(crate) fn fixed_delay(&self) -> Option<Duration> {
        match (&self.backoff.kind, self.jitter) {
            (BackoffKind::Constant(delay), Jitter::None) => {
                Some((*delay).min(self.max_delay).clamp(self.min_delay, self.max_delay))
            }
            _ => None,
        }
    }
}

/// `duration` in nanoseconds, saturating at `u64::MAX`.
fn to_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The inverse of [`to_nanos`]: `u64::MAX` (a saturated value) is `Duration::MAX`.
fn from_nanos(nanos: u64) -> Duration {
    if nanos == u64::MAX { Duration::MAX } else { Duration::from_nanos(nanos) }
}

impl Cursor {
    pub(crate) fn new(shape: &Shape, seed: Option<u64>) -> Self {
        let position = match &shape.backoff.kind {
            BackoffKind::Constant(initial)
            | BackoffKind::Linear { initial, .. }
            | BackoffKind::Exponential { initial, .. }
            | BackoffKind::Fibonacci(initial)
            | BackoffKind::DecorrelatedJitter(initial) => {
                Position::Grow { current: *initial, next: to_nanos(*initial) }
            }
            BackoffKind::Custom(schedule) => Position::Custom(Some(schedule.start())),
        };
        let random = shape.backoff.is_random() || shape.jitter != Jitter::None;
        // A fresh `RandomState` has per-instance keys, so unseeded schedules differ between
        // retries and clients do not jitter in lockstep. Only paid for when randomness is used.
        let seed = match seed {
            Some(seed) => seed,
            None if random => RandomState::new().hash_one(0x5eed_u64),
            None => 0,
        };
        Cursor { position, rng: SplitMix64(seed) }
    }

    /// Computes the delay before the next retry; `None` when a custom schedule has ended.
    #[inline]
    pub(crate) fn next_delay(&mut self, shape: &Shape) -> Option<Duration> {
        let max_delay = shape.max_delay;
        let raw = match &mut self.position {
            Position::Grow { current, next } => match &shape.backoff.kind {
                BackoffKind::Constant(delay) => *delay,
                BackoffKind::Linear { step, .. } => {
                    let delay = *current;
                    if delay < max_delay {
                        *current = delay.saturating_add(*step);
                    }
                    delay
                }
                BackoffKind::Exponential { factor, .. } => {
                    let delay = *current;
                    if delay < max_delay {
                        *current = mul_saturating(delay, *factor);
                    }
                    delay
                }
                BackoffKind::Fibonacci(_) => {
                    let delay = *current;
                    if delay < max_delay {
                        let successor = from_nanos(*next);
                        *current = successor;
                        *next = to_nanos(delay.saturating_add(successor));
                    }
                    delay
                }
                BackoffKind::DecorrelatedJitter(base) => {
                    let base = *base;
                    let upper = current.saturating_mul(3).min(max_delay).max(base);
                    let delay = base.saturating_add(self.rng.below(upper.saturating_sub(base)));
                    *current = delay;
                    delay
                }
                BackoffKind::Custom(_) => unreachable!("a custom schedule has its own position"),
            },
            Position::Custom(steps) => match steps.as_mut()?.next() {
                Some(delay) => delay,
                None => {
                    *steps = None;
                    return None;
                }
            },
        };
        let capped = raw.min(max_delay);
        let jittered = match shape.jitter {
            Jitter::None => capped,
            Jitter::Full => self.rng.below(capped),
            Jitter::Equal => {
                let half = capped / 2;
                half + self.rng.below(capped - half)
            }
        };
        Some(jittered.clamp(shape.min_delay, max_delay))
    }

    /// Bounds on the delays left, before any retry limit.
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.position {
            Position::Grow { .. } => (usize::MAX, None),
            Position::Custom(Some(steps)) => steps.size_hint(),
            Position::Custom(None) => (0, Some(0)),
        }
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.checked_sub(1)?;
        }
        self.cursor.next_delay(&self.shape)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.cursor.size_hint();
        match self.remaining {
            Some(remaining) => {
                let remaining = usize::try_from(remaining).unwrap_or(usize::MAX);
                (low.min(remaining), Some(high.map_or(remaining, |high| high.min(remaining))))
            }
            None => (low, high),
        }
    }
}

impl FusedIterator for Delays {}

/// `duration * factor`, saturating at [`Duration::MAX`]; `factor` is finite and `>= 1.0`.
///
/// The `f64` round trip can round a large duration down; growth never shrinks it.
fn mul_saturating(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor)
        .map_or(Duration::MAX, |product| product.max(duration))
}

/// splitmix64: a tiny, fast, well-distributed generator; plenty for jitter.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly random duration in `[0, bound]`.
    fn below(&mut self, bound: Duration) -> Duration {
        let nanos = bound.as_nanos();
        // `nanos < 2^94`, so the product fits in u128 after splitting: (r * nanos) >> 64.
        let r = u128::from(self.next_u64());
        let high = (nanos >> 64) * r + (((nanos & u128::from(u64::MAX)) * r) >> 64);
        let picked = high.min(nanos);
        let secs = u64::try_from(picked / 1_000_000_000).unwrap_or(u64::MAX);
        let subsec = u32::try_from(picked % 1_000_000_000).unwrap_or(0);
        Duration::new(secs, subsec)
    }
}

#[cfg(test)]
mod tests;
