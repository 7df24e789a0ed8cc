//! `Verified<T>`: a value whose signatures, chains and validity were checked by this crate.

use std::ops::Deref;

/// A value that passed verification. Only this crate can construct one, so a function that
/// takes a `Verified<T>` (appraisal, policy) cannot be handed unverified evidence.
#[derive(Debug, Clone)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(value)
    }

    /// The verified value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
