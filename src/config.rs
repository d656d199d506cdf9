//! Configuration (README, "Configuration"): read once from the environment at start.
//!
//! Every variable is validated up front; a bad value stops the function before it
//! touches anything, with a message naming the variable.

use std::time::Duration;

use crate::net::health::{CheckMode, HealthSettings};

/// How many endpoints are health-checked at once. Lambda allows 1,024 open file
/// descriptors; the SDK clients need a few, the rest can go to checks.
pub const HEALTH_CHECK_CONCURRENCY: usize = 768;

/// Which hosted zone to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSelector {
    /// `HOSTED_ZONE_ID`, without any `/hostedzone/` prefix.
    Id(String),
    /// `DNS_NAMESPACE`, lower case, without the trailing dot.
    Namespace(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `None`: only Cloud Map namespaces are swept.
    pub zone: Option<ZoneSelector>,
    /// `CLOUD_MAP_NAMESPACES`: names or `ns-…` ids, in the order given.
    pub cloud_map_namespaces: Vec<String>,
    /// `ECS_CLUSTERS`; `None` sweeps every cluster of the account and region.
    pub clusters: Option<Vec<String>>,
    pub health: HealthSettings,
    pub startup_grace: Duration,
    pub max_delete_percent: u8,
    pub keep_last_record: bool,
    pub dry_run: bool,
    pub stop_unhealthy_tasks: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("none of HOSTED_ZONE_ID, DNS_NAMESPACE and CLOUD_MAP_NAMESPACES is set: set HOSTED_ZONE_ID or DNS_NAMESPACE to the private hosted zone to sweep, CLOUD_MAP_NAMESPACES to the Cloud Map namespaces, or both")]
    NothingToSweep,
    #[error("{variable}={value:?} is invalid: {problem}")]
    Invalid {
        variable: &'static str,
        value: String,
        problem: String,
    },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment in production, a map in tests).
    /// An empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let zone = match (get("HOSTED_ZONE_ID"), get("DNS_NAMESPACE")) {
            (Some(id), _) => Some(ZoneSelector::Id(parse_zone_id(&id)?)),
            (None, Some(ns)) => Some(ZoneSelector::Namespace(parse_namespace(&ns)?)),
            (None, None) => None,
        };
        let cloud_map_namespaces = get("CLOUD_MAP_NAMESPACES")
            .map(|v| parse_list("CLOUD_MAP_NAMESPACES", &v, "namespace"))
            .transpose()?
            .unwrap_or_default();
        if zone.is_none() && cloud_map_namespaces.is_empty() {
            return Err(ConfigError::NothingToSweep);
        }
        let clusters = get("ECS_CLUSTERS")
            .map(|v| parse_list("ECS_CLUSTERS", &v, "cluster name"))
            .transpose()?;

        let mode = match get("HEALTH_CHECK").as_deref().map(str::trim) {
            None | Some("http") => CheckMode::Http {
                path: parse_path(get("HEALTH_CHECK_PATH"))?,
            },
            Some("tcp") => CheckMode::Tcp,
            Some("off") => CheckMode::Off,
            Some(other) => {
                return Err(invalid(
                    "HEALTH_CHECK",
                    other,
                    "expected one of http, tcp, off",
                ))
            }
        };
        let timeout_ms = number(&get, "HEALTH_CHECK_TIMEOUT_MS", 2000, 1, 60_000)?;
        let attempts = number(&get, "HEALTH_CHECK_ATTEMPTS", 3, 1, 10)?;
        let grace = number(&get, "STARTUP_GRACE_SECONDS", 60, 0, 86_400)?;
        let max_delete_percent = number(&get, "MAX_DELETE_PERCENT", 50, 0, 100)?;

        Ok(Config {
            zone,
            cloud_map_namespaces,
            clusters,
            health: HealthSettings {
                mode,
                timeout: Duration::from_millis(timeout_ms),
                attempts: attempts as u32,
                concurrency: HEALTH_CHECK_CONCURRENCY,
            },
            startup_grace: Duration::from_secs(grace),
            max_delete_percent: max_delete_percent as u8,
            keep_last_record: boolean(&get, "KEEP_LAST_RECORD", true)?,
            dry_run: boolean(&get, "DRY_RUN", false)?,
            stop_unhealthy_tasks: boolean(&get, "STOP_UNHEALTHY_TASKS", false)?,
        })
    }
}

fn invalid(variable: &'static str, value: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_string(),
        problem: problem.into(),
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(variable) else {
        return Ok(default);
    };
    let value: u64 = raw.trim().parse().map_err(|_| {
        invalid(
            variable,
            &raw,
            format!("expected a whole number from {min} to {max}"),
        )
    })?;
    if !(min..=max).contains(&value) {
        return Err(invalid(
            variable,
            &raw,
            format!("out of range: expected {min} to {max}"),
        ));
    }
    Ok(value)
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(variable).as_deref().map(str::trim) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(variable, other, "expected true or false")),
    }
}

/// Route 53 zone ids are upper-case alphanumerics (`Z0123456789ABC`); the API also
/// prints them as `/hostedzone/Z…`, which is accepted and stripped.
fn parse_zone_id(raw: &str) -> Result<String, ConfigError> {
    let id = raw.trim();
    let id = id.strip_prefix("/hostedzone/").unwrap_or(id);
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "HOSTED_ZONE_ID",
            raw,
            "expected a Route 53 hosted zone id such as Z0123456789ABC",
        ));
    }
    Ok(id.to_ascii_uppercase())
}

fn parse_namespace(raw: &str) -> Result<String, ConfigError> {
    let ns = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if ns.is_empty() || ns.len() > 253 || !ns.split('.').all(valid_label) {
        return Err(invalid(
            "DNS_NAMESPACE",
            raw,
            "expected a DNS zone name such as servicediscovery.internal",
        ));
    }
    Ok(ns)
}

/// A comma-separated list of names (or ids, or ARNs), duplicates dropped.
fn parse_list(variable: &'static str, raw: &str, what: &str) -> Result<Vec<String>, ConfigError> {
    let mut items: Vec<String> = Vec::new();
    for item in raw.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(invalid(
                variable,
                raw,
                format!("empty {what} in the comma-separated list"),
            ));
        }
        if item.chars().any(char::is_whitespace) {
            return Err(invalid(
                variable,
                raw,
                format!("{what} {item:?} contains white space"),
            ));
        }
        if !items.iter().any(|c| c == item) {
            items.push(item.to_string());
        }
    }
    Ok(items)
}

fn parse_path(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(path) = raw else {
        return Ok("/".to_string());
    };
    let path = path.trim();
    // The health checker's own rule, so that no path passes here and fails at start.
    if let Err(e) = crate::net::health::validate_path(path) {
        let problem = match e {
            crate::net::health::HealthError::InvalidPath { reason, .. } => reason,
            other => other.to_string(),
        };
        return Err(invalid(
            "HEALTH_CHECK_PATH",
            path,
            format!("{problem}: expected an absolute path such as /health"),
        ));
    }
    Ok(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = load(&[("HOSTED_ZONE_ID", "Z123")]).unwrap();
        assert_eq!(c.zone, Some(ZoneSelector::Id("Z123".into())));
        assert_eq!(c.clusters, None);
        assert_eq!(c.health.mode, CheckMode::Http { path: "/".into() });
        assert_eq!(c.health.timeout, Duration::from_millis(2000));
        assert_eq!(c.health.attempts, 3);
        assert_eq!(c.startup_grace, Duration::from_secs(60));
        assert_eq!(c.max_delete_percent, 50);
        assert!(c.keep_last_record);
        assert!(!c.dry_run);
        assert!(!c.stop_unhealthy_tasks);
    }

    #[test]
    fn zone_id_takes_precedence_and_prefix_is_stripped() {
        let c = load(&[
            ("HOSTED_ZONE_ID", "/hostedzone/z0abc"),
            ("DNS_NAMESPACE", "x.internal"),
        ])
        .unwrap();
        assert_eq!(c.zone, Some(ZoneSelector::Id("Z0ABC".into())));
        let c = load(&[("HOSTED_ZONE_ID", ""), ("DNS_NAMESPACE", "SD.Internal.")]).unwrap();
        assert_eq!(c.zone, Some(ZoneSelector::Namespace("sd.internal".into())));
    }

    #[test]
    fn cloud_map_namespaces_alone_are_enough() {
        let c = load(&[("CLOUD_MAP_NAMESPACES", " ns-abc , web.local,ns-abc")]).unwrap();
        assert_eq!(c.zone, None);
        assert_eq!(c.cloud_map_namespaces, vec!["ns-abc", "web.local"]);
        let both = load(&[("HOSTED_ZONE_ID", "Z1"), ("CLOUD_MAP_NAMESPACES", "ns-abc")]).unwrap();
        assert_eq!(both.zone, Some(ZoneSelector::Id("Z1".into())));
        assert!(load(&[("HOSTED_ZONE_ID", "Z1")])
            .unwrap()
            .cloud_map_namespaces
            .is_empty());
    }

    #[test]
    fn every_setting_is_read() {
        let c = load(&[
            ("DNS_NAMESPACE", "sd.internal"),
            (
                "ECS_CLUSTERS",
                " web, arn:aws:ecs:us-east-1:123456789012:cluster/api ,web",
            ),
            ("HEALTH_CHECK", "tcp"),
            ("HEALTH_CHECK_TIMEOUT_MS", "500"),
            ("HEALTH_CHECK_ATTEMPTS", "1"),
            ("STARTUP_GRACE_SECONDS", "0"),
            ("MAX_DELETE_PERCENT", "100"),
            ("KEEP_LAST_RECORD", "false"),
            ("DRY_RUN", "true"),
            ("STOP_UNHEALTHY_TASKS", "true"),
        ])
        .unwrap();
        assert_eq!(
            c.clusters,
            Some(vec![
                "web".to_string(),
                "arn:aws:ecs:us-east-1:123456789012:cluster/api".to_string()
            ])
        );
        assert_eq!(c.health.mode, CheckMode::Tcp);
        assert_eq!(c.health.timeout, Duration::from_millis(500));
        assert_eq!(c.health.attempts, 1);
        assert_eq!(c.startup_grace, Duration::ZERO);
        assert_eq!(c.max_delete_percent, 100);
        assert!(!c.keep_last_record && c.dry_run && c.stop_unhealthy_tasks);
        let off = load(&[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK", "off")]).unwrap();
        assert_eq!(off.health.mode, CheckMode::Off);
        let path = load(&[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK_PATH", "/healthz")]).unwrap();
        assert_eq!(
            path.health.mode,
            CheckMode::Http {
                path: "/healthz".into()
            }
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "HOSTED_ZONE_ID"),
            (&[], "DNS_NAMESPACE"),
            (&[], "CLOUD_MAP_NAMESPACES"),
            (&[("HOSTED_ZONE_ID", " ")], "HOSTED_ZONE_ID"),
            (&[("CLOUD_MAP_NAMESPACES", " , ")], "CLOUD_MAP_NAMESPACES"),
            (
                &[("CLOUD_MAP_NAMESPACES", "ns-1,,web")],
                "CLOUD_MAP_NAMESPACES",
            ),
            (&[("HOSTED_ZONE_ID", "Z1/x")], "HOSTED_ZONE_ID"),
            (&[("DNS_NAMESPACE", "bad..name")], "DNS_NAMESPACE"),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("ECS_CLUSTERS", "a,,b")],
                "ECS_CLUSTERS",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK", "icmp")],
                "HEALTH_CHECK",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK_PATH", "health")],
                "HEALTH_CHECK_PATH",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK_PATH", "/x#y")],
                "HEALTH_CHECK_PATH",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK_TIMEOUT_MS", "-5")],
                "HEALTH_CHECK_TIMEOUT_MS",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK_TIMEOUT_MS", "0")],
                "HEALTH_CHECK_TIMEOUT_MS",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("HEALTH_CHECK_ATTEMPTS", "three")],
                "HEALTH_CHECK_ATTEMPTS",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("STARTUP_GRACE_SECONDS", "1.5")],
                "STARTUP_GRACE_SECONDS",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("MAX_DELETE_PERCENT", "101")],
                "MAX_DELETE_PERCENT",
            ),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("KEEP_LAST_RECORD", "yes")],
                "KEEP_LAST_RECORD",
            ),
            (&[("HOSTED_ZONE_ID", "Z1"), ("DRY_RUN", "TRUE")], "DRY_RUN"),
            (
                &[("HOSTED_ZONE_ID", "Z1"), ("STOP_UNHEALTHY_TASKS", "1")],
                "STOP_UNHEALTHY_TASKS",
            ),
        ];
        for (vars, variable) in cases {
            let err = load(vars).expect_err(variable).to_string();
            assert!(err.contains(variable), "{vars:?}: {err}");
        }
    }
}
