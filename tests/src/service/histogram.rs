//! A lock-free latency histogram with about 1.6 % relative error.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Values below this many microseconds get a bucket each.
const LINEAR: u64 = 128;
/// Buckets per power of two above [`LINEAR`].
const SUB: u64 = 64;
/// Enough buckets for values up to `u64::MAX` microseconds.
const BUCKETS: usize = (LINEAR + SUB * 57) as usize;

fn bucket_of(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let bits = 63 - u64::from(micros.leading_zeros()); // ≥ 7
    let shift = bits - 6;
    let top = (micros >> shift) - SUB; // 0..64
    (LINEAR + (bits - 7) * SUB + top) as usize
}

/// The largest value in the bucket, so percentiles never under-report.
fn upper_bound(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < LINEAR {
        return bucket;
    }
    let bits = (bucket - LINEAR) / SUB + 7;
    let top = (bucket - LINEAR) % SUB + SUB;
    let shift = bits - 6;
    ((top + 1) << shift) - 1
}

/// Records durations from many threads at once: one relaxed atomic increment per value.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    max: AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), max: AtomicU64::new(0) }
    }

    /// Records one value, in whole microseconds.
    pub fn record(&self, value: Duration) {
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(micros)].fetch_add(1, Relaxed);
        self.max.fetch_max(micros, Relaxed);
    }

    /// A copy of the counts so far.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            counts: self.buckets.iter().map(|count| count.load(Relaxed)).collect(),
            max: self.max.load(Relaxed),
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.snapshot().fmt(f)
    }
}

/// Counts copied out of a [`Histogram`]; subtract two to get an interval's.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    counts: Vec<u64>,
    max: u64,
}

impl Snapshot {
    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at quantile `q` (0.0 to 1.0), rounded up to its bucket's upper bound;
    /// zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        let total = self.count();
        if total == 0 {
            return Duration::ZERO;
        }
        // The rank of the value at `q`, 1-based: p99 of 100 values is the 99th.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(upper_bound(bucket).min(self.max));
            }
        }
        Duration::from_micros(self.max)
    }

    /// The largest value recorded (exact, since the histogram was created).
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max)
    }

    /// The values recorded since `earlier`, a snapshot of the same histogram.
    #[must_use]
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, now)| now - earlier.counts.get(i).unwrap_or(&0))
            .collect();
        let max = counts.iter().rposition(|&count| count > 0).map_or(0, upper_bound).min(self.max);
        Snapshot { counts, max }
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .field("max", &self.max())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bound_values_within_two_percent() {
        for micros in (0..5000).chain([1 << 20, (1 << 20) + 12_345, u64::MAX / 3]) {
            let bucket = bucket_of(micros);
            let upper = upper_bound(bucket);
            assert!(upper >= micros, "{micros} in bucket {bucket} bounded by {upper}");
            assert!((upper - micros) as f64 <= micros as f64 / 63.0, "{micros} → {upper}");
            assert!(bucket == 0 || upper_bound(bucket - 1) < micros, "{micros} in lowest bucket");
        }
        assert!(bucket_of(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_one_to_a_hundred() {
        let histogram = Histogram::new();
        for micros in 1..=100 {
            histogram.record(Duration::from_micros(micros));
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 100);
        assert_eq!(snapshot.quantile(0.5), Duration::from_micros(50));
        assert_eq!(snapshot.quantile(0.99), Duration::from_micros(99));
        assert_eq!(snapshot.max(), Duration::from_micros(100));
        let empty = Histogram::new().snapshot();
        assert_eq!(empty.quantile(0.99), Duration::ZERO);
        histogram.record(Duration::from_micros(1000));
        let interval = histogram.snapshot().since(&snapshot);
        assert_eq!((interval.count(), interval.quantile(0.99)), (1, Duration::from_micros(1000)));
    }
}
