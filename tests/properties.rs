//! Property tests: record parsing, event dispatch and configuration never panic,
//! and what they accept, they accept exactly.

use std::collections::HashMap;

use ecs_dns_reaper::classify::{classify, Target};
use ecs_dns_reaper::config::{Config, ConfigError};
use ecs_dns_reaper::events::{dispatch, EventError};
use ecs_dns_reaper::model::RecordSet;
use ecs_dns_reaper::names::{ContainerId, HostName};
use proptest::prelude::*;
use serde_json::Value;

fn record_set(
    name: String,
    rtype: String,
    id: Option<String>,
    weight: Option<i64>,
    values: Vec<String>,
) -> RecordSet {
    RecordSet {
        name,
        rtype,
        set_identifier: id,
        weight,
        ttl: Some(60),
        values,
        health_check_id: None,
        special: None,
    }
}

/// Arbitrary JSON, a few levels deep, with the keys the dispatcher looks at.
fn json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("source".to_string()),
        Just("detail-type".to_string()),
        Just("detail".to_string()),
        Just("action".to_string()),
        Just("dry_run".to_string()),
        Just("lastStatus".to_string()),
        Just("state".to_string()),
        Just("instance-id".to_string()),
        Just("taskArn".to_string()),
        Just("clusterArn".to_string()),
        Just("containers".to_string()),
        "[a-z-]{1,8}",
    ];
    let text = prop_oneof![
        Just("aws.ecs".to_string()),
        Just("aws.ec2".to_string()),
        Just("aws.events".to_string()),
        Just("ECS Task State Change".to_string()),
        Just("EC2 Instance State-change Notification".to_string()),
        Just("Scheduled Event".to_string()),
        Just("STOPPED".to_string()),
        Just("terminated".to_string()),
        Just("sweep".to_string()),
        any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text.prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A label the agents could have written: an IP name's, a resource name's, or noise.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::array::uniform4(any::<u8>()).prop_map(|[a, b, c, d]| format!("ip-{a}-{b}-{c}-{d}")),
        "i-[0-9a-f]{17}",
        "i-[0-9a-f]{8}",
        "[a-z0-9-]{1,20}",
        "\\PC{1,12}",
    ]
}

/// A host name in one of the agent's forms (EC2 name, the zone's own host A name),
/// another DNS name, or noise; sometimes in upper case or with a trailing dot.
fn host() -> impl Strategy<Value = String> {
    let domain = prop_oneof![
        Just(".ec2.internal"),
        Just(".eu-west-1.compute.internal"),
        Just(".sd.internal"),
        Just(".elb.amazonaws.com"),
        Just(""),
    ];
    (label(), domain, any::<bool>(), any::<bool>()).prop_map(|(l, d, upper, dot)| {
        let h = format!("{l}{d}{}", if dot { "." } else { "" });
        if upper {
            h.to_uppercase()
        } else {
            h
        }
    })
}

fn container_id() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{64}", "[0-9a-f]{12}", "[0-9a-fA-F]{1,70}"]
}

/// A record set under the apex built from the agents' pieces, so that classification
/// gets past "outside the zone" and into the SRV, CNAME and A parsers: half of them
/// in an agent's shape with at most one field disturbed, half assembled at random.
fn record_under_apex() -> impl Strategy<Value = RecordSet> {
    prop_oneof![agent_shaped(), assembled()]
}

fn agent_shaped() -> impl Strategy<Value = RecordSet> {
    let rtype = prop_oneof![Just("SRV"), Just("CNAME"), Just("A")];
    let noise = "\\PC{0,20}";
    (
        rtype,
        host(),
        container_id(),
        1u16..,
        any::<bool>(),
        0u8..6,
        noise,
    )
        .prop_map(|(rtype, h, cid, port, weighted, disturb, noise)| {
            let first = match h.split('.').next().unwrap_or_default() {
                "" => "x".to_string(),
                l => l.to_ascii_lowercase(),
            };
            let (name, id, value) = match rtype {
                "SRV" => (
                    "_calc._tcp".to_string(),
                    Some(format!("{h}:{cid}")),
                    format!("1 1 {port} {h}"),
                ),
                "CNAME" => ("web".to_string(), Some(cid), h.clone()),
                _ => {
                    let ip = first
                        .strip_prefix("ip-")
                        .map(|r| r.replace('-', "."))
                        .unwrap_or_else(|| "10.0.1.5".into());
                    (first.clone(), weighted.then(|| h.clone()), ip)
                }
            };
            let mut set = record_set(
                format!("{name}.sd.internal."),
                rtype.into(),
                id,
                (rtype != "A" || weighted).then_some(1),
                vec![value],
            );
            match disturb {
                0 => set.set_identifier = Some(noise),
                1 => set.values = vec![noise],
                2 => set.weight = None,
                3 => set.name = format!("{noise}x.sd.internal."),
                _ => {}
            }
            set
        })
}

fn assembled() -> impl Strategy<Value = RecordSet> {
    let rtype = prop_oneof![Just("SRV"), Just("CNAME"), Just("A"), Just("TXT")];
    let id = prop_oneof![
        (host(), container_id()).prop_map(|(h, c)| format!("{h}:{c}")),
        host(),
        container_id(),
        "\\PC{0,20}",
    ];
    let value = prop_oneof![
        (any::<u16>(), any::<u16>(), any::<u16>(), host())
            .prop_map(|(p, w, port, h)| format!("{p} {w} {port} {h}")),
        host(),
        prop::array::uniform4(any::<u8>()).prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        "\\PC{0,30}",
    ];
    (
        label(),
        rtype,
        proptest::option::of(id),
        proptest::option::of(0i64..=255),
        prop::collection::vec(value, 1..3),
    )
        .prop_map(|(l, t, id, w, v)| record_set(format!("{l}.sd.internal."), t.into(), id, w, v))
}

/// What the classifier makes of a record under the apex: the type, and whether it
/// was owned. It must never answer "outside the zone" for one.
fn outcome(set: &RecordSet) -> (String, bool) {
    match classify(set, "sd.internal") {
        Ok(owned) => {
            // An owned record's target is what its value says.
            match &owned.target {
                Target::HostA { ip, .. } => assert_eq!(set.values[0], ip.to_string()),
                Target::Srv { host, port, .. } => {
                    let fields: Vec<&str> = set.values[0].split_whitespace().collect();
                    assert_eq!(fields[2], port.to_string());
                    assert_eq!(HostName::parse(fields[3]).as_ref(), Some(host));
                }
                Target::Cname { host, .. } => {
                    assert_eq!(
                        set.values[0].trim_end_matches('.').to_ascii_lowercase(),
                        host.as_str()
                    )
                }
            }
            assert!(
                owned.set.set_identifier.is_some() || owned.set.rtype == "A",
                "only a simple host A record is owned without a set identifier"
            );
            (set.rtype.clone(), true)
        }
        Err(why) => {
            assert_ne!(why.0, "apex or outside the zone", "{set:?}");
            (set.rtype.clone(), false)
        }
    }
}

/// Generated records reach every parser, and each parser both accepts and refuses
/// some of them.
#[test]
fn generated_records_reach_the_srv_cname_and_a_parsers() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config as RunnerConfig, TestRunner};
    let mut runner = TestRunner::new(RunnerConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..RunnerConfig::default()
    });
    let strategy = record_under_apex();
    let mut counts: HashMap<(String, bool), usize> = HashMap::new();
    for _ in 0..4_000 {
        let set = strategy.new_tree(&mut runner).expect("value").current();
        *counts.entry(outcome(&set)).or_default() += 1;
    }
    for rtype in ["SRV", "CNAME", "A"] {
        for owned in [true, false] {
            assert!(
                counts
                    .get(&(rtype.to_string(), owned))
                    .copied()
                    .unwrap_or(0)
                    > 0,
                "no generated {rtype} record was {}: {counts:?}",
                if owned { "owned" } else { "foreign" }
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn records_under_the_apex_are_parsed_not_dismissed(set in record_under_apex()) {
        let _ = outcome(&set);
    }

    #[test]
    fn container_ids_other_than_12_or_64_lower_case_hex_are_foreign(id in "[0-9a-fA-F]{1,80}") {
        let set = record_set(
            "web.sd.internal.".into(), "CNAME".into(), Some(id.clone()), Some(1),
            vec!["ip-10-0-1-5.ec2.internal".into()],
        );
        let agent_shaped = matches!(id.len(), 12 | 64) && id == id.to_lowercase();
        prop_assert_eq!(classify(&set, "sd.internal").is_ok(), agent_shaped);
    }

    #[test]
    fn classify_never_panics(
        name in "\\PC{0,40}",
        rtype in prop_oneof![Just("SRV".to_string()), Just("CNAME".to_string()), Just("A".to_string()), "[A-Z]{1,5}"],
        id in proptest::option::of("\\PC{0,80}"),
        weight in proptest::option::of(any::<i64>()),
        values in prop::collection::vec("\\PC{0,60}", 0..3),
    ) {
        let _ = classify(&record_set(name, rtype, id, weight, values), "sd.internal");
    }

    #[test]
    fn a_well_formed_srv_record_is_owned_with_exactly_its_fields(
        octets in prop::array::uniform4(any::<u8>()),
        port in 1u16..,
        prio in any::<u16>(),
        weight in any::<u16>(),
        id in prop_oneof!["[0-9a-f]{12}", "[0-9a-f]{64}"],
        upper in any::<bool>(),
        service in "[a-z][a-z0-9-]{0,20}",
    ) {
        let [a, b, c, d] = octets;
        let host = format!("ip-{a}-{b}-{c}-{d}.ec2.internal");
        let shown = if upper { host.to_uppercase() } else { host.clone() };
        let set = record_set(
            format!("{service}.sd.internal."), "SRV".into(), Some(format!("{shown}:{id}")), Some(1),
            vec![format!("{prio} {weight} {port} {host}.")],
        );
        let owned = classify(&set, "sd.internal").expect("owned");
        let expected = Target::Srv { host: HostName::parse(&host).unwrap(), port, container: ContainerId::parse(&id) };
        prop_assert_eq!(&owned.target, &expected);
        prop_assert_eq!(HostName::parse(&host).unwrap().embedded_ip(), Some(std::net::Ipv4Addr::new(a, b, c, d)));
        // The same record with port 0 is never owned.
        let mut zero = set.clone();
        zero.values = vec![format!("{prio} {weight} 0 {host}.")];
        prop_assert!(classify(&zero, "sd.internal").is_err());
    }

    #[test]
    fn dispatch_never_panics_and_errors_say_what_was_wrong(event in json()) {
        match dispatch(&event) {
            Ok(_) => {}
            Err(EventError::Unsupported { .. }) => {
                prop_assert!(dispatch(&event).unwrap_err().to_string().starts_with("unsupported event: source="));
            }
            Err(e @ EventError::Malformed { .. }) => prop_assert!(e.to_string().starts_with("malformed ")),
        }
    }

    #[test]
    fn configuration_never_panics_and_names_the_variable(
        vars in prop::collection::hash_map(
            prop_oneof![
                Just("HOSTED_ZONE_ID"), Just("DNS_NAMESPACE"), Just("ECS_CLUSTERS"), Just("HEALTH_CHECK"),
                Just("HEALTH_CHECK_PATH"), Just("HEALTH_CHECK_TIMEOUT_MS"), Just("HEALTH_CHECK_ATTEMPTS"),
                Just("STARTUP_GRACE_SECONDS"), Just("MAX_DELETE_PERCENT"), Just("KEEP_LAST_RECORD"),
                Just("DRY_RUN"), Just("STOP_UNHEALTHY_TASKS"), Just("CLOUD_MAP_NAMESPACES"),
            ],
            "\\PC{0,12}",
            0..8,
        )
    ) {
        let map: HashMap<&str, String> = vars.into_iter().collect();
        match Config::from_lookup(|k| map.get(k).cloned()) {
            Ok(_) => {}
            Err(ConfigError::NothingToSweep) => {
                for variable in ["HOSTED_ZONE_ID", "DNS_NAMESPACE", "CLOUD_MAP_NAMESPACES"] {
                    prop_assert!(map.get(variable).is_none_or(|v| v.trim().is_empty()), "{variable}");
                }
            }
            Err(ConfigError::Invalid { variable, .. }) => prop_assert!(map.contains_key(variable)),
        }
    }
}
