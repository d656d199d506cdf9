//! What the reaper does on the network itself (not through AWS).

pub mod health;
