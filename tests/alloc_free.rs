//! Proves that the per-packet parse path never touches the heap.
//!
//! Goal: a registrar shard parses every datagram it receives; one allocation per message would
//! be ~30 allocator calls per REGISTER in rsip's style (benchmarking.md measured 31) and a
//! contention point for thread-per-core. The `sip` module documents "nothing here allocates";
//! this test holds it to that.
//!
//! Method: a `#[global_allocator]` wrapper around `System` counts allocations per thread (a
//! const-initialised thread-local, so counting itself never allocates). The test thread resets
//! its counter, parses a realistic ~640-byte REGISTER with `Request::parse` into a stack header
//! array, touches every typed view the registrar uses, and asserts the counter is still zero.
//! A positive control proves the counter sees allocations at all.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use registrar::sip::header::{self, Hdr};
use registrar::sip::{
    ContactItem, Credentials, Framing, Header, ParserConfig, Request, Status, message,
};

/// The REGISTER the parse benchmark (bench/parse.rs) measures, shared through
/// tests/data/register-644.sip: RFC 5626 outbound contact, RFC 3581 rport, digest credentials
/// with every parameter.
const REGISTER: &[u8] = include_bytes!("data/register-644.sip");

/// Counts allocations made by the current thread while `COUNTING` is set on it.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: during thread teardown the thread-locals may be gone; such allocations are
    // not ours to count.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping touches only
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns how many allocations this thread made during it.
fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn register_is_550_to_650_bytes_with_crlf() {
    assert!(
        (550..=650).contains(&REGISTER.len()),
        "{} bytes",
        REGISTER.len()
    );
    assert!(REGISTER.ends_with(b"\r\n\r\n"));
    // Every LF is part of a CRLF.
    let lfs = REGISTER.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(lfs, REGISTER.windows(2).filter(|w| w == b"\r\n").count());
}

#[test]
fn counter_sees_allocations() {
    let n = allocations_during(|| {
        let v: Vec<u8> = black_box(Vec::with_capacity(64));
        black_box(&v);
    });
    assert_eq!(n, 1, "the counting allocator must see a Vec allocation");
}

/// Everything the registrar reads from a REGISTER, parsed and compared, without a single heap
/// allocation.
#[test]
fn parsing_and_touching_every_typed_view_allocates_nothing() {
    let config = ParserConfig::default();
    let mut checks = 0usize;
    let n = allocations_during(|| {
        let mut headers = [Header::EMPTY; 32];
        let parsed = Request::parse(REGISTER, &mut headers, Framing::Datagram, &config);
        let Ok(Status::Complete(req)) = parsed else {
            panic!("REGISTER must parse: {parsed:?}");
        };
        black_box(&req);
        assert_eq!(req.msg.len, REGISTER.len());
        assert_eq!(req.msg.headers.len(), 13);
        assert_eq!(req.cseq.number, 4711);
        assert_eq!(req.expires, Some(600));
        assert_eq!(req.max_forwards, Some(70));
        assert_eq!(req.call_id, b"a84b4c76@10.0.0.2");
        assert_eq!(req.from.tag(), Some(&b"a73ksz"[..]));
        assert_eq!(req.to.tag(), None);
        assert!(req.from.uri.rfc_eq(&req.to.uri));

        // Via: every element, branch and the bare rport.
        let mut vias = 0;
        for via in req.vias() {
            vias += 1;
            assert_eq!(via.branch(), Some(&b"z9hG4bK74bf9"[..]));
            assert_eq!(via.rport(), Some(None));
            assert_eq!(via.received(), None);
            black_box(via.host);
        }
        assert_eq!(vias, 1);
        assert_eq!(req.via.transport, b"UDP");

        // Contacts with their RFC 5626 / RFC 3261 parameters.
        let mut contacts = 0;
        for item in req.contacts() {
            let Ok(ContactItem::Value(c)) = item else {
                panic!("contact: {item:?}");
            };
            contacts += 1;
            assert_eq!(c.expires, Some(600));
            assert_eq!(c.q, Some(700));
            assert_eq!(
                c.instance(),
                Some(&b"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"[..])
            );
            assert_eq!(c.reg_id(), Some(Ok(1)));
            assert_eq!(c.methods(), None);
            black_box(c.addr.uri.params().count());
        }
        assert_eq!(contacts, 1);
        assert!(!req.has_star_contact());

        // Two contacts compared as the binding table does (RFC 3261 §19.1.4): the one in this
        // request and the same binding parsed from a second copy of the request.
        let mut headers2 = [Header::EMPTY; 32];
        let Ok(Status::Complete(again)) =
            Request::parse(REGISTER, &mut headers2, Framing::Datagram, &config)
        else {
            panic!("second parse");
        };
        let Some(Ok(ContactItem::Value(a))) = req.contacts().next() else {
            panic!()
        };
        let Some(Ok(ContactItem::Value(b))) = again.contacts().next() else {
            panic!()
        };
        assert!(a.addr.uri.rfc_eq(&b.addr.uri));
        assert!(!a.addr.uri.rfc_eq(&req.to.uri));

        // Digest credentials, every parameter.
        let Some(Ok(Credentials::Digest(d))) = req.authorization() else {
            panic!("authorization");
        };
        assert_eq!(d.username, Some(&b"bob"[..]));
        assert_eq!(d.realm, Some(&b"ex.com"[..]));
        assert_eq!(d.nonce, Some(&b"ea9c8e88"[..]));
        assert_eq!(d.uri, Some(&b"sip:ex.com"[..]));
        assert_eq!(d.response, Some(&b"dfe56131d1958046689d83306477ecc5"[..]));
        assert_eq!(d.algorithm, Some(&b"MD5"[..]));
        assert_eq!(d.cnonce, Some(&b"0a4f113b"[..]));
        assert_eq!(d.opaque, Some(&b"5ccc069c"[..]));
        assert_eq!(d.qop, Some(&b"auth"[..]));
        assert_eq!(d.nc, Some(&b"00000001"[..]));

        // Option tags and other lists.
        assert!(req.lists_option(Hdr::Supported, b"outbound"));
        assert!(req.lists_option(Hdr::Supported, b"PATH"));
        assert!(!req.lists_option(Hdr::Require, b"outbound"));
        assert_eq!(req.option_tags(Hdr::Supported).count(), 2);
        let allow = req.msg.header(Hdr::Allow).expect("Allow");
        assert_eq!(header::elements(allow.value).count(), 3);
        assert_eq!(req.paths().count(), 0);
        assert_eq!(
            req.msg.header(Hdr::UserAgent).map(|h| h.value),
            Some(&b"UA/1.0"[..])
        );
        assert_eq!(req.msg.content_length, Some(0));
        assert!(req.msg.body.is_empty());
        assert!(req.check_all_headers().is_ok());
        assert_eq!(req.uri.host_raw, b"ex.com");

        // Framing alone, as a stream transport would call it.
        let mut headers3 = [Header::EMPTY; 32];
        let framed = message::parse(REGISTER, &mut headers3, Framing::Stream, &config);
        assert!(matches!(framed, Ok(Status::Complete(m)) if m.len == REGISTER.len()));
        checks += 1;
    });
    assert_eq!(checks, 1, "the checks ran");
    assert_eq!(
        n, 0,
        "parsing a REGISTER and reading its typed views allocated {n} times"
    );
}

/// Error paths are per-packet too: rejecting garbage (and building the reason phrase for the
/// 400) must not allocate either.
#[test]
fn rejecting_a_malformed_request_allocates_nothing() {
    let config = ParserConfig::default();
    let bad = b"REGISTER sip:ex.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2\r\nCSeq: x\r\n\r\n";
    let n = allocations_during(|| {
        let mut headers = [Header::EMPTY; 32];
        let Err(err) = Request::parse(bad, &mut headers, Framing::Datagram, &config) else {
            panic!("must be rejected");
        };
        black_box(err.reason());
    });
    assert_eq!(n, 0);
}

/// The registrar's hot path: once its buffers have grown, refreshing a binding (parse, §10.3,
/// 200 OK written, timer moved) allocates nothing, and neither does a redirect lookup.
#[test]
fn refresh_and_redirect_allocate_nothing() {
    use registrar::registrar::{Config, Millis, Registrar, Source, Transport, UnixTime};
    let src = Source {
        addr: "10.0.0.2:5060".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut reg = Registrar::new(Config::default(), Millis(0)).unwrap();
    let mut out = Vec::with_capacity(4096);
    let refresh = |cseq: u32| {
        String::from_utf8(REGISTER.to_vec())
            .unwrap()
            .replace("CSeq: 4711", &format!("CSeq: {cseq}"))
    };
    let invite = "INVITE sip:bob@ex.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1\r\n\
        From: <sip:alice@ex.com>;tag=1\r\nTo: <sip:bob@ex.com>\r\nCall-ID: inv1\r\n\
        CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    // Warm-up: the first REGISTERs create the binding and grow every scratch buffer, the
    // journal and the buffer the shell drains it into (as the shell does, once per turn).
    let messages: Vec<String> = (4711..4720).map(refresh).collect();
    let wall = UnixTime(1_795_564_800);
    let mut journal = Vec::new();
    for (i, m) in messages[..3].iter().enumerate() {
        reg.handle(Millis(i as u64), wall, src, m.as_bytes(), &mut out);
        reg.take_journal(&mut journal);
    }
    reg.handle(Millis(3), wall, src, invite.as_bytes(), &mut out);
    let n = allocations_during(|| {
        for (i, m) in messages[3..].iter().enumerate() {
            let now = Millis(4 + i as u64);
            reg.handle(now, wall, src, m.as_bytes(), &mut out);
            assert!(
                out.starts_with(b"SIP/2.0 200 OK"),
                "{}",
                String::from_utf8_lossy(&out)
            );
            reg.take_journal(&mut journal);
            assert!(!journal.is_empty(), "the refresh is journalled");
            reg.handle(now, wall, src, invite.as_bytes(), &mut out);
            assert!(
                out.starts_with(b"SIP/2.0 302"),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
    });
    assert_eq!(n, 0, "allocations on the refresh/redirect path");
}
