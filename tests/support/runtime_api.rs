//! A minimal Lambda Runtime API, for the runtime tests and the bench.
//!
//! It hands out a queue of events one by one on
//! `GET /2018-06-01/runtime/invocation/next` (a long poll that blocks while the
//! queue is empty) and records every `…/response`, `…/error` and `init/error`
//! post, and when each `/next` poll arrived. Every wait is bounded.

mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use super::Lambda;
use http::{read_request, reply, Request, Stream};

/// Bound on any wait for an invocation's outcome that has no tighter bound.
pub const OUTCOME_WAIT: Duration = Duration::from_secs(90);
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:ecs-dns-reaper";
const TRACE_ID: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const ACCEPTED: &[u8] = br#"{"status":"OK"}"#;

/// The deadline an invocation is handed out with.
#[derive(Debug, Clone, Copy)]
pub enum Deadline {
    /// `Lambda-Runtime-Deadline-Ms` = the moment of hand-out + this.
    In(Duration),
    /// This absolute epoch-ms value (e.g. one in the past, as emulators send).
    EpochMs(u64),
}

struct Queued {
    id: String,
    event: Value,
    deadline: Deadline,
}

/// What the function posted back for one invocation.
#[derive(Debug, Clone)]
pub enum Posted {
    Response(Value),
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header.
        header: Option<String>,
        body: Value,
    },
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub posted: Posted,
    /// When the invocation was handed out on `/next`.
    pub handed_out: SystemTime,
    /// The deadline it was handed out with (epoch ms).
    pub deadline_ms: u64,
    /// When the post arrived.
    pub received: SystemTime,
}

#[derive(Default)]
pub struct ApiState {
    /// Handed out and not answered yet: id → (hand-out time, deadline ms).
    pub in_flight: HashMap<String, (SystemTime, u64)>,
    /// Bodies posted to `/runtime/init/error`.
    pub init_errors: Vec<Value>,
    /// Requests that matched no route: "METHOD path".
    pub unexpected: Vec<String>,
    /// How many `/next` polls were received.
    pub polls: usize,
    /// When each `/next` poll arrived, in order.
    pub polled_at: Vec<Instant>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    events: mpsc::UnboundedSender<Queued>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    polls: watch::Receiver<usize>,
    state: Arc<Mutex<ApiState>>,
    server: tokio::task::JoinHandle<()>,
    next_id: usize,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let addr = listener.local_addr().expect("Runtime API address");
        let (events, queue) = mpsc::unbounded_channel::<Queued>();
        let (posted, outcomes) = mpsc::unbounded_channel::<Outcome>();
        let (polled, polls) = watch::channel(0);
        let state = Arc::new(Mutex::new(ApiState::default()));
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue),
            posted,
            polled,
            state: state.clone(),
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve_connection(stream, shared.clone()));
            }
        });
        RuntimeApi {
            addr,
            events,
            outcomes,
            polls,
            state,
            server,
            next_id: 0,
        }
    }

    /// The environment the Lambda service gives a function, with this Runtime API.
    pub fn lambda_env(&self) -> Vec<(&'static str, String)> {
        super::lambda_env(&self.addr.to_string())
    }

    /// Queues `event`; returns its request id.
    pub fn push(&mut self, event: Value, deadline: Deadline) -> String {
        self.next_id += 1;
        let id = format!("req-{:04}-{}", self.next_id, std::process::id());
        self.events
            .send(Queued {
                id: id.clone(),
                event,
                deadline,
            })
            .expect("queue an event");
        id
    }

    /// The next outcome, which must be the one of `id`, if it comes within `within`.
    pub async fn try_outcome(&mut self, id: &str, within: Duration) -> Option<Outcome> {
        match timeout(within, self.outcomes.recv()).await {
            Ok(Some(o)) => {
                assert_eq!(o.id, id, "outcomes arrive in order: {o:?}");
                Some(o)
            }
            Ok(None) => panic!("the Runtime API server stopped"),
            Err(_) => None,
        }
    }

    /// The next outcome, which must be the one of `id`, within `within`.
    pub async fn outcome(&mut self, id: &str, within: Duration, child: &mut Lambda) -> Outcome {
        match self.try_outcome(id, within).await {
            Some(o) => o,
            None => {
                let exited = child.exited();
                let (stdout, stderr) = child.output_so_far();
                panic!(
                    "no response or error for {id} within {within:?} (process exited: {exited:?})\n\
                     --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
                )
            }
        }
    }

    /// Invokes `event` and returns the report of a successful invocation.
    pub async fn invoke(&mut self, event: Value, child: &mut Lambda) -> Value {
        let id = self.push(event.clone(), Deadline::In(Duration::from_secs(900)));
        match self.outcome(&id, OUTCOME_WAIT, child).await.posted {
            Posted::Response(report) => report,
            Posted::Error { header, body } => {
                panic!("{event} failed: {body} (error type header {header:?})")
            }
        }
    }

    /// When the `n`th `/next` poll (counting from 1) arrived, if it arrives within
    /// `within`.
    pub async fn poll_arrival(&self, n: usize, within: Duration) -> Option<Instant> {
        let mut polls = self.polls.clone();
        timeout(within, polls.wait_for(|&count| count >= n))
            .await
            .ok()?
            .ok()?;
        self.state(|s| s.polled_at.get(n.checked_sub(1)?).copied())
    }

    pub fn state<T>(&self, f: impl FnOnce(&ApiState) -> T) -> T {
        f(&self.state.lock().expect("api state"))
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn epoch_ms(t: SystemTime) -> u64 {
    u64::try_from(
        t.duration_since(UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis(),
    )
    .expect("epoch ms")
}

pub fn from_epoch_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    posted: mpsc::UnboundedSender<Outcome>,
    polled: watch::Sender<usize>,
    state: Arc<Mutex<ApiState>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, ApiState> {
        self.state.lock().expect("api state")
    }
}

/// Serves one keep-alive connection, request after request.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let mut stream = BufReader::new(stream);
    while let Some(request) = read_request(&mut stream).await {
        let Some(ok) = route(&mut stream, &request, &shared).await else {
            return;
        };
        if !ok
            || request
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            return;
        }
    }
}

/// Answers one request: whether the reply went out; `None` when the server stops.
async fn route(stream: &mut Stream, request: &Request, shared: &Shared) -> Option<bool> {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let route = request
        .path
        .strip_prefix(PREFIX)
        .map(|r| r.split('/').collect::<Vec<_>>())
        .unwrap_or_default();
    Some(match (request.method.as_str(), route.as_slice()) {
        ("GET", ["invocation", "next"]) => return next_invocation(stream, shared).await,
        ("POST", ["invocation", id, kind @ ("response" | "error")]) => {
            post_outcome(stream, shared, request, id, kind).await
        }
        ("POST", ["init", "error"]) => {
            let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            shared.state().init_errors.push(body);
            reply(stream, "202 Accepted", &[], ACCEPTED).await
        }
        _ => {
            let what = format!("{} {}", request.method, request.path);
            shared.state().unexpected.push(what);
            reply(
                stream,
                "404 Not Found",
                &[],
                br#"{"errorMessage":"not found"}"#,
            )
            .await
        }
    })
}

/// The long poll: blocks until the test queues an event, then hands it out.
async fn next_invocation(stream: &mut Stream, shared: &Shared) -> Option<bool> {
    let polls = {
        let mut state = shared.state();
        state.polls += 1;
        state.polled_at.push(Instant::now());
        state.polls
    };
    shared.polled.send_replace(polls);
    let q = shared.queue.lock().await.recv().await?;
    let handed_out = SystemTime::now();
    let deadline_ms = match q.deadline {
        Deadline::In(d) => epoch_ms(handed_out + d),
        Deadline::EpochMs(ms) => ms,
    };
    shared
        .state()
        .in_flight
        .insert(q.id.clone(), (handed_out, deadline_ms));
    let headers = [
        ("Lambda-Runtime-Aws-Request-Id", q.id.clone()),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            FUNCTION_ARN.to_string(),
        ),
        ("Lambda-Runtime-Trace-Id", TRACE_ID.to_string()),
    ];
    let body = q.event.to_string();
    Some(reply(stream, "200 OK", &headers, body.as_bytes()).await)
}

/// A `…/response` or `…/error` post for invocation `id`.
async fn post_outcome(
    stream: &mut Stream,
    shared: &Shared,
    request: &Request,
    id: &str,
    kind: &str,
) -> bool {
    let received = SystemTime::now();
    let body: Value = serde_json::from_slice(&request.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into_owned()));
    let posted = if kind == "response" {
        Posted::Response(body)
    } else {
        Posted::Error {
            header: request
                .header("lambda-runtime-function-error-type")
                .map(String::from),
            body,
        }
    };
    let flight = shared.state().in_flight.remove(id);
    let Some((handed_out, deadline_ms)) = flight else {
        let what = format!("POST {} (unknown or answered id)", request.path);
        shared.state().unexpected.push(what);
        let invalid = br#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#;
        return reply(stream, "400 Bad Request", &[], invalid).await;
    };
    let _ = shared.posted.send(Outcome {
        id: id.to_string(),
        posted,
        handed_out,
        deadline_ms,
        received,
    });
    reply(stream, "202 Accepted", &[], ACCEPTED).await
}
