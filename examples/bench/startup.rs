//! Start-to-ready: the release binary started as a Lambda runtime against the
//! tests' Runtime API (`tests/support/runtime_api.rs`), timed from spawn to its
//! first `GET …/invocation/next`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::stats::median;
use super::support::runtime_api::RuntimeApi;
use super::support::LocalAws;
use super::Built;

/// Start-to-ready of the Lambda runtime: spawn → first `GET …/invocation/next`.
pub(super) struct Ready {
    pub samples_ms: Vec<f64>,
}

impl Ready {
    pub(super) fn median(&self) -> Option<f64> {
        median(&self.samples_ms)
    }
}

/// Starts `binary` as a Lambda runtime `runs` times against a Runtime API here,
/// timing each from spawn to its first `GET …/invocation/next`.
pub(super) async fn startup(aws: &LocalAws, built: &Built, binary: &Path, runs: usize) -> Ready {
    let api = RuntimeApi::start().await;
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", built.zone_id.clone()));
    env.extend(api.lambda_env());
    let mut samples = Vec::new();
    for run in 0..runs {
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let polls = api.state(|s| s.polls);
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn the Lambda runtime");
        let ready = api.poll_arrival(polls + 1, Duration::from_secs(10)).await;
        let _ = child.kill();
        let _ = child.wait();
        match ready {
            Some(at) => samples.push(at.duration_since(started).as_secs_f64() * 1000.0),
            None => eprintln!("bench: start {run}: no `next` request within 10 s"),
        }
    }
    Ready {
        samples_ms: samples,
    }
}
