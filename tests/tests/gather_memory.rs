//! Memory of the gather engine, measured by counting the live heap bytes of the test's own
//! thread (a global allocator needs its own test binary; the count is per thread so tests
//! running in parallel do not see each other's allocations).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use asynchronously::gather::{Limit, TaskGroup, as_completed};
use asynchronously_tests::runtime::yield_now;
use asynchronously_tests::runtime_test;
use futures::StreamExt;

/// Counts the bytes this thread has allocated and not freed.
struct LiveBytes;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

fn count(delta: isize) {
    // `try_with`: the slot may be gone while the thread's other thread-locals are dropped.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the count
// has no effect on the memory handed out.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded unchanged; `ptr` came from `System` through `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

/// A future of about 1 KiB that yields once, then returns `i`.
async fn kibibyte(i: u64) -> u64 {
    let buffer = [i as u8; 1024];
    yield_now().await;
    u64::from(buffer[1023]) + i - u64::from(i as u8)
}

runtime_test!(
    async fn as_completed_releases_each_finished_child_at_once() {
        const N: u64 = 100_000;
        let before = live_bytes();
        let mut stream = as_completed((0..N).map(kibibyte));
        let mut seen = 0;
        let mut peak = 0;
        while let Some((index, value)) = stream.next().await {
            assert_eq!(index as u64, value);
            seen += 1;
            let held = live_bytes() - before;
            peak = peak.max(held);
            if seen == N / 2 {
                // Half the children are gone, and their kibibyte with them (the bound leaves
                // 16 MiB for the engine's per-child bookkeeping of the peak).
                let bound = N as isize / 2 * 1024 + (16 << 20);
                assert!(held < bound, "{held} bytes held at half");
            }
        }
        assert_eq!(seen, N);
        assert!(peak > N as isize * 1024, "every child ran at once: peak {peak}");
        let held = live_bytes() - before;
        assert!(held < 4096, "{held} bytes still held by the drained stream");
        drop(stream);
    }
);

runtime_test!(
    async fn a_limited_stream_runs_a_million_children_of_an_endless_iterator_in_flat_memory() {
        const N: usize = 1_000_000;
        let before = live_bytes();
        let limit = Limit::new(8).unwrap();
        let mut stream = limit.as_completed((0..).map(kibibyte));
        let mut held_early = 0;
        let mut peak = 0;
        for i in 0..N {
            let (index, value) = stream.next().await.expect("an endless stream");
            assert_eq!(index as u64, value);
            let held = live_bytes() - before;
            if i == 1000 {
                held_early = held;
            }
            peak = peak.max(held);
        }
        assert!(peak < 9 * 1100 + 8192, "peak {peak} bytes for 8 children of 1 KiB");
        let held = live_bytes() - before;
        assert!(
            held <= held_early + 1024,
            "{held} bytes after {N} children, {held_early} after 1000"
        );
        drop(stream);
    }
);

/// The message of the panics these tests cause on purpose.
const BY_DESIGN: &str = "a panic by design";

/// Keeps the panics caused on purpose out of the test output (any other panic is printed).
fn quiet_panics_by_design() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&BY_DESIGN) {
                default(info);
            }
        }));
    });
}

runtime_test!(
    async fn a_group_with_a_failure_handler_keeps_nothing_for_200_000_panicking_children() {
        const N: usize = 200_000;
        quiet_panics_by_design();
        let handled = AtomicUsize::new(0);
        let group = TaskGroup::<String>::new().on_failure(|_| {
            handled.fetch_add(1, Ordering::Relaxed);
        });
        let spawner = group.spawner();
        let body = async move {
            let before = live_bytes();
            let mut held_early = 0;
            for i in 0..N {
                drop(spawner.spawn(async {
                    yield_now().await;
                    if true {
                        std::panic::panic_any(BY_DESIGN);
                    }
                    Ok::<(), String>(())
                }));
                if i % 64 == 63 {
                    // Lets the group run (and end) the children spawned so far.
                    yield_now().await;
                    yield_now().await;
                }
                if i == 10_000 {
                    held_early = live_bytes() - before;
                }
            }
            let held = live_bytes() - before;
            (held_early, held)
        };
        let outcome = group.run(body).await.unwrap();
        let (held_early, held) = outcome.value;
        assert_eq!(handled.load(Ordering::Relaxed), N, "every panic reached the handler");
        assert!(outcome.panicked.is_empty());
        assert!(
            held <= held_early + 16 * 1024,
            "{held} bytes after {N} children, {held_early} after 10,000"
        );
    }
);
