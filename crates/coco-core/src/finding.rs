//! One reason an attester is not affirmed: the claim, what was expected, what was found.

use serde_json::{Value as Json, json};

/// One reason an attester is not affirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The claim (or measurement key).
    pub claim: String,
    /// What was expected.
    pub expected: Json,
    /// What was found.
    pub found: Json,
    /// The trust-vector category it affects.
    pub category: &'static str,
}

impl Finding {
    /// A finding about `claim`.
    pub fn new(
        claim: impl Into<String>,
        expected: Json,
        found: Json,
        category: &'static str,
    ) -> Self {
        Self {
            claim: claim.into(),
            expected,
            found,
            category,
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> Json {
        json!({"claim": self.claim, "expected": self.expected, "found": self.found, "category": self.category})
    }

    /// A one-line reason.
    pub fn reason(&self) -> String {
        format!(
            "{}: expected {}, found {}",
            self.claim, self.expected, self.found
        )
    }
}
