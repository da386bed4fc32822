//! The registrar appliance: an RFC 3261 §10.3 registrar with redirect lookup, built as a
//! sans-IO core (`sip`, `registrar`, `timer`) wrapped by thin runtime shells.
//!
//! - [`sip`]: zero-copy parser, URIs, typed header views, response writer. No I/O.
//! - [`registrar`]: the §10.3 pipeline, binding table, lookup and policy. No sockets, no clock,
//!   no files: time comes in as an argument.
//! - [`timer`]: the shard-local hierarchical timer wheel that drives binding expiry.

#![deny(unsafe_code)]

pub mod config;
pub mod registrar;
pub mod shard;
pub mod sip;
pub mod timer;
