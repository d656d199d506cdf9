//! `ecs-dns-reaper`: the Lambda (`bootstrap`) and the one-shot command line.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};
use ecs_dns_reaper::config::Config;
use ecs_dns_reaper::handler::{self, Deps, Invocation};
use ecs_dns_reaper::progress::TerminalProgress;
use ecs_dns_reaper::report::text;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[derive(Parser)]
#[command(
    version,
    about = "Deletes stale ECS service-discovery records from a Route 53 private zone."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log only errors (RUST_LOG, when set, decides instead).
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run one full sweep and print the report.
    Sweep {
        /// Decide and report, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        output: OutputArg,
    },
    /// Run the handler on one event and print the report.
    Invoke {
        /// Event JSON file; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        event: String,
        /// Decide and report, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        output: OutputArg,
    },
}

#[derive(clap::Args)]
struct OutputArg {
    /// How to print the report: `text` (a plan to read) or `json` (the report
    /// object). Default: text when stdout is a terminal, else json.
    #[arg(long, value_enum, value_name = "FORMAT")]
    output: Option<Output>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

impl OutputArg {
    /// The format asked for, or the one that suits where stdout goes.
    fn resolve(&self) -> Output {
        match (self.output, std::io::stdout().is_terminal()) {
            (Some(chosen), _) => chosen,
            (None, true) => Output::Text,
            (None, false) => Output::Json,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ecs_dns_reaper::logging::init(cli.command.is_none(), cli.quiet);
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ecs-dns-reaper: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ecs-dns-reaper: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cli, config))
}

async fn run(cli: Cli, config: Config) -> ExitCode {
    if cli.command.is_none() && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!("ecs-dns-reaper: no subcommand given and AWS_LAMBDA_RUNTIME_API is not set\n\nUsage: ecs-dns-reaper sweep [--dry-run] [--output text|json]\n       ecs-dns-reaper invoke --event FILE [--dry-run] [--output text|json]");
        return ExitCode::from(2);
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut deps = match Deps::new(&sdk, config) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ecs-dns-reaper: {e}");
            return ExitCode::from(1);
        }
    };
    let (event, dry_run, output) = match cli.command {
        None => return lambda(deps).await,
        Some(Command::Sweep { dry_run, output }) => {
            (serde_json::json!({"action": "sweep"}), dry_run, output)
        }
        Some(Command::Invoke {
            event,
            dry_run,
            output,
        }) => match read_event(&event) {
            Ok(e) => (e, dry_run, output),
            Err(message) => {
                eprintln!("ecs-dns-reaper: {message}");
                return ExitCode::from(2);
            }
        },
    };
    if std::io::stderr().is_terminal() {
        deps.progress = Box::new(TerminalProgress::new());
    }
    let invocation = Invocation {
        deadline: None,
        force_dry_run: dry_run,
    };
    let report = match handler::handle(&deps, &event, invocation).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("ecs-dns-reaper: {e}");
            return ExitCode::from(1);
        }
    };
    drop(deps);
    let printed = match output.resolve() {
        Output::Text => Ok(text::plan(&report)),
        Output::Json => serde_json::to_string_pretty(&report).map(|json| json + "\n"),
    };
    match printed {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ecs-dns-reaper: cannot write the report: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_event(path: &str) -> Result<Value, String> {
    let mut text = String::new();
    let read = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| format!("cannot read event file {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("event file {path} is not JSON: {e}"))
}

/// The Lambda runtime loop: one [`handler::handle`] per invocation, with the
/// invocation's deadline.
async fn lambda(deps: Deps) -> ExitCode {
    let deps = &deps;
    let result = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline =
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(event.context.deadline));
        let invocation = Invocation {
            deadline,
            force_dry_run: false,
        };
        let report = handler::handle(deps, &event.payload, invocation)
            .await
            .inspect_err(|e| tracing::error!(error = %e, "invocation failed"))?;
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        println!("{}", report.emf_line(now_ms));
        Ok::<_, handler::HandlerError>(report)
    }))
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecs-dns-reaper: Lambda runtime failed: {e}");
            ExitCode::from(1)
        }
    }
}
