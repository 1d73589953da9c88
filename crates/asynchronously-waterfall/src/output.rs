use std::convert::Infallible;
use std::future::Future;

/// The function a [`WaterfallWorker`](crate::WaterfallWorker) calls with each batch.
///
/// Implemented for every `FnMut(Vec<T>) -> impl Future` whose output is a [`BatchOutput`]:
/// `()` or `Result<(), E>` for fire-and-forget batches, `Vec<Out>` or `Result<Vec<Out>, E>`
/// for one result per item, in the batch's order.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use asynchronously::waterfall::Waterfall;
///
/// async fn store(rows: Vec<String>) -> Result<Vec<u64>, std::io::Error> {
///     Ok((0..rows.len() as u64).collect()) // one id per row
/// }
///
/// let (_waterfall, _worker) = Waterfall::builder(100, Duration::from_millis(5)).build(store)?;
/// # Ok::<_, asynchronously::waterfall::BuildError>(())
/// ```
pub trait BatchFn<T> {
    /// What one batch returns.
    type Output: BatchOutput;
    /// One batch's work.
    type Future: Future<Output = Self::Output>;

    /// Starts the work for one batch (never empty).
    fn call(&mut self, batch: Vec<T>) -> Self::Future;
}

impl<T, F, Fut> BatchFn<T> for F
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future,
    Fut::Output: BatchOutput,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&mut self, batch: Vec<T>) -> Fut {
        self(batch)
    }
}

/// What a batch function may return: per-item results, or a batch-level error.
///
/// | Output | each submitter gets | a batch error |
/// |---|---|---|
/// | `()` | `Ok(())` | — |
/// | `Result<(), E>` | `Ok(())` | `Err(SubmitError::Failed(Arc<E>))` |
/// | `Vec<Out>` | its `Out`, by position | — |
/// | `Result<Vec<Out>, E>` | its `Out`, by position | `Err(SubmitError::Failed(Arc<E>))` |
///
/// A per-item failure is expressed with `Out = Result<V, ItemError>`.
///
/// # Examples
///
/// ```
/// use asynchronously::waterfall::BatchOutput;
///
/// assert_eq!(().into_results(2), Ok(vec![(), ()]));
/// assert_eq!(Ok::<_, &str>(vec![10, 20]).into_results(2), Ok(vec![10, 20]));
/// assert_eq!(Err::<(), _>("down").into_results(2), Err("down"));
/// ```
pub trait BatchOutput {
    /// The result each item's submitter receives.
    type Out;
    /// The batch-level error, shared by every submitter of the batch.
    type Error;

    /// Converts the output into one result per item, for a batch of `items` items.
    ///
    /// # Errors
    ///
    /// Returns the batch's error, if the whole batch failed.
    fn into_results(self, items: usize) -> Result<Vec<Self::Out>, Self::Error>;
}

impl BatchOutput for () {
    type Out = ();
    type Error = Infallible;

    fn into_results(self, items: usize) -> Result<Vec<()>, Infallible> {
        Ok(vec![(); items])
    }
}

impl<E> BatchOutput for Result<(), E> {
    type Out = ();
    type Error = E;

    fn into_results(self, items: usize) -> Result<Vec<()>, E> {
        self.map(|()| vec![(); items])
    }
}

impl<Out> BatchOutput for Vec<Out> {
    type Out = Out;
    type Error = Infallible;

    fn into_results(self, _items: usize) -> Result<Vec<Out>, Infallible> {
        Ok(self)
    }
}

impl<Out, E> BatchOutput for Result<Vec<Out>, E> {
    type Out = Out;
    type Error = E;

    fn into_results(self, _items: usize) -> Result<Vec<Out>, E> {
        self
    }
}
