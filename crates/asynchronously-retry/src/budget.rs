use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use asynchronously_time::{Clock, RealClock};

/// One retry, in the budget's fixed-point unit (thousandths of a retry).
const UNIT: u64 = 1000;

/// A retry budget shared by many policies and call sites, against retry storms.
///
/// Successes earn retries, retries spend them: every successful call deposits `retry_ratio`
/// of a retry (0.1 allows one retry per ten successes, i.e. at most ~10 % extra load), every
/// retry withdraws one. The balance is capped at `max_balance` retries. A floor of
/// `min_per_second` retries per second (measured on the budget's clock) is always allowed,
/// so a quiet service can still retry. A refused retry ends the [`Retry`](crate::Retry) with
/// [`RetryError::BudgetExhausted`](crate::RetryError::BudgetExhausted).
///
/// Cloning shares the budget. The balance is one atomic; the floor's refill takes a short
/// lock only when the balance is empty.
///
/// # Examples
///
/// ```
/// use asynchronously::retry::RetryBudget;
///
/// let budget = RetryBudget::new(0.5, 0, 10)?;
/// assert!(!budget.try_withdraw(), "nothing earned yet");
/// budget.deposit();
/// budget.deposit();
/// assert_eq!(budget.available(), 1);
/// assert!(budget.try_withdraw());
/// # Ok::<_, asynchronously::retry::BudgetError>(())
/// ```
pub struct RetryBudget<C: Clock = RealClock> {
    shared: Arc<Shared<C>>,
}

/// Why [`RetryBudget::new`] refused its settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// A retry ratio that is NaN, negative or above 1000.
    #[error(
        "retry_ratio must be a finite number in [0, 1000] (retries earned per success), got {ratio}"
    )]
    InvalidRatio {
        /// The ratio given.
        ratio: f64,
    },
}

struct Shared<C> {
    clock: C,
    /// Thousandths of a retry earned per success.
    deposit: u64,
    /// Cap of `balance`, in thousandths.
    max_balance: u64,
    /// Earned retries, in thousandths.
    balance: AtomicU64,
    min_per_second: u32,
    floor: Mutex<Floor>,
}

struct Floor {
    /// Floor retries available, in thousandths; at most one second's worth.
    tokens: u64,
    refilled_at: Instant,
}

impl RetryBudget {
    /// Creates a budget on the real clock.
    ///
    /// `retry_ratio`: retries earned per success. `min_per_second`: retries always allowed per
    /// second. `max_balance`: most retries that can be banked.
    ///
    /// # Errors
    ///
    /// [`BudgetError::InvalidRatio`] when `retry_ratio` is NaN, infinite, negative or above 1000.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::retry::{BudgetError, RetryBudget};
    ///
    /// assert!(RetryBudget::new(0.2, 10, 100).is_ok());
    /// assert!(matches!(RetryBudget::new(f64::NAN, 10, 100), Err(BudgetError::InvalidRatio { .. })));
    /// ```
    pub fn new(
        retry_ratio: f64,
        min_per_second: u32,
        max_balance: u32,
    ) -> Result<Self, BudgetError> {
        Self::with_clock(RealClock, retry_ratio, min_per_second, max_balance)
    }
}

impl<C: Clock> RetryBudget<C> {
    /// Creates a budget measured on `clock` (a
    /// [`VirtualClock`](asynchronously_time::VirtualClock) in tests). Arguments as in
    /// [`new`](RetryBudget::new).
    ///
    /// # Errors
    ///
    /// [`BudgetError::InvalidRatio`] when `retry_ratio` is NaN, infinite, negative or above 1000.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use asynchronously::retry::RetryBudget;
    /// use asynchronously::time::VirtualClock;
    ///
    /// let clock = VirtualClock::new();
    /// let budget = RetryBudget::with_clock(clock.clone(), 0.0, 2, 0)?;
    /// assert!(budget.try_withdraw() && budget.try_withdraw());
    /// assert!(!budget.try_withdraw(), "the floor allows 2 per second");
    /// clock.advance(Duration::from_millis(500));
    /// assert!(budget.try_withdraw(), "half a second refills one");
    /// # Ok::<_, asynchronously::retry::BudgetError>(())
    /// ```
    pub fn with_clock(
        clock: C,
        retry_ratio: f64,
        min_per_second: u32,
        max_balance: u32,
    ) -> Result<Self, BudgetError> {
        if !(retry_ratio.is_finite() && (0.0..=1000.0).contains(&retry_ratio)) {
            return Err(BudgetError::InvalidRatio { ratio: retry_ratio });
        }
        // In range by the check above: at most 1_000_000 thousandths.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked range"
        )]
        let deposit = (retry_ratio * UNIT as f64).round() as u64;
        let now = clock.now();
        Ok(RetryBudget {
            shared: Arc::new(Shared {
                deposit,
                max_balance: u64::from(max_balance) * UNIT,
                balance: AtomicU64::new(0),
                min_per_second,
                floor: Mutex::new(Floor {
                    tokens: u64::from(min_per_second) * UNIT,
                    refilled_at: now,
                }),
                clock,
            }),
        })
    }

    /// Records a success: earns `retry_ratio` of a retry, up to `max_balance`.
    ///
    /// A [`Retry`](crate::Retry) with this budget calls it on every success.
    ///
    /// # Examples
    ///
    /// See [`RetryBudget`].
    pub fn deposit(&self) {
        self.shared.deposit();
    }

    /// Takes one retry from the balance, or else from the per-second floor; `false` if
    /// neither has one.
    ///
    /// A [`Retry`](crate::Retry) with this budget calls it before every retry.
    ///
    /// # Examples
    ///
    /// See [`RetryBudget`].
    pub fn try_withdraw(&self) -> bool {
        self.shared.try_withdraw()
    }

    /// Whole retries banked by successes (the per-second floor not included).
    ///
    /// # Examples
    ///
    /// See [`RetryBudget`].
    pub fn available(&self) -> u32 {
        self.shared.available()
    }

    /// The budget as a policy holds it, whatever its clock.
    pub(crate) fn share(&self) -> SharedBudget {
        SharedBudget(self.shared.clone())
    }
}

/// A budget with its clock type erased, so a policy on any clock can draw from it (the
/// budget measures its floor on its own clock).
#[derive(Clone)]
pub(crate) struct SharedBudget(Arc<dyn Account>);

/// What a policy does with its budget.
pub(crate) trait Account: fmt::Debug + Send + Sync {
    fn deposit(&self);
    fn try_withdraw(&self) -> bool;
}

impl SharedBudget {
    pub(crate) fn deposit(&self) {
        self.0.deposit();
    }

    pub(crate) fn try_withdraw(&self) -> bool {
        self.0.try_withdraw()
    }
}

impl fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<C: Clock> Account for Shared<C> {
    fn deposit(&self) {
        let shared = self;
        if shared.deposit == 0 {
            return;
        }
        let _ = shared.balance.fetch_update(Ordering::AcqRel, Ordering::Acquire, |balance| {
            (balance < shared.max_balance)
                .then(|| balance.saturating_add(shared.deposit).min(shared.max_balance))
        });
    }

    fn try_withdraw(&self) -> bool {
        let shared = self;
        let from_balance = shared
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(UNIT));
        if from_balance.is_ok() {
            return true;
        }
        if shared.min_per_second == 0 {
            return false;
        }
        let now = shared.clock.now();
        let mut floor = shared.floor.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = u64::from(shared.min_per_second) * UNIT;
        let since = now.saturating_duration_since(floor.refilled_at);
        // Thousandths earned: seconds * rate * UNIT, computed in nanoseconds without overflow.
        let earned = since.as_nanos().saturating_mul(u128::from(shared.min_per_second))
            / (1_000_000_000 / u128::from(UNIT));
        let earned = u64::try_from(earned).unwrap_or(u64::MAX);
        if earned > 0 {
            let tokens = floor.tokens.saturating_add(earned);
            // Move the refill mark only by the time those thousandths took (rounded up), so
            // the fraction earned since then carries over: frequent asks must not slow the
            // rate. A full floor banks nothing more, so it restarts from `now`.
            let spent = (u128::from(earned) * (1_000_000_000 / u128::from(UNIT)))
                .div_ceil(u128::from(shared.min_per_second));
            floor.refilled_at = u64::try_from(spent)
                .ok()
                .and_then(|spent| floor.refilled_at.checked_add(Duration::from_nanos(spent)))
                .filter(|_| tokens < capacity)
                .unwrap_or(now);
            floor.tokens = tokens.min(capacity);
        }
        match floor.tokens.checked_sub(UNIT) {
            Some(rest) => {
                floor.tokens = rest;
                true
            }
            None => false,
        }
    }
}

impl<C> Shared<C> {
    fn available(&self) -> u32 {
        u32::try_from(self.balance.load(Ordering::Acquire) / UNIT).unwrap_or(u32::MAX)
    }
}

impl<C: Clock> Clone for RetryBudget<C> {
    fn clone(&self) -> Self {
        RetryBudget { shared: Arc::clone(&self.shared) }
    }
}

impl<C: Clock> fmt::Debug for RetryBudget<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}

impl<C> fmt::Debug for Shared<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self;
        f.debug_struct("RetryBudget")
            .field("retry_ratio", &(shared.deposit as f64 / UNIT as f64))
            .field("min_per_second", &shared.min_per_second)
            .field("max_balance", &(shared.max_balance / UNIT))
            .field("available", &shared.available())
            .finish()
    }
}
