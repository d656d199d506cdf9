//! The source scanner of the permissions check (`support::source_calls`): it finds
//! the calls the code makes, wherever they stand (in chains, closures, macro
//! arguments), and nothing in comments, doc comments or string literals.

mod support;

use support::source_calls::{method_calls, rust_files, Source};

fn names(found: &[(String, usize)]) -> Vec<&str> {
    found.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn the_scanner_sees_calls_and_nothing_in_comments_or_strings() {
    let src = r##"
        // ecs.stop_task() in a comment
        /* route53.list_hosted_zones_by_name() /* nested */ still comment */
        let s = "client.describe_instances()";
        let r = r#"x.list_tasks() "quoted""#;
        let c = '"'; let q = '\''; let l: &'static str = "a.list_tasks()";
        let real = ecs
            .describe_tasks ( )
            .cluster(c);
        other.list_clusters(arg);
    "##;
    let calls = method_calls(src);
    assert_eq!(
        calls,
        vec![("describe_tasks".to_string(), 8)],
        "only the real, argument-less call counts"
    );
}
#[test]
fn an_sdk_call_chain_is_found_in_source_order_with_its_lines() {
    let src = r#"
use aws_sdk_ecs::Client;

async fn tasks(ecs: &Client, cluster: &str) -> Vec<String> {
    let out = ecs.list_tasks().cluster(cluster).send().await;
    let names: Vec<String> = out.iter().map(|o| o.to_string()).collect::<Vec<_>>();
    names
}
"#;
    assert_eq!(
        method_calls(src),
        vec![
            ("list_tasks".to_string(), 5),
            ("send".to_string(), 5),
            ("iter".to_string(), 6),
            ("to_string".to_string(), 6),
        ],
        "argument-less calls only; `.cluster(cluster)` has an argument, `.collect::<…>()` a turbofish"
    );
}

#[test]
fn nothing_is_found_in_comments_doc_comments_or_literals() {
    let src = r####"
//! ecs.stop_task() in an inner doc comment
/// route53.list_hosted_zones_by_name() in a doc comment
/** ec2.describe_instances() in a block doc comment */
fn f() {
    // sd.deregister_instance() in a comment
    /* sd.get_operation() /* nested */ still a comment */
    let a = "client.describe_instances()";
    let b = r#"x.list_tasks() "quoted""#;
    let c = r###"y.list_services() "## not the end"###;
    let d = b"z.describe_tasks()";
    let e = 'x';
}
"####;
    assert_eq!(
        method_calls(src),
        vec![],
        "no call outside comments and literals"
    );
    let source = Source::parse(src).expect("parses");
    assert_eq!(
        source.strings(),
        [
            "client.describe_instances()",
            "x.list_tasks() \"quoted\"",
            "y.list_services() \"## not the end",
        ],
        "string literals, doc comments left out"
    );
    assert!(!source.names("stop_task") && !source.names("ec2") && !source.names("sd"));
}

#[test]
fn calls_in_macro_arguments_are_found() {
    let src = r#"
async fn f() {
    let (a, b) = tokio::join!(zone.list_records(), ecs.list_clusters());
    println!("{} {}", x.len(), "y.not_a_call()");
    tracing::info!(count = %set.len(), task = ?t.arn(), "swept");
    assert!(v.is_empty(), "message {}", w.describe());
    let all = vec![z.first(); 3];
}
macro_rules! send_it {
    ($request:expr) => {
        /// $request.in_doc()
        $request.send_now()
    };
}
"#;
    let found = method_calls(src);
    assert_eq!(
        names(&found),
        [
            "list_records",
            "list_clusters",
            "len",
            "len",
            "arn",
            "is_empty",
            "describe",
            "first",
            "send_now"
        ],
        "{found:?}"
    );
    assert_eq!(found[0], ("list_records".to_string(), 3));
    assert_eq!(found[8], ("send_now".to_string(), 12));
}

#[test]
fn env_reads_and_crate_names_are_code_only() {
    let src = r#"
use aws_sdk_servicediscovery as sd;
// aws_sdk_ecs is named in a comment only
#[derive(clap::Parser)]
struct Cli {
    #[arg(long, env = "OUTPUT_FORMAT")]
    output: String,
}
fn read() {
    let zone = std::env::var("HOSTED_ZONE_ID");
    let api = env::var_os("AWS_LAMBDA_RUNTIME_API");
    let other = var("NOT_READ_BY_NAME");
    let text = "aws_sdk_ec2";
}
"#;
    let source = Source::parse(src).expect("parses");
    assert_eq!(
        source.env_reads(),
        ["HOSTED_ZONE_ID", "AWS_LAMBDA_RUNTIME_API"]
    );
    assert!(source.strings().iter().any(|s| s == "OUTPUT_FORMAT"));
    assert!(source.names("aws_sdk_servicediscovery"));
    assert!(!source.names("aws_sdk_ecs"), "named in a comment only");
    assert!(!source.names("aws_sdk_ec2"), "named in a string only");
}

#[test]
fn every_source_file_parses() {
    let files = rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        Source::read(&file);
    }
}
