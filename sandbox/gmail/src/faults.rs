//! Fault injection: faults match a request by HTTP method and path substring, fire a set number
//! of times, then disappear.

use std::time::Duration;

use super::{lock, Inner};

/// What a matched fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Answer with this status (a Google-shaped `backendError`) without handling the request.
    Status(u16),
    /// Close the connection without handling the request or answering.
    DropConnection,
    /// Handle the request (e.g. perform the send), then close the connection without answering.
    LoseResponse,
}

/// A fault for requests whose method matches (`"*"` or empty: any) and whose path (with query)
/// contains `path_contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub method: String,
    pub path_contains: String,
    pub kind: FaultKind,
    /// How many matching requests it affects (default 1).
    pub times: u32,
}

impl Fault {
    pub fn new(method: &str, path_contains: &str, kind: FaultKind) -> Self {
        Self {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            kind,
            times: 1,
        }
    }

    /// Affects the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
}

/// Takes one use of the first matching fault.
pub(crate) fn take(inner: &Inner, method: &str, path_and_query: &str) -> Option<FaultKind> {
    let mut faults = lock(&inner.faults);
    let idx = faults.iter().position(|f| {
        f.times > 0
            && (f.method.is_empty() || f.method == "*" || f.method.eq_ignore_ascii_case(method))
            && path_and_query.contains(&f.path_contains)
    })?;
    let kind = faults[idx].kind.clone();
    faults[idx].times -= 1;
    if faults[idx].times == 0 {
        faults.remove(idx);
    }
    lock(&inner.stats).faults_triggered += 1;
    Some(kind)
}
