use std::time::Duration;

use super::SplitMix64;

#[test]
fn below_stays_within_its_bound_for_every_magnitude() {
    let mut rng = SplitMix64(1);
    for bound in [Duration::ZERO, Duration::from_nanos(1), Duration::from_secs(3), Duration::MAX] {
        for _ in 0..1000 {
            assert!(rng.below(bound) <= bound, "{bound:?}");
        }
    }
}

#[test]
fn below_spreads_over_the_whole_range() {
    let mut rng = SplitMix64(2);
    let bound = Duration::from_secs(1);
    let (mut low, mut high) = (false, false);
    for _ in 0..1000 {
        let value = rng.below(bound);
        low |= value < Duration::from_millis(100);
        high |= value > Duration::from_millis(900);
    }
    assert!(low && high);
}
