//! A health check's plain data: the endpoint checked and what the check found.
//! The health checker (`net::health`) makes the checks; the decision core reads
//! the results.

use std::net::Ipv4Addr;

/// One address:port a record points at; checked once per sweep however many
/// records name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// The verdict on one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthResult {
    /// One attempt succeeded (or checks are off).
    Healthy,
    /// Every attempt failed; `failures` says how each one failed, in order
    /// (e.g. "HTTP 500", "timed out after 2000 ms", "connection refused").
    Unhealthy { failures: Vec<String> },
}

impl HealthResult {
    /// How the last attempt failed, for an unhealthy result.
    pub fn last_error(&self) -> Option<&str> {
        match self {
            HealthResult::Healthy => None,
            HealthResult::Unhealthy { failures } => failures.last().map(String::as_str),
        }
    }

    /// True for [`HealthResult::Healthy`].
    pub fn is_healthy(&self) -> bool {
        matches!(self, HealthResult::Healthy)
    }
}
