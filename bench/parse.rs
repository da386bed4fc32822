//! Parse cost of a realistic REGISTER: our framing alone, our full typed parse as the
//! registrar uses it, and rsip 0.4 on the same bytes.
//!
//! Run: `cargo bench --bench parse -- --warm-up-time 1 --measurement-time 5`.
//! Wall time on the 2-core CI machine is noisy; compare medians from the same run only.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use registrar::sip::{
    ContactItem, Credentials, Framing, Header, ParserConfig, Request, Status, message,
};

/// tests/data/register-644.sip, also read by tests/alloc_free.rs (which proves this parse
/// allocates nothing): RFC 5626 outbound contact, RFC 3581 rport, digest credentials with
/// every parameter.
const REGISTER: &[u8] = include_bytes!("../tests/data/register-644.sip");

/// (a) Framing only: start line, header lines with kinds, Content-Length, body.
fn framing_only(buf: &[u8], config: &ParserConfig) -> usize {
    let mut headers = [Header::EMPTY; 32];
    match message::parse(buf, &mut headers, Framing::Datagram, config) {
        Ok(Status::Complete(m)) => m.headers.len(),
        other => panic!("framing failed: {other:?}"),
    }
}

/// (b) What the registrar does per REGISTER: framing plus the mandatory typed headers
/// (Request-URI, top Via, From, To, Call-ID, CSeq, Max-Forwards, Expires), every Contact with
/// its parameters, and the digest credentials.
fn registrar_parse(buf: &[u8], config: &ParserConfig) -> usize {
    let mut headers = [Header::EMPTY; 32];
    let req = match Request::parse(buf, &mut headers, Framing::Datagram, config) {
        Ok(Status::Complete(r)) => r,
        other => panic!("request failed: {other:?}"),
    };
    let mut seen = 0usize;
    for c in req.contacts() {
        if let Ok(ContactItem::Value(c)) = c {
            seen += usize::from(c.expires.is_some()) + usize::from(c.q.is_some());
            seen += c.instance().map_or(0, <[u8]>::len);
            seen += usize::from(matches!(c.reg_id(), Some(Ok(_))));
        }
    }
    if let Some(Ok(Credentials::Digest(d))) = req.authorization() {
        seen += d.response.map_or(0, <[u8]>::len);
    }
    black_box(&req);
    seen
}

/// (c) rsip 0.4: tokenizes and copies every header into an owned, untyped `String`; typed
/// views are then parsed on demand (not included here, so this is rsip's cheapest path).
fn rsip_parse(buf: &[u8]) -> rsip::SipMessage {
    rsip::SipMessage::try_from(buf).expect("rsip parses the REGISTER")
}

fn parse_register(c: &mut Criterion) {
    let config = ParserConfig::default();
    // The three paths must agree that this is a complete, valid message before timing them.
    assert_eq!(framing_only(REGISTER, &config), 13);
    assert!(registrar_parse(REGISTER, &config) > 0);
    assert!(rsip_parse(REGISTER).is_request());

    let mut group = c.benchmark_group("parse_register");
    group.throughput(Throughput::Bytes(REGISTER.len() as u64));
    group.bench_function("framing_only", |b| {
        b.iter(|| framing_only(black_box(REGISTER), black_box(&config)))
    });
    group.bench_function("request_typed_contacts_auth", |b| {
        b.iter(|| registrar_parse(black_box(REGISTER), black_box(&config)))
    });
    group.bench_function("rsip_sipmessage_try_from", |b| {
        b.iter(|| rsip_parse(black_box(REGISTER)))
    });
    group.finish();
}

criterion_group!(benches, parse_register);
criterion_main!(benches);
