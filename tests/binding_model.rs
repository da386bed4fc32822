//! Model-based property test of the binding table (RFC 3261 §10.3 as the registrar implements
//! it).
//!
//! Method: proptest generates sequences of up to 60 operations over small domains, so that
//! matches, collisions and conflicts happen often:
//! - `Register`: one AoR of three (the To URI written in one of three equivalent forms), one
//!   to three contacts (one of four contact URIs per AoR, each written in one of two forms
//!   that are equal under §19.1.4: escaped user `%61`, host case, parameter name/value case,
//!   an unknown URI parameter present on one side only; one is `host:5060`, which is NOT
//!   equal to `host`), each with an optional `;expires=` from {0, 30, 60, 120, 3600, 100000}
//!   and an optional `;q=`, optionally all in one comma-separated Contact header, an optional
//!   Expires header from the same set, one Call-ID of three and a CSeq that is the next, the
//!   same, a lower or an absolute small value relative to what that (AoR, Call-ID) last sent;
//! - `Star`: `Contact: *` with `Expires: 0`;
//! - `Query`: REGISTER without Contact;
//! - `Repeat`: the last REGISTER sent again, byte for byte (a retransmission, or a stale
//!   request once the window has passed);
//! - `Advance`: the virtual clock moves 0..200 s (now and then 8000 s, past every expiry);
//!   `Harness::advance_s` runs the expiry that is due.
//!
//! Every operation goes to the real core as REGISTER bytes (through `tests/support`'s
//! `Harness`) and to a reference model written below in the plainest possible way (a
//! `BTreeMap<aor, Vec<ModelBinding>>`, whole seconds, one linear pass per rule). After every
//! step the test compares: the status code; for a 200 the multiset of (contact URI, expires,
//! q) in the Contact headers; for every AoR, the live bindings `Registrar::lookup` returns
//! (URI as last written, q, Call-ID, CSeq, expiry and update time as a multiset, and the order
//! of their (q, update time) keys: q descending with absent q = 1.0, then most recently
//! refreshed first; bindings with equal keys may come in any order); the retransmission
//! counter; and `table().binding_count()` against the model's count whenever every binding
//! that lapsed expired at least one timer tick (1 s) ago (otherwise the count may only be
//! higher by the not yet reaped ones).
//!
//! Three policies run: the default (max_contacts 10, reject), max_contacts 3 with reject, and
//! max_contacts 2 with evict-oldest (bindings updated by the same request tie on update time;
//! the model then evicts the one registered earlier, as the core does).
//!
//! Regression found by this model (fixed, see `regression_*` below): within one request, a
//! contact with no live binding listed first with a non-zero expiry and again with expiry 0
//! was added, although the later listing wins.
//!
//! Failure persistence is off so that runs write no files into the source tree.

mod support;

use std::collections::BTreeMap;
use std::fmt;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use registrar::registrar::{Config, Lookup, OverflowPolicy, Policy};
use support::{Harness, Req, Resp, register};

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const CALL_IDS: [&str; 3] = [
    "cid-0@ua.example.net",
    "cid-1@ua.example.net",
    "cid-2@ua.example.net",
];
const MIN_EXPIRES: u32 = 60;
const MAX_EXPIRES: u32 = 7200;
const DEFAULT_EXPIRES: u32 = 3600;
const WINDOW_S: u64 = 20;
/// q values written in requests, and their value in thousandths.
const QS: [(&str, u16); 6] = [
    ("0", 0),
    ("0.1", 100),
    ("0.5", 500),
    ("0.75", 750),
    ("1.0", 1000),
    ("1", 1000),
];

// ---------------------------------------------------------------------------------------------
// Operations

#[derive(Clone, Copy, Debug)]
enum CSeq {
    /// One more than the highest this (AoR, Call-ID) has sent.
    Next,
    /// The highest this (AoR, Call-ID) has sent (1 if none).
    Same,
    /// One less than that (at least 1).
    Lower,
    Abs(u32),
}

#[derive(Clone, Debug)]
struct ContactSpec {
    /// Which of the AoR's four contacts (0..4).
    id: usize,
    /// Which written form of it (0..2).
    form: usize,
    /// Written without angle brackets (only for forms without URI parameters).
    bare: bool,
    expires: Option<u32>,
    /// Index into [`QS`].
    q: Option<usize>,
}

#[derive(Clone, Debug)]
enum Op {
    Register {
        aor: usize,
        to_form: usize,
        contacts: Vec<ContactSpec>,
        one_header: bool,
        expires: Option<u32>,
        call_id: usize,
        cseq: CSeq,
    },
    Star {
        aor: usize,
        call_id: usize,
        cseq: CSeq,
    },
    Query {
        aor: usize,
        call_id: usize,
        cseq: CSeq,
    },
    /// Send the last Register or Star again (nothing if none yet).
    Repeat,
    Advance(u64),
}

/// An operation with its CSeq resolved: what is actually sent.
#[derive(Clone, Debug)]
enum Sent {
    Register {
        aor: usize,
        to_form: usize,
        contacts: Vec<ContactSpec>,
        one_header: bool,
        expires: Option<u32>,
        call_id: usize,
        cseq: u32,
    },
    Star {
        aor: usize,
        call_id: usize,
        cseq: u32,
    },
    Query {
        aor: usize,
        call_id: usize,
        cseq: u32,
    },
}

fn escape_first(user: &str) -> String {
    format!("%{:02x}{}", user.as_bytes()[0], &user[1..])
}

/// The written forms of contact `id` of user `u`; forms of one id are §19.1.4-equal, ids are
/// pairwise different (id 3 differs from id 0 only by an explicit default port).
fn contact_uri(u: &str, id: usize, form: usize) -> String {
    match (id, form) {
        (0, 0) => format!("sip:{u}@192.0.2.1"),
        (0, _) => format!("sip:{}@192.0.2.1", escape_first(u)),
        (1, 0) => format!("sip:{u}@host1.example.net"),
        (1, _) => format!("sip:{u}@HOST1.Example.NET"),
        (2, 0) => format!("sip:{u}@192.0.2.2;transport=tcp"),
        (2, _) => format!("sip:{}@192.0.2.2;Transport=TCP", escape_first(u)),
        (3, 0) => format!("sip:{u}@192.0.2.1:5060"),
        (3, _) => format!("sip:{u}@192.0.2.1:5060;newparam=1"),
        _ => unreachable!(),
    }
}

fn to_header(u: &str, form: usize) -> String {
    match form {
        0 => format!("<sip:{u}@example.com>"),
        1 => format!("<sip:{}@EXAMPLE.COM>", escape_first(u)),
        _ => format!("\"{u}\" <sip:{u}@Example.com;user=phone>"),
    }
}

fn aor_key(aor: usize) -> String {
    format!("{}@example.com", USERS[aor])
}

impl ContactSpec {
    fn uri(&self, aor: usize) -> String {
        contact_uri(USERS[aor], self.id, self.form)
    }

    fn render(&self, aor: usize) -> String {
        let uri = self.uri(aor);
        let mut s = if self.bare && !uri.contains(';') {
            uri
        } else {
            format!("<{uri}>")
        };
        if let Some(e) = self.expires {
            s += &format!(";expires={e}");
        }
        if let Some(q) = self.q {
            s += &format!(";q={}", QS[q].0);
        }
        s
    }
}

impl Sent {
    fn request(&self) -> Req {
        match *self {
            Sent::Register {
                aor,
                to_form,
                ref contacts,
                one_header,
                expires,
                call_id,
                cseq,
            } => {
                let mut r = register(USERS[aor])
                    .to(&to_header(USERS[aor], to_form))
                    .call_id(CALL_IDS[call_id])
                    .cseq(cseq);
                if one_header {
                    let joined: Vec<String> = contacts.iter().map(|c| c.render(aor)).collect();
                    r = r.contact(&joined.join(", "));
                } else {
                    for c in contacts {
                        r = r.contact(&c.render(aor));
                    }
                }
                if let Some(e) = expires {
                    r = r.expires(e);
                }
                r
            }
            Sent::Star { aor, call_id, cseq } => register(USERS[aor])
                .call_id(CALL_IDS[call_id])
                .cseq(cseq)
                .contact("*")
                .expires(0),
            Sent::Query { aor, call_id, cseq } => {
                register(USERS[aor]).call_id(CALL_IDS[call_id]).cseq(cseq)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generators

fn expiry_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        2 => Just(0u32),
        1 => Just(30),
        3 => Just(60),
        3 => Just(120),
        2 => Just(3600),
        1 => Just(100_000),
    ]
}

fn cseq_choice() -> impl Strategy<Value = CSeq> {
    prop_oneof![
        6 => Just(CSeq::Next),
        2 => Just(CSeq::Same),
        1 => Just(CSeq::Lower),
        1 => (1u32..=8).prop_map(CSeq::Abs),
    ]
}

fn contact_spec() -> impl Strategy<Value = ContactSpec> {
    (
        0usize..4,
        0usize..2,
        prop::bool::weighted(0.2),
        prop_oneof![5 => Just(None), 5 => expiry_value().prop_map(Some)],
        prop_oneof![3 => Just(None), 2 => (0..QS.len()).prop_map(Some)],
    )
        .prop_map(|(id, form, bare, expires, q)| ContactSpec {
            id,
            form,
            bare,
            expires,
            q,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let register = (
        0usize..3,
        0usize..3,
        prop::collection::vec(contact_spec(), 1..=3),
        any::<bool>(),
        prop_oneof![1 => Just(None), 1 => expiry_value().prop_map(Some)],
        0usize..3,
        cseq_choice(),
    )
        .prop_map(
            |(aor, to_form, contacts, one_header, expires, call_id, cseq)| Op::Register {
                aor,
                to_form,
                contacts,
                one_header,
                expires,
                call_id,
                cseq,
            },
        );
    let star = (0usize..3, 0usize..3, cseq_choice()).prop_map(|(aor, call_id, cseq)| Op::Star {
        aor,
        call_id,
        cseq,
    });
    let query = (0usize..3, 0usize..3, cseq_choice()).prop_map(|(aor, call_id, cseq)| Op::Query {
        aor,
        call_id,
        cseq,
    });
    let advance = prop_oneof![
        3 => 0u64..5,
        3 => 5u64..25,
        3 => 25u64..200,
        1 => Just(8000u64),
    ]
    .prop_map(Op::Advance);
    prop_oneof![
        8 => register,
        1 => star,
        1 => query,
        2 => Just(Op::Repeat),
        5 => advance,
    ]
}

// ---------------------------------------------------------------------------------------------
// The reference model

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ModelBinding {
    /// Which of the AoR's contacts (the §19.1.4 equivalence class).
    id: usize,
    /// The URI as last written.
    uri: String,
    /// Thousandths; `None` when absent.
    q: Option<u16>,
    call_id: usize,
    cseq: u32,
    /// Seconds on the virtual clock.
    expires_at: u64,
    updated_at: u64,
}

/// What a request should get.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    code: u16,
    retransmission: bool,
}

struct Model {
    now: u64,
    /// Bindings per AoR, in registration order (a refresh keeps the place).
    aors: BTreeMap<usize, Vec<ModelBinding>>,
    max_contacts: usize,
    evict: bool,
    /// Latest expiry time of a binding that lapsed (for the reaped-count check).
    last_lapse: Option<u64>,
}

/// One planned contact of a request.
struct Planned {
    pos: usize,
    id: usize,
    uri: String,
    expires: u32,
    q: Option<u16>,
}

impl Model {
    fn new(max_contacts: usize, evict: bool) -> Model {
        Model {
            now: 0,
            aors: BTreeMap::new(),
            max_contacts,
            evict,
            last_lapse: None,
        }
    }

    fn advance(&mut self, s: u64) {
        self.now += s;
        let now = self.now;
        for v in self.aors.values_mut() {
            for b in v.iter().filter(|b| b.expires_at <= now) {
                self.last_lapse = Some(self.last_lapse.unwrap_or(0).max(b.expires_at));
            }
            v.retain(|b| b.expires_at > now);
        }
    }

    fn count(&self) -> usize {
        self.aors.values().map(Vec::len).sum()
    }

    fn bindings(&self, aor: usize) -> &[ModelBinding] {
        self.aors.get(&aor).map_or(&[], Vec::as_slice)
    }

    /// The same-Call-ID rule for one binding: `Ok(false)` passes, `Ok(true)` is a
    /// retransmission, `Err(())` is stale.
    fn cseq_rule(&self, b: &ModelBinding, call_id: usize, cseq: u32) -> Result<bool, ()> {
        if b.call_id != call_id || cseq > b.cseq {
            Ok(false)
        } else if cseq == b.cseq && self.now - b.updated_at < WINDOW_S {
            Ok(true)
        } else {
            Err(())
        }
    }

    fn apply(&mut self, sent: &Sent) -> Expected {
        match *sent {
            Sent::Query { .. } => Expected {
                code: 200,
                retransmission: false,
            },
            Sent::Star { aor, call_id, cseq } => {
                let mut retransmission = false;
                for b in self.bindings(aor) {
                    match self.cseq_rule(b, call_id, cseq) {
                        Ok(r) => retransmission |= r,
                        Err(()) => {
                            return Expected {
                                code: 400,
                                retransmission: false,
                            };
                        }
                    }
                }
                if !retransmission {
                    self.aors.remove(&aor);
                }
                Expected {
                    code: 200,
                    retransmission,
                }
            }
            Sent::Register {
                aor,
                to_form: _,
                ref contacts,
                one_header: _,
                expires,
                call_id,
                cseq,
            } => self.register(aor, contacts, expires, call_id, cseq),
        }
    }

    fn register(
        &mut self,
        aor: usize,
        contacts: &[ContactSpec],
        header_expires: Option<u32>,
        call_id: usize,
        cseq: u32,
    ) -> Expected {
        let fail = |code| Expected {
            code,
            retransmission: false,
        };
        let now = self.now;
        let live = self.bindings(aor).to_vec();
        let mut plan = Vec::new();
        let mut retransmission = false;
        for (pos, c) in contacts.iter().enumerate() {
            let e = c.expires.or(header_expires).unwrap_or(DEFAULT_EXPIRES);
            if e > 0 && e < MIN_EXPIRES {
                return fail(423);
            }
            let e = e.min(MAX_EXPIRES);
            if let Some(b) = live.iter().find(|b| b.id == c.id) {
                match self.cseq_rule(b, call_id, cseq) {
                    Ok(r) => retransmission |= r,
                    Err(()) => return fail(400),
                }
            }
            plan.push(Planned {
                pos,
                id: c.id,
                uri: c.uri(aor),
                expires: e,
                q: c.q.map(|i| QS[i].1),
            });
        }
        if retransmission {
            return Expected {
                code: 200,
                retransmission: true,
            };
        }
        // The same contact twice in one request: the later one wins.
        let mut effective: BTreeMap<usize, Planned> = BTreeMap::new();
        for p in plan {
            effective.insert(p.id, p);
        }
        let mut effective: Vec<Planned> = effective.into_values().collect();
        effective.sort_by_key(|p| p.pos);

        let is_bound = |id: usize| live.iter().any(|b| b.id == id);
        let removes: Vec<usize> = effective
            .iter()
            .filter(|p| p.expires == 0 && is_bound(p.id))
            .map(|p| p.id)
            .collect();
        let refreshes: Vec<usize> = effective
            .iter()
            .filter(|p| p.expires > 0 && is_bound(p.id))
            .map(|p| p.id)
            .collect();
        let adds = effective
            .iter()
            .filter(|p| p.expires > 0 && !is_bound(p.id))
            .count();
        let total = live.len() - removes.len() + adds;
        let mut evicted = Vec::new();
        if total > self.max_contacts {
            if !self.evict {
                return fail(403);
            }
            let excess = total - self.max_contacts;
            let mut untouched: Vec<&ModelBinding> = live
                .iter()
                .filter(|b| !removes.contains(&b.id) && !refreshes.contains(&b.id))
                .collect();
            if excess > untouched.len() {
                return fail(403);
            }
            for _ in 0..excess {
                // Least recently updated; among equals the one registered first.
                let (i, _) = untouched
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, b)| b.updated_at)
                    .unwrap();
                evicted.push(untouched.remove(i).id);
            }
        }

        let v = self.aors.entry(aor).or_default();
        for p in &effective {
            if p.expires == 0 {
                continue;
            }
            let fresh = ModelBinding {
                id: p.id,
                uri: p.uri.clone(),
                q: p.q,
                call_id,
                cseq,
                expires_at: now + u64::from(p.expires),
                updated_at: now,
            };
            match v.iter_mut().find(|b| b.id == p.id) {
                Some(b) => *b = fresh,
                None => v.push(fresh),
            }
        }
        v.retain(|b| !removes.contains(&b.id) && !evicted.contains(&b.id));
        if v.is_empty() {
            self.aors.remove(&aor);
        }
        Expected {
            code: 200,
            retransmission: false,
        }
    }

    /// Contacts a 200 lists for `aor`: (URI, expires, q).
    fn listing(&self, aor: usize) -> Vec<(String, u64, Option<u16>)> {
        let mut l: Vec<_> = self
            .bindings(aor)
            .iter()
            .map(|b| (b.uri.clone(), b.expires_at - self.now, b.q))
            .collect();
        l.sort();
        l
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the real core

/// (URI, expires, q) of each Contact of a response.
fn response_listing(r: &Resp) -> Vec<(String, u64, Option<u16>)> {
    let mut l: Vec<_> = r
        .contacts()
        .into_iter()
        .map(|c| {
            let rest = c.strip_prefix('<').expect("contact in angle brackets");
            let end = rest.find('>').expect("closing bracket");
            let uri = rest[..end].to_string();
            let mut expires = None;
            let mut q = None;
            for p in rest[end + 1..].split(';').skip(1) {
                if let Some(e) = p.strip_prefix("expires=") {
                    expires = Some(e.parse::<u64>().expect("numeric expires"));
                } else if let Some(v) = p.strip_prefix("q=") {
                    q = Some(parse_q(v));
                }
            }
            (uri, expires.expect("expires in every contact"), q)
        })
        .collect();
    l.sort();
    l
}

fn parse_q(v: &str) -> u16 {
    if v == "1" {
        return 1000;
    }
    let frac = v.strip_prefix("0.").unwrap_or_else(|| panic!("odd q {v}"));
    let mut t = 0u16;
    for i in 0..3 {
        t = t * 10 + frac.as_bytes().get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    t
}

/// Live bindings of `aor` from `Registrar::lookup`, in the order it returns them, as model
/// bindings (`id` recovered from the written URI).
fn real_lookup(h: &mut Harness, aor: usize) -> Vec<ModelBinding> {
    let now = h.now;
    let key = aor_key(aor);
    match h.reg.lookup(now, key.as_bytes(), None) {
        Lookup::Found(v) => v
            .iter()
            .map(|b| {
                let uri = String::from_utf8(b.uri().to_vec()).unwrap();
                let id = (0..4)
                    .find(|&id| (0..2).any(|f| contact_uri(USERS[aor], id, f) == uri))
                    .unwrap_or_else(|| panic!("unknown contact URI {uri}"));
                let call_id = CALL_IDS
                    .iter()
                    .position(|c| c.as_bytes() == b.call_id())
                    .expect("known Call-ID");
                assert_eq!(b.expires_at.0 % 1000, 0, "whole seconds only");
                ModelBinding {
                    id,
                    uri,
                    q: (b.q != registrar::registrar::bindings::Q_NONE).then_some(b.q),
                    call_id,
                    cseq: b.cseq,
                    expires_at: b.expires_at.0 / 1000,
                    updated_at: b.updated_at.0 / 1000,
                }
            })
            .collect(),
        Lookup::NotFound => Vec::new(),
        Lookup::MethodNotAllowed { .. } => panic!("no method was asked for"),
    }
}

/// Lookup order key: q descending (absent = 1.0), then most recently updated first.
fn order_key(b: &ModelBinding) -> (std::cmp::Reverse<u16>, std::cmp::Reverse<u64>) {
    (
        std::cmp::Reverse(b.q.unwrap_or(1000)),
        std::cmp::Reverse(b.updated_at),
    )
}

// ---------------------------------------------------------------------------------------------
// The property

#[derive(Clone, Copy)]
struct Setup {
    max_contacts: u32,
    overflow: OverflowPolicy,
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max_contacts={} {:?}", self.max_contacts, self.overflow)
    }
}

fn run(setup: Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    let config = Config {
        policy: Policy {
            max_contacts: setup.max_contacts,
            overflow: setup.overflow,
            ..Policy::default()
        },
        ..Config::default()
    };
    assert_eq!(config.min_expires_s, MIN_EXPIRES);
    assert_eq!(config.max_expires_s, MAX_EXPIRES);
    assert_eq!(config.default_expires_s, DEFAULT_EXPIRES);
    assert_eq!(config.retransmit_window_ms, WINDOW_S * 1000);
    assert_eq!(config.timer_tick_ms, 1000);
    let mut h = Harness::new(config);
    let mut m = Model::new(
        setup.max_contacts as usize,
        setup.overflow == OverflowPolicy::EvictOldest,
    );
    // Highest CSeq sent per (AoR, Call-ID).
    let mut highest: BTreeMap<(usize, usize), u32> = BTreeMap::new();
    let mut last: Option<Sent> = None;
    let mut retransmissions = 0u64;

    for (step, op) in ops.iter().enumerate() {
        let mut resolve = |aor: usize, call_id: usize, c: CSeq| {
            let top = highest.get(&(aor, call_id)).copied();
            let n = match c {
                CSeq::Next => top.unwrap_or(0) + 1,
                CSeq::Same => top.unwrap_or(1),
                CSeq::Lower => top.unwrap_or(1).saturating_sub(1).max(1),
                CSeq::Abs(n) => n,
            };
            let e = highest.entry((aor, call_id)).or_insert(n);
            *e = (*e).max(n);
            n
        };
        let sent = match *op {
            Op::Advance(s) => {
                h.advance_s(s);
                m.advance(s);
                None
            }
            Op::Register {
                aor,
                to_form,
                ref contacts,
                one_header,
                expires,
                call_id,
                cseq,
            } => Some(Sent::Register {
                aor,
                to_form,
                contacts: contacts.clone(),
                one_header,
                expires,
                call_id,
                cseq: resolve(aor, call_id, cseq),
            }),
            Op::Star { aor, call_id, cseq } => Some(Sent::Star {
                aor,
                call_id,
                cseq: resolve(aor, call_id, cseq),
            }),
            Op::Query { aor, call_id, cseq } => Some(Sent::Query {
                aor,
                call_id,
                cseq: resolve(aor, call_id, cseq),
            }),
            Op::Repeat => last.clone(),
        };
        let t = m.now;
        let ctx = |what: &str| format!("step {step} ({op:?}) at t={t}s, {setup}: {what}");

        if let Some(sent) = &sent {
            if !matches!(sent, Sent::Query { .. }) {
                last = Some(sent.clone());
            }
            let req = sent.request();
            let resp = h.send(&req);
            let want = m.apply(sent);
            prop_assert_eq!(
                resp.code,
                want.code,
                "{}\nrequest:\n{}\nresponse:\n{}",
                ctx("status"),
                req.build(),
                resp.raw
            );
            if want.retransmission {
                retransmissions += 1;
            }
            prop_assert_eq!(
                h.reg.stats().retransmissions,
                retransmissions,
                "{}",
                ctx("retransmission counter")
            );
            if resp.code == 200 {
                let aor = match *sent {
                    Sent::Register { aor, .. }
                    | Sent::Star { aor, .. }
                    | Sent::Query { aor, .. } => aor,
                };
                prop_assert_eq!(
                    response_listing(&resp),
                    m.listing(aor),
                    "{}\nrequest:\n{}\nresponse:\n{}",
                    ctx("contacts of the 200"),
                    req.build(),
                    resp.raw
                );
            }
        }

        // Lookups for every AoR.
        for aor in 0..USERS.len() {
            let got = real_lookup(&mut h, aor);
            let mut want = m.bindings(aor).to_vec();
            want.sort_by_key(order_key);
            let got_keys: Vec<_> = got.iter().map(order_key).collect();
            let want_keys: Vec<_> = want.iter().map(order_key).collect();
            prop_assert_eq!(
                got_keys,
                want_keys,
                "{}",
                ctx(&format!("lookup order of {}: got {got:?}", aor_key(aor)))
            );
            let (mut got_set, mut want_set) = (got.clone(), want.clone());
            got_set.sort();
            want_set.sort();
            prop_assert_eq!(
                got_set,
                want_set,
                "{}",
                ctx(&format!("bindings of {}", aor_key(aor)))
            );
        }

        // The table's count, once expiry had a full tick to run.
        let count = h.reg.table().binding_count();
        if m.last_lapse.is_none_or(|t| t < m.now) {
            prop_assert_eq!(count, m.count(), "{}", ctx("binding_count"));
        } else {
            prop_assert!(count >= m.count(), "{}", ctx("binding_count below live"));
        }
    }
    Ok(())
}

/// 512 cases per policy by default (about 3 s for all three in a debug build on two cores);
/// `PROPTEST_CASES` overrides it for a deeper run.
fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=60)
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Default policy (max_contacts 10, never reached with four contacts per AoR): expiry,
    /// matching, Call-ID/CSeq, retransmission, removal and `*` against the model.
    #[test]
    fn binding_table_follows_model_with_default_policy(ops in ops()) {
        run(Setup { max_contacts: 10, overflow: OverflowPolicy::Reject }, &ops)?;
    }

    /// max_contacts 3 with the reject policy: a request that would leave more than three
    /// bindings gets 403 and changes nothing.
    #[test]
    fn binding_table_follows_model_when_max_contacts_rejects(ops in ops()) {
        run(Setup { max_contacts: 3, overflow: OverflowPolicy::Reject }, &ops)?;
    }

    /// max_contacts 2 with evict-oldest: the least recently updated bindings the request does
    /// not touch make room; 403 when there are not enough of them.
    #[test]
    fn binding_table_follows_model_when_max_contacts_evicts_oldest(ops in ops()) {
        run(Setup { max_contacts: 2, overflow: OverflowPolicy::EvictOldest }, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions, minimised from the property above

/// Found by this model: "the same contact twice in one request: the later one wins" must
/// hold when the contact has no live binding and its later listing has expiry 0 (the core
/// used to keep the earlier add).
#[test]
fn regression_same_contact_added_then_zeroed_in_one_request_is_not_bound() {
    let mut h = Harness::new(Config::default());
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.1>;expires=60")
            .contact("<sip:alice@192.0.2.1>;expires=0"),
    );
    assert_eq!(r.code, 200);
    assert!(
        r.contacts().is_empty(),
        "later expires=0 wins: {:?}",
        r.contacts()
    );
    assert!(h.lookup("alice@example.com").is_empty());
}
