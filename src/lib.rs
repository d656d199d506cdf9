//! `ecs-dns-reaper`: deletes stale ECS service-discovery records from a Route 53
//! private hosted zone.
//!
//! A sweep is a pipeline, one module a stage:
//! [`records`] → [`inventory`] → [`health`] → [`plan`] → [`apply`] → [`report`].
//! [`events`] decides what an incoming event asks for, [`config`] reads the
//! environment, and [`handler`] runs the pipeline for one event.

pub mod apply;
pub mod config;
pub mod events;
pub mod handler;
pub mod health;
pub mod inventory;
pub mod names;
pub mod plan;
pub mod records;
pub mod report;
