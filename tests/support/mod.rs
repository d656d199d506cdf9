//! End-to-end test support: a local AWS (moto, `tests/localaws`), an estate built on
//! it through the real SDK, and real listeners on loopback addresses behind the
//! records.
//!
//! - `localaws`: the local AWS process, its control API (faults, call counters),
//!   SDK configuration for it;
//! - `estate`: the estate builder (VPCs, zone, clusters, hosts), with `tasks`
//!   (task definitions, tasks) and `records` (the records it writes);
//! - `invoke`: the real handler on events against an estate (a sweep, a dry run);
//! - `expect`: what a test expects of each record or instance (`Outcome`), checked
//!   by `assert_outcome`;
//! - `listeners`: the real listeners behind the records;
//! - `binary`: the built binary, run once or as a Lambda function;
//! - `runtime_api`: a minimal Lambda Runtime API for that function;
//! - `demo`: the demo estate of `make demo` and the sample events;
//! - `cloud_map`: a Cloud Map namespace in an estate's VPC, its services and
//!   instances, and the binary run against it;
//! - `source_calls`: the crate's source read with the Rust parser (`syn`): its
//!   method calls, string literals and `env::var` reads;
//! - `sdk_calls`: the AWS operations `src/` calls, as IAM actions, and the
//!   environment variables it reads;
//! - `template`: what `template.yaml` grants the function's role.
// Each test binary uses a part of it.
#![allow(dead_code, unused_imports)]

pub mod binary;
pub mod cloud_map;
pub mod demo;
pub mod estate;
pub mod expect;
pub mod invoke;
pub mod listeners;
pub mod localaws;
pub mod records;
pub mod regions;
pub mod runtime_api;
pub mod sdk_calls;
pub mod source_calls;
pub mod tasks;
pub mod template;

pub use binary::{binary, lambda_env, run_binary, Lambda};
pub use estate::{Estate, Host};
pub use expect::{Outcome, Written};
pub use invoke::invoke_with;
pub use listeners::Behaviour;
pub use localaws::{sdk_config, LocalAws};
pub use records::{agent_record, record};
pub use tasks::{ago, StartedTask};
