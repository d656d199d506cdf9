//! `make demo`: a local AWS with a small realistic estate (a Route 53 zone of
//! agent records and a Cloud Map namespace), a dry run by the real binary printed
//! as its text plan, then the real sweep and its JSON report; everything it
//! started stops with it.
//!
//! `cargo run --example demo -- --serve` keeps the estate up for `cargo lambda
//! watch` / `invoke` (see docs/local-aws.md); `--write-events DIR` writes the sample events
//! for this estate.

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use support::{demo, LocalAws};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let aws = LocalAws::start().await;
    let mut built = demo::build(&aws).await;
    let zone_id = built.estate.zone_id.clone();
    match args.first().map(String::as_str) {
        // The sample events name the zone estate only (built first, so its ids
        // do not depend on the Cloud Map part).
        Some("--write-events") => {
            let dir = args.get(1).map(String::as_str).unwrap_or("events");
            for (name, event) in demo::events(&built) {
                let path = format!("{dir}/{name}");
                let text = serde_json::to_string_pretty(&event).expect("event json") + "\n";
                std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {path}: {e}"));
                println!("wrote {path}");
            }
        }
        Some("--serve") => {
            demo::build_cloud_map(&mut built).await;
            serve(&aws, &zone_id).await
        }
        _ => {
            demo::build_cloud_map(&mut built).await;
            let report = sweep_once(&aws, &zone_id);
            println!("{}", coverage_note(&built, &report));
        }
    }
}

fn env_for(aws: &LocalAws, zone_id: &str) -> Vec<(&'static str, String)> {
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", zone_id.to_string()));
    env.push(("CLOUD_MAP_NAMESPACES", demo::NAMESPACE.to_string()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS", "500".into()));
    env.push(("HEALTH_CHECK_ATTEMPTS", "2".into()));
    env
}

async fn serve(aws: &LocalAws, zone_id: &str) {
    println!("Local AWS with the demo estate is up. In another terminal:\n");
    for (k, v) in env_for(aws, zone_id) {
        println!("export {k}={v}");
    }
    println!("\nthen `cargo lambda watch` and `cargo lambda invoke ecs-dns-reaper --data-file events/ec2-terminated.json`,");
    println!(
        "or `cargo run -- invoke --event events/ec2-terminated.json`. Ctrl-C stops everything."
    );
    let _ = tokio::signal::ctrl_c().await;
}

/// The sweep the operator would make: first a dry run, printed as the text
/// plan (the product's own printer, `--output text`), then the real sweep, whose
/// JSON report is printed and returned.
fn sweep_once(aws: &LocalAws, zone_id: &str) -> Value {
    let env = env_for(aws, zone_id);
    let run = |args: &[&str]| {
        let (code, stdout, stderr) = support::run_binary(args, &env, None);
        if code != 0 {
            eprintln!("ecs-dns-reaper {} exited {code}:\n{stderr}", args.join(" "));
            std::process::exit(1);
        }
        stdout
    };
    println!("$ ecs-dns-reaper sweep --dry-run\n");
    print!(
        "{}",
        run(&["sweep", "--dry-run", "--output", "text", "--quiet"])
    );
    let stdout = run(&["sweep", "--output", "json", "--quiet"]);
    let report: Value = match serde_json::from_str(&stdout) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("the report is not JSON ({e}):\n{stdout}");
            std::process::exit(1);
        }
    };
    println!("\n$ ecs-dns-reaper sweep --output json\n");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    report
}

/// What the report shows of coverage (docs/coverage.md): the second Region's
/// host kept, the scaled-in host's records tied to it through ECS.
fn coverage_note(built: &demo::Demo<'_>, report: &Value) -> String {
    let hosts = &built.estate.hosts;
    let (dr, gone) = (
        &hosts[built.other_region_host],
        &hosts[built.scaled_in_host],
    );
    let deleted = report["deleted"].as_array().cloned().unwrap_or_default();
    let of = |dns: &str, address: &str| -> Vec<String> {
        let targets = |e: &&Value| {
            let target = e["target"].as_str().unwrap_or_default();
            target.starts_with(dns) || target == address
        };
        deleted
            .iter()
            .filter(targets)
            .map(|e| format!("{} {}", text(&e["type"]), text(&e["reason"])))
            .collect()
    };
    let dr_deleted = of(&dr.dns, &dr.ip.to_string());
    let tied = of(&gone.dns, &gone.ip.to_string());
    format!(
        "Coverage (docs/coverage.md):\n  \
         {} (a live host of the zone's us-west-2 VPC, EC2 read there too): {}\n  \
         {} (terminated; EC2 no longer reports its address, ECS ties its task's container id): {}\n",
        dr.dns,
        match dr_deleted.is_empty() {
            true => "its records kept".to_string(),
            false => format!("deleted {}", dr_deleted.join(", ")),
        },
        gone.dns,
        match tied.is_empty() {
            true => "nothing deleted".to_string(),
            false => format!("deleted {}", tied.join(", ")),
        },
    )
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}
