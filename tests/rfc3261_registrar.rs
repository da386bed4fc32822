//! RFC 3261 §10.3 and the registrar's policies, one test per rule, against the sans-IO core
//! with a virtual clock.

mod support;

use registrar::registrar::{
    Authorized, Authorizer, Config, Lookup, Millis, OverflowPolicy, Policy, Registrar, Rejection,
    UserCase,
};
use registrar::sip::Request;
use support::{Harness, register, request};

fn harness() -> Harness {
    Harness::new(Config::default())
}

fn with_domains(domains: &[&str]) -> Harness {
    Harness::new(Config {
        domains: domains.iter().map(|d| d.as_bytes().into()).collect(),
        ..Config::default()
    })
}

// ---- Step 1: Request-URI domain ----

/// §10.3 step 1: a REGISTER for a domain the registrar does not serve is refused with an
/// answer that says so, never silence.
#[test]
fn step1_foreign_request_uri_domain_is_refused() {
    let mut h = with_domains(&["example.com"]);
    let r = h.send(
        &register("alice")
            .ruri("sip:other.org")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(r.code, 403);
    assert_eq!(r.reason, "Domain not served here");
    assert!(h.lookup("alice@example.com").is_empty());
}

/// §10.3 step 1: with no domain configured every domain is accepted; domains match
/// case-insensitively.
#[test]
fn step1_domains_match_case_insensitively_and_none_means_all() {
    let mut h = with_domains(&["example.com"]);
    let r = h.send(
        &register("alice")
            .ruri("sip:EXAMPLE.COM")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(r.code, 200);
    let mut open = harness();
    let r = open.send(
        &register("bob")
            .ruri("sip:anything.test")
            .contact("<sip:bob@192.0.2.10>"),
    );
    assert_eq!(r.code, 200);
}

/// §8.2.2.1: a Request-URI scheme the registrar does not handle gets 416.
#[test]
fn step1_non_sip_request_uri_gets_416() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .ruri("tel:+15551234")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(r.code, 416);
}

// ---- Step 2: Require ----

/// §10.3 step 2 / §8.2.2.3: unknown option tags in Require → 420 listing them in Unsupported.
#[test]
fn step2_unknown_require_gets_420_with_unsupported() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .header("Require: foo, path")
            .header("Require: bar"),
    );
    assert_eq!(r.code, 420);
    assert_eq!(r.header("Unsupported"), Some("foo, bar"));
    assert!(h.lookup("alice@example.com").is_empty(), "nothing stored");
}

/// §10.3 step 2: a supported option tag (path, RFC 3327) passes.
#[test]
fn step2_supported_require_passes() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .header("Require: path"),
    );
    assert_eq!(r.code, 200);
}

// ---- Steps 3 and 4: the authorisation hook ----

struct DenyAll;

impl Authorizer for DenyAll {
    fn authorize<'k>(
        &mut self,
        _now: Millis,
        _req: &Request<'_, '_>,
        _aor: &'k [u8],
        extra: &mut Vec<u8>,
    ) -> Result<Authorized<'k>, Rejection> {
        extra.extend_from_slice(b"WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n\"\r\n");
        Err(Rejection {
            code: 401,
            reason: "Unauthorized",
        })
    }
}

/// §10.3 steps 3-4: when the hook refuses, its answer goes out and no binding changes.
#[test]
fn step3_4_refusal_by_the_hook_changes_nothing() {
    let mut h =
        Harness::with(Registrar::with_authorizer(Config::default(), Millis(0), DenyAll).unwrap());
    let r = h.send(&register("alice").contact("<sip:alice@192.0.2.10>"));
    assert_eq!(r.code, 401);
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .starts_with("Digest realm=")
    );
    assert_eq!(h.reg.table().binding_count(), 0);
}

/// §10.3 step 4: the hook is asked about the canonical AoR of To (not From).
#[test]
fn step4_hook_sees_the_to_aor() {
    struct OnlyAlice;
    impl Authorizer for OnlyAlice {
        fn authorize<'k>(
            &mut self,
            _: Millis,
            _: &Request<'_, '_>,
            aor: &'k [u8],
            _: &mut Vec<u8>,
        ) -> Result<Authorized<'k>, Rejection> {
            if aor == b"alice@example.com" {
                Ok(Authorized::vouch_for(aor))
            } else {
                Err(Rejection {
                    code: 403,
                    reason: "Forbidden",
                })
            }
        }
    }
    let mut h =
        Harness::with(Registrar::with_authorizer(Config::default(), Millis(0), OnlyAlice).unwrap());
    assert_eq!(
        h.send(&register("alice").contact("<sip:a@192.0.2.10>"))
            .code,
        200
    );
    assert_eq!(
        h.send(&register("bob").contact("<sip:b@192.0.2.10>")).code,
        403
    );
}

// ---- Step 5: the AoR ----

/// §10.3 step 5: the AoR is the To URI with URI parameters dropped and escapes decoded; the
/// host compares without case.
#[test]
fn step5_aor_is_canonicalised() {
    let mut h = harness();
    let r = h.send(
        &register("x")
            .to("\"Alice\" <sip:%61lice@EXAMPLE.com;user=phone>")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(r.code, 200);
    assert_eq!(h.lookup("alice@example.com"), vec!["sip:alice@192.0.2.10"]);
}

/// §19.1.4: the user part is case-sensitive by default; the case rule is configurable.
#[test]
fn step5_user_case_rule_is_configurable() {
    let mut h = harness();
    h.send(&register("Alice").contact("<sip:alice@192.0.2.10>"));
    assert!(h.lookup("alice@example.com").is_empty());
    assert_eq!(h.lookup("Alice@example.com").len(), 1);

    let mut h = Harness::new(Config {
        user_case: UserCase::Insensitive,
        ..Config::default()
    });
    h.send(&register("Alice").contact("<sip:alice@192.0.2.10>"));
    assert_eq!(h.lookup("alice@example.com").len(), 1);
}

/// §10.3 step 5: an AoR that is not valid for the domain → 404; a To that is not a SIP URI
/// at all is a bad request (RFC 4475 §3.3.4).
#[test]
fn step5_invalid_aor_gets_404_and_non_sip_to_400() {
    let mut h = with_domains(&["example.com"]);
    let r = h.send(
        &register("alice")
            .to("<tel:+15551234>")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(r.code, 400);
    let r = h.send(
        &register("alice")
            .to("<sip:alice@other.org>")
            .contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(r.code, 404);
    assert!(r.reason.contains("domain"));
}

// ---- Step 6: Contact: * ----

/// §10.3 step 6: `*` with an Expires other than 0 → 400.
#[test]
fn step6_star_requires_expires_zero() {
    let mut h = harness();
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>"));
    let r = h.send(&register("alice").contact("*").expires(60).cseq(2));
    assert_eq!(r.code, 400);
    let r = h.send(&register("alice").contact("*").cseq(3));
    assert_eq!(r.code, 400, "no Expires at all is not Expires: 0");
    assert_eq!(h.lookup("alice@example.com").len(), 1);
}

/// §10.3 step 6: `*` must be the only Contact.
#[test]
fn step6_star_must_be_alone() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("*")
            .contact("<sip:alice@192.0.2.10>")
            .expires(0),
    );
    assert_eq!(r.code, 400);
    assert!(r.reason.contains("Contact: *"));
}

/// §10.3 step 6: `*` with Expires: 0 removes every binding of the AoR.
#[test]
fn step6_star_removes_all_bindings() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .contact("<sip:alice@192.0.2.11>"),
    );
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.12>")
            .call_id("other-call"),
    );
    assert_eq!(h.lookup("alice@example.com").len(), 3);
    let r = h.send(&register("alice").contact("*").expires(0).cseq(2));
    assert_eq!(r.code, 200);
    assert!(r.contacts().is_empty());
    assert!(h.lookup("alice@example.com").is_empty());
}

/// §10.3 step 6: for a binding with the same Call-ID, `*` only removes it with a higher CSeq.
#[test]
fn step6_star_with_same_call_id_needs_a_higher_cseq() {
    let mut h = harness();
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>").cseq(5));
    h.advance_s(30);
    let r = h.send(&register("alice").contact("*").expires(0).cseq(4));
    assert_eq!(r.code, 400);
    assert_eq!(h.lookup("alice@example.com").len(), 1);
}

// ---- Step 7: each contact ----

/// §10.3 step 7: the Contact `expires` parameter wins over the Expires header.
#[test]
fn step7_contact_expires_param_beats_expires_header() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>;expires=120")
            .expires(300),
    );
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(120));
}

/// §10.3 step 7: the Expires header wins over the default.
#[test]
fn step7_expires_header_beats_the_default() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300),
    );
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(300));
}

/// §10.3 step 7: without either, the configured default applies.
#[test]
fn step7_default_expires_applies() {
    let mut h = Harness::new(Config {
        default_expires_s: 1800,
        ..Config::default()
    });
    let r = h.send(&register("alice").contact("<sip:alice@192.0.2.10>"));
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(1800));
}

/// §10.3 step 7: the registrar MAY shorten the expiry; it does to max_expires.
#[test]
fn step7_expiry_is_shortened_to_the_maximum() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(999_999),
    );
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(7200));
}

/// §10.3 step 7: 0 < expiry < min (and < 1 h) → 423 with Min-Expires, nothing stored.
#[test]
fn step7_interval_too_brief_gets_423_with_min_expires() {
    let mut h = harness();
    let r = h.send(&register("alice").contact("<sip:alice@192.0.2.10>;expires=30"));
    assert_eq!(r.code, 423);
    assert_eq!(r.header("Min-Expires"), Some("60"));
    assert!(h.lookup("alice@example.com").is_empty());
}

/// §10.3 step 7: expiry 0 removes the matching binding.
#[test]
fn step7_expires_zero_removes_the_binding() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .contact("<sip:alice@192.0.2.11>"),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>;expires=0")
            .cseq(2),
    );
    assert_eq!(r.code, 200);
    assert_eq!(h.lookup("alice@example.com"), vec!["sip:alice@192.0.2.11"]);
}

/// §10.3 step 7 + §19.1.4: an existing binding is found by URI comparison, not by bytes.
#[test]
fn step7_bindings_match_by_rfc_uri_comparison() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@Host.Example.com;transport=TCP>")
            .expires(100),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:%61lice@host.example.COM;Transport=tcp;newparam=1>")
            .expires(200)
            .cseq(2),
    );
    assert_eq!(r.code, 200);
    assert_eq!(
        r.contacts().len(),
        1,
        "refreshed, not added: {:?}",
        r.contacts()
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@host.example.com:5060>")
            .cseq(3),
    );
    assert_eq!(r.contacts().len(), 2, "an explicit port is a different URI");
}

/// §10.3 step 7: same Call-ID with a lower CSeq → the request fails and nothing changes.
#[test]
fn step7_same_call_id_lower_cseq_fails() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300)
            .cseq(10),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(0)
            .cseq(9),
    );
    assert_eq!(r.code, 400);
    assert!(r.reason.contains("CSeq"));
    assert_eq!(h.lookup("alice@example.com").len(), 1);
}

/// Kamailio's `cseq_delay`: an equal CSeq within the window is a retransmission, answered
/// again (200 with the bindings) without changing state.
#[test]
fn step7_equal_cseq_within_window_is_a_retransmission() {
    let mut h = harness();
    let first = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300)
            .cseq(7),
    );
    h.advance_s(5);
    let again = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300)
            .cseq(7),
    );
    assert_eq!(again.code, 200);
    assert_eq!(
        again.expires_of("sip:alice@192.0.2.10"),
        Some(295),
        "not refreshed"
    );
    assert_eq!(first.header("To"), again.header("To"), "same To tag");
    assert_eq!(h.reg.stats().retransmissions, 1);
}

/// Outside the window an equal CSeq is stale: the request fails.
#[test]
fn step7_equal_cseq_after_the_window_fails() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300)
            .cseq(7),
    );
    h.advance_s(21);
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300)
            .cseq(7),
    );
    assert_eq!(r.code, 400);
}

/// §10.3 step 7: a different Call-ID updates the binding whatever its CSeq (a rebooted UA).
#[test]
fn step7_different_call_id_updates_the_binding() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300)
            .cseq(100),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(600)
            .cseq(1)
            .call_id("rebooted"),
    );
    assert_eq!(r.code, 200);
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(600));
    assert_eq!(r.contacts().len(), 1);
}

/// §10.3 step 7: all or nothing: one bad contact fails the request, the good ones are not
/// stored either.
#[test]
fn step7_updates_are_all_or_nothing() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.1>")
            .expires(300),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.2>;expires=300")
            .contact("<sip:alice@192.0.2.1>;expires=0")
            .contact("<sip:alice@192.0.2.3>;expires=5")
            .cseq(2),
    );
    assert_eq!(r.code, 423);
    assert_eq!(h.lookup("alice@example.com"), vec!["sip:alice@192.0.2.1"]);
}

// ---- Step 8: the 200 OK ----

/// §10.3 step 8: 200 lists every current binding with its expires, and a Date.
#[test]
fn step8_ok_lists_every_binding_with_expires_and_date() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300),
    );
    h.advance_s(100);
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.11>;q=0.5")
            .expires(600)
            .call_id("c2"),
    );
    assert_eq!(r.code, 200);
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(200));
    assert_eq!(r.expires_of("sip:alice@192.0.2.11"), Some(600));
    assert!(r.contacts().iter().any(|c| c.contains(";q=0.5")));
    let date = r.header("Date").expect("Date header");
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
}

/// §8.2.6.2: Via, From, To, Call-ID and CSeq are copied; To gets a tag; rport and received
/// per §18.2.1 / RFC 3581.
#[test]
fn step8_response_copies_headers_and_tags_to() {
    let mut h = harness();
    h.src.addr = "198.51.100.7:40000".parse().unwrap();
    let req = register("alice").contact("<sip:alice@10.0.0.5>");
    let text = req
        .build()
        .replace("192.0.2.10:5060;branch", "10.0.0.5:5060;rport;branch");
    let r = h.send_raw(text.as_bytes()).unwrap();
    let via = r.header("Via").unwrap();
    assert!(
        via.contains(";rport=40000") && via.contains(";received=198.51.100.7"),
        "{via}"
    );
    assert_eq!(
        r.dest,
        "198.51.100.7:40000".parse().unwrap(),
        "rport: answer the source port"
    );
    assert_eq!(
        r.header("From"),
        Some("<sip:caller@example.com>;tag=fromtag1")
    );
    assert!(
        r.header("To")
            .unwrap()
            .starts_with("<sip:alice@example.com>;tag=")
    );
    assert_eq!(r.header("Call-ID"), Some(req.call_id.as_str()));
    assert_eq!(r.header("CSeq"), Some("1 REGISTER"));
}

/// §18.2.2: without rport the answer goes to the source IP and the sent-by port.
#[test]
fn rfc3261_18_2_2_without_rport_answer_goes_to_sent_by_port() {
    let mut h = harness();
    h.src.addr = "198.51.100.7:40000".parse().unwrap();
    let r = h.send(&register("alice").contact("<sip:alice@10.0.0.5>"));
    assert_eq!(r.dest, "198.51.100.7:5060".parse().unwrap());
}

/// §10.2.3: a REGISTER without Contact is a query: bindings listed, nothing changed.
#[test]
fn rfc3261_10_2_3_query_lists_bindings_without_change() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(300),
    );
    h.advance_s(10);
    let r = h.send(&register("alice").cseq(2));
    assert_eq!(r.code, 200);
    assert_eq!(r.expires_of("sip:alice@192.0.2.10"), Some(290));
    assert_eq!(h.reg.stats().queries, 1);
}

// ---- Policy ----

/// max_contacts with the reject policy: the REGISTER that would exceed it fails whole.
#[test]
fn policy_max_contacts_rejects_past_the_limit() {
    let mut c = Config::default();
    c.policy.max_contacts = 2;
    let mut h = Harness::new(c);
    h.send(
        &register("alice")
            .contact("<sip:a1@192.0.2.1>")
            .contact("<sip:a2@192.0.2.2>"),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:a3@192.0.2.3>")
            .call_id("c2"),
    );
    assert_eq!(r.code, 403);
    assert!(r.reason.contains("max_contacts"));
    assert_eq!(h.lookup("alice@example.com").len(), 2);
}

/// max_contacts with evict-oldest: the least recently refreshed binding makes room.
#[test]
fn policy_max_contacts_evicts_the_oldest() {
    let mut h = Harness::new(Config {
        policy: Policy {
            max_contacts: 2,
            overflow: OverflowPolicy::EvictOldest,
            ..Policy::default()
        },
        ..Config::default()
    });
    h.send(
        &register("alice")
            .contact("<sip:a1@192.0.2.1>")
            .call_id("c1"),
    );
    h.advance_s(1);
    h.send(
        &register("alice")
            .contact("<sip:a2@192.0.2.2>")
            .call_id("c2"),
    );
    h.advance_s(1);
    h.send(
        &register("alice")
            .contact("<sip:a1@192.0.2.1>")
            .call_id("c1")
            .cseq(2),
    );
    h.advance_s(1);
    let r = h.send(
        &register("alice")
            .contact("<sip:a3@192.0.2.3>")
            .call_id("c3"),
    );
    assert_eq!(r.code, 200);
    let mut got = h.lookup("alice@example.com");
    got.sort();
    assert_eq!(
        got,
        vec!["sip:a1@192.0.2.1", "sip:a3@192.0.2.3"],
        "a2 was the stalest"
    );
    assert_eq!(h.reg.stats().bindings_evicted, 1);
}

/// One contact per AoR (save() flag 0x04): a new contact replaces the others.
#[test]
fn policy_single_contact_replaces_the_others() {
    let mut c = Config::default();
    c.domain_policies.push((
        b"example.com".to_vec().into(),
        Policy {
            single_contact: true,
            ..Policy::default()
        },
    ));
    let mut h = Harness::new(c);
    h.send(
        &register("alice")
            .contact("<sip:a1@192.0.2.1>")
            .call_id("c1"),
    );
    let r = h.send(
        &register("alice")
            .contact("<sip:a2@192.0.2.2>")
            .call_id("c2"),
    );
    assert_eq!(r.contacts().len(), 1);
    assert_eq!(h.lookup("alice@example.com"), vec!["sip:a2@192.0.2.2"]);
}

/// RFC 5626 §6: a contact with the same +sip.instance and reg-id replaces the binding even
/// when its URI changed (a phone behind a new NAT port).
#[test]
fn rfc5626_same_instance_and_reg_id_replace_the_binding() {
    let mut h = harness();
    let inst = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";
    h.send(&register("alice").contact(&format!("<sip:alice@192.0.2.10:5060>;{inst}")));
    let r = h.send(
        &register("alice")
            .contact(&format!("<sip:alice@192.0.2.10:6000>;{inst}"))
            .cseq(2),
    );
    assert_eq!(r.code, 200);
    assert_eq!(
        h.lookup("alice@example.com"),
        vec!["sip:alice@192.0.2.10:6000"]
    );
}

/// Limits: past max_bindings a new binding gets 503 with Retry-After; refreshes still work.
#[test]
fn limit_max_bindings_gives_503_with_retry_after() {
    let mut c = Config::default();
    c.limits.max_bindings = 2;
    let mut h = Harness::new(c);
    h.send(&register("a").contact("<sip:a@192.0.2.1>"));
    h.send(&register("b").contact("<sip:b@192.0.2.1>"));
    let r = h.send(&register("c").contact("<sip:c@192.0.2.1>"));
    assert_eq!(r.code, 503);
    assert!(r.header("Retry-After").is_some());
    assert_eq!(
        h.send(&register("a").contact("<sip:a@192.0.2.1>").cseq(2))
            .code,
        200
    );
}

/// RFC 3327 §5.3: Path without `Supported: path` → 420 (strict); with it, Path is echoed.
#[test]
fn rfc3327_path_needs_supported_path_and_is_echoed() {
    let mut h = harness();
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .header("Path: <sip:edge.example.com;lr>"),
    );
    assert_eq!(r.code, 420);
    assert_eq!(r.header("Unsupported"), Some("path"));
    let r = h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .header("Path: <sip:edge.example.com;lr>")
            .header("Supported: path")
            .cseq(2),
    );
    assert_eq!(r.code, 200);
    assert_eq!(r.header("Path"), Some("<sip:edge.example.com;lr>"));
    let b = h.reg.table().bindings(b"alice@example.com");
    assert_eq!(b[0].path(), b"<sip:edge.example.com;lr>");
}

// ---- Lookup and redirect ----

/// Lookup orders by q (highest first), then by most recent refresh.
#[test]
fn lookup_orders_by_q_then_most_recent() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:low@192.0.2.1>;q=0.1")
            .call_id("c1"),
    );
    h.advance_s(1);
    h.send(
        &register("alice")
            .contact("<sip:old@192.0.2.2>;q=0.9")
            .call_id("c2"),
    );
    h.advance_s(1);
    h.send(
        &register("alice")
            .contact("<sip:new@192.0.2.3>;q=0.9")
            .call_id("c3"),
    );
    assert_eq!(
        h.lookup("alice@example.com"),
        vec![
            "sip:new@192.0.2.3",
            "sip:old@192.0.2.2",
            "sip:low@192.0.2.1"
        ]
    );
}

/// RFC 3840 `methods`: a lookup for a method no contact accepts is "method not allowed".
#[test]
fn lookup_filters_by_method() {
    let mut h = harness();
    h.send(&register("alice").contact("<sip:alice@192.0.2.1>;methods=\"MESSAGE,OPTIONS\""));
    let now = h.now;
    assert!(
        matches!(h.reg.lookup(now, b"alice@example.com", Some(b"MESSAGE")), Lookup::Found(v) if v.len() == 1)
    );
    assert!(matches!(
        h.reg.lookup(now, b"alice@example.com", Some(b"INVITE")),
        Lookup::MethodNotAllowed { .. }
    ));
    assert!(matches!(
        h.reg.lookup(now, b"bob@example.com", Some(b"INVITE")),
        Lookup::NotFound
    ));
}

/// Redirect server: 302 with contacts by q, 404 for an unknown AoR, 405 with Allow.
#[test]
fn redirect_answers_302_404_405() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:a1@192.0.2.1>;q=0.2")
            .call_id("c1"),
    );
    h.send(
        &register("alice")
            .contact("<sip:a2@192.0.2.2>;q=0.8")
            .call_id("c2"),
    );
    h.send(&register("carol").contact("<sip:carol@192.0.2.3>;methods=\"MESSAGE\""));
    let r = h.send(&request("INVITE", "sip:alice@example.com"));
    assert_eq!(r.code, 302);
    let c = r.contacts();
    assert!(
        c[0].starts_with("<sip:a2@192.0.2.2>") && c[1].starts_with("<sip:a1@192.0.2.1>"),
        "{c:?}"
    );
    assert_eq!(
        h.send(&request("INVITE", "sip:nobody@example.com")).code,
        404
    );
    let r = h.send(&request("INVITE", "sip:carol@example.com"));
    assert_eq!(r.code, 405);
    assert_eq!(r.header("Allow"), Some("MESSAGE"));
}

/// OPTIONS to the registrar itself → 200 with Allow, Accept and Supported; CANCEL → 481;
/// ACK absorbed; responses dropped.
#[test]
fn options_cancel_ack_and_responses() {
    let mut h = harness();
    let r = h.send(&request("OPTIONS", "sip:example.com"));
    assert_eq!(r.code, 200);
    assert!(r.header("Allow").unwrap().contains("REGISTER"));
    assert!(r.header("Accept").is_some() && r.header("Supported").is_some());
    assert_eq!(
        h.send(&request("CANCEL", "sip:alice@example.com")).code,
        481
    );
    assert!(
        h.send_raw(request("ACK", "sip:alice@example.com").build().as_bytes())
            .is_none()
    );
    let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    assert!(h.send_raw(resp.as_bytes()).is_none());
    assert_eq!(h.reg.stats().dropped_responses, 1);
    assert_eq!(h.reg.stats().dropped_acks, 1);
}

// ---- Bad input ----

/// Malformed input with a Via gets a 400 whose reason names the problem; without one it is
/// dropped and counted. Nothing stored is lost.
#[test]
fn malformed_requests_get_400_naming_the_problem() {
    let mut h = harness();
    h.send(&register("alice").contact("<sip:alice@192.0.2.10>"));
    let no_callid = register("alice")
        .contact("<sip:alice@192.0.2.11>")
        .build()
        .replace("Call-ID: call-alice@192.0.2.10\r\n", "");
    let r = h.send_raw(no_callid.as_bytes()).unwrap();
    assert_eq!((r.code, r.reason.as_str()), (400, "Missing Call-ID header"));
    let bad_contact = register("alice")
        .contact("<sip:alice@192.0.2.11;>")
        .cseq(2)
        .build();
    let r = h.send_raw(bad_contact.as_bytes()).unwrap();
    assert_eq!(r.code, 400);
    assert!(
        r.reason.starts_with("Malformed Contact header"),
        "{}",
        r.reason
    );
    assert!(h.send_raw(b"\x00\x01\x02 not sip at all").is_none());
    assert!(
        h.send_raw(b"REGISTER sip:example.com SIP/2.0\r\nTo: x\r\n\r\n")
            .is_none(),
        "no Via: dropped"
    );
    let bad_version = register("alice")
        .build()
        .replace("SIP/2.0\r\n", "SIP/3.0\r\n");
    assert_eq!(h.send_raw(bad_version.as_bytes()).unwrap().code, 505);
    assert_eq!(h.lookup("alice@example.com"), vec!["sip:alice@192.0.2.10"]);
    assert_eq!(h.reg.stats().dropped_malformed, 2);
}

// ---- Expiry ----

/// Expired bindings vanish from lookups at their time and are reaped within one tick.
#[test]
fn expiry_removes_bindings_on_time() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(60),
    );
    h.advance_s(59);
    assert_eq!(h.lookup("alice@example.com").len(), 1);
    h.advance_s(1);
    assert!(
        h.lookup("alice@example.com").is_empty(),
        "not served at its expiry time"
    );
    h.advance_s(1);
    assert_eq!(h.reg.table().binding_count(), 0, "reaped within one tick");
    assert_eq!(h.reg.stats().bindings_expired, 1);
}

/// A refreshed binding is never expired by its old timer.
#[test]
fn expiry_refresh_outlives_the_old_timer() {
    let mut h = harness();
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(60),
    );
    h.advance_s(50);
    h.send(
        &register("alice")
            .contact("<sip:alice@192.0.2.10>")
            .expires(60)
            .cseq(2),
    );
    h.advance_s(20);
    assert_eq!(h.lookup("alice@example.com").len(), 1);
    assert_eq!(h.reg.table().binding_count(), 1);
    h.advance_s(41);
    assert_eq!(h.reg.table().binding_count(), 0);
}
