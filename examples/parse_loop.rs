//! Fixed parse workload for callgrind instruction counts: `N` framings, then `N` typed parses
//! of the 644-byte REGISTER of bench/parse.rs. Instructions per parse = count / N for each
//! function (`callgrind_annotate --inclusive=yes`).

use std::hint::black_box;

use registrar::sip::{ContactItem, Framing, Header, ParserConfig, Request, Status, message};

const REGISTER: &[u8] = b"REGISTER sip:ex.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2;rport;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: <sip:bob@ex.com>;tag=a73ksz\r\n\
To: <sip:bob@ex.com>\r\n\
Call-ID: a84b4c76@10.0.0.2\r\n\
CSeq: 4711 REGISTER\r\n\
Contact: <sip:bob@10.0.0.2>;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";\
reg-id=1;expires=600;q=0.7\r\n\
Expires: 600\r\n\
Authorization: Digest username=\"bob\", realm=\"ex.com\", nonce=\"ea9c8e88\", \
uri=\"sip:ex.com\", response=\"dfe56131d1958046689d83306477ecc5\", algorithm=MD5, \
cnonce=\"0a4f113b\", opaque=\"5ccc069c\", qop=auth, nc=00000001\r\n\
Allow: INVITE, ACK, BYE\r\n\
Supported: outbound, path\r\n\
User-Agent: UA/1.0\r\n\
Content-Length: 0\r\n\
\r\n";

const N: usize = 100_000;

#[inline(never)]
fn framing(buf: &[u8], config: &ParserConfig) -> usize {
    let mut headers = [Header::EMPTY; 32];
    match message::parse(buf, &mut headers, Framing::Datagram, config) {
        Ok(Status::Complete(m)) => m.headers.len(),
        _ => 0,
    }
}

#[inline(never)]
fn typed(buf: &[u8], config: &ParserConfig) -> usize {
    let mut headers = [Header::EMPTY; 32];
    let Ok(Status::Complete(r)) = Request::parse(buf, &mut headers, Framing::Datagram, config)
    else {
        return 0;
    };
    let c = r
        .contacts()
        .filter(|c| matches!(c, Ok(ContactItem::Value(_))))
        .count();
    c + usize::from(r.authorization().is_some_and(|a| a.is_ok()))
}

fn main() {
    let config = ParserConfig::default();
    let mut n = 0;
    for _ in 0..N {
        n += framing(black_box(REGISTER), &config);
    }
    for _ in 0..N {
        n += typed(black_box(REGISTER), &config);
    }
    println!("{n}");
}
