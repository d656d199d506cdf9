//! The real handler on events against an estate: its configuration, its
//! dependencies, and the report as JSON.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::Estate;

impl Estate<'_> {
    /// Configuration for the sweep of this estate, from `extra` environment pairs.
    pub fn config(&self, extra: &[(&str, &str)]) -> ecs_dns_reaper::config::Config {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("HOSTED_ZONE_ID".to_string(), self.zone_id.clone()),
            ("HEALTH_CHECK_TIMEOUT_MS".to_string(), "300".to_string()),
            ("HEALTH_CHECK_ATTEMPTS".to_string(), "2".to_string()),
        ]);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        ecs_dns_reaper::config::Config::from_lookup(|k| vars.get(k).cloned())
            .expect("test configuration")
    }

    /// Handler dependencies for this estate.
    pub fn deps(&self, extra: &[(&str, &str)]) -> ecs_dns_reaper::handler::Deps {
        ecs_dns_reaper::handler::Deps::new(&self.aws.sdk, self.config(extra)).expect("deps")
    }

    /// The handler on `event` against this estate, with `extra` configuration; the
    /// report as JSON.
    pub async fn invoke(&self, event: &Value, extra: &[(&str, &str)]) -> Value {
        invoke_with(&self.deps(extra), event).await
    }

    /// One full sweep (a manual invoke) with `extra` configuration.
    pub async fn sweep(&self, extra: &[(&str, &str)]) -> Value {
        self.invoke(&json!({"action": "sweep"}), extra).await
    }

    /// A manual dry run with `extra` configuration: decides, deletes nothing.
    pub async fn dry_run(&self, extra: &[(&str, &str)]) -> Value {
        self.invoke(&json!({"action": "sweep", "dry_run": true}), extra)
            .await
    }
}

/// The handler on `event` with `deps` (kept across invocations, as Lambda keeps
/// them); the report as JSON.
pub async fn invoke_with(deps: &ecs_dns_reaper::handler::Deps, event: &Value) -> Value {
    let invocation = ecs_dns_reaper::handler::Invocation::default();
    let report = ecs_dns_reaper::handler::handle(deps, event, invocation)
        .await
        .expect("handler");
    serde_json::to_value(report).expect("report json")
}
