//! `make demo`: a local AWS with a small realistic estate, one sweep by the real
//! binary, a short summary and the JSON report; everything it started stops
//! with it.
//!
//! `cargo run --example demo -- --serve` keeps the estate up for `cargo lambda
//! watch` / `invoke` (see README); `--write-events DIR` writes the sample events
//! for this estate.

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use support::{demo, LocalAws};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let aws = LocalAws::start().await;
    let built = demo::build(&aws).await;
    let zone_id = built.estate.zone_id.clone();
    match args.first().map(String::as_str) {
        Some("--write-events") => {
            let dir = args.get(1).map(String::as_str).unwrap_or("events");
            for (name, event) in demo::events(&built) {
                let path = format!("{dir}/{name}");
                let text = serde_json::to_string_pretty(&event).expect("event json") + "\n";
                std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {path}: {e}"));
                println!("wrote {path}");
            }
        }
        Some("--serve") => serve(&aws, &zone_id).await,
        _ => sweep_once(&aws, &zone_id),
    }
}

fn env_for(aws: &LocalAws, zone_id: &str) -> Vec<(&'static str, String)> {
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", zone_id.to_string()));
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

fn sweep_once(aws: &LocalAws, zone_id: &str) {
    let (code, stdout, stderr) =
        support::run_binary(&["sweep", "--quiet"], &env_for(aws, zone_id), None);
    if code != 0 {
        eprintln!("ecs-dns-reaper sweep exited {code}:\n{stderr}");
        std::process::exit(1);
    }
    let report: Value = match serde_json::from_str(&stdout) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("the report is not JSON ({e}):\n{stdout}");
            std::process::exit(1);
        }
    };
    println!("{}", summary(&report));
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}

/// A short human-readable account of a report.
fn summary(r: &Value) -> String {
    let mut out = String::new();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    out.push_str(&format!(
        "Swept zone {} ({} record sets: {} owned by the agent, {} foreign) in {} ms\n",
        r["hosted_zone_id"].as_str().unwrap_or("?"),
        n(&r["records"]["scanned"]),
        n(&r["records"]["owned"]),
        n(&r["records"]["foreign"]),
        n(&r["duration_ms"]),
    ));
    out.push_str(&format!(
        "  kept     {} healthy, {} in start-up grace, {} out of scope\n",
        n(&r["kept"]["healthy"]),
        n(&r["kept"]["grace"]),
        n(&r["kept"]["out-of-scope"]),
    ));
    let list = |key: &str| r[key].as_array().cloned().unwrap_or_default();
    let deleted = list("deleted");
    out.push_str(&format!("  deleted  {}\n", deleted.len()));
    for d in &deleted {
        out.push_str(&format!(
            "    - {:<14} {} {} -> {}\n",
            d["reason"].as_str().unwrap_or("?"),
            d["type"].as_str().unwrap_or("?"),
            d["name"].as_str().unwrap_or("?"),
            d["target"].as_str().unwrap_or("?"),
        ));
    }
    let held = list("held");
    out.push_str(&format!("  held     {}\n", held.len()));
    for h in &held {
        out.push_str(&format!(
            "    - {:<14} {} {} -> {} (decided: {})\n",
            h["reason"].as_str().unwrap_or("?"),
            h["type"].as_str().unwrap_or("?"),
            h["name"].as_str().unwrap_or("?"),
            h["target"].as_str().unwrap_or("?"),
            h["decided"].as_str().unwrap_or("?"),
        ));
    }
    let guard = &r["guard"];
    out.push_str(&format!(
        "  guard    {} ({} negative-evidence candidates of {} owned, limit {}%)\n",
        if guard["tripped"] == true {
            "TRIPPED"
        } else {
            "not tripped"
        },
        n(&guard["negative"]),
        n(&guard["owned"]),
        n(&guard["limit_percent"]),
    ));
    if let Some(errors) = r["errors"].as_array().filter(|e| !e.is_empty()) {
        out.push_str(&format!("  errors   {}\n", errors.len()));
        for e in errors {
            out.push_str(&format!("    - {}\n", e.as_str().unwrap_or("?")));
        }
    }
    out
}
