//! `make demo`: a local AWS with a small realistic estate (a Route 53 zone of
//! agent records and a Cloud Map namespace), one sweep by the real binary, a
//! short summary and the JSON report; everything it started stops with it.
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

fn sweep_once(aws: &LocalAws, zone_id: &str) -> Value {
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

/// A short human-readable account of a report: the zone, then each Cloud Map
/// namespace.
fn summary(r: &Value) -> String {
    let mut out = String::new();
    if r["hosted_zone_id"].is_string() {
        out.push_str(&zone_summary(r));
    }
    for namespace in r["cloud_map"].as_array().into_iter().flatten() {
        out.push_str(&namespace_summary(namespace));
    }
    if let Some(errors) = r["errors"].as_array().filter(|e| !e.is_empty()) {
        out.push_str(&format!("  errors   {}\n", errors.len()));
        for e in errors {
            out.push_str(&format!("    - {}\n", e.as_str().unwrap_or("?")));
        }
    }
    out
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

fn guard_line(guard: &Value, of: &str) -> String {
    format!(
        "  guard    {} ({} negative-evidence candidates of {} owned {of}, limit {}%)\n",
        if guard["tripped"] == true {
            "TRIPPED"
        } else {
            "not tripped"
        },
        n(&guard["negative"]),
        n(&guard["owned"]),
        n(&guard["limit_percent"]),
    )
}

/// A `deleted`, `deregistered` or `held` list: its length, then one line an
/// entry with its reason, the two fields `what` names, its target and, for a
/// held one, the reason decided.
fn entries(label: &str, list: &Value, what: [&str; 2]) -> String {
    let list = list.as_array().cloned().unwrap_or_default();
    let mut out = format!("  {label} {}\n", list.len());
    for e in &list {
        let decided = match e.get("decided") {
            Some(d) => format!(" (decided: {})", text(d)),
            None => String::new(),
        };
        out.push_str(&format!(
            "    - {:<14} {} {} -> {}{decided}\n",
            text(&e["reason"]),
            text(&e[what[0]]),
            text(&e[what[1]]),
            text(&e["target"]),
        ));
    }
    out
}

/// The Route 53 zone's part of the report.
fn zone_summary(r: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Swept zone {} ({} record sets: {} owned by the agent, {} foreign) in {} ms\n",
        text(&r["hosted_zone_id"]),
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
    let what = ["type", "name"];
    out.push_str(&entries("deleted ", &r["deleted"], what));
    out.push_str(&entries("held    ", &r["held"], what));
    out.push_str(&guard_line(&r["guard"], "records"));
    out
}

/// One Cloud Map namespace's entry of the report.
fn namespace_summary(ns: &Value) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Swept Cloud Map namespace {} ({}; {} instances: {} owned, {} foreign){}\n",
        text(&ns["namespace"]),
        ns["namespace_id"].as_str().unwrap_or("not resolved"),
        n(&ns["instances"]["scanned"]),
        n(&ns["instances"]["owned"]),
        n(&ns["instances"]["foreign"]),
        if ns["complete"] == false {
            " INCOMPLETE"
        } else {
            ""
        },
    ));
    let kept: Vec<String> = ns["kept"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, count)| n(count) > 0)
        .map(|(reason, count)| format!("{} {reason}", n(count)))
        .collect();
    out.push_str(&format!(
        "  kept     {}\n",
        if kept.is_empty() {
            "none".to_string()
        } else {
            kept.join(", ")
        }
    ));
    let what = ["service", "instance_id"];
    out.push_str(&entries("deregistered", &ns["deregistered"], what));
    out.push_str(&entries("held    ", &ns["held"], what));
    let list = |key: &str| ns[key].as_array().cloned().unwrap_or_default();
    let updates = list("health_updates");
    out.push_str(&format!(
        "  health   {} custom health update(s)\n",
        updates.len()
    ));
    for u in &updates {
        out.push_str(&format!(
            "    - {:<14} {} {}\n",
            text(&u["status"]),
            text(&u["service"]),
            text(&u["instance_id"]),
        ));
    }
    out.push_str(&guard_line(&ns["guard"], "instances"));
    if let Some(errors) = ns["errors"].as_array().filter(|e| !e.is_empty()) {
        out.push_str(&format!("  errors   {}\n", errors.len()));
        for e in errors {
            out.push_str(&format!("    - {}\n", text(e)));
        }
    }
    out
}
