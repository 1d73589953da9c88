//! The `tracing` feature: each retry is one WARN event with the seed's message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::{Backoff, RetryPolicy};

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
fn each_retry_is_logged_as_a_warning_with_the_seed_message() {
    let recorder = Recorder::default();
    let policy = RetryPolicy::builder()
        .backoff(Backoff::constant(Duration::ZERO))
        .max_retries(2)
        .build()
        .unwrap();
    let result = tracing::subscriber::with_default(recorder.clone(), || {
        futures::executor::block_on(policy.retry(|| async { Err::<(), _>("down") }))
    });
    assert!(result.is_err());
    let events = recorder.0.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            (Level::WARN, "retry 1/2 in 0ns".to_owned()),
            (Level::WARN, "retry 2/2 in 0ns".to_owned())
        ]
    );
}
