//! Health checks of record targets (`unhealthy`, and the `HEALTH_CHECK*` settings).
//!
//! A record is deleted as `unhealthy` only when *every* attempt to reach its
//! target failed, so this module is deliberately conservative about what it
//! calls a failure and deliberately strict about how long it waits:
//!
//! * `http`: `GET http://<ip>:<port><path>`; any 2xx or 3xx status is healthy.
//!   Redirects are **not** followed: the 3xx itself proves that a server is
//!   answering, and following it could send the Lambda's traffic to an address
//!   outside the VPC (or to another service entirely), which says nothing about
//!   this target. The response body is **never read**: the status line is all
//!   the evidence needed, and a target could send an arbitrarily large (or
//!   endless) body that would otherwise eat the sweep's time and memory.
//! * `tcp`: a completed TCP connect is healthy.
//! * `off`: every target is healthy and no I/O happens.
//!
//! Every attempt is bounded end to end by the configured timeout (connect,
//! request and response headers together), so a server that accepts and never
//! answers, or trickles its headers, fails at the timeout. Attempts follow each
//! other without a pause, so one endpoint's check window is at most
//! `timeout × attempts`, and endpoints are checked concurrently so that a zone
//! of thousands of targets finishes in about one check window.

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The User-Agent sent with HTTP checks, so that target logs can tell the
/// reaper's probes from real traffic.
const USER_AGENT: &str = concat!("ecs-dns-reaper/", env!("CARGO_PKG_VERSION"));

/// How a target is checked (`HEALTH_CHECK` / `HEALTH_CHECK_PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckMode {
    /// `GET http://ip:port{path}`; 2xx or 3xx is healthy, redirects are not followed.
    Http { path: String },
    /// A TCP connect within the timeout is healthy.
    Tcp,
    /// No checks: every target is healthy.
    Off,
}

/// Settings of a [`HealthChecker`].
#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// How targets are checked.
    pub mode: CheckMode,
    /// Bound on one attempt, end to end (`HEALTH_CHECK_TIMEOUT_MS`).
    pub timeout: Duration,
    /// Failures in a row before a target is unhealthy (`HEALTH_CHECK_ATTEMPTS`), >= 1.
    pub attempts: u32,
    /// Maximum number of endpoints checked at once, >= 1.
    pub concurrency: usize,
}

pub use crate::model::health::{Endpoint, HealthResult};

/// Why a [`HealthChecker`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Building the shared HTTP client failed.
    #[error("building the health-check HTTP client failed: {0}")]
    Client(#[source] reqwest::Error),
    /// `HEALTH_CHECK_PATH` cannot be used as the path of an HTTP URL.
    #[error("invalid HEALTH_CHECK_PATH {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    /// A setting is out of range (zero attempts, zero timeout, zero concurrency).
    #[error("invalid health-check settings: {0}")]
    InvalidSettings(String),
}

/// What one attempt does; built once from the settings.
#[derive(Debug)]
enum Probe {
    Off,
    Tcp,
    Http {
        /// Shared by all checks of a sweep (one TLS/config setup, not one per target).
        client: reqwest::Client,
        path: String,
    },
}

/// Checks endpoints according to [`HealthSettings`].
#[derive(Debug)]
pub struct HealthChecker {
    settings: HealthSettings,
    probe: Probe,
}

impl HealthChecker {
    /// Validates the settings and, for `http`, builds the shared HTTP client.
    pub fn new(settings: HealthSettings) -> Result<Self, HealthError> {
        if settings.attempts == 0 {
            return Err(HealthError::InvalidSettings(
                "attempts must be at least 1".to_owned(),
            ));
        }
        if settings.concurrency == 0 {
            return Err(HealthError::InvalidSettings(
                "concurrency must be at least 1".to_owned(),
            ));
        }
        if settings.timeout.is_zero() {
            return Err(HealthError::InvalidSettings(
                "timeout must be greater than zero".to_owned(),
            ));
        }
        let probe = match &settings.mode {
            CheckMode::Off => Probe::Off,
            CheckMode::Tcp => Probe::Tcp,
            CheckMode::Http { path } => {
                validate_path(path)?;
                Probe::Http {
                    client: build_client(settings.timeout)?,
                    path: path.clone(),
                }
            }
        };
        Ok(Self { settings, probe })
    }

    /// The settings this checker was built with.
    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// Checks every distinct endpoint (duplicates in the input are checked
    /// once), at most `concurrency` at a time.
    ///
    /// Endpoints whose check has not started before `stop_at` (if given) are
    /// absent from the result. Checks already running may finish their attempt
    /// sequence only until `stop_at` + one timeout; a check cut off there is
    /// absent too (it did not see every attempt fail, so it is no evidence).
    /// With [`CheckMode::Off`] every endpoint is healthy, without any I/O
    /// (whatever `stop_at` is: there is nothing to wait for).
    pub async fn check_all(
        &self,
        endpoints: impl IntoIterator<Item = Endpoint>,
        stop_at: Option<Instant>,
    ) -> HashMap<Endpoint, HealthResult> {
        self.check_all_counting(endpoints, stop_at, &|| {}).await
    }

    /// [`HealthChecker::check_all`], calling `done` as each endpoint's check ends.
    async fn check_all_counting(
        &self,
        endpoints: impl IntoIterator<Item = Endpoint>,
        stop_at: Option<Instant>,
        done: &(dyn Fn() + Sync),
    ) -> HashMap<Endpoint, HealthResult> {
        // Sorted and de-duplicated: each endpoint is checked once, in a stable order.
        let distinct: BTreeSet<Endpoint> = endpoints.into_iter().collect();
        if matches!(self.probe, Probe::Off) {
            return distinct
                .into_iter()
                .map(|ep| (ep, HealthResult::Healthy))
                .collect();
        }
        let total = distinct.len();
        let results: Vec<(Endpoint, Option<HealthResult>)> = stream::iter(distinct)
            .map(|ep| async move {
                let result = self.check_endpoint(ep, stop_at).await;
                done();
                (ep, result)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let checked: HashMap<Endpoint, HealthResult> = results
            .into_iter()
            .filter_map(|(ep, result)| result.map(|r| (ep, r)))
            .collect();
        if checked.len() < total {
            tracing::warn!(
                checked = checked.len(),
                total,
                "health checks stopped at the deadline; unchecked endpoints have no result"
            );
        }
        checked
    }

    /// [`HealthChecker::check_all`], starting no check after the point from which
    /// a whole check (every attempt at the timeout) could not end before
    /// `deadline`; `done` is called as each endpoint's check ends.
    pub async fn check_all_before(
        &self,
        endpoints: impl IntoIterator<Item = Endpoint>,
        deadline: Option<Instant>,
        done: &(dyn Fn() + Sync),
    ) -> HashMap<Endpoint, HealthResult> {
        let window = self.settings.timeout * self.settings.attempts;
        let stop_at = deadline.map(|d| d.checked_sub(window).unwrap_or(d));
        self.check_all_counting(endpoints, stop_at, done).await
    }

    /// One endpoint's full check, or `None` if the deadline prevented it.
    async fn check_endpoint(&self, ep: Endpoint, stop_at: Option<Instant>) -> Option<HealthResult> {
        let Some(stop_at) = stop_at else {
            return Some(self.check_attempts(ep).await);
        };
        if Instant::now() >= stop_at {
            return None;
        }
        match stop_at.checked_add(self.settings.timeout) {
            Some(hard_stop) => tokio::time::timeout_at(hard_stop, self.check_attempts(ep))
                .await
                .ok(),
            None => Some(self.check_attempts(ep).await),
        }
    }

    /// Up to `attempts` attempts in a row, without a pause; the first success wins.
    async fn check_attempts(&self, ep: Endpoint) -> HealthResult {
        let attempts = self.settings.attempts.max(1);
        let mut failures = Vec::new();
        for attempt in 1..=attempts {
            match self.attempt(ep).await {
                Ok(()) => {
                    tracing::debug!(endpoint = %ep, attempt, "health check passed");
                    return HealthResult::Healthy;
                }
                Err(error) => {
                    tracing::debug!(endpoint = %ep, attempt, attempts, %error, "health check attempt failed");
                    failures.push(error);
                }
            }
        }
        HealthResult::Unhealthy { failures }
    }

    /// One attempt, bounded by the timeout; `Err` says how it failed.
    async fn attempt(&self, ep: Endpoint) -> Result<(), String> {
        let timeout = self.settings.timeout;
        match &self.probe {
            Probe::Off => Ok(()),
            Probe::Tcp => {
                let addr = SocketAddr::from((ep.ip, ep.port));
                match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                    Err(_elapsed) => Err(timed_out(timeout)),
                    Ok(Err(e)) => Err(describe_io(&e, timeout)),
                    // The connection is closed right away; nothing is sent.
                    Ok(Ok(_stream)) => Ok(()),
                }
            }
            Probe::Http { client, path } => {
                let url = http_url(ep, path)?;
                let request = client
                    .get(url)
                    .header(reqwest::header::CONNECTION, "close")
                    .send();
                // `send` resolves once the status line and headers have arrived; the
                // timeout therefore bounds connect + request + response headers, and a
                // server that never answers or trickles its headers fails here.
                match tokio::time::timeout(timeout, request).await {
                    Err(_elapsed) => Err(timed_out(timeout)),
                    Ok(Err(e)) => Err(describe_reqwest(&e, timeout)),
                    Ok(Ok(response)) => {
                        let status = response.status();
                        // Dropped unread: the body is no evidence and may be huge or
                        // endless. With no pooling the connection is closed here.
                        drop(response);
                        if status.is_success() || status.is_redirection() {
                            Ok(())
                        } else {
                            Err(format!("HTTP {}", status.as_u16()))
                        }
                    }
                }
            }
        }
    }
}

/// The shared HTTP client: no proxy (targets are private VPC addresses, a
/// proxy would check the wrong path), no redirects (a redirect could point
/// outside the VPC), no connection reuse (each check must prove that the
/// target accepts a new connection now), and a recognisable User-Agent.
fn build_client(timeout: Duration) -> Result<reqwest::Client, HealthError> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT)
        .build()
        .map_err(HealthError::Client)
}

/// Rejects a path that would not produce `http://ip:port<path>` with exactly
/// that authority (e.g. a missing leading `/`, whitespace, control characters,
/// a fragment).
pub fn validate_path(path: &str) -> Result<(), HealthError> {
    let invalid = |reason: &str| HealthError::InvalidPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !path.starts_with('/') {
        return Err(invalid("must start with '/'"));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain whitespace or control characters"));
    }
    if path.contains('#') {
        return Err(invalid("must not contain a fragment ('#')"));
    }
    let sample = Endpoint {
        ip: Ipv4Addr::new(10, 0, 1, 5),
        port: 8080,
    };
    let url = http_url(sample, path).map_err(|e| invalid(&e))?;
    if url.host_str() != Some("10.0.1.5") || url.port() != Some(8080) {
        return Err(invalid("changes the URL's host or port"));
    }
    Ok(())
}

fn http_url(ep: Endpoint, path: &str) -> Result<reqwest::Url, String> {
    let text = format!("http://{}:{}{}", ep.ip, ep.port, path);
    reqwest::Url::parse(&text).map_err(|e| format!("invalid URL {text:?}: {e}"))
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} ms", timeout.as_millis())
}

/// A short, stable description of a failed request: the underlying I/O error
/// when there is one (e.g. "connection refused"), else the innermost cause
/// (e.g. "connection closed before message completed") rather than reqwest's
/// "error sending request for url (…)".
fn describe_reqwest(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return timed_out(timeout);
    }
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return describe_io(io, timeout);
        }
        innermost = e;
        current = e.source();
    }
    innermost.to_string()
}

fn describe_io(error: &std::io::Error, timeout: Duration) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::ConnectionReset => "connection reset by peer".to_owned(),
        ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        ErrorKind::HostUnreachable => "host unreachable".to_owned(),
        ErrorKind::NetworkUnreachable => "network unreachable".to_owned(),
        ErrorKind::TimedOut => timed_out(timeout),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

    fn settings(mode: CheckMode, timeout_ms: u64, attempts: u32) -> HealthSettings {
        HealthSettings {
            mode,
            timeout: Duration::from_millis(timeout_ms),
            attempts,
            concurrency: 16,
        }
    }

    fn http(path: &str) -> CheckMode {
        CheckMode::Http {
            path: path.to_owned(),
        }
    }

    fn checker(settings: HealthSettings) -> HealthChecker {
        HealthChecker::new(settings).expect("checker")
    }

    async fn check_one(checker: &HealthChecker, ep: Endpoint) -> HealthResult {
        let mut results = checker.check_all([ep], None).await;
        assert_eq!(results.len(), 1, "{results:?}");
        results.remove(&ep).expect("result for the endpoint")
    }

    fn assert_unhealthy(result: &HealthResult, needle: &str) {
        match result {
            HealthResult::Unhealthy { .. } => assert!(
                result.last_error().is_some_and(|e| e.contains(needle)),
                "last error of {result:?} should mention {needle:?}"
            ),
            HealthResult::Healthy => panic!("expected unhealthy ({needle}), got healthy"),
        }
    }

    /// Aborts the accept loop when the test is done with the server.
    struct TestServer {
        ep: Endpoint,
        /// Connections accepted so far.
        conns: Arc<AtomicUsize>,
        /// Request heads read by `http_server` handlers.
        heads: Arc<Mutex<Vec<String>>>,
        task: JoinHandle<()>,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl TestServer {
        fn conns(&self) -> usize {
            self.conns.load(Ordering::SeqCst)
        }
    }

    /// A listener on `ip` (free port) that hands each accepted connection, with
    /// its 0-based index, to `handler` in its own task.
    async fn spawn_server<F, Fut>(ip: Ipv4Addr, handler: F) -> TestServer
    where
        F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let conns = Arc::new(AtomicUsize::new(0));
        let counter = conns.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handler(index, stream));
            }
        });
        TestServer {
            ep: Endpoint { ip, port },
            conns,
            heads: Arc::default(),
            task,
        }
    }

    /// Reads a request head (up to the blank line), at most 16 KiB.
    async fn read_head(stream: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    fn response(status: &str, extra_headers: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    /// An HTTP server answering connection `i` with `respond(i)` (`None`: close
    /// without answering), recording every request head.
    async fn http_server(
        respond: impl Fn(usize) -> Option<String> + Send + Sync + 'static,
    ) -> TestServer {
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let recorded = heads.clone();
        let respond = Arc::new(respond);
        let mut server = spawn_server(LOCALHOST, move |index, mut stream| {
            let heads = recorded.clone();
            let respond = respond.clone();
            async move {
                let head = read_head(&mut stream).await;
                heads.lock().expect("heads").push(head);
                if let Some(reply) = respond(index) {
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            }
        })
        .await;
        server.heads = heads;
        server
    }

    /// A server that accepts, never writes, and counts connections the checker
    /// closed (EOF seen).
    async fn silent_server(closed: Arc<AtomicUsize>) -> TestServer {
        spawn_server(LOCALHOST, move |_, mut stream| {
            let closed = closed.clone();
            async move {
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                closed.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await
    }

    /// A port nothing listens on: bind a listener, note its port, drop it.
    async fn closed_port() -> Endpoint {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        drop(listener);
        Endpoint {
            ip: LOCALHOST,
            port,
        }
    }

    async fn wait_until(deadline: Duration, cond: impl Fn() -> bool) -> bool {
        let end = Instant::now() + deadline;
        while Instant::now() < end {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cond()
    }

    #[tokio::test]
    async fn http_200_is_healthy() {
        let server = http_server(|_| Some(response("200 OK", ""))).await;
        let checker = checker(settings(http("/"), 500, 3));
        assert_eq!(check_one(&checker, server.ep).await, HealthResult::Healthy);
        assert_eq!(server.conns(), 1, "the first success ends the check");
    }

    #[tokio::test]
    async fn http_302_is_healthy_and_not_followed() {
        // The redirect target is another loopback listener; following the
        // redirect would show up as a connection to it.
        let target = spawn_server(Ipv4Addr::new(127, 0, 0, 2), |_, _| async {}).await;
        let location = format!("Location: http://{}/\r\n", target.ep);
        let server = http_server(move |_| Some(response("302 Found", &location))).await;
        let checker = checker(settings(http("/"), 500, 3));
        assert_eq!(check_one(&checker, server.ep).await, HealthResult::Healthy);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(target.conns(), 0, "the redirect must not be followed");
        assert_eq!(server.conns(), 1);
    }

    #[tokio::test]
    async fn http_500_is_unhealthy() {
        let server = http_server(|_| Some(response("500 Internal Server Error", ""))).await;
        let checker = checker(settings(http("/"), 500, 2));
        let result = check_one(&checker, server.ep).await;
        assert_unhealthy(&result, "500");
        assert_eq!(server.conns(), 2, "every attempt is made");
    }

    #[tokio::test]
    async fn silent_server_fails_every_attempt_at_the_timeout() {
        let closed = Arc::new(AtomicUsize::new(0));
        let server = silent_server(closed.clone()).await;
        let checker = checker(settings(http("/"), 300, 2));
        let started = Instant::now();
        let result = check_one(&checker, server.ep).await;
        let elapsed = started.elapsed();
        assert_unhealthy(&result, "timed out after 300 ms");
        assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(600 + 2000), "{elapsed:?}");
        assert_eq!(server.conns(), 2);
        // Timed-out attempts do not leave connections behind.
        let all_closed = || closed.load(Ordering::SeqCst) == 2;
        assert!(
            wait_until(Duration::from_secs(2), all_closed).await,
            "the checker should close timed-out connections, closed = {}",
            closed.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn closed_port_is_unhealthy() {
        let ep = closed_port().await;
        let checker = checker(settings(http("/"), 500, 2));
        assert_unhealthy(&check_one(&checker, ep).await, "connection refused");
    }

    #[tokio::test]
    async fn trickled_headers_fail_at_the_timeout() {
        let server = spawn_server(LOCALHOST, |_, mut stream| async move {
            let _ = read_head(&mut stream).await;
            let head = format!("HTTP/1.1 200 OK\r\nX-Slow: {}\r\n\r\n", "a".repeat(200));
            for byte in head.bytes() {
                if stream.write_all(&[byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        let checker = checker(settings(http("/"), 400, 1));
        let started = Instant::now();
        let result = check_one(&checker, server.ep).await;
        let elapsed = started.elapsed();
        assert_unhealthy(&result, "timed out after 400 ms");
        assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(400 + 2000), "{elapsed:?}");
    }

    #[tokio::test]
    async fn huge_body_is_not_read() {
        const GIB: u64 = 1 << 30;
        let written = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (w, d) = (written.clone(), done.clone());
        let server = spawn_server(LOCALHOST, move |_, mut stream| {
            let (written, done) = (w.clone(), d.clone());
            async move {
                let _ = read_head(&mut stream).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {GIB}\r\n\r\n");
                if stream.write_all(head.as_bytes()).await.is_ok() {
                    let garbage = vec![b'x'; 64 * 1024];
                    while written.load(Ordering::SeqCst) < GIB {
                        if stream.write_all(&garbage).await.is_err() {
                            break;
                        }
                        written.fetch_add(garbage.len() as u64, Ordering::SeqCst);
                    }
                }
                done.store(true, Ordering::SeqCst);
            }
        })
        .await;
        let checker = checker(settings(http("/"), 2000, 1));
        let started = Instant::now();
        assert_eq!(check_one(&checker, server.ep).await, HealthResult::Healthy);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // The checker hung up: the server's writes fail long before 1 GiB.
        assert!(
            wait_until(Duration::from_secs(5), || done.load(Ordering::SeqCst)).await,
            "the server should see the connection closed"
        );
        let sent = written.load(Ordering::SeqCst);
        assert!(sent < 256 * 1024 * 1024, "server wrote {sent} bytes");
    }

    #[tokio::test]
    async fn http_check_uses_the_configured_path() {
        let server = http_server(|_| Some(response("204 No Content", ""))).await;
        let checker = checker(settings(http("/healthz"), 500, 1));
        assert_eq!(check_one(&checker, server.ep).await, HealthResult::Healthy);
        let heads = server.heads.lock().expect("heads").clone();
        assert_eq!(heads.len(), 1, "{heads:?}");
        assert!(
            heads[0].starts_with("GET /healthz HTTP/1.1\r\n"),
            "{:?}",
            heads[0]
        );
        let lower = heads[0].to_ascii_lowercase();
        assert!(
            lower.contains("\r\nuser-agent: ecs-dns-reaper/"),
            "{lower:?}"
        );
    }

    /// Fails the first two requests (one without any answer, one 503), then 200.
    async fn third_time_lucky_server() -> TestServer {
        http_server(|index| match index {
            0 => None,
            1 => Some(response("503 Service Unavailable", "")),
            _ => Some(response("200 OK", "")),
        })
        .await
    }

    #[tokio::test]
    async fn a_success_within_the_attempts_is_healthy() {
        let server = third_time_lucky_server().await;
        let checker = checker(settings(http("/"), 500, 3));
        assert_eq!(check_one(&checker, server.ep).await, HealthResult::Healthy);
        assert_eq!(server.conns(), 3);
    }

    #[tokio::test]
    async fn failing_every_attempt_is_unhealthy() {
        let server = third_time_lucky_server().await;
        let checker = checker(settings(http("/"), 500, 2));
        assert_unhealthy(&check_one(&checker, server.ep).await, "HTTP 503");
        assert_eq!(server.conns(), 2);
    }

    #[tokio::test]
    async fn tcp_open_port_is_healthy() {
        // Accepts and never answers: a TCP check only needs the connect.
        let server = silent_server(Arc::default()).await;
        let checker = checker(settings(CheckMode::Tcp, 500, 3));
        assert_eq!(check_one(&checker, server.ep).await, HealthResult::Healthy);
        assert!(wait_until(Duration::from_secs(2), || server.conns() == 1).await);
    }

    #[tokio::test]
    async fn tcp_closed_port_is_unhealthy() {
        let ep = closed_port().await;
        let checker = checker(settings(CheckMode::Tcp, 500, 2));
        assert_unhealthy(&check_one(&checker, ep).await, "connection refused");
    }

    #[tokio::test]
    async fn off_mode_is_healthy_without_io() {
        let server = silent_server(Arc::default()).await;
        let other = closed_port().await;
        let checker = checker(settings(CheckMode::Off, 500, 3));
        let results = checker.check_all([server.ep, other, server.ep], None).await;
        assert_eq!(results.len(), 2);
        assert!(
            results.values().all(HealthResult::is_healthy),
            "{results:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.conns(), 0);
    }

    #[tokio::test]
    async fn duplicate_endpoints_are_checked_once() {
        let server = http_server(|_| Some(response("200 OK", ""))).await;
        let refused = closed_port().await;
        let checker = checker(settings(http("/"), 500, 3));
        let endpoints = [
            server.ep, refused, server.ep, server.ep, refused, server.ep, server.ep,
        ];
        let results = checker.check_all(endpoints, None).await;
        assert_eq!(results.len(), 2, "{results:?}");
        assert_eq!(results.get(&server.ep), Some(&HealthResult::Healthy));
        assert_unhealthy(&results[&refused], "connection refused");
        assert_eq!(server.conns(), 1);
    }

    #[tokio::test]
    async fn many_hanging_endpoints_are_checked_in_parallel() {
        // Listeners that never accept: the kernel completes the handshake from
        // the backlog and the request is never answered (one fd per listener).
        let mut listeners = Vec::new();
        for _ in 0..200 {
            listeners.push(TcpListener::bind((LOCALHOST, 0)).await.expect("bind"));
        }
        let endpoints: Vec<Endpoint> = listeners
            .iter()
            .map(|l| Endpoint {
                ip: LOCALHOST,
                port: l.local_addr().expect("local addr").port(),
            })
            .collect();
        let mut settings = settings(http("/"), 300, 1);
        settings.concurrency = 256;
        let checker = checker(settings);
        let started = Instant::now();
        let results = checker.check_all(endpoints.iter().copied(), None).await;
        let elapsed = started.elapsed();
        assert_eq!(results.len(), 200);
        for ep in &endpoints {
            assert_unhealthy(&results[ep], "timed out after 300 ms");
        }
        // Sequentially this would take 200 × 300 ms = 60 s.
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }

    #[tokio::test]
    async fn concurrency_limit_is_respected() {
        let closed = Arc::new(AtomicUsize::new(0));
        let mut servers = Vec::new();
        for _ in 0..6 {
            servers.push(silent_server(closed.clone()).await);
        }
        let mut settings = settings(http("/"), 200, 1);
        settings.concurrency = 2;
        let checker = checker(settings);
        let started = Instant::now();
        let results = checker.check_all(servers.iter().map(|s| s.ep), None).await;
        let elapsed = started.elapsed();
        assert_eq!(results.len(), 6);
        // Six checks of at least 200 ms each, two at a time: three waves.
        assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(600 + 3000), "{elapsed:?}");
    }

    #[tokio::test]
    async fn stop_at_in_the_past_checks_nothing() {
        let server = http_server(|_| Some(response("200 OK", ""))).await;
        let checker = checker(settings(http("/"), 500, 3));
        let past = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        let results = checker.check_all([server.ep], Some(past)).await;
        assert!(results.is_empty(), "{results:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.conns(), 0);
    }

    #[tokio::test]
    async fn stop_at_cuts_a_running_check_after_one_timeout() {
        let server = silent_server(Arc::default()).await;
        // Without a deadline this check would take 5 × 400 ms = 2 s.
        let checker = checker(settings(http("/"), 400, 5));
        let started = Instant::now();
        let stop_at = started + Duration::from_millis(100);
        let results = checker.check_all([server.ep], Some(stop_at)).await;
        let elapsed = started.elapsed();
        assert!(
            results.is_empty(),
            "a check cut short is no evidence: {results:?}"
        );
        assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    }

    #[tokio::test]
    async fn stop_at_skips_endpoints_not_started() {
        let first = silent_server(Arc::default()).await;
        let second = silent_server(Arc::default()).await;
        // Endpoints are checked in sorted order; with concurrency 1 the lower
        // port runs first (300 ms, within stop_at + timeout) and the other one
        // would start after stop_at.
        let (early, late) = if first.ep < second.ep {
            (&first, &second)
        } else {
            (&second, &first)
        };
        let mut settings = settings(http("/"), 300, 1);
        settings.concurrency = 1;
        let checker = checker(settings);
        let stop_at = Instant::now() + Duration::from_millis(150);
        let results = checker.check_all([late.ep, early.ep], Some(stop_at)).await;
        assert_eq!(results.len(), 1, "{results:?}");
        assert_unhealthy(&results[&early.ep], "timed out after 300 ms");
        assert_eq!(late.conns(), 0);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad_paths = ["", "healthz", "/a b", "/a\nb", "/x#frag", "@evil.example/"];
        for path in bad_paths {
            let err = HealthChecker::new(settings(http(path), 500, 3));
            assert!(
                matches!(err, Err(HealthError::InvalidPath { .. })),
                "{path:?}: {err:?}"
            );
        }
        for (attempts, concurrency, timeout_ms) in [(0, 4, 500), (3, 0, 500), (3, 4, 0)] {
            let mut s = settings(CheckMode::Tcp, timeout_ms, attempts);
            s.concurrency = concurrency;
            assert!(matches!(
                HealthChecker::new(s),
                Err(HealthError::InvalidSettings(_))
            ));
        }
        for path in ["/", "/healthz", "/status?full=1", "//double"] {
            let checker = HealthChecker::new(settings(http(path), 500, 3));
            assert!(checker.is_ok(), "{path:?}: {checker:?}");
        }
    }
}
