//! Wakers collected under the lock and woken after it is released, without allocating.

use std::task::Waker;

const CAPACITY: usize = 32;

#[derive(Debug)]
pub(crate) struct WakeList {
    wakers: [Option<Waker>; CAPACITY],
    len: usize,
}

impl WakeList {
    pub(crate) fn new() -> WakeList {
        WakeList { wakers: std::array::from_fn(|_| None), len: 0 }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == CAPACITY
    }

    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        debug_assert!(!self.is_full());
        if let Some(waker) = waker {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        }
    }

    pub(crate) fn wake_all(mut self) {
        for waker in &mut self.wakers[..self.len] {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
    }
}
