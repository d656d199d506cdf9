//! Following Cloud Map deregistrations (docs/cloud-map.md) end to
//! end: DeregisterInstance is asynchronous, and the reaper follows its
//! operations with ListOperations — one call answers for up to 100 — not one
//! GetOperation each. The local AWS lists operations a page at a time before it
//! filters, oldest first unless told otherwise, and each listing observes the
//! operations on its pages (`tests/localaws/README.md`, ListOperations). A
//! deregistration whose operation fails, or cannot be followed, is an error and
//! never reported done.

mod support;

use std::net::Ipv4Addr;

use serde_json::json;
use support::cloud_map::{
    cm_sweep, errors, estate_with_namespace, CmService, Namespace, PLAIN, PORT,
};
use support::{Estate, LocalAws, Outcome};
use Outcome::{Foreign, Removed};

const NS: &str = "ops.internal";

/// `n` script registrations at addresses no interface has (`host-unknown`),
/// named `<prefix>-<i>`, on 127.<net>.9.`first`+i.
async fn ghosts(ns: &mut Namespace<'_>, service: &CmService, net: u8, prefix: &str, first: u8) {
    for i in 0..3u8 {
        ns.register_script(
            service,
            &format!("{prefix}-{i}"),
            Ipv4Addr::new(127, net, 9, first + i),
            Some(PORT),
            None,
            Some(Removed("host-unknown")),
        )
        .await;
    }
}

/// Over a history of more than 100 operations: three deregistrations are
/// followed in two rounds (one `PENDING`, then `SUCCESS`) with ListOperations
/// alone. Oldest first, the first round pages to the end (2 pages) and the
/// second starts at the page where it saw them (1 page): 3 calls. Newest first,
/// each round stops at the first page, which holds them: 2 calls. No GetOperation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistrations_are_followed_with_list_operations_not_get_operation() {
    let aws = LocalAws::start().await;
    let e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let web = ns.service("web", false, false).await;
    for i in 0..100 {
        let attrs = [("AWS_INSTANCE_CNAME", format!("host-{i}.example"))];
        ns.register(&web, &format!("cname-{i}"), &attrs, Some(Foreign))
            .await;
    }
    ghosts(&mut ns, &web, e.net, "old", 1).await;
    // Only observation completes an operation: exactly two rounds.
    aws.set_sd_operations(json!({"complete_after_ms": null}))
        .await;
    aws.reset_calls().await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    let calls = aws.calls().await;
    ns.assert_outcome(&report, false).await;
    let follow = |c: &std::collections::BTreeMap<String, u64>| {
        (
            c.get("servicediscovery:DeregisterInstance").copied(),
            c.get("servicediscovery:ListOperations").copied(),
            c.get("servicediscovery:GetOperation").copied(),
        )
    };
    assert_eq!(follow(&calls), (Some(3), Some(3), None), "{calls:?}");

    for i in 0..3 {
        ns.forget(&format!("old-{i}"));
    }
    ghosts(&mut ns, &web, e.net, "new", 11).await;
    aws.set_sd_operations(json!({"list_order": "newest-first"}))
        .await;
    aws.reset_calls().await;
    let report = cm_sweep(&aws, NS, PLAIN).await;
    let calls = aws.calls().await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(follow(&calls), (Some(3), Some(2), None), "{calls:?}");
}

/// ListOperations failing (after the SDK's retries) ends the following: the
/// deregistrations are unconfirmed — not listed as deregistered, the entry
/// incomplete, the error naming ListOperations — not polled until the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistrations_whose_listing_fails_are_unconfirmed() {
    let aws = LocalAws::start().await;
    let e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let web = ns.service("web", false, false).await;
    for i in 0..3u8 {
        let ip = Ipv4Addr::new(127, e.net, 9, i + 1);
        ns.register_script(&web, &format!("ghost-{i}"), ip, Some(PORT), None, None)
            .await;
    }
    aws.faults(json!([{
        "service": "servicediscovery", "operation": "ListOperations", "status": 500,
        "code": "InternalFailure", "count": -1
    }]))
    .await;
    aws.reset_calls().await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    aws.clear_faults().await;
    let entry = ns.entry(&report);
    assert_eq!(entry["deregistered"], json!([]), "{entry:#}");
    assert_eq!(entry["complete"], false, "{entry:#}");
    let errs = errors(&entry);
    assert_eq!(
        errs.iter()
            .filter(|e| e.contains("could not be followed") && e.contains("ListOperations"))
            .count(),
        3,
        "{entry:#}"
    );
    assert_eq!(aws.count("servicediscovery:DeregisterInstance").await, 3);
    assert_eq!(aws.count("servicediscovery:GetOperation").await, 0);
}

/// A DeregisterInstance whose operation ends in FAIL: the error (operation id and
/// message) is reported, the instance is not reported deregistered and stays; the
/// next sweep deregisters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deregistration_is_an_error_and_the_instance_stays() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    for last in 1..=2u8 {
        let h = e.old_host(last).await;
        ns.script_of(&legacy, &format!("gone-{last}"), &e.hosts[h], None)
            .await;
        e.terminate(h).await;
    }
    ns.expect("gone-1", Some(Removed("instance-gone")));
    // Not reported as deregistered, still registered.
    ns.expect("gone-2", Some(Outcome::Failed));
    let message = "localaws: the hosted zone is busy";
    ns.fail_deregistration("gone-2", message).await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    let operations = aws.sd_operations().await;
    let failed = operations["operations"]
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["instanceId"] == "gone-2"))
        .cloned()
        .unwrap_or_else(|| panic!("no operation for gone-2: {operations:#}"));
    assert_eq!(failed["status"], "FAIL");
    let op_id = failed["id"].as_str().unwrap_or_default();
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|e| e.contains(op_id) && e.contains(message)),
        "the error names operation {op_id} and its message: {entry:#}"
    );
    assert_eq!(ns.ids(&legacy).await, vec!["gone-2"]);

    ns.forget("gone-1");
    ns.expect("gone-2", Some(Removed("instance-gone")));
    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(errors(&ns.entry(&report)), Vec::<String>::new());
}

/// A deregistration whose operation cannot be followed (GetOperation failing
/// after the SDK's retries) is reported unconfirmed at once — not listed as
/// deregistered, the entry incomplete — instead of being polled until the
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deregistration_that_cannot_be_followed_is_unconfirmed_not_waited_out() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    let h = e.old_host(1).await;
    ns.script_of(&legacy, "gone", &e.hosts[h], None).await;
    e.terminate(h).await;
    aws.faults(json!([{
        "service": "servicediscovery", "operation": "GetOperation", "status": 500,
        "code": "InternalFailure", "count": -1
    }]))
    .await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    aws.clear_faults().await;
    let entry = ns.entry(&report);
    assert_eq!(entry["deregistered"], json!([]), "{entry:#}");
    assert_eq!(entry["complete"], false, "{entry:#}");
    assert_eq!(report["complete"], false);
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|e| e.contains("could not be followed") && e.contains("GetOperation")),
        "{entry:#}"
    );
    // DeregisterInstance was accepted: Cloud Map finishes it on its own.
    assert_eq!(aws.count("servicediscovery:DeregisterInstance").await, 1);
}
