//! The built `ecs-dns-reaper`: run once as a command line, or kept running as a
//! Lambda function against a Runtime API (`runtime_api.rs`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

/// The environment the Lambda service gives a function, with its Runtime API at
/// `runtime_api` (`host:port`).
pub fn lambda_env(runtime_api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "ecs-dns-reaper".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef".into(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/ecs-dns-reaper".into(),
        ),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("TZ", ":UTC".into()),
    ]
}

/// The built `ecs-dns-reaper`: Cargo names it for integration tests; an example
/// finds it beside its own directory (`target/<profile>/examples/..`).
pub fn binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_ecs-dns-reaper") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>");
    profile_dir.join("ecs-dns-reaper")
}

/// Runs the real binary with `args` and `env`; returns (exit code, stdout, stderr).
pub fn run_binary(
    args: &[&str],
    env: &[(&str, String)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn ecs-dns-reaper");
    if let Some(mut input) = child.stdin.take() {
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("wait for ecs-dns-reaper");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The built binary running as a Lambda function; killed on drop.
pub struct Lambda {
    child: tokio::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Lambda {
    /// Starts the binary with no subcommand and exactly `env` (plus PATH).
    pub fn start(env: &[(&str, String)]) -> Lambda {
        let mut cmd = tokio::process::Command::new(binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ecs-dns-reaper");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Lambda {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn output_so_far(&self) -> (String, String) {
        (
            self.stdout.lock().expect("stdout").clone(),
            self.stderr.lock().expect("stderr").clone(),
        )
    }

    /// Asserts the process still runs, kills it, and returns (stdout, stderr).
    pub async fn stop(mut self) -> (String, String) {
        if let Some(status) = self.exited() {
            let (stdout, stderr) = self.output_so_far();
            panic!("the function exited ({status}) while it should still serve:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
        }
        let _ = self.child.start_kill();
        let _ = timeout(Duration::from_secs(10), self.child.wait()).await;
        self.drain().await
    }

    /// Waits (bounded) for the process to exit on its own; returns its exit code.
    pub async fn wait_exit(mut self, within: Duration) -> (Option<i32>, String, String) {
        let status = timeout(within, self.child.wait()).await;
        let code = match status {
            Ok(Ok(s)) => s.code(),
            _ => {
                let (stdout, stderr) = self.output_so_far();
                panic!("the function did not exit within {within:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
            }
        };
        let (stdout, stderr) = self.drain().await;
        (code, stdout, stderr)
    }

    /// Waits (bounded) for the output readers; (stdout, stderr).
    async fn drain(&mut self) -> (String, String) {
        for r in std::mem::take(&mut self.readers) {
            let _ = timeout(Duration::from_secs(5), r).await;
        }
        self.output_so_far()
    }
}

fn collect(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut s = into.lock().expect("output");
            s.push_str(&line);
            s.push('\n');
        }
    })
}
