//! Wakers collected under the lock and woken after it is released, without allocating.

use std::task::Waker;

/// Small on purpose: creating and dropping the list is on every hand-off's path, and a
/// dispatch that fills it just unlocks, wakes and continues.
const CAPACITY: usize = 8;

#[derive(Debug)]
pub(crate) struct WakeList {
    wakers: [Option<Waker>; CAPACITY],
    len: usize,
}

impl WakeList {
    #[inline]
    pub(crate) fn new() -> WakeList {
        WakeList { wakers: [const { None }; CAPACITY], len: 0 }
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

    #[inline]
    pub(crate) fn wake_all(mut self) {
        for waker in &mut self.wakers[..self.len] {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
    }
}
