//! Fixed parse workload for callgrind instruction counts: `N` framings, then `N` typed parses
//! of the 644-byte REGISTER of bench/parse.rs. Instructions per parse = count / N for each
//! function (`callgrind_annotate --inclusive=yes`).

use std::hint::black_box;

use registrar::sip::{ContactItem, Framing, Header, ParserConfig, Request, Status, message};

const REGISTER: &[u8] = include_bytes!("../tests/data/register-644.sip");

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
