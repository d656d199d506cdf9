//! The command line on a terminal and in a pipe: the real binary, its stdout and
//! stderr each either a pipe or a real pseudo-terminal (openpty), against the
//! local AWS. A terminal gets the text plan and progress lines; a pipe gets the
//! JSON report and no progress; `--output` overrides either way.

mod support;

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::pty::{openpty, Winsize};
use serde_json::Value;
use support::Outcome::{Kept, Removed};
use support::{Behaviour, Estate, LocalAws};

const HOUR: Duration = Duration::from_secs(3600);

/// Where one of the child's streams goes, and what came out of it.
enum Sink {
    Pipe,
    Terminal,
}

/// A pseudo-terminal whose far end the child writes to; what it wrote is read
/// from the near end until the child (the last holder of the far end) exits.
struct Pty {
    far: OwnedFd,
    reader: JoinHandle<String>,
}

impl Pty {
    fn open() -> Pty {
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).expect("openpty");
        let mut near = File::from(pty.master);
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut buf = [0u8; 4096];
            // Linux answers EIO once no process holds the far end any more.
            while let Ok(n) = near.read(&mut buf) {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&buf[..n]);
            }
            // The terminal turns each "\n" into "\r\n".
            String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
        });
        Pty {
            far: pty.slave,
            reader,
        }
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(self.far.try_clone().expect("dup the pty"))
    }
}

/// Runs the binary with `args`, its stdout and stderr each a pipe or a terminal;
/// returns (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, String)], stdout: Sink, stderr: Sink) -> (i32, String, String) {
    let mut cmd = Command::new(support::binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let open = |sink: &Sink| match sink {
        Sink::Pipe => None,
        Sink::Terminal => Some(Pty::open()),
    };
    let (out_pty, err_pty) = (open(&stdout), open(&stderr));
    cmd.stdout(out_pty.as_ref().map_or_else(Stdio::piped, Pty::stdio));
    cmd.stderr(err_pty.as_ref().map_or_else(Stdio::piped, Pty::stdio));
    let child = cmd.spawn().expect("spawn ecs-dns-reaper");
    // The command holds copies of the far ends: once it and `finish` drop theirs,
    // only the child holds them, and its exit ends the readers.
    drop(cmd);
    let finish = |pty: Option<Pty>, piped: Vec<u8>| match pty {
        Some(Pty { far, reader }) => {
            drop(far);
            reader.join().expect("pty reader")
        }
        None => String::from_utf8_lossy(&piped).into_owned(),
    };
    let out = child.wait_with_output().expect("wait for ecs-dns-reaper");
    let code = out.status.code().unwrap_or(-1);
    (
        code,
        finish(out_pty, out.stdout),
        finish(err_pty, out.stderr),
    )
}

/// A live task, one answering HTTP 500 and a record on a host nobody has.
async fn estate(aws: &LocalAws) -> (Estate<'_>, Vec<(&'static str, String)>) {
    let mut e = Estate::new(aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    let ok = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", host, &ok, Some(Kept("healthy")));
    let bad = e.task(host, "calc", HOUR, Behaviour::Http500).await;
    e.srv("calc", host, &bad, Some(Removed("unhealthy")));
    let unknown = e.unknown_host(1);
    e.srv_raw("calc", &unknown, 80, None, Some(Removed("host-unknown")));
    e.commit().await;
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", e.zone_id.clone()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS", "300".into()));
    env.push(("MAX_DELETE_PERCENT", "100".into()));
    (e, env)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not the JSON report ({e}):\n{stdout}"))
}

/// What the text plan of this estate's dry run says, whoever asked for it.
fn assert_text_plan(stdout: &str) {
    assert!(serde_json::from_str::<Value>(stdout).is_err(), "{stdout}");
    for line in [
        "Dry run: decided and reported, nothing changed.",
        "  kept     1 healthy, 0 in start-up grace, 0 out of scope",
        "  would delete 2",
        "  held     0",
        "  guard    not tripped (2 negative-evidence candidates of 3 owned records, limit 100%)",
        "Dry run: nothing was changed.",
    ] {
        assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    // Each deletion with its reason, target and evidence.
    assert!(
        stdout.contains("    - unhealthy      SRV calc.sd.internal. -> ip-"),
        "{stdout}"
    );
    assert!(
        stdout.contains(": HTTP 500, HTTP 500, HTTP 500"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    - host-unknown   SRV calc.sd.internal. -> "),
        "{stdout}"
    );
    assert!(stdout.contains("no EC2 instance of vpc-"), "{stdout}");
}

/// Progress lines name the phases; none is drawn without a terminal.
const PHASES: [&str; 3] = [
    "listing records and instances",
    "reading ECS and EC2",
    "health checks",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_the_text_plan_and_progress_a_pipe_the_json_report() {
    let aws = LocalAws::start().await;
    let (e, env) = estate(&aws).await;
    let before = e.zone().await;
    let sweep = ["sweep", "--dry-run"];

    // Both pipes: the JSON report exactly, and nothing drawn on stderr.
    let (code, stdout, stderr) = run(&sweep, &env, Sink::Pipe, Sink::Pipe);
    assert_eq!(code, 0, "{stderr}");
    let report = json(&stdout);
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["deleted"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    for phase in PHASES {
        assert!(!stderr.contains(phase), "progress in a pipe:\n{stderr}");
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "terminal codes in a pipe:\n{stderr}"
    );

    // Both terminals: the text plan on stdout, a line per phase on stderr.
    let (code, stdout, stderr) = run(&sweep, &env, Sink::Terminal, Sink::Terminal);
    assert_eq!(code, 0, "{stderr}");
    assert_text_plan(&stdout);
    for phase in PHASES {
        assert!(stderr.contains(phase), "no {phase:?} progress:\n{stderr}");
        assert!(!stdout.contains(phase), "progress on stdout:\n{stdout}");
    }

    // stdout a terminal, stderr a pipe: the plan, and no progress.
    let (code, stdout, stderr) = run(&sweep, &env, Sink::Terminal, Sink::Pipe);
    assert_eq!(code, 0, "{stderr}");
    assert_text_plan(&stdout);
    assert!(!stderr.contains("health checks"), "{stderr}");

    // stdout a pipe, stderr a terminal: the JSON report, and progress.
    let (code, stdout, stderr) = run(&sweep, &env, Sink::Pipe, Sink::Terminal);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json(&stdout)["deleted"].as_array().map(Vec::len), Some(2));
    assert!(stderr.contains("health checks"), "{stderr}");

    assert_eq!(e.zone().await, before, "a dry run changed the zone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_overrides_what_stdout_is_and_a_bad_value_is_a_usage_error() {
    let aws = LocalAws::start().await;
    let (e, env) = estate(&aws).await;
    let before = e.zone().await;

    // --output json on a terminal: the JSON report, with every entry's evidence.
    let args = ["sweep", "--dry-run", "--output", "json"];
    let (code, stdout, stderr) = run(&args, &env, Sink::Terminal, Sink::Pipe);
    assert_eq!(code, 0, "{stderr}");
    let report = json(&stdout);
    for entry in report["deleted"].as_array().into_iter().flatten() {
        assert!(entry["evidence"].is_string(), "{entry}");
    }

    // --output text in a pipe: the plan.
    let args = ["sweep", "--dry-run", "--output", "text"];
    let (code, stdout, stderr) = run(&args, &env, Sink::Pipe, Sink::Pipe);
    assert_eq!(code, 0, "{stderr}");
    assert_text_plan(&stdout);

    // invoke takes it too.
    let scheduled = r#"{"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}"#;
    let event = std::env::temp_dir().join(format!(
        "ecs-dns-reaper-terminal-{}.json",
        std::process::id()
    ));
    std::fs::write(&event, scheduled).expect("write the event");
    let path = event.to_string_lossy().into_owned();
    let args = ["invoke", "--event", &path, "--dry-run", "--output", "text"];
    let (code, stdout, stderr) = run(&args, &env, Sink::Pipe, Sink::Pipe);
    let _ = std::fs::remove_file(&event);
    assert_eq!(code, 0, "{stderr}");
    assert_text_plan(&stdout);
    assert!(
        stdout.contains("Zone ") && stdout.contains("(schedule:"),
        "{stdout}"
    );

    // A format it does not know: exit 2, and the message says what it takes.
    let args = ["sweep", "--dry-run", "--output", "yaml"];
    let (code, stdout, stderr) = run(&args, &env, Sink::Pipe, Sink::Pipe);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    for word in ["--output", "yaml", "text", "json"] {
        assert!(stderr.contains(word), "{word:?} missing from:\n{stderr}");
    }

    assert_eq!(e.zone().await, before, "a dry run changed the zone");
}
