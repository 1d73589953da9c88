use std::sync::Arc;

use crate::Outcome;

/// What a deinitialisation (or a rollback) did: every component's outcome, by name, in the
/// order they finished.
///
/// Components whose `init` never succeeded are not deinitialised and not listed.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use asynchronously::lifecycle::{FnComponent, Lifecycle};
///
/// let mut builder = Lifecycle::builder();
/// builder.component("database", FnComponent::new());
/// builder.component("server", FnComponent::new()).after("database");
/// let lifecycle = builder.build()?;
/// lifecycle.init().await?;
/// let report = lifecycle.deinit().await;
/// assert!(report.is_ok());
/// assert_eq!(report.names().collect::<Vec<_>>(), ["server", "database"]);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeinitReport {
    pub(crate) outcomes: Arc<[(Arc<str>, Outcome)]>,
}

impl DeinitReport {
    /// Returns whether every listed component deinitialised with `Ok`.
    ///
    /// # Examples
    ///
    /// See [`DeinitReport`].
    pub fn is_ok(&self) -> bool {
        self.outcomes.iter().all(|(_, outcome)| outcome.is_ok())
    }

    /// Returns how many components are listed.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::DeinitReport;
    ///
    /// assert_eq!(DeinitReport::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Returns whether no component is listed.
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchronously::lifecycle::DeinitReport;
    ///
    /// assert!(DeinitReport::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// Iterates over `(name, outcome)` in the order the components finished.
    ///
    /// # Examples
    ///
    /// See [`Outcome`].
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Outcome)> {
        self.outcomes.iter().map(|(name, outcome)| (&**name, outcome))
    }

    /// Iterates over the names in the order the components finished.
    ///
    /// # Examples
    ///
    /// See [`DeinitReport`].
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.outcomes.iter().map(|(name, _)| &**name)
    }

    /// Iterates over the components whose outcome is not `Ok`.
    ///
    /// # Examples
    ///
    /// See [`Outcome`].
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Outcome)> {
        self.iter().filter(|(_, outcome)| !outcome.is_ok())
    }

    /// Returns the outcome of the component named `name`, if it is listed.
    ///
    /// # Examples
    ///
    /// See [`Outcome`].
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.iter().find(|(listed, _)| *listed == name).map(|(_, outcome)| outcome)
    }
}
