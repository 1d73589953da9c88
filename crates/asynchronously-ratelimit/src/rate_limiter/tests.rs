//! The `tracing` feature: each wait and each lockout is one DEBUG event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asynchronously_time::VirtualClock;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::{Lockout, Quota, RateLimiter};

/// Records the level and message of every event.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push((*event.metadata().level(), message.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn a_wait_and_a_lockout_are_logged_as_debug_events() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let clock = VirtualClock::new();
        let limiter = RateLimiter::with_clock(Quota::per_second(1).unwrap(), clock.clone());
        limiter.check().unwrap();
        let _later = limiter.reserve(1).unwrap();
        assert!(limiter.check().is_err(), "a refused check is not logged: it is the hot path");
        Lockout::with_clock(clock).lockout_for(Duration::from_millis(30));
    });
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            (Level::DEBUG, "ratelimit: waiting 1s for 1 cells".to_owned()),
            (Level::DEBUG, "ratelimit: locked out for 30ms".to_owned()),
        ]
    );
}
