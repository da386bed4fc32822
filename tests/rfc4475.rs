//! RFC 4475 torture messages against the parser and the registrar core.
//!
//! The messages and the RFC's verdict for each live in `tests/data/rfc4475/` (see its
//! README and `expectations.tsv`). For every message this test checks:
//! - `valid`: the parser accepts it whole (framing, mandatory headers, every typed header);
//! - `invalid`: the parser rejects it (framing, request typing, or a typed header);
//! - `valid-semantics`: it frames; the application answer is checked in `ANSWERS` below;
//!
//! It also checks that the registrar core answers each one (or drops it) as `ANSWERS` says,
//! without panicking.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use registrar::registrar::Config;
use registrar::sip::message::{self, Framing, Header, ParserConfig, StartLine, Status};
use registrar::sip::request::{self, Request};
use support::Harness;

/// The registrar core's answer to each message, with the RFC's reason. `None` = dropped.
const ANSWERS: &[(&str, Option<u16>, &str)] = &[
    // §3.1.1: valid messages. Requests for users with no binding get 404 from the redirect
    // server; REGISTERs are accepted; responses are dropped.
    (
        "wsinv",
        Some(404),
        "valid INVITE; no binding for the callee",
    ),
    (
        "intmeth",
        Some(404),
        "valid unknown method; redirect server finds no binding",
    ),
    ("esc01", Some(404), "valid INVITE; no binding"),
    (
        "escnull",
        Some(200),
        "valid REGISTER with %00 in user parts: registered",
    ),
    (
        "esc02",
        Some(404),
        "valid unknown method RE%47IST%45R (not REGISTER)",
    ),
    ("lwsdisp", Some(404), "valid OPTIONS to a user; no binding"),
    ("longreq", Some(404), "valid long INVITE; no binding"),
    (
        "dblreq",
        Some(200),
        "REGISTER; trailing octets after Content-Length ignored (§18.3)",
    ),
    (
        "semiuri",
        Some(404),
        "valid OPTIONS; user part user;par=u@example.net",
    ),
    (
        "transports",
        Some(404),
        "valid OPTIONS with every transport in Via",
    ),
    (
        "mpart01",
        Some(404),
        "valid MESSAGE with a binary body part",
    ),
    ("unreason", None, "response: dropped"),
    ("noreason", None, "response: dropped"),
    // §3.1.2: invalid. Requests get 400 (or 505 for the version); responses are dropped.
    ("badinv01", Some(400), "empty Via and Contact parameters"),
    ("clerr", Some(400), "Content-Length larger than the body"),
    ("ncl", Some(400), "negative Content-Length"),
    ("scalar02", Some(400), "CSeq out of range"),
    ("scalarlg", None, "response: dropped"),
    ("quotbal", Some(400), "unterminated quote in To"),
    ("ltgtruri", Some(400), "Request-URI in <>"),
    ("lwsruri", Some(400), "LWS inside the Request-URI"),
    ("lwsstart", Some(400), "several SP in the request line"),
    ("trws", Some(400), "trailing SP after the SIP version"),
    ("escruri", Some(400), "headers in the Request-URI"),
    (
        "baddate",
        Some(404),
        "Date matters not to a redirect server: the RFC says not to reject",
    ),
    ("regbadct", Some(400), "Contact URI with headers outside <>"),
    ("badaspec", Some(400), "spaces inside <> in To"),
    ("baddn", Some(400), "unquoted display names with commas"),
    ("badvers", Some(505), "SIP/7.0: 505 Version Not Supported"),
    (
        "mismatch01",
        Some(400),
        "CSeq method differs from the request method",
    ),
    (
        "mismatch02",
        Some(400),
        "unknown method with a mismatching CSeq: 400 (501 also allowed)",
    ),
    ("bigcode", None, "response with a 10-digit status: dropped"),
    // §3.2, §3.3, §3.4.
    (
        "badbranch",
        Some(404),
        "branch=z9hG4bK is a valid token; no binding",
    ),
    ("insuf", Some(400), "no Call-ID, From or To"),
    ("unkscm", Some(416), "unknown Request-URI scheme"),
    ("novelsc", Some(416), "soap.beep Request-URI scheme"),
    (
        "unksm2",
        Some(400),
        "a registrar rejects a non-SIP To with 400",
    ),
    ("bext01", Some(420), "Require of unknown extensions"),
    (
        "invut",
        Some(404),
        "unknown body type: a redirect server does not read bodies",
    ),
    (
        "regaut01",
        Some(200),
        "unknown Authorization scheme, ignored without authentication",
    ),
    ("multi01", Some(400), "several Call-ID, To, From, CSeq"),
    ("mcl01", Some(400), "conflicting Content-Length values"),
    ("bcast", None, "response: dropped"),
    (
        "zeromf",
        Some(404),
        "Max-Forwards 0 to a UAS: processed; no binding",
    ),
    ("cparam01", Some(200), "contact-param, not url-param"),
    ("cparam02", Some(200), "url-param kept in the URI"),
    (
        "regescrt",
        Some(200),
        "escaped header kept in the contact URI",
    ),
    ("sdp01", Some(404), "no binding"),
    ("inv2543", Some(404), "RFC 2543 INVITE accepted; no binding"),
];

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475"))
}

/// name → (section, verdict)
fn expectations() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(data_dir().join("expectations.tsv")).expect("table");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let name = f.next().unwrap().to_string();
            let section = f.next().unwrap().to_string();
            let verdict = f.next().unwrap().to_string();
            assert!(
                f.next().is_some_and(|r| !r.is_empty()),
                "{name}: every entry says why"
            );
            (name, (section, verdict))
        })
        .collect()
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(format!("{name}.dat"))).expect("message file")
}

/// The strict parse: framing, then (requests) mandatory headers and every typed header, or
/// (responses) the headers every response carries.
fn strict_parse(bytes: &[u8]) -> Result<(), String> {
    let cfg = ParserConfig::default();
    let mut h = [Header::EMPTY; 128];
    let msg = match message::parse(bytes, &mut h, Framing::Datagram, &cfg) {
        Ok(Status::Complete(m)) => m,
        Ok(Status::Partial) => return Err("partial".into()),
        Err(e) => return Err(format!("framing: {e:?}")),
    };
    match msg.start {
        StartLine::Response { .. } => request::check_response(&msg).map_err(|e| format!("{e:?}")),
        StartLine::Request { .. } => {
            let req = Request::from_message(msg, &cfg).map_err(|e| format!("request: {e:?}"))?;
            req.check_all_headers()
                .map_err(|e| format!("header: {e:?}"))
        }
    }
}

#[test]
fn rfc4475_table_covers_every_file() {
    let table = expectations();
    let mut files: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".dat")
                .map(str::to_string)
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 49);
    assert_eq!(files, table.keys().cloned().collect::<Vec<_>>());
    let answered: Vec<&str> = ANSWERS.iter().map(|a| a.0).collect();
    for f in &files {
        assert!(
            answered.contains(&f.as_str()),
            "{f} has no registrar answer"
        );
    }
}

/// §3.1.1: "every one the RFC calls valid parses".
#[test]
fn rfc4475_3_1_1_valid_messages_parse() {
    for (name, (section, verdict)) in expectations() {
        if verdict == "valid" {
            assert!(section.starts_with("3.1.1"), "{name}");
            if let Err(e) = strict_parse(&read(&name)) {
                panic!("{name} ({section}) must parse: {e}");
            }
        }
    }
}

/// §3.1.2: "every one it calls invalid is rejected".
#[test]
fn rfc4475_3_1_2_invalid_messages_are_rejected() {
    let mut rejected = 0;
    for (name, (section, verdict)) in expectations() {
        if verdict == "invalid" {
            assert!(
                strict_parse(&read(&name)).is_err(),
                "{name} ({section}) must be rejected"
            );
            rejected += 1;
        }
    }
    assert_eq!(rejected, 16);
}

/// §3.2–§3.4 (and the §3.1.2 entries that are grammatical but wrong): they frame; what they
/// deserve is an application answer, checked by `registrar_answers_every_message`.
#[test]
fn rfc4475_semantic_cases_frame() {
    for (name, (section, verdict)) in expectations() {
        if verdict != "valid-semantics" {
            continue;
        }
        let bytes = read(&name);
        let mut h = [Header::EMPTY; 128];
        let framed = message::parse(&bytes, &mut h, Framing::Datagram, &ParserConfig::default());
        // mcl01's conflicting Content-Length values are a framing error by the RFC's own
        // reading ("equivalent to an invalid Content-Length value").
        if name == "mcl01" {
            assert!(framed.is_err(), "{name}");
        } else if name == "badvers" {
            // The grammar allows SIP/7.0; the parser names the version so a 505 can be sent.
            assert!(
                matches!(framed, Err(message::Error::Version)),
                "{name}: {framed:?}"
            );
        } else {
            assert!(
                matches!(framed, Ok(Status::Complete(_))),
                "{name} ({section}) must frame: {framed:?}"
            );
        }
    }
}

/// Every message through the registrar core over UDP: the answer the RFC calls for (see
/// `ANSWERS`), never a panic.
#[test]
fn registrar_answers_every_message() {
    for (name, code, why) in ANSWERS {
        let mut h = Harness::new(Config::default());
        let got = h.send_raw(&read(name)).map(|r| r.code);
        assert_eq!(got, *code, "{name}: {why}");
    }
}

/// §3.3.12–§3.3.14: what a REGISTER's Contact stores.
#[test]
fn rfc4475_3_3_12_to_14_contact_uris_are_stored_as_the_rfc_says() {
    let stored = |name: &str| -> Vec<String> {
        let mut h = Harness::new(Config::default());
        assert_eq!(h.send_raw(&read(name)).map(|r| r.code), Some(200), "{name}");
        h.reg
            .table()
            .aors()
            .flat_map(|a| {
                a.bindings
                    .iter()
                    .map(|b| String::from_utf8_lossy(b.uri()).into_owned())
            })
            .collect()
    };
    // cparam01: `;unknownparam` after an addr-spec is a contact-param, not a url-param.
    assert_eq!(stored("cparam01"), vec!["sip:+19725552222@gw1.example.net"]);
    // cparam02: inside <> it is a url-param and stays in the URI.
    assert_eq!(
        stored("cparam02"),
        vec!["sip:+19725552222@gw1.example.net;unknownparam"]
    );
    // regescrt: the escaped Route header stays in the contact URI.
    assert_eq!(
        stored("regescrt"),
        vec!["sip:user@example.com?Route=%3Csip:sip.example.com%3E"]
    );
}
