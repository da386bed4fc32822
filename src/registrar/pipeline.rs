//! RFC 3261 §10.3, step by step, and the redirect answers for other methods.
//!
//! The REGISTER path plans every change first (steps 6 and 7 validate all contacts, Call-ID
//! and CSeq rules, expiry limits and contact limits) and only then commits, so a request
//! either applies entirely or not at all.

use std::hash::BuildHasher;
use std::net::SocketAddr;

use smallvec::SmallVec;

use super::bindings::{self, Binding, BindingParts, BindingTable, Q_NONE};
use super::response::{self, begin, contact_line};
use super::{
    Authorizer, DropReason, Lookup, Millis, Outcome, OverflowPolicy, Registrar, Source, UnixTime,
    UserCase,
};
use crate::sip::header::{ContactValue, Hdr};
use crate::sip::message::{Error as MessageError, Framing, Header, Method, Status};
use crate::sip::request::{ContactItem, ReasonPhrase, Request, RequestError};
use crate::sip::scan;
use crate::sip::uri::{Host, Uri};
use crate::sip::writer::{self, ViaAmend};

/// Header slots on the stack for one message: the hard ceiling of
/// `ParserConfig::limits.max_headers`.
pub const HEADER_SLOTS: usize = 128;

/// Header slots tried first (see [`handle`]).
const FEW_HEADER_SLOTS: usize = 32;

/// Contacts one REGISTER may carry, the hard ceiling of `Limits::max_contacts_per_request`.
pub const CONTACT_SLOTS: usize = 32;

/// Option tags this registrar supports (§10.3 step 2; RFC 3327 Path).
const SUPPORTED: &[&[u8]] = &[b"path"];

/// Methods a redirect server answers for (Allow in OPTIONS and 405).
const ALLOW: &[u8] =
    b"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INFO, MESSAGE, REFER, UPDATE, PRACK";

/// Reusable buffers, so a request allocates nothing once they have grown.
#[derive(Default)]
pub(super) struct Scratch {
    aor: Vec<u8>,
    params: Vec<u8>,
    path: Vec<u8>,
    extra: Vec<u8>,
    pub(super) order: Vec<u32>,
    marks: Vec<Mark>,
    /// Last single Allow header text and its method bits.
    allow: (Vec<u8>, u16),
    date_second: u64,
    date: Vec<u8>,
}

/// What the commit does to an existing binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Keep,
    Touched,
    Remove,
    Evict,
}

/// What the commit does for one Contact of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Add,
    Refresh(usize),
    Remove(usize),
    Ignore,
}

#[derive(Clone, Copy)]
struct Planned<'b> {
    contact: ContactValue<'b>,
    expires_s: u32,
    action: Action,
}

pub(super) fn handle<A: Authorizer>(
    r: &mut Registrar<A>,
    now: Millis,
    wall: UnixTime,
    src: Source,
    msg: &[u8],
    out: &mut Vec<u8>,
) -> Outcome {
    out.clear();
    r.stats.requests += 1;
    let slots = r.config.parser.limits.max_headers.min(HEADER_SLOTS);
    // The header array is initialised slot by slot before parsing (about 500 instructions
    // for all of them), and most requests carry a dozen headers: a small array first, the
    // full one only when the small one runs out. Parsing is sequential, so a message that
    // fits gets the same answer either way, and one that does not is parsed again.
    let mut few = [Header::EMPTY; FEW_HEADER_SLOTS];
    let parsed = Request::parse(
        msg,
        &mut few[..slots.min(FEW_HEADER_SLOTS)],
        Framing::Datagram,
        &r.config.parser,
    );
    let ran_out = matches!(
        parsed,
        Err(RequestError::Message(MessageError::TooManyHeaders))
    );
    if slots <= FEW_HEADER_SLOTS || !ran_out {
        return answer(r, now, wall, src, msg, &parsed, out);
    }
    let mut headers = [Header::EMPTY; HEADER_SLOTS];
    let parsed = Request::parse(
        msg,
        &mut headers[..slots],
        Framing::Datagram,
        &r.config.parser,
    );
    answer(r, now, wall, src, msg, &parsed, out)
}

/// Answers a parsed (or unparseable) message.
fn answer<A: Authorizer>(
    r: &mut Registrar<A>,
    now: Millis,
    wall: UnixTime,
    src: Source,
    msg: &[u8],
    parsed: &Result<Status<Request<'_, '_>>, RequestError>,
    out: &mut Vec<u8>,
) -> Outcome {
    match parsed {
        // By reference: moving the request out of the result would copy it.
        Ok(Status::Complete(req)) => dispatch(r, now, wall, src, msg, req, out),
        Err(RequestError::NotARequest) => {
            r.stats.dropped_responses += 1;
            Outcome::Drop(DropReason::Response)
        }
        Ok(Status::Partial) => malformed(r, src, msg, 400, b"Incomplete message", out),
        Err(e) => {
            let code = match e {
                RequestError::Message(MessageError::Version) => 505,
                RequestError::Message(MessageError::TooLarge) => 513,
                _ => 400,
            };
            malformed(r, src, msg, code, e.reason().as_bytes(), out)
        }
    }
}

fn malformed<A: Authorizer>(
    r: &mut Registrar<A>,
    src: Source,
    msg: &[u8],
    code: u16,
    reason: &[u8],
    out: &mut Vec<u8>,
) -> Outcome {
    r.stats.malformed += 1;
    let tag = to_tag(&r.tag_seed, msg.get(..256).unwrap_or(msg));
    if response::salvage_error(out, msg, code, reason, &tag) {
        Outcome::Respond {
            code,
            dest: src.addr,
        }
    } else {
        r.stats.dropped_malformed += 1;
        Outcome::Drop(DropReason::Malformed)
    }
}

fn dispatch<A: Authorizer>(
    r: &mut Registrar<A>,
    now: Millis,
    wall: UnixTime,
    src: Source,
    buf: &[u8],
    req: &Request<'_, '_>,
    out: &mut Vec<u8>,
) -> Outcome {
    let cx = Cx::new(r, src, buf, req);
    // §8.2.2.3: a UAS refuses a request that requires an extension it does not support
    // (ACK and CANCEL excepted).
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        if let Some(o) = check_require(r, &cx, out) {
            return o;
        }
    }
    match req.method {
        Method::Register => register(r, &cx, now, wall, req, out),
        Method::Ack => {
            r.stats.dropped_acks += 1;
            Outcome::Drop(DropReason::Ack)
        }
        // We answer every request at once, so no transaction is ever pending to cancel.
        Method::Cancel => cx.simple(out, 481, b"Call/Transaction Does Not Exist"),
        Method::Options if req.uri.is_sip() && req.uri.user.is_none() => options(r, &cx, wall, out),
        _ => redirect(r, &cx, now, req, out),
    }
}

/// Per-request response context: where the answer goes and the headers it copies.
struct Cx<'r, 'b, 'h> {
    /// The bytes `req` was parsed from.
    buf: &'r [u8],
    req: &'r Request<'b, 'h>,
    amend: ViaAmend,
    tag: [u8; 16],
    dest: SocketAddr,
    source_transport: super::Transport,
}

impl<'r, 'b, 'h> Cx<'r, 'b, 'h> {
    fn new<A: Authorizer>(
        r: &Registrar<A>,
        src: Source,
        buf: &'r [u8],
        req: &'r Request<'b, 'h>,
    ) -> Self {
        Cx {
            buf,
            req,
            amend: ViaAmend {
                source_ip: src.addr.ip(),
                source_port: src.addr.port(),
            },
            tag: to_tag(&r.tag_seed, req.call_id),
            dest: response_dest(src, req),
            source_transport: src.transport,
        }
    }

    #[inline]
    fn begin(&self, out: &mut Vec<u8>, code: u16, reason: &[u8]) {
        begin(out, self.buf, self.req, self.amend, &self.tag, code, reason);
    }

    /// A response with no extra headers.
    fn simple(&self, out: &mut Vec<u8>, code: u16, reason: &[u8]) -> Outcome {
        self.with_headers(out, code, reason, b"")
    }

    /// A response with extra header lines (each ending in CRLF).
    fn with_headers(&self, out: &mut Vec<u8>, code: u16, reason: &[u8], extra: &[u8]) -> Outcome {
        self.begin(out, code, reason);
        out.extend_from_slice(extra);
        writer::finish_empty(out);
        Outcome::Respond {
            code,
            dest: self.dest,
        }
    }
}

/// §18.2.2 / RFC 3581: UDP responses go to the source IP, and to the source port when the
/// request asked with `rport`, else to the sent-by port (default 5060). Stream responses use
/// the connection.
fn response_dest(src: Source, req: &Request<'_, '_>) -> SocketAddr {
    if src.transport.is_stream() || req.via.rport().is_some() {
        return src.addr;
    }
    SocketAddr::new(src.addr.ip(), req.via.port.unwrap_or(5060))
}

/// A To tag that is the same for every retransmission of a request: the hash of the Call-ID
/// in lower-case hex, least significant nibble first.
fn to_tag(seed: &foldhash::quality::RandomState, call_id: &[u8]) -> [u8; 16] {
    let h = seed.hash_one(call_id);
    let mut tag = [0u8; 16];
    tag[..8].copy_from_slice(&hex8(h as u32));
    tag[8..].copy_from_slice(&hex8((h >> 32) as u32));
    tag
}

/// The eight nibbles of `x` as lower-case hex, least significant first, computed a byte lane
/// per nibble in one `u64` (a table lookup per nibble costs several times more).
fn hex8(x: u32) -> [u8; 8] {
    // Spread the nibbles one per byte: nibble `i` in byte `i`.
    let x = u64::from(x);
    let x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    let x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    let x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // Bytes of 10 and more get bit 0 set here; they move from after '9' to 'a'.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * (b'a' - b'9' - 1) as u64).to_le_bytes()
}

/// The canonical AoR (§10.3 step 5): `user@host` with the user unescaped and the host in
/// lower case; URI parameters, port and scheme dropped. Returns false for a URI with no
/// host (not SIP/SIPS).
pub(super) fn canonical_aor(uri: &Uri<'_>, case: UserCase, out: &mut Vec<u8>) -> bool {
    out.clear();
    let Some(host) = uri.host else { return false };
    if let Some(user) = uri.user {
        if user.contains(&b'%') {
            out.extend(scan::unescaped(user).map(|(b, _)| match case {
                UserCase::Sensitive => b,
                UserCase::Insensitive => b.to_ascii_lowercase(),
            }));
        } else {
            // Nothing to unescape (the usual case): one copy.
            out.extend_from_slice(user);
            if case == UserCase::Insensitive {
                out.make_ascii_lowercase();
            }
        }
        out.push(b'@');
    }
    let host_raw = match host {
        Host::Name(n) => n.strip_suffix(b".").unwrap_or(n),
        _ => uri.host_raw,
    };
    let host_start = out.len();
    out.extend_from_slice(host_raw);
    out[host_start..].make_ascii_lowercase();
    true
}

/// The canonical AoR of `uri` (what [`canonical_aor`] writes) as a slice of the URI's own
/// text, when that text already is canonical: `user@host` (or `host`) written contiguously,
/// no escape in the user part, nothing to lower-case (in the user part only when `case` folds
/// it) and no trailing dot on a host name to drop. Nearly every REGISTER's To URI is, and then
/// the key is borrowed instead of built. `None` means "build it": never a different key.
pub(super) fn canonical_aor_in_place<'b>(uri: &Uri<'b>, case: UserCase) -> Option<&'b [u8]> {
    let host_raw = match uri.host? {
        // A trailing dot is dropped by the canonical form.
        Host::Name(n) if n.last() == Some(&b'.') => return None,
        Host::Name(n) => n,
        _ => uri.host_raw,
    };
    let raw = uri.raw;
    // Offsets into `raw`, confirmed below by comparing addresses: a slice of `raw` at that
    // offset is then the very same bytes.
    let offset = |s: &[u8]| (s.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    let host_at = offset(host_raw);
    let host = raw.get(host_at..host_at.checked_add(host_raw.len())?)?;
    if !std::ptr::eq(host, host_raw) {
        return None;
    }
    let Some(user) = uri.user else {
        return (!has_in_range(host, b'A', b'Z')).then_some(host);
    };
    // `user@host` with nothing between (a password sits between them).
    let user_at = offset(user);
    let at = user_at.checked_add(user.len())?;
    if at.checked_add(1) != Some(host_at) || raw.get(at) != Some(&b'@') {
        return None;
    }
    let user_in_raw = raw.get(user_at..at)?;
    if !std::ptr::eq(user_in_raw, user) {
        return None;
    }
    let key = raw.get(user_at..host_at + host.len())?;
    // The usual key has neither upper case nor `%` anywhere: one pass. Otherwise each part
    // is checked for what matters in it.
    if !has_upper_or_percent(key) {
        return Some(key);
    }
    let borrow = !has_in_range(host, b'A', b'Z')
        && !has_in_range(user, b'%', b'%')
        && (case == UserCase::Sensitive || !has_in_range(user, b'A', b'Z'));
    borrow.then_some(key)
}

/// True if a byte of `s` is in `lo..=hi` (`1 <= lo <= hi < 0x80`), eight bytes at a time:
/// AoR parts are about ten bytes, where a search routine's set-up would cost more than the
/// search.
fn has_in_range(s: &[u8], lo: u8, hi: u8) -> bool {
    debug_assert!(1 <= lo && lo <= hi && hi < 0x80);
    any_word(s, |x| between(x, lo, hi), |b| (lo..=hi).contains(&b))
}

/// True if `s` holds an ASCII upper-case letter or `%`: [`has_in_range`] for both at once.
#[inline]
fn has_upper_or_percent(s: &[u8]) -> bool {
    any_word(
        s,
        |x| between(x, b'A', b'Z') | between(x, b'%', b'%'),
        |b| b.is_ascii_uppercase() || b == b'%',
    )
}

/// Bit 7 of each byte of `x` set where that byte is in `lo..=hi` (`1 <= lo <= hi < 0x80`):
/// the "hasbetween" of Sean Anderson's bit hacks for `lo - 1 < b < hi + 1`, exact for every
/// byte, 0x80 and up included, because the high bit of the byte itself is masked out by `!x`.
#[inline(always)]
fn between(x: u64, lo: u8, hi: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = ONES * 0x7f;
    const HIGHS: u64 = ONES * 0x80;
    let (m, n) = (u64::from(lo - 1), u64::from(hi + 1));
    let low = x & LOW7;
    (ONES * (127 + n)).wrapping_sub(low) & !x & (low + ONES * (127 - m)) & HIGHS
}

/// True if `word_test` is non-zero for a little-endian word of `s` (the last one overlapping
/// the others when the length is not a multiple of eight), or, for `s` shorter than a word,
/// `byte_test` holds for one of its bytes.
#[inline(always)]
fn any_word(s: &[u8], word_test: impl Fn(u64) -> u64, byte_test: impl Fn(u8) -> bool) -> bool {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_le_bytes(w)
    };
    if s.len() < 8 {
        return s.iter().any(|&b| byte_test(b));
    }
    let mut found = word_test(word(s.len() - 8));
    let mut i = 0;
    while i + 8 <= s.len() {
        found |= word_test(word(i));
        i += 8;
    }
    found != 0
}

/// Longest AoR key [`aor_hint`] builds.
pub(super) const HINT_BYTES: usize = 128;

/// The canonical AoR (as [`canonical_aor`] gives it) of the To URI of the request in `msg`,
/// found by a quick scan that validates nothing: a hint for prefetching the AoR's table
/// entries before the request is handled. Writes the key into `key` and returns its length;
/// `None` when the quick scan does not find a plain `sip:`/`sips:` To URI (compact or
/// spaced header names other than `To:`/`t:`, escapes in the user part, long keys). A wrong
/// hint costs a wasted prefetch, nothing else.
pub(super) fn aor_hint(msg: &[u8], case: UserCase, key: &mut [u8; HINT_BYTES]) -> Option<usize> {
    // Header lines start after the start line; the blank line ends them.
    let mut at = memchr::memchr(b'\n', msg)? + 1;
    let value = loop {
        let line_end = memchr::memchr(b'\n', &msg[at..]).map_or(msg.len(), |e| at + e);
        let line = &msg[at..line_end];
        if line.is_empty() || line == b"\r" {
            return None;
        }
        let colon = match line {
            [t, o, b':', ..] if t | 0x20 == b't' && o | 0x20 == b'o' => 3,
            [t, b':', ..] if t | 0x20 == b't' => 2,
            _ => 0,
        };
        if colon > 0 {
            break &line[colon..];
        }
        at = line_end + 1;
        if at >= msg.len() {
            return None;
        }
    };
    let uri = match memchr::memchr(b'<', value) {
        Some(lt) => {
            let rest = &value[lt + 1..];
            &rest[..memchr::memchr(b'>', rest)?]
        }
        None => {
            let v = scan::trim_lws(value);
            &v[..memchr::memchr(b';', v).unwrap_or(v.len())]
        }
    };
    let rest = if uri.len() > 4 && scan::eq_lower(&uri[..4], b"sip:") {
        &uri[4..]
    } else if uri.len() > 5 && scan::eq_lower(&uri[..5], b"sips:") {
        &uri[5..]
    } else {
        return None;
    };
    let rest = &rest[..scan::find_any(rest, b";?>").unwrap_or(rest.len())];
    let (user, hostport) = match memchr::memchr(b'@', rest) {
        Some(a) => {
            let userinfo = &rest[..a];
            let user = &userinfo[..memchr::memchr(b':', userinfo).unwrap_or(userinfo.len())];
            (Some(user), &rest[a + 1..])
        }
        None => (None, rest),
    };
    let host = if hostport.first() == Some(&b'[') {
        &hostport[..memchr::memchr(b']', hostport)? + 1]
    } else {
        let h = &hostport[..memchr::memchr(b':', hostport).unwrap_or(hostport.len())];
        h.strip_suffix(b".").unwrap_or(h)
    };
    let mut len = 0;
    if let Some(user) = user {
        if user.is_empty() || user.contains(&b'%') || user.len() + 1 + host.len() > HINT_BYTES {
            return None;
        }
        key[..user.len()].copy_from_slice(user);
        if case == UserCase::Insensitive {
            key[..user.len()].make_ascii_lowercase();
        }
        key[user.len()] = b'@';
        len = user.len() + 1;
    }
    if host.is_empty() || len + host.len() > HINT_BYTES {
        return None;
    }
    key[len..len + host.len()].copy_from_slice(host);
    key[len..len + host.len()].make_ascii_lowercase();
    Some(len + host.len())
}

/// §10.3 step 2 / §8.2.2.3: every option tag in Require must be supported; otherwise 420
/// listing the others in Unsupported.
fn check_require<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    let req = cx.req;
    // The usual request has no Require: nothing to check.
    if !req.msg.has(Hdr::Require) {
        return None;
    }
    let unsupported = &mut r.scratch.extra;
    unsupported.clear();
    let mut malformed = false;
    for tag in req.option_tags(Hdr::Require) {
        let Ok(tag) = tag else {
            malformed = true;
            break;
        };
        if !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)) {
            unsupported.extend_from_slice(if unsupported.is_empty() {
                b"Unsupported: "
            } else {
                b", "
            });
            unsupported.extend_from_slice(tag);
        }
    }
    let outcome = if malformed {
        Some(cx.simple(out, 400, b"Malformed Require header"))
    } else if !unsupported.is_empty() {
        unsupported.extend_from_slice(b"\r\n");
        Some(cx.with_headers(out, 420, b"Bad Extension", unsupported))
    } else {
        None
    };
    if outcome.is_some() && req.method == Method::Register {
        r.stats.registers += 1;
        r.stats.rejected += 1;
    }
    outcome
}

fn register<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    now: Millis,
    wall: UnixTime,
    req: &Request<'_, '_>,
    out: &mut Vec<u8>,
) -> Outcome {
    r.stats.registers += 1;
    let reject = |r: &mut Registrar<A>, out: &mut Vec<u8>, code: u16, reason: &[u8]| {
        r.stats.rejected += 1;
        cx.simple(out, code, reason)
    };

    // Step 1: the Request-URI names a domain we hold bindings for.
    if !req.uri.is_sip() {
        return reject(r, out, 416, b"Unsupported URI Scheme in Request-URI");
    }
    if !r.config.serves(req.uri.host_raw) {
        return reject(r, out, 403, b"Domain not served here");
    }

    // Step 2 (Require) was checked for every method in `dispatch`.

    // Step 5 (prepared before 3/4, which authorise for this AoR).
    if req.to.uri.is_sip() {
        if let Some(aor) = canonical_aor_in_place(&req.to.uri, r.config.user_case) {
            return register_for_aor(r, cx, now, wall, req, aor, true, out);
        }
    }
    let mut aor = std::mem::take(&mut r.scratch.aor);
    let aor_ok = req.to.uri.is_sip() && canonical_aor(&req.to.uri, r.config.user_case, &mut aor);
    let outcome = register_for_aor(r, cx, now, wall, req, &aor, aor_ok, out);
    r.scratch.aor = aor;
    outcome
}

#[allow(clippy::too_many_arguments)]
fn register_for_aor<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    now: Millis,
    wall: UnixTime,
    req: &Request<'_, '_>,
    aor: &[u8],
    aor_ok: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    // Steps 3 and 4: authentication and authorisation for this AoR.
    let extra = &mut r.scratch.extra;
    extra.clear();
    let proof = match r.auth.authorize(now, req, aor, extra) {
        Ok(p) => p,
        Err(rejection) => {
            r.stats.rejected += 1;
            return cx.with_headers(out, rejection.code, rejection.reason.as_bytes(), extra);
        }
    };

    let mut fail = |code: u16, reason: &[u8]| {
        r.stats.rejected += 1;
        cx.simple(out, code, reason)
    };
    // Step 5: the AoR must be a SIP URI in a domain we serve.
    if !aor_ok {
        // RFC 4475 §3.3.4: "the To header field is required to contain a SIP or SIPS URI as
        // an AOR" — a malformed request, not an unknown user.
        return fail(400, b"Bad Request: To must be a SIP or SIPS URI");
    }
    if !r.config.serves(req.to.uri.host_raw) {
        return fail(404, b"Not Found: AoR domain not served here");
    }
    // RFC 3327 §5.3: Path only with the UA's consent (strict mode).
    let has_path = req.msg.has(Hdr::Path);
    // Supported is only read when there is a Path to consent to.
    let path_supported = has_path && req.lists_option(Hdr::Supported, b"path");
    if has_path && r.config.path_strict && !path_supported {
        r.stats.rejected += 1;
        return cx.with_headers(
            out,
            420,
            b"Bad Extension: Path needs Supported: path",
            b"Unsupported: path\r\n",
        );
    }
    commit(
        r,
        cx,
        now,
        wall,
        req,
        proof,
        has_path && path_supported,
        out,
    )
}

/// Steps 6 to 8: plan every contact, validate, commit all or nothing, answer.
#[allow(clippy::too_many_arguments)]
fn commit<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    now: Millis,
    wall: UnixTime,
    req: &Request<'_, '_>,
    proof: super::Authorized<'_>,
    echo_path: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    let aor = proof.aor();
    let to_host = req.to.uri.host_raw;
    let policy = *r
        .config
        .policy_for(to_host.strip_suffix(b".").unwrap_or(to_host));
    let limits = r.config.limits;
    let window_ms = r.config.retransmit_window_ms;
    let slot = r.table.find(aor);
    let existing: &[Binding] = slot.map_or(&[], |i| &r.table.slot(i).bindings);

    macro_rules! fail {
        ($code:expr, $reason:expr) => {{
            r.stats.rejected += 1;
            return cx.simple(out, $code, $reason);
        }};
    }

    // Gather the contacts (every element of every Contact header, in order).
    let max_contacts_in_request = limits.max_contacts_per_request.min(CONTACT_SLOTS);
    // On the stack, and only the slots used are written (an array of `Option`s would store
    // a `None` in every slot first).
    let mut plan: SmallVec<[Planned<'_>; CONTACT_SLOTS]> = SmallVec::new();
    let mut n = 0;
    let mut star = false;
    let mut elements = 0;
    for item in req.contacts() {
        elements += 1;
        match item {
            Err(e) => {
                let mut reason = ReasonPhrase::default();
                reason.push("Malformed Contact header: ");
                reason.push(e.as_str());
                fail!(400, reason.as_bytes());
            }
            Ok(ContactItem::Star) => star = true,
            Ok(ContactItem::Value(contact)) => {
                if n == max_contacts_in_request {
                    fail!(403, b"Too many contacts in one request");
                }
                plan.push(Planned {
                    contact,
                    expires_s: 0,
                    action: Action::Ignore,
                });
                n += 1;
            }
        }
    }

    // Step 6: `Contact: *` only alone and with Expires: 0; then the Call-ID/CSeq rule.
    if star {
        if elements != 1 {
            fail!(400, b"Invalid use of Contact: * with other contacts");
        }
        if req.expires != Some(0) {
            fail!(400, b"Invalid use of Contact: * without Expires: 0");
        }
        let mut retransmission = false;
        for b in existing.iter().filter(|b| b.is_live(now)) {
            match cseq_check(b, req, now, window_ms) {
                CSeqCheck::Newer => {}
                CSeqCheck::Retransmission => retransmission = true,
                CSeqCheck::Stale => fail!(400, b"Invalid CSeq: not higher than the binding's"),
            }
        }
        if retransmission {
            r.stats.retransmissions += 1;
            return ok(r, cx, now, wall, req, slot, echo_path, out);
        }
        if let Some(i) = slot {
            let removed = r.table.slot(i).bindings.len() as u64;
            r.table.update(aor, Some(i), |v| v.clear());
            r.stats.bindings_removed += removed;
            if !policy.memory_only {
                r.journal.record(aor, &[], now, wall);
            }
        }
        r.stats.accepted += 1;
        // Every binding went: the slot is freed.
        return ok(r, cx, now, wall, req, None, echo_path, out);
    }

    // No Contact: a query (§10.2.3); state untouched.
    if n == 0 {
        r.stats.queries += 1;
        return ok(r, cx, now, wall, req, slot, echo_path, out);
    }

    if req.call_id.len() > limits.max_call_id_bytes {
        fail!(400, b"Call-ID too long");
    }

    // Step 7, planning: expiry, matching, Call-ID/CSeq, per contact.
    let mut retransmission = false;
    let mut kept_single = false;
    for k in 0..n {
        // By reference: a planned contact is a few hundred bytes, and copying it in and out
        // of the plan costs more than the checks below.
        let (earlier, rest) = plan.split_at_mut(k);
        let p = &mut rest[0];
        let c = &p.contact;
        let expires = c
            .expires
            .or(req.expires)
            .unwrap_or(r.config.default_expires_s);
        if expires > 0 && expires < r.config.min_expires_s && expires < 3600 {
            r.stats.rejected += 1;
            let mut line = std::mem::take(&mut r.scratch.extra);
            line.clear();
            line.extend_from_slice(b"Min-Expires: ");
            writer::push_u64(&mut line, u64::from(r.config.min_expires_s));
            line.extend_from_slice(b"\r\n");
            let o = cx.with_headers(out, 423, b"Interval Too Brief", &line);
            r.scratch.extra = line;
            return o;
        }
        let expires = expires.min(r.config.max_expires_s);
        let instance = c.instance();
        let reg_id = match c.reg_id() {
            Some(Err(_)) => fail!(400, b"Malformed Contact header: bad reg-id"),
            Some(Ok(id)) if instance.is_some() => id,
            // RFC 5626 §6: reg-id without +sip.instance is ignored.
            _ => 0,
        };
        let matched = existing
            .iter()
            .position(|b| b.is_live(now) && binding_matches(b, c, instance, reg_id));
        if let Some(i) = matched {
            match cseq_check(&existing[i], req, now, window_ms) {
                CSeqCheck::Newer => {}
                CSeqCheck::Retransmission => retransmission = true,
                CSeqCheck::Stale => fail!(400, b"Invalid CSeq: not higher than the binding's"),
            }
        }
        let mut action = match (matched, expires) {
            (Some(i), 0) => Action::Remove(i),
            (Some(i), _) => Action::Refresh(i),
            (None, 0) => Action::Ignore,
            (None, _) => Action::Add,
        };
        // The same contact twice in one request: the later one wins.
        for q in earlier.iter_mut() {
            let same = match (q.action, action) {
                (
                    Action::Refresh(a) | Action::Remove(a),
                    Action::Refresh(b) | Action::Remove(b),
                ) => a == b,
                // An earlier add of the same URI yields to whatever comes later, removal
                // (expires=0, nothing bound yet) included.
                (Action::Add, _) => uri_same(q.contact.addr.uri.raw, &c.addr.uri),
                _ => false,
            };
            if same {
                q.action = Action::Ignore;
            }
        }
        // One contact per AoR: the first contact that registers is the one kept.
        if policy.single_contact && matches!(action, Action::Add | Action::Refresh(_)) {
            if kept_single {
                action = Action::Ignore;
            }
            kept_single = true;
        }
        p.expires_s = expires;
        p.action = action;
    }
    if retransmission {
        r.stats.retransmissions += 1;
        return ok(r, cx, now, wall, req, slot, echo_path, out);
    }

    // What happens to the bindings already there.
    // Scratch buffers borrowed in place (disjoint from the rest of `r`).
    let marks = &mut r.scratch.marks;
    marks.clear();
    // A loop of pushes: most AoRs hold one binding, and `extend` through an iterator adapter
    // is an out-of-line call.
    for b in existing {
        marks.push(if b.is_live(now) {
            Mark::Keep
        } else {
            Mark::Remove
        });
    }
    let mut adds = 0usize;
    for p in &plan[..n] {
        match p.action {
            Action::Add => adds += 1,
            Action::Refresh(i) => marks[i] = Mark::Touched,
            Action::Remove(i) => marks[i] = Mark::Remove,
            Action::Ignore => {}
        }
    }
    if policy.single_contact && kept_single {
        for m in marks.iter_mut().filter(|m| **m == Mark::Keep) {
            *m = Mark::Remove;
        }
    }
    let staying = marks
        .iter()
        .filter(|m| matches!(m, Mark::Keep | Mark::Touched))
        .count();
    let total = staying + adds;
    let max = policy.max_contacts as usize;
    if total > max {
        let untouched = marks.iter().filter(|m| **m == Mark::Keep).count();
        let excess = total - max;
        if policy.overflow == OverflowPolicy::Reject || excess > untouched {
            fail!(403, b"Too many contacts for this AoR (max_contacts)");
        }
        // Evict the least recently refreshed untouched bindings.
        for _ in 0..excess {
            let oldest = (0..existing.len())
                .filter(|&i| marks[i] == Mark::Keep)
                .min_by_key(|&i| existing[i].updated_at);
            if let Some(i) = oldest {
                marks[i] = Mark::Evict;
            }
        }
    }
    let removed_now = marks
        .iter()
        .filter(|m| matches!(m, Mark::Remove | Mark::Evict))
        .count();
    if adds > 0 && r.table.binding_count() + adds > limits.max_bindings + removed_now {
        r.stats.rejected += 1;
        return cx.with_headers(
            out,
            503,
            b"Service Unavailable: binding table full",
            b"Retry-After: 60\r\n",
        );
    }

    // Limits on what each new or changed binding stores.
    let path = &mut r.scratch.path;
    path.clear();
    for h in req.msg.headers_of(Hdr::Path) {
        if !path.is_empty() {
            path.extend_from_slice(b", ");
        }
        writer::push_value(path, h.value);
    }
    if path.len() > limits.max_path_bytes {
        fail!(400, b"Path too long");
    }
    let params = &mut r.scratch.params;
    for p in &plan[..n] {
        // The raw text bounds the stored form (which drops white space, expires and q), so
        // the exact form is computed only when the raw one is over the limit.
        let raw_len = p.contact.addr.params.raw().len();
        if matches!(p.action, Action::Add | Action::Refresh(_))
            && raw_len > limits.max_contact_params_bytes
        {
            stored_params(&p.contact, params);
            if params.len() > limits.max_contact_params_bytes {
                fail!(400, b"Contact parameters too long");
            }
        }
    }

    // Commit: nothing below can fail.
    let allow_mask = allow_mask(req, &mut r.scratch.allow);
    let source = (cx.dest_source(), cx.transport());
    let changes = Changes {
        req,
        now,
        allow_mask,
        source,
        path,
        marks,
        removals: removed_now,
        plan: &plan[..n],
    };
    let (counts, slot) = r.table.update_slot(aor, slot, |v| changes.apply(v, params));
    r.stats.bindings_added += counts.added;
    r.stats.bindings_refreshed += counts.refreshed;
    r.stats.bindings_removed += counts.removed;
    r.stats.bindings_evicted += counts.evicted;
    r.stats.accepted += 1;
    if !policy.memory_only {
        let bindings = slot.map_or(&[][..], |i| &r.table.slot(i).bindings[..]);
        r.journal.record(aor, bindings, now, wall);
    }
    ok(r, cx, now, wall, req, slot, echo_path, out)
}

impl Cx<'_, '_, '_> {
    /// The address the binding remembers as its source (the request's real source).
    fn dest_source(&self) -> SocketAddr {
        SocketAddr::new(self.amend.source_ip, self.amend.source_port)
    }

    fn transport(&self) -> super::Transport {
        self.source_transport
    }
}

#[derive(Default)]
struct Counts {
    added: u64,
    refreshed: u64,
    removed: u64,
    evicted: u64,
}

/// The method bits of the request's Allow headers, remembering the last single-header text:
/// phones of one kind send the same Allow, so most requests skip parsing it.
fn allow_mask(req: &Request<'_, '_>, memo: &mut (Vec<u8>, u16)) -> u16 {
    let mut allows = req.msg.headers_of(Hdr::Allow);
    let (Some(first), None) = (allows.next(), allows.next()) else {
        return req
            .msg
            .headers_of(Hdr::Allow)
            .map(|h| bindings::methods_mask(h.value))
            .fold(0, |a, b| a | b);
    };
    if memo.0 != first.value {
        memo.0.clear();
        memo.0.extend_from_slice(first.value);
        memo.1 = bindings::methods_mask(first.value);
    }
    memo.1
}

/// The validated change set of one REGISTER.
struct Changes<'a, 'b, 'h> {
    req: &'a Request<'b, 'h>,
    now: Millis,
    allow_mask: u16,
    source: (SocketAddr, super::Transport),
    path: &'a [u8],
    marks: &'a [Mark],
    /// How many of `marks` are [`Mark::Remove`] or [`Mark::Evict`].
    removals: usize,
    plan: &'a [Planned<'b>],
}

impl Changes<'_, '_, '_> {
    fn apply(&self, v: &mut bindings::Bindings, params: &mut Vec<u8>) -> Counts {
        let mut counts = Counts::default();
        // Exact capacity: most AoRs hold one binding, and a default-grown Vec would hold
        // four (about 300 bytes wasted per AoR at a million AoRs).
        let adds = self.plan.iter().filter(|p| p.action == Action::Add).count();
        if adds > 0 {
            v.reserve_exact(adds);
        }
        for p in self.plan {
            match p.action {
                Action::Refresh(i) => {
                    self.refresh(&mut v[i], p, params);
                    counts.refreshed += 1;
                }
                Action::Add => {
                    v.push(self.build(p, params));
                    counts.added += 1;
                }
                Action::Remove(_) | Action::Ignore => {}
            }
        }
        // Removals last, by the marks of the bindings that were there before (new ones were
        // pushed after them and are kept). A refresh usually removes nothing.
        if self.removals == 0 {
            return counts;
        }
        let mut i = 0;
        v.retain(|_| {
            let m = self.marks.get(i).copied().unwrap_or(Mark::Keep);
            i += 1;
            match m {
                Mark::Remove => counts.removed += 1,
                Mark::Evict => counts.evicted += 1,
                Mark::Keep | Mark::Touched => {}
            }
            !matches!(m, Mark::Remove | Mark::Evict)
        });
        counts
    }

    fn methods(&self, c: &ContactValue<'_>) -> u16 {
        c.methods().map_or(self.allow_mask, bindings::methods_mask)
    }

    fn expiry(&self, p: &Planned<'_>) -> Millis {
        self.now.plus_s(u64::from(p.expires_s))
    }

    fn build(&self, p: &Planned<'_>, params: &mut Vec<u8>) -> Binding {
        let c = &p.contact;
        stored_params(c, params);
        let instance = c.instance();
        let expires_at = self.expiry(p);
        Binding::new(BindingParts {
            uri: c.addr.uri.raw,
            params,
            call_id: self.req.call_id,
            path: self.path,
            cseq: self.req.cseq.number,
            q: c.q.unwrap_or(Q_NONE),
            reg_id: if instance.is_some() {
                c.reg_id().and_then(Result::ok).unwrap_or(0)
            } else {
                0
            },
            methods: self.methods(c),
            source: self.source.0,
            transport: self.source.1,
            expires_at,
            now: self.now,
            params_key: bindings::params_key(c.addr.params.raw()),
        })
    }

    fn refresh(&self, b: &mut Binding, p: &Planned<'_>, params: &mut Vec<u8>) {
        let c = &p.contact;
        let key = bindings::params_key(c.addr.params.raw());
        let same_strings =
            b.uri() == c.addr.uri.raw && b.call_id() == self.req.call_id && b.path() == self.path;
        // The same raw parameter text as last time (the usual refresh) needs no rebuilding;
        // otherwise compare the normalised form.
        let same_params = b.params_key == key || {
            stored_params(c, params);
            b.params() == params.as_slice()
        };
        if !(same_strings && same_params) {
            *b = self.build(p, params);
            return;
        }
        b.expires_at = self.expiry(p);
        b.cseq = self.req.cseq.number;
        b.q = c.q.unwrap_or(Q_NONE);
        b.methods = self.methods(c);
        b.updated_at = self.now;
        b.set_source(self.source.0);
        b.transport = self.source.1;
        b.params_key = key;
    }
}

/// The contact parameters a binding keeps: all but `expires` and `q` (which are stored as
/// numbers), normalised to `;name=value` without white space.
fn stored_params(c: &ContactValue<'_>, out: &mut Vec<u8>) {
    out.clear();
    for (name, value) in c.addr.params.iter() {
        if name.eq_ignore_ascii_case(b"expires") || name.eq_ignore_ascii_case(b"q") {
            continue;
        }
        out.push(b';');
        out.extend_from_slice(name);
        if let Some(v) = value {
            out.push(b'=');
            out.extend_from_slice(v);
        }
    }
}

enum CSeqCheck {
    Newer,
    Retransmission,
    Stale,
}

/// §10.3 steps 6/7: with the same Call-ID the CSeq must be higher; an equal CSeq within the
/// window is a retransmission (answered again without changes).
fn cseq_check(b: &Binding, req: &Request<'_, '_>, now: Millis, window_ms: u64) -> CSeqCheck {
    if b.call_id() != req.call_id || req.cseq.number > b.cseq {
        CSeqCheck::Newer
    } else if req.cseq.number == b.cseq && now.0.saturating_sub(b.updated_at.0) < window_ms {
        CSeqCheck::Retransmission
    } else {
        CSeqCheck::Stale
    }
}

/// Binding matching: RFC 5626 `+sip.instance` + `reg-id` when both sides have them, else
/// §19.1.4 URI equality.
fn binding_matches(
    b: &Binding,
    c: &ContactValue<'_>,
    instance: Option<&[u8]>,
    reg_id: u32,
) -> bool {
    if reg_id != 0 && b.reg_id != 0 {
        if let Some(i) = instance {
            if let Some(same) = b.instance_is(i) {
                return same && reg_id == b.reg_id;
            }
        }
    }
    uri_same(b.uri(), &c.addr.uri)
}

/// §19.1.4 equality of a stored URI and a parsed one (identical bytes are equal at once).
fn uri_same(stored: &[u8], uri: &Uri<'_>) -> bool {
    if stored == uri.raw {
        return true;
    }
    let limits = crate::sip::uri::UriLimits {
        max_uri_bytes: usize::MAX,
    };
    Uri::parse(stored, &limits).is_ok_and(|s| s.rfc_eq(uri))
}

/// Step 8: 200 OK with every current binding (with its remaining `expires`) and Date. `slot`
/// is the AoR's slot in the table as it is now (None: no bindings).
#[allow(clippy::too_many_arguments)]
fn ok<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    now: Millis,
    wall: UnixTime,
    req: &Request<'_, '_>,
    slot: Option<u32>,
    echo_path: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    cx.begin(out, 200, b"OK");
    let bindings: &[Binding] = slot.map_or(&[], |i| &r.table.slot(i).bindings);
    debug_assert!(slot.is_none_or(|i| r.table.find(r.table.slot(i).key()) == Some(i)));
    for b in bindings.iter().filter(|b| b.is_live(now)) {
        contact_line(out, b, now, true);
    }
    if echo_path {
        for h in req.msg.headers_of(Hdr::Path) {
            writer::header(out, b"Path", h.value);
        }
    }
    date_line(&mut r.scratch, wall, out);
    writer::finish_empty(out);
    Outcome::Respond {
        code: 200,
        dest: cx.dest,
    }
}

/// `Date:` formatted once per second.
fn date_line(s: &mut Scratch, wall: UnixTime, out: &mut Vec<u8>) {
    if s.date.is_empty() || s.date_second != wall.0 {
        s.date.clear();
        writer::date_header(&mut s.date, wall.0);
        s.date_second = wall.0;
    }
    // `Date: ` + an rfc1123-date of a four-digit year + CRLF has one length: copied as a
    // fixed-size array, that is a few moves instead of a `memcpy` call.
    match <&[u8; DATE_LINE_BYTES]>::try_from(&s.date[..]) {
        Ok(line) => out.extend_from_slice(line),
        Err(_) => out.extend_from_slice(&s.date),
    }
}

/// Length of `Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n`.
const DATE_LINE_BYTES: usize = 37;

/// OPTIONS addressed to the registrar itself.
fn options<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    wall: UnixTime,
    out: &mut Vec<u8>,
) -> Outcome {
    cx.begin(out, 200, b"OK");
    writer::header(out, b"Allow", ALLOW);
    writer::header(out, b"Accept", b"application/sdp");
    writer::header(out, b"Supported", b"path");
    date_line(&mut r.scratch, wall, out);
    writer::finish_empty(out);
    Outcome::Respond {
        code: 200,
        dest: cx.dest,
    }
}

/// Any other request: a redirect server over the location table.
fn redirect<A: Authorizer>(
    r: &mut Registrar<A>,
    cx: &Cx<'_, '_, '_>,
    now: Millis,
    req: &Request<'_, '_>,
    out: &mut Vec<u8>,
) -> Outcome {
    if !req.uri.is_sip() {
        return cx.simple(out, 416, b"Unsupported URI Scheme");
    }
    if !r.config.serves(req.uri.host_raw) {
        r.stats.not_found += 1;
        return cx.simple(out, 404, b"Not Found: domain not served here");
    }
    let mut aor = std::mem::take(&mut r.scratch.aor);
    canonical_aor(&req.uri, r.config.user_case, &mut aor);
    let method = req.method.as_bytes();
    let found = order_contacts(&r.table, &mut r.scratch.order, now, &aor, Some(method));
    let outcome = match found {
        Found::Some(slot) => {
            r.stats.redirects += 1;
            cx.begin(out, 302, b"Moved Temporarily");
            let bindings = &r.table.slot(slot).bindings;
            for &i in &r.scratch.order {
                contact_line(out, &bindings[i as usize], now, true);
            }
            writer::finish_empty(out);
            Outcome::Respond {
                code: 302,
                dest: cx.dest,
            }
        }
        Found::None => {
            r.stats.not_found += 1;
            cx.simple(out, 404, b"Not Found")
        }
        Found::MethodNotAllowed(allow) => {
            let mut line = std::mem::take(&mut r.scratch.extra);
            line.clear();
            line.extend_from_slice(b"Allow: ");
            push_methods(&mut line, allow);
            line.extend_from_slice(b"\r\n");
            let o = cx.with_headers(out, 405, b"Method Not Allowed", &line);
            r.scratch.extra = line;
            o
        }
    };
    r.scratch.aor = aor;
    outcome
}

fn push_methods(out: &mut Vec<u8>, mask: u16) {
    let mut first = true;
    for m in ALLOW.split(|&b| b == b',') {
        let m = scan::trim_lws(m);
        if mask & bindings::method_bit(m) != 0 {
            if !first {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(m);
            first = false;
        }
    }
}

enum Found {
    Some(u32),
    None,
    MethodNotAllowed(u16),
}

/// Fills `order` with the indices of the AoR's usable contacts: highest q first (absent q
/// counts as 1.0), then most recently refreshed.
fn order_contacts(
    table: &BindingTable,
    order: &mut Vec<u32>,
    now: Millis,
    aor: &[u8],
    method: Option<&[u8]>,
) -> Found {
    order.clear();
    let Some(slot) = table.find(aor) else {
        return Found::None;
    };
    let bindings = &table.slot(slot).bindings;
    let bit = method.map(bindings::method_bit);
    let mut live = 0;
    let mut allow = 0u16;
    for (i, b) in bindings.iter().enumerate() {
        if !b.is_live(now) {
            continue;
        }
        live += 1;
        allow |= if b.methods == 0 { u16::MAX } else { b.methods };
        let accepts = match bit {
            None => true,
            // A method without a bit is accepted only by unrestricted contacts.
            Some(0) => b.methods == 0,
            Some(bit) => b.accepts(bit),
        };
        if accepts {
            order.push(i as u32);
        }
    }
    if live == 0 {
        return Found::None;
    }
    if order.is_empty() {
        return Found::MethodNotAllowed(allow);
    }
    let q = |b: &Binding| if b.q == Q_NONE { 1000 } else { b.q };
    order.sort_by(|&a, &b| {
        let (a, b) = (&bindings[a as usize], &bindings[b as usize]);
        q(b).cmp(&q(a)).then(b.updated_at.cmp(&a.updated_at))
    });
    Found::Some(slot)
}

/// Public lookup (see [`Registrar::lookup`]).
pub(super) fn lookup<'t>(
    table: &'t BindingTable,
    order: &mut Vec<u32>,
    now: Millis,
    aor: &[u8],
    method: Option<&[u8]>,
) -> Lookup<'t> {
    match order_contacts(table, order, now, aor, method) {
        Found::Some(slot) => {
            let b = &table.slot(slot).bindings;
            Lookup::Found(order.iter().map(|&i| &b[i as usize]).collect())
        }
        Found::None => Lookup::NotFound,
        Found::MethodNotAllowed(allow) => Lookup::MethodNotAllowed { allow },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::{Config, Transport};

    /// A request with more headers than the small first array still gets its answer (parsed
    /// again with the full array), and one over `max_headers` still gets "Too many headers".
    #[test]
    fn many_headers_fall_back_to_the_full_array() {
        let register = |extra: usize| {
            let mut msg = String::from(
                "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
                 From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c@h\r\n\
                 CSeq: 1 REGISTER\r\nContact: <sip:a@10.0.0.1>\r\n",
            );
            for i in 0..extra {
                msg.push_str(&format!("X-Filler-{i}: {i}\r\n"));
            }
            msg.push_str("Content-Length: 0\r\n\r\n");
            let mut r = Registrar::new(Config::default(), Millis(0)).unwrap();
            let src = Source {
                addr: "10.0.0.1:5060".parse().unwrap(),
                transport: Transport::Udp,
            };
            let mut out = Vec::new();
            let o = r.handle(Millis(0), UnixTime(0), src, msg.as_bytes(), &mut out);
            (o, String::from_utf8(out).unwrap())
        };
        let slots = Config::default().parser.limits.max_headers;
        assert!(slots > FEW_HEADER_SLOTS);
        for extra in [0, FEW_HEADER_SLOTS, slots - 8] {
            let (o, text) = register(extra);
            assert!(
                matches!(o, Outcome::Respond { code: 200, .. }),
                "{extra}: {text}"
            );
            assert!(
                text.contains("Contact: <sip:a@10.0.0.1>;expires="),
                "{text}"
            );
        }
        let (o, text) = register(slots);
        assert!(matches!(o, Outcome::Respond { code: 400, .. }), "{text}");
        assert!(text.starts_with("SIP/2.0 400 Too many headers"), "{text}");
    }

    /// Whenever the quick To scan gives a hint, it is the canonical AoR of the parsed To URI;
    /// and it gives one for the usual forms.
    /// The lane-wise hex digits against a table lookup per nibble.
    #[test]
    fn hex8_is_hex_least_significant_nibble_first() {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut x = 0x0123_4567_u32;
        for _ in 0..100_000 {
            let want: Vec<u8> = (0..8)
                .map(|i| HEX[((x >> (i * 4)) & 0xf) as usize])
                .collect();
            assert_eq!(hex8(x), want[..], "{x:#x}");
            x = x.wrapping_mul(0x9e37_79b9).wrapping_add(0x7f4a_7c15);
        }
        assert_eq!(&hex8(0), b"00000000");
        assert_eq!(&hex8(u32::MAX), b"ffffffff");
        assert_eq!(&hex8(0xfedc_ba98), b"89abcdef");
    }

    #[test]
    fn aor_hint_is_the_canonical_aor() {
        let cases: &[(&str, bool)] = &[
            ("To: <sip:Alice@Example.COM>", true),
            (
                "to: \"A\" <sips:alice@example.com.:5061;transport=tls>;tag=x",
                true,
            ),
            ("t: sip:bob@[2001:DB8::1]:5060;tag=1", true),
            ("To: <sip:example.com>", true),
            ("TO: <sip:carol:secret@host.example.org>", true),
            ("To: <sip:%61lice@example.com>", false),
            ("To : <sip:alice@example.com>", false),
            ("To: <tel:+1-555>", false),
        ];
        for case in [UserCase::Sensitive, UserCase::Insensitive] {
            for &(to, expect) in cases {
                let msg = format!(
                    "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                     From: <sip:x@example.com>;tag=1\r\n{to}\r\nCall-ID: c\r\n\
                     CSeq: 1 REGISTER\r\n\r\n"
                );
                let mut key = [0u8; HINT_BYTES];
                let hint = aor_hint(msg.as_bytes(), case, &mut key).map(|n| key[..n].to_vec());
                assert_eq!(hint.is_some(), expect, "{to}");
                let mut headers = [Header::EMPTY; 16];
                let Ok(Status::Complete(req)) = Request::parse(
                    msg.as_bytes(),
                    &mut headers,
                    Framing::Datagram,
                    &Default::default(),
                ) else {
                    panic!("{to}: does not parse");
                };
                let mut aor = Vec::new();
                let ok = canonical_aor(&req.to.uri, case, &mut aor);
                if let Some(hint) = hint {
                    assert!(ok);
                    assert_eq!(hint, aor, "{to}");
                }
            }
        }
        let mut key = [0u8; HINT_BYTES];
        for junk in [
            &b""[..],
            b"\n",
            b"REGISTER x\r\nTo:",
            b"x\nt:<sip:",
            b"x\nTo: <sip:@>",
        ] {
            let _ = aor_hint(junk, UserCase::Sensitive, &mut key);
        }
    }

    /// The borrowed AoR is, whenever there is one, exactly the key `canonical_aor` builds; and
    /// the usual canonical To URIs do borrow.
    #[test]
    fn aor_in_place_is_the_canonical_aor() {
        let uris: &[(&str, [bool; 2])] = &[
            // (URI, borrowed with [Sensitive, Insensitive])
            ("sip:alice@example.com", [true, true]),
            ("sip:alice@example.com:5060;transport=udp", [true, true]),
            ("sips:alice@example.com?subject=x", [true, true]),
            ("sip:Alice@example.com", [true, false]),
            ("sip:alice@Example.com", [false, false]),
            ("sip:alice@example.com.", [false, false]),
            ("sip:al%69ce@example.com", [false, false]),
            ("sip:alice:secret@example.com", [false, false]),
            ("sip:example.com", [true, true]),
            ("sip:EXAMPLE.com", [false, false]),
            ("sip:alice@192.0.2.1:5060", [true, true]),
            ("sip:alice@[2001:db8::1]", [true, true]),
            ("sip:alice@[2001:DB8::1]", [false, false]),
            (
                "sip:+1-555;phone-context=x@example.com;user=phone",
                [true, true],
            ),
            ("tel:+1-555", [false, false]),
        ];
        let limits = crate::sip::uri::UriLimits::default();
        for &(text, borrows) in uris {
            let uri = Uri::parse(text.as_bytes(), &limits).unwrap();
            for (case, borrows) in [UserCase::Sensitive, UserCase::Insensitive]
                .into_iter()
                .zip(borrows)
            {
                let in_place = canonical_aor_in_place(&uri, case);
                assert_eq!(in_place.is_some(), borrows, "{text} {case:?}");
                let mut built = Vec::new();
                if let Some(key) = in_place {
                    assert!(canonical_aor(&uri, case, &mut built));
                    assert_eq!(key, &built[..], "{text} {case:?}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Any URI that parses: a borrowed AoR is the built one.
        #[test]
        fn aor_in_place_agrees(
            user in "[a-zA-Z0-9%.+-]{0,12}",
            password in proptest::option::of("[a-z]{1,4}"),
            host in "[a-zA-Z0-9.-]{1,12}|\\[[0-9a-fA-F:]{2,12}\\]|[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
            port in proptest::option::of(0u16..9999),
            insensitive in proptest::bool::ANY,
        ) {
            let mut text = String::from("sip:");
            if !user.is_empty() {
                text.push_str(&user);
                if let Some(p) = &password {
                    text.push(':');
                    text.push_str(p);
                }
                text.push('@');
            }
            text.push_str(&host);
            if let Some(p) = port {
                text.push_str(&format!(":{p}"));
            }
            let case = if insensitive { UserCase::Insensitive } else { UserCase::Sensitive };
            if let Ok(uri) = Uri::parse(text.as_bytes(), &Default::default()) {
                let mut built = Vec::new();
                let ok = canonical_aor(&uri, case, &mut built);
                if let Some(key) = canonical_aor_in_place(&uri, case) {
                    proptest::prop_assert!(ok);
                    proptest::prop_assert_eq!(key, &built[..], "{}", text);
                }
            }
        }
    }

    /// `has_in_range` and `has_upper_or_percent` against the obvious byte tests: every length
    /// up to 40, the byte at every position, bytes at the ranges' edges and at 0x80 and above
    /// around them.
    #[test]
    fn in_range_scan_finds_every_byte() {
        let ranges = [(b'A', b'Z'), (b'%', b'%'), (1, 0x7f)];
        let probes = [
            0u8, 1, b'$', b'%', b'&', b'@', b'A', b'M', b'Z', b'[', b'a', 0x7f, 0x80, 0xa5, 0xc1,
            0xda, 0xdb, 0xff,
        ];
        for (lo, hi) in ranges {
            for len in 0..=40 {
                for filler in [b'a', 0x80 | b'A', 0xff] {
                    let base = vec![filler; len];
                    let expect = |s: &[u8]| s.iter().any(|b| (lo..=hi).contains(b));
                    assert_eq!(has_in_range(&base, lo, hi), expect(&base));
                    for at in 0..len {
                        for &p in &probes {
                            let mut s = base.clone();
                            s[at] = p;
                            assert_eq!(
                                has_in_range(&s, lo, hi),
                                expect(&s),
                                "{lo:#x}..={hi:#x} len {len} at {at} byte {p:#x}"
                            );
                            assert_eq!(
                                has_upper_or_percent(&s),
                                s.iter().any(|&b| b.is_ascii_uppercase() || b == b'%'),
                                "len {len} at {at} byte {p:#x}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// `handle_batch` answers exactly as `handle` on each message in turn: same outcomes,
    /// bytes, statistics and journal, for REGISTERs, refreshes, errors and other methods.
    #[test]
    fn handle_batch_is_handle_in_order() {
        let src = Source {
            addr: "10.0.0.1:5060".parse().unwrap(),
            transport: Transport::Udp,
        };
        let register = |user: usize, cseq: usize| {
            format!(
                "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK{user}-{cseq}\r\n\
                 From: <sip:u{user}@example.com>;tag=1\r\nTo: <sip:u{user}@example.com>\r\n\
                 Call-ID: c{user}@h\r\nCSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:u{user}@10.0.0.1:5060>;expires=60\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let mut msgs: Vec<String> = Vec::new();
        for round in 1..=3 {
            for user in 0..20 {
                msgs.push(register(user, round));
            }
        }
        msgs.push(register(3, 1)); // stale CSeq: 400
        msgs.push(register(4, 3)); // retransmission
        msgs.push("garbage".into());
        msgs.push(
            "INVITE sip:u5@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKi\r\n\
             From: <sip:x@example.com>;tag=1\r\nTo: <sip:u5@example.com>\r\nCall-ID: i@h\r\n\
             CSeq: 1 INVITE\r\n\r\n"
                .into(),
        );
        let mut one = Registrar::new(Config::default(), Millis(0)).unwrap();
        let mut batched = Registrar::new(Config::default(), Millis(0)).unwrap();
        let mut out = Vec::new();
        let mut want = Vec::new();
        let mut journal_one = Vec::new();
        for m in &msgs {
            let o = one.handle(Millis(5), UnixTime(100), src, m.as_bytes(), &mut out);
            want.push((o, out.clone()));
        }
        one.take_journal(&mut journal_one);
        let batch: Vec<(Source, &[u8])> = msgs.iter().map(|m| (src, m.as_bytes())).collect();
        let mut got = Vec::new();
        batched.handle_batch(Millis(5), UnixTime(100), &batch, &mut out, |i, o, bytes| {
            assert_eq!(i, got.len());
            got.push((o, bytes.to_vec()));
        });
        let mut journal_batched = Vec::new();
        batched.take_journal(&mut journal_batched);
        // The To tag is random per registrar: compare everything else.
        let untagged = |v: &[(Outcome, Vec<u8>)]| -> Vec<(Outcome, String)> {
            v.iter()
                .map(|(o, b)| {
                    let text = String::from_utf8_lossy(b);
                    let kept: Vec<&str> = text
                        .split("\r\n")
                        .filter(|l| !l.starts_with("To:"))
                        .collect();
                    (*o, kept.join("\r\n"))
                })
                .collect()
        };
        assert_eq!(untagged(&got), untagged(&want));
        assert!(
            got.iter()
                .any(|(o, _)| matches!(o, Outcome::Respond { code: 400, .. }))
        );
        assert_eq!(batched.stats(), one.stats());
        assert_eq!(journal_batched, journal_one);
    }

    /// The instance comparison's shortcut agrees with the full parameter parse.
    #[test]
    fn instance_shortcut_agrees_with_the_parse() {
        let binding = |params: &[u8]| {
            Binding::new(BindingParts {
                uri: b"sip:a@h",
                params,
                call_id: b"c",
                path: b"",
                cseq: 1,
                q: Q_NONE,
                reg_id: 1,
                methods: 0,
                source: "10.0.0.1:5060".parse().unwrap(),
                transport: super::super::Transport::Udp,
                expires_at: Millis(1),
                now: Millis(0),
                params_key: 0,
            })
        };
        let long = format!(";+sip.instance=\"<urn:{}>\"", "a".repeat(300));
        let stored: [&[u8]; 12] = [
            b";+sip.instance=\"<urn:a>\";reg-id=1",
            b";+sip.instance=\"<urn:a>\"",
            b";+SIP.Instance=\"<urn:a>\"",
            b";reg-id=1;+sip.instance=\"<urn:a>\"",
            b";+sip.instance=\"<urn:a>x\"",
            b";x=1",
            b";+sip.instance=\"<urn:\\\"a>\";reg-id=1",
            b";+sip.instance=\"<urn:a\\\\>\"",
            b";+sip.instance=\"\";reg-id=1",
            b";+sip.instance=<urn:a>;reg-id=1",
            b";+sip.instance=\"<urn:a>\";+sip.instance=\"<urn:b>\"",
            long.as_bytes(),
        ];
        let long_instance = format!("<urn:{}>", "a".repeat(300));
        for p in stored {
            let b = binding(p);
            for i in [
                &b"<urn:a>"[..],
                b"<urn:a",
                b"<urn:a>x",
                b"",
                b"<urn:b>",
                b"<urn:\\\"a>",
                b"<urn:a\\\\>",
                b"<urn:a>\";reg-id=1",
                long_instance.as_bytes(),
            ] {
                assert_eq!(
                    b.instance_is(i),
                    b.instance().map(|bi| bi == i),
                    "{p:?} {i:?}"
                );
            }
        }
        assert_eq!(binding(stored[0]).instance_is(b"<urn:a>"), Some(true));
    }
}
