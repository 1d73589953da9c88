//! `race_ok_if`, `as_completed` as a growing set, and the joins collected from iterators.

use std::pin::Pin;

use asynchronously::gather::{
    AsCompleted, Gather, GatherKeyed, GatherSettled, Limit, RaceOkError, as_completed, race_ok_if,
};
use asynchronously::time::VirtualClock;
use futures::future::{self, BoxFuture};
use futures::stream::FusedStream;
use futures::{FutureExt, StreamExt};

use super::{Drops, child};
use crate::runtime_test;
use crate::support::{ms, poll_once};

runtime_test!(
    async fn race_ok_if_goes_past_accepted_errors_only() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let outcomes = [(10, Err("busy")), (20, Err("denied")), (30, Ok(3))];
        let children =
            outcomes.map(|(at, outcome)| child(&clock, at, outcome.map_err(str::to_owned), &drops));
        let racing = race_ok_if(children, |error: &String| error == "busy");
        let (outcome, ()) = future::join(racing, clock.run_for(ms(100))).await;
        assert_eq!(
            outcome,
            Err(RaceOkError::Rejected {
                error: "denied".to_owned(),
                passed: vec!["busy".to_owned()]
            })
        );
        assert_eq!(drops.count(), 3, "the rejected error cancelled the rest");
        assert_eq!(clock.elapsed(), ms(100));

        let children =
            outcomes.map(|(at, outcome)| child(&clock, at, outcome.map_err(str::to_owned), &drops));
        let racing = race_ok_if(children, |_: &String| true);
        let (outcome, ()) = future::join(racing, clock.run_for(ms(100))).await;
        assert_eq!(outcome, Ok((3, vec!["busy".to_owned(), "denied".to_owned()])));

        let failing = [10, 20].map(|at| child(&clock, at, Err(format!("e{at}")), &drops));
        let racing = race_ok_if(failing, |_: &String| true);
        let (outcome, ()) = future::join(racing, clock.run_for(ms(100))).await;
        assert_eq!(outcome, Err(RaceOkError::AllFailed(vec!["e10".to_owned(), "e20".to_owned()])));
        let none: Vec<BoxFuture<'static, Result<u64, String>>> = Vec::new();
        assert_eq!(race_ok_if(none, |_| true).await, Err(RaceOkError::Empty));
    }
);

runtime_test!(
    async fn as_completed_is_a_set_that_grows_while_it_runs() {
        let clock = VirtualClock::new();
        let drops = Drops::default();
        let mut set = AsCompleted::new();
        assert!(set.is_empty());
        assert_eq!(set.len(), 0);
        assert!(!set.is_terminated());
        set.push(child(&clock, 20, Ok(20), &drops));
        set.push(child(&clock, 10, Ok(10), &drops));
        assert_eq!(set.len(), 2);
        assert!(poll_once(&mut set.next()).is_pending());
        clock.advance(ms(10));
        assert_eq!(set.next().await, Some((1, Ok(10))));
        assert_eq!(set.len(), 1);
        // Pushed while another runs: it gets the next index and races the rest.
        set.push(child(&clock, 5, Ok(5), &drops));
        assert!(poll_once(&mut set.next()).is_pending());
        clock.advance(ms(5));
        assert_eq!(set.next().await, Some((2, Ok(5))));
        clock.advance(ms(5));
        assert_eq!(set.next().await, Some((0, Ok(20))));
        assert!(set.is_empty());
        assert_eq!(set.next().await, None);
        assert!(set.is_terminated());
        // A push revives an ended set, as with futures' `FuturesUnordered`.
        set.push(child(&clock, 0, Ok(0), &drops));
        assert!(!set.is_terminated());
        assert_eq!(set.next().await, Some((3, Ok(0))));
        assert_eq!(drops.count(), 4);
    }
);

runtime_test!(
    async fn a_limited_stream_pulls_its_iterator_only_as_places_free_up() {
        let pulled = std::sync::atomic::AtomicUsize::new(0);
        let jobs = (0..).map(|i: u64| {
            pulled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { i * 2 }
        });
        let limit = Limit::new(3).unwrap();
        let mut stream = limit.as_completed(jobs);
        assert_eq!(pulled.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing before a poll");
        let first: Vec<_> = stream.by_ref().take(5).collect().await;
        assert_eq!(first, [(0, 0), (1, 2), (2, 4), (3, 6), (4, 8)]);
        let pulled = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert!(pulled <= 5 + 3, "{pulled} futures pulled for 5 outputs under a limit of 3");
        assert_eq!(futures::Stream::size_hint(&stream).1, None, "the iterator is endless");
    }
);

runtime_test!(
    async fn the_joins_collect_from_iterators_like_futures_joins() {
        let gathered: Gather<_> = (0..40u64).map(|n| async move { Ok::<_, ()>(n) }).collect();
        assert_eq!(gathered.await, Ok((0..40).collect::<Vec<_>>()));
        let settled: GatherSettled<_> = (0..3u64).map(|n| async move { n }).collect();
        assert_eq!(settled.await, [0, 1, 2]);
        let keyed: GatherKeyed<_, _> =
            (0..3u64).map(|n| (n, async move { Ok::<_, ()>(n * 10) })).collect();
        assert_eq!(keyed.await.map(|map| map[&2]), Ok(20));
        let set: AsCompleted<Pin<Box<dyn std::future::Future<Output = u64> + Send>>> =
            (0..3u64).map(|n| async move { n }.boxed()).collect();
        let mut outputs: Vec<u64> = set.map(|(_, n)| n).collect().await;
        outputs.sort_unstable();
        assert_eq!(outputs, [0, 1, 2]);
        let mut extended = as_completed(vec![future::ready(1)]);
        extended.extend([future::ready(2)]);
        assert_eq!(extended.count().await, 2);
    }
);
