//! Persistence effects: every committed change to an AoR leaves one snapshot record in the
//! core's journal (see `registrar::registrar::journal`); memory-only domains leave none.

mod support;

use registrar::registrar::journal::{self, DecodeError};
use registrar::registrar::{Config, Policy, Transport};
use support::{Harness, WALL0, register};

fn drain(h: &mut Harness) -> Vec<u8> {
    let mut out = Vec::new();
    h.reg.take_journal(&mut out);
    out
}

/// A registration is journalled with its absolute expiry; a refresh writes a new snapshot;
/// an unregister writes an empty one (a removal that a replay cannot resurrect).
#[test]
fn changes_are_journalled_as_aor_snapshots() {
    let mut h = Harness::new(Config::default());
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>;q=0.5")
            .expires(300),
    );
    let bytes = drain(&mut h);
    let records: Vec<_> = journal::decode(&bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.aor, b"alice@example.com");
    assert_eq!(r.bindings.len(), 1);
    let b = &r.bindings[0];
    assert_eq!(b.uri, b"sip:alice@192.0.2.10");
    assert_eq!(b.q, 500);
    assert_eq!(b.cseq, 1);
    assert_eq!(b.expires_wall.0, WALL0 + 300);
    assert_eq!(b.transport, Transport::Udp);
    assert_eq!(b.source, h.src.addr);

    h.advance_s(10);
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(600)
            .cseq(2),
    );
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(0)
            .cseq(3),
    );
    let bytes = drain(&mut h);
    let records: Vec<_> = journal::decode(&bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].bindings[0].expires_wall.0, WALL0 + 10 + 600);
    assert_eq!(records[0].bindings[0].updated_wall.0, WALL0 + 10);
    assert!(records[1].bindings.is_empty(), "the removal is recorded");
    assert!(drain(&mut h).is_empty(), "take leaves the journal empty");
}

/// Queries, retransmissions and rejected requests change nothing and record nothing.
#[test]
fn unchanged_state_records_nothing() {
    let mut h = Harness::new(Config::default());
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>").cseq(5));
    drain(&mut h);
    h.send(&register("alice").cseq(6));
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>").cseq(5));
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>;expires=5")
            .cseq(7),
    );
    assert!(drain(&mut h).is_empty());
}

/// `memory_only` domains (Kamailio's save() flag 0x01) are never journalled.
#[test]
fn memory_only_domains_are_not_journalled() {
    let mut c = Config::default();
    c.domain_policies.push((
        b"example.com".to_vec().into(),
        Policy {
            memory_only: true,
            ..Policy::default()
        },
    ));
    let mut h = Harness::new(c);
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>"));
    assert!(drain(&mut h).is_empty());
}

/// A torn tail stops decoding with an error after the intact records, never a guess.
#[test]
fn torn_records_are_reported() {
    let mut h = Harness::new(Config::default());
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>"));
    h.send(&register("bob").contact("<sip:bob@192.0.2.11>"));
    let bytes = drain(&mut h);
    let first_len = 4 + u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    for cut in 1..bytes.len() {
        let got: Vec<_> = journal::decode(&bytes[..cut]).collect();
        let ok = got.iter().filter(|r| r.is_ok()).count();
        if cut == first_len {
            assert_eq!(
                (ok, got.len()),
                (1, 1),
                "a cut between records loses nothing"
            );
        } else {
            assert_eq!(ok, usize::from(cut > first_len), "cut {cut}");
            assert!(
                matches!(got.last(), Some(Err(DecodeError::Truncated))),
                "cut {cut}: {got:?}"
            );
        }
    }
    assert_eq!(journal::decode(&bytes).filter(Result::is_ok).count(), 2);
}
