//! SIP wire format: the zero-copy push parser, URIs with RFC 3261 §19.1.4 comparison, typed
//! header views and the response writer.
//!
//! This module depends on nothing else in the crate. Every view borrows from the input
//! buffer; nothing here allocates.

pub mod header;
pub mod message;
pub mod request;
pub mod scan;
#[cfg(test)]
pub(crate) mod testing;
pub mod uri;
pub mod writer;

pub use header::{ContactValue, Credentials, DigestCredentials, Hdr, NameAddr, Via};
pub use message::{
    Error, Framing, Header, Leniency, Limits, Message, Method, ParserConfig, StartLine, Status,
    parse,
};
pub use request::{ContactItem, Request, RequestError};
pub use uri::{Host, Scheme, Uri, UriLimits};
