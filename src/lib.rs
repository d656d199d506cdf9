//! `ecs-dns-reaper`: deletes stale ECS service-discovery records from a Route 53
//! private hosted zone, and deregisters stale instances from AWS Cloud Map
//! namespaces.
//!
//! # Layout
//!
//! - [`model`] and [`names`]: plain data — record sets, instances, tasks, EC2 host
//!   names, container ids, what an event says; [`model::cloud_map`] namespaces,
//!   services and their registrations. [`classify`] says what is owned: which
//!   record sets, which Cloud Map instances.
//! - [`decide`]: the decision core. Plain data in, one decision with one reason per
//!   record (or Cloud Map instance) out: one judge ([`decide::decide`]) with a side
//!   per registry ([`decide::ZoneJudge`], [`decide::NamespaceJudge`]), the safety
//!   rules as named policies ([`decide::policy`]). No I/O.
//! - [`aws`]: every AWS SDK call, turning answers into plain data, behind three
//!   narrow seams ([`aws::ZoneApi`], [`aws::EstateApi`], [`aws::RegistryApi`]).
//!   No decisions.
//! - [`net::health`]: the health checker (real sockets).
//! - [`flows`]: one per event kind — read, judge, write — returning what was
//!   decided and done; a sweep covers the zone and each Cloud Map namespace.
//! - [`report`]: the report assembled once from what the flows returned; its log
//!   lines and metrics.
//! - [`events`] turns an incoming event into what it asks for, [`config`] reads
//!   the environment, [`handler`] dispatches one event to its flow, [`logging`]
//!   sets up the log format, [`progress`] shows a run's phases on a terminal.

pub mod aws;
pub mod classify;
pub mod config;
pub mod decide;
pub mod events;
pub mod flows;
pub mod handler;
pub mod logging;
pub mod model;
pub mod names;
pub mod net;
pub mod progress;
pub mod report;
