//! Fault injection: a fault matches requests by HTTP method and path substring, fires a set
//! number of times, then disappears.

use std::time::Duration;

/// What a matched fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Answer with this status (in the provider's error shape) without handling the request.
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
    pub fn new(method: &str, path_contains: &str, kind: FaultKind) -> Fault {
        Fault {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            kind,
            times: 1,
        }
    }

    /// Affects the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }

    fn matches(&self, method: &str, path_and_query: &str) -> bool {
        self.times > 0
            && (self.method.is_empty()
                || self.method == "*"
                || self.method.eq_ignore_ascii_case(method))
            && path_and_query.contains(&self.path_contains)
    }
}

/// Takes one use of the first matching fault.
pub(crate) fn take(
    faults: &mut Vec<Fault>,
    method: &str,
    path_and_query: &str,
) -> Option<FaultKind> {
    let idx = faults
        .iter()
        .position(|f| f.matches(method, path_and_query))?;
    let kind = faults[idx].kind.clone();
    faults[idx].times -= 1;
    if faults[idx].times == 0 {
        faults.remove(idx);
    }
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_its_number_of_times_on_matching_requests_only() {
        let mut faults = vec![Fault::new("POST", "/send", FaultKind::Status(503)).times(2)];
        assert_eq!(take(&mut faults, "GET", "/x/send"), None, "method differs");
        assert_eq!(take(&mut faults, "post", "/other"), None, "path differs");
        assert_eq!(
            take(&mut faults, "post", "/x/send?a=1"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            take(&mut faults, "POST", "/x/send"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(take(&mut faults, "POST", "/x/send"), None, "used up");
        assert!(faults.is_empty());
        let mut any = vec![Fault::new("*", "", FaultKind::DropConnection)];
        assert_eq!(
            take(&mut any, "DELETE", "/"),
            Some(FaultKind::DropConnection)
        );
    }
}
