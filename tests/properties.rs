//! Property tests: record parsing, event dispatch and configuration never panic,
//! and what they accept, they accept exactly.

use std::collections::HashMap;

use ecs_dns_reaper::config::{Config, ConfigError};
use ecs_dns_reaper::events::{dispatch, EventError};
use ecs_dns_reaper::records::{classify, ContainerId, HostName, RecordSet, Target};
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

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
        id in "[0-9a-f]{12,64}",
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
                Just("DRY_RUN"), Just("STOP_UNHEALTHY_TASKS"),
            ],
            "\\PC{0,12}",
            0..8,
        )
    ) {
        let map: HashMap<&str, String> = vars.into_iter().collect();
        match Config::from_lookup(|k| map.get(k).cloned()) {
            Ok(_) => {}
            Err(ConfigError::NoZone) => prop_assert!(map.get("HOSTED_ZONE_ID").is_none_or(|v| v.trim().is_empty())),
            Err(ConfigError::Invalid { variable, .. }) => prop_assert!(map.contains_key(variable)),
        }
    }
}
