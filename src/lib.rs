//! The registrar appliance: an RFC 3261 §10.3 registrar with redirect lookup, built as a
//! sans-IO core (`sip`, `registrar`, `timer`) wrapped by thin runtime shells.
//!
//! - [`sip`]: zero-copy parser, URIs, typed header views, response writer. No I/O.
//! - [`registrar`]: the §10.3 pipeline, binding table, lookup and policy. No sockets, no clock,
//!   no files: time comes in as an argument.
//! - [`timer`]: the shard-local hierarchical timer wheel that drives binding expiry.

// No unsafe code except where a module allows it with a SAFETY comment per block: the cache
// prefetch hint in `prefetch` (measured, see docs/performance.md), the SSE2 scanning blocks
// in `sip::scan` (measured, see its commit) and the file-descriptor hand-overs to glommio in
// `shard::sockets`.
#![deny(unsafe_code)]

pub mod config;
#[allow(unsafe_code)]
mod prefetch;
pub mod registrar;
pub mod shard;
pub mod sip;
pub mod timer;
