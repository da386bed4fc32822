//! Property checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! Every `check_*` function takes the raw fuzzer input and panics, with a message that names
//! the broken property, when the parser or the writer misbehaves. libFuzzer turns the panic
//! into a crash report and saves the input under `fuzz/artifacts/<target>/`.
//!
//! The properties go beyond "does not panic": framing bounds, zero-copy views that really
//! borrow from the input, idempotent stream framing, agreement between datagram and stream
//! framing, reflexive and symmetric URI equality, and "our writer never emits a response our
//! own parser rejects". See `fuzz/README.md` for the list per target.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use registrar::sip::header::{self, Credentials, DigestCredentials, Hdr};
use registrar::sip::message::{
    self, Error, Framing, Header, Leniency, Limits, Message, ParserConfig, StartLine, Status,
};
use registrar::sip::request::{ContactItem, Request};
use registrar::sip::scan;
use registrar::sip::uri::{self, Uri, UriLimits};
use registrar::sip::writer::{self, ViaAmend};

/// Header slots handed to the parser (more than any sane request carries; running out is an
/// ordinary `TooManyHeaders` error, which the targets also exercise).
pub const MAX_HEADERS: usize = 64;

/// The parser's default, RFC 3261-strict configuration.
pub fn strict() -> ParserConfig {
    ParserConfig::default()
}

/// Every [`Leniency`] flag on. The struct literal is exhaustive on purpose: adding a flag to
/// `Leniency` breaks this build until the flag is turned on here too.
pub fn lenient() -> ParserConfig {
    ParserConfig {
        leniency: Leniency {
            allow_bare_lf: true,
            allow_multiple_spaces_in_request_line: true,
        },
        ..ParserConfig::default()
    }
}

/// Bytes shown in panic messages as a quoted string with `\r`, `\n`, `\xNN` escapes.
#[derive(PartialEq, Eq)]
pub struct Show<'a>(pub &'a [u8]);

impl std::fmt::Debug for Show<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// See [`Show`].
pub fn show(b: &[u8]) -> Show<'_> {
    Show(b)
}

/// True if `inner` lies inside `outer` (an empty slice carries no bytes and always passes).
pub fn is_within(outer: &[u8], inner: &[u8]) -> bool {
    if inner.is_empty() {
        return true;
    }
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}

/// Offset of `inner` in `outer`; panics if `inner` does not start inside `outer` (its end
/// included, for empty slices).
fn offset_in(outer: &[u8], inner: &[u8], what: &str) -> usize {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    assert!(
        i >= o && i + inner.len() <= o + outer.len(),
        "{what} ({:?}) does not borrow from the input",
        show(inner)
    );
    i - o
}

fn assert_within(outer: &[u8], inner: &[u8], what: &str) {
    assert!(
        is_within(outer, inner),
        "{what} ({:?}) is not a subslice of the input",
        show(inner)
    );
}

// ---------------------------------------------------------------------------------------------
// parse_message / parse_message_lenient
// ---------------------------------------------------------------------------------------------

/// Frames `data` as a datagram and as a stream under `config`, checks every property of the
/// framing, then types the message as a request and runs the strict header checks.
pub fn check_message(data: &[u8], config: &ParserConfig) {
    let mut dh = [Header::EMPTY; MAX_HEADERS];
    let mut sh = [Header::EMPTY; MAX_HEADERS];
    let dgram = message::parse(data, &mut dh, Framing::Datagram, config);
    let stream = message::parse(data, &mut sh, Framing::Stream, config);

    assert!(
        !matches!(dgram, Ok(Status::Partial)),
        "datagram framing returned Partial (a datagram is always whole)"
    );
    if let Ok(Status::Complete(m)) = &dgram {
        check_framed(data, m, Framing::Datagram, config);
    }
    if let Ok(Status::Complete(m)) = &stream {
        check_framed(data, m, Framing::Stream, config);
        check_stream_reframing(data, m, config);
    }

    // The two framings differ only in where the body ends: a message that frames on a
    // stream (Content-Length present and satisfied) frames identically as a datagram, and a
    // datagram with a satisfied Content-Length frames on a stream.
    match (&dgram, &stream) {
        (Ok(Status::Complete(d)), Ok(Status::Complete(s))) => {
            assert_eq!(d.start, s.start, "start line differs between framings");
            assert_eq!(d.headers, s.headers, "headers differ between framings");
            assert_eq!(d.body, s.body, "body differs between framings");
            assert_eq!(d.content_length, s.content_length);
        }
        (Ok(Status::Complete(d)), other) => assert!(
            d.content_length.is_none() && matches!(other, Err(Error::BodyLength)),
            "datagram framed (Content-Length {:?}) but stream framing gave {other:?}",
            d.content_length
        ),
        (other, Ok(Status::Complete(_))) => {
            panic!("stream framing succeeded where datagram framing gave {other:?}")
        }
        _ => {}
    }

    let typed = match (&dgram, &stream) {
        (Ok(Status::Complete(m)), _) | (_, Ok(Status::Complete(m))) => Some(*m),
        _ => None,
    };
    if let Some(m) = typed {
        check_request(data, m, config);
    }
}

/// Bounds and zero-copy properties of one framed message.
fn check_framed(data: &[u8], m: &Message<'_, '_>, framing: Framing, config: &ParserConfig) {
    assert!(
        m.len <= data.len(),
        "{framing:?}: len {} exceeds the input ({} bytes)",
        m.len,
        data.len()
    );
    let used = &data[..m.len];
    let body_start = offset_in(used, m.body, "body");
    let body_end = body_start + m.body.len();
    match framing {
        Framing::Datagram => {
            assert_eq!(m.len, data.len(), "a datagram message uses the whole datagram");
            match m.content_length {
                Some(n) => assert_eq!(m.body.len(), n, "datagram body is not Content-Length"),
                None => assert_eq!(body_end, data.len(), "datagram body stops short"),
            }
        }
        Framing::Stream => {
            assert_eq!(
                m.content_length,
                Some(m.body.len()),
                "stream body length is not Content-Length"
            );
            assert_eq!(body_end, m.len, "stream message does not end where its body ends");
        }
    }

    let head = &data[..body_start];
    let mut last = 0;
    let mut saw_cl = false;
    for h in m.headers {
        let name_at = offset_in(head, h.name, "header name");
        let value_at = offset_in(head, h.value, "header value");
        assert!(name_at >= last, "headers out of input order");
        assert!(
            value_at >= name_at + h.name.len(),
            "header value {:?} precedes its name {:?}",
            show(h.value),
            show(h.name)
        );
        last = value_at + h.value.len();
        assert!(
            scan::all_token(h.name),
            "header name {:?} is not a token",
            show(h.name)
        );
        assert_eq!(
            h.kind,
            header::classify(h.name),
            "kind disagrees with classify()"
        );
        let lws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        assert!(
            !h.value.first().is_some_and(lws) && !h.value.last().is_some_and(lws),
            "header value {:?} of {:?} keeps leading or trailing LWS",
            show(h.value),
            show(h.name)
        );
        check_header_value_bytes(h.value, config);
        if h.kind == Hdr::ContentLength {
            saw_cl = true;
            let v = scan::digits_u64(h.value).expect("accepted Content-Length is not 1*DIGIT");
            assert_eq!(
                Some(usize::try_from(v).unwrap_or(usize::MAX)),
                m.content_length,
                "Content-Length header and content_length disagree"
            );
        }
    }
    // The lookups agree with a plain scan of the header array (they may be optimised, e.g.
    // with a bit set of the kinds present).
    for kind in m.headers.iter().map(|h| h.kind).chain(ECHOED) {
        let scan: Vec<&Header<'_>> = m.headers.iter().filter(|h| h.kind == kind).collect();
        let found: Vec<&Header<'_>> = m.headers_of(kind).collect();
        assert!(
            scan.len() == found.len() && scan.iter().zip(&found).all(|(a, b)| std::ptr::eq(*a, *b)),
            "headers_of({kind:?}) finds {} headers, a scan finds {}",
            found.len(),
            scan.len()
        );
        assert!(
            m.header(kind).map(std::ptr::from_ref) == scan.first().map(|h| std::ptr::from_ref(*h)),
            "header({kind:?}) is not the first header of that kind"
        );
    }
    assert_eq!(
        saw_cl,
        m.content_length.is_some(),
        "content_length without a Content-Length header (or the reverse)"
    );

    match m.start {
        StartLine::Request { method, uri } => {
            assert_within(head, uri, "Request-URI");
            assert!(
                !uri.is_empty() && uri.len() <= config.limits.max_request_uri_bytes,
                "Request-URI length {} outside 1..={}",
                uri.len(),
                config.limits.max_request_uri_bytes
            );
            assert!(
                uri.iter().all(|&b| b > b' ' && b < 0x7f),
                "Request-URI {:?} holds white space or control bytes",
                show(uri)
            );
            let mb = method.as_bytes();
            assert!(scan::all_token(mb), "method {:?} is not a token", show(mb));
            if let message::Method::Other(b) = method {
                assert_within(head, b, "extension method");
            }
        }
        StartLine::Response { code, reason } => {
            assert!((100..=699).contains(&code), "status code {code} out of range");
            assert_within(head, reason, "reason phrase");
            assert!(
                !reason.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f),
                "reason phrase {:?} holds control bytes",
                show(reason)
            );
        }
    }
}

/// An accepted header value holds no control byte except HTAB, the CRLF (or, leniently, LF)
/// of a fold, which is always followed by SP or HTAB, and the escaped byte of a quoted-pair
/// inside a quoted string (RFC 3261 §25.1: `TEXT-UTF8char` and `qdtext` exclude controls;
/// `quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)`).
fn check_header_value_bytes(v: &[u8], config: &ParserConfig) {
    let mut quoted = false;
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        if quoted && b == b'\\' && v.get(i + 1).is_some_and(|&c| c != b'\r' && c != b'\n' && c < 0x80) {
            i += 2;
            continue;
        }
        if b == b'"' {
            quoted = !quoted;
        }
        let ok = match b {
            b'\t' => true,
            b'\r' => v.get(i + 1) == Some(&b'\n') && v.get(i + 2).is_some_and(|&c| scan::is_wsp(c)),
            b'\n' => {
                v.get(i + 1).is_some_and(|&c| scan::is_wsp(c))
                    && (i > 0 && v[i - 1] == b'\r' || config.leniency.allow_bare_lf)
            }
            0x7f => false,
            b => b >= b' ',
        };
        assert!(
            ok,
            "header value {:?} holds byte {b:#04x} at {i}, outside a fold and outside a quoted-pair \
             of a quoted string",
            show(v)
        );
        i += 1;
    }
}

/// Stream framing is idempotent (`input[..len]` frames to the same message) and unambiguous
/// (a shorter prefix is still `Partial`).
fn check_stream_reframing(data: &[u8], m: &Message<'_, '_>, config: &ParserConfig) {
    let framed = &data[..m.len];
    let mut h = [Header::EMPTY; MAX_HEADERS];
    match message::parse(framed, &mut h, Framing::Stream, config) {
        Ok(Status::Complete(again)) => {
            assert_eq!(again.len, m.len, "re-framing input[..len] changes len");
            assert_eq!(again.start, m.start, "re-framing changes the start line");
            assert_eq!(again.headers, m.headers, "re-framing changes the headers");
            assert_eq!(again.body, m.body, "re-framing changes the body");
            assert_eq!(again.content_length, m.content_length);
        }
        other => panic!(
            "re-framing the {} framed bytes input[..len] as a stream gave {other:?}",
            m.len
        ),
    }

    for cut in prefix_cuts(data, m) {
        match message::parse(&data[..cut], &mut h, Framing::Stream, config) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(p)) => panic!(
                "prefix input[..{cut}] of a {}-byte stream message frames as Complete with len {}",
                m.len, p.len
            ),
            // Stronger than "never Complete": a stream that delivers a valid message in two
            // reads must not be torn down after the first one.
            Err(e) => panic!(
                "prefix input[..{cut}] of a valid {}-byte stream message is rejected with {e:?}; \
                 the whole message frames fine, so a TCP read boundary at {cut} drops a valid message",
                m.len
            ),
        }
    }
}

/// Prefix lengths to try. The parser only moves on when a line terminator arrives and then
/// peeks one byte past it for a fold, so two cuts per LF of the header section (just after
/// it, and one byte later) cover every state; add the first bytes, the end of the headers
/// and the last byte of the body.
fn prefix_cuts(data: &[u8], m: &Message<'_, '_>) -> Vec<usize> {
    let len = m.len;
    let body_start = m.body.as_ptr() as usize - data.as_ptr() as usize;
    let mut cuts: Vec<usize> = (0..4).collect();
    for (i, &b) in data[..body_start].iter().enumerate() {
        if b == b'\n' {
            cuts.extend([i + 1, i + 2]);
        }
    }
    cuts.extend([body_start.saturating_sub(1), body_start, body_start + 1, len - 1]);
    cuts.retain(|&c| c < len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// `Request::from_message`, `check_all_headers` and every typed accessor; typed views must
/// borrow from the input.
fn check_request(data: &[u8], m: Message<'_, '_>, config: &ParserConfig) {
    let req = match Request::from_message(m, config) {
        Ok(r) => r,
        Err(e) => {
            let reason = e.reason();
            let r = reason.as_bytes();
            assert!(
                !r.is_empty() && r.iter().all(|&b| (b' '..0x7f).contains(&b)),
                "reason phrase for {e:?} is empty or not printable: {:?}",
                show(r)
            );
            return;
        }
    };
    let _ = req.check_all_headers();

    if let StartLine::Request { uri, .. } = m.start {
        assert_eq!(req.uri.raw, uri, "typed Request-URI differs from the start line");
    }
    assert_within(data, req.uri.raw, "Request-URI");
    assert_within(data, req.via.raw, "top Via");
    assert_within(data, req.from.uri.raw, "From URI");
    assert_within(data, req.to.uri.raw, "To URI");
    assert_within(data, req.call_id, "Call-ID");
    assert_within(data, req.cseq.method, "CSeq method");
    assert_eq!(
        req.cseq.method,
        req.method.as_bytes(),
        "CSeq method accepted although it differs from the request method"
    );
    assert!(req.cseq.number < 1 << 31, "CSeq number over 2**31-1");

    let mut n = 0;
    for v in req.vias() {
        assert_within(data, v.raw, "Via element");
        if n == 0 {
            assert_eq!(v.raw, req.via.raw, "vias() does not start with the top Via");
        }
        n += 1;
    }
    assert!(n >= 1, "a request with a top Via has no vias()");

    for c in req.contacts() {
        if let Ok(ContactItem::Value(c)) = c {
            assert_within(data, c.addr.uri.raw, "Contact URI");
            assert!(c.q.is_none_or(|q| q <= 1000), "q above 1.0");
            let _ = (c.instance(), c.reg_id(), c.methods());
        }
    }
    let _ = req.has_star_contact();
    if let Some(Ok(cred)) = req.authorization() {
        check_credentials_borrow(data, &cred);
    }
    for p in req.paths().flatten() {
        assert_within(data, p.uri.raw, "Path URI");
    }
    for kind in [
        Hdr::Require,
        Hdr::Supported,
        Hdr::ProxyRequire,
        Hdr::Unsupported,
    ] {
        for t in req.option_tags(kind).flatten() {
            assert!(scan::all_token(t), "option tag {:?} is not a token", show(t));
        }
    }
    let _ = req.lists_option(Hdr::Supported, b"path");
}

// ---------------------------------------------------------------------------------------------
// parse_uri
// ---------------------------------------------------------------------------------------------

/// Splits the input in two URIs: at the first LF (no URI may hold one) if there is one, else
/// in the middle.
pub fn split_halves(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => data.split_at(data.len() / 2),
    }
}

/// `Uri::parse` on the whole input and on both halves; every parsed URI is checked for
/// borrowed views and a reflexive `rfc_eq`, and the two halves for a symmetric `rfc_eq`.
pub fn check_uri(data: &[u8]) {
    let limits = UriLimits::default();
    if let Ok(u) = Uri::parse(data, &limits) {
        check_uri_views(data, &u);
    }
    let (a, b) = split_halves(data);
    let ua = Uri::parse(a, &limits);
    let ub = Uri::parse(b, &limits);
    if let Ok(u) = &ua {
        check_uri_views(a, u);
    }
    if let Ok(u) = &ub {
        check_uri_views(b, u);
    }
    if let (Ok(x), Ok(y)) = (&ua, &ub) {
        let (xy, yx) = (x.rfc_eq(y), y.rfc_eq(x));
        assert_eq!(
            xy,
            yx,
            "rfc_eq is not symmetric: {:?}.rfc_eq({:?}) = {xy}, reverse = {yx}",
            show(a),
            show(b)
        );
    }
}

fn check_uri_views(raw: &[u8], u: &Uri<'_>) {
    assert_eq!(u.raw.as_ptr(), raw.as_ptr(), "Uri::raw is not the input");
    assert_eq!(u.raw.len(), raw.len(), "Uri::raw is not the whole input");
    assert!(
        raw.len() <= UriLimits::default().max_uri_bytes,
        "URI over max_uri_bytes accepted"
    );
    for (what, part) in [
        ("user", u.user.unwrap_or(b"")),
        ("password", u.password.unwrap_or(b"")),
        ("host", u.host_raw),
        ("params", u.params),
        ("headers", u.headers),
    ] {
        assert_within(raw, part, what);
    }
    if let uri::Scheme::Other(s) = u.scheme {
        assert_within(raw, s, "scheme");
    }
    if let Some(host) = u.host {
        assert!(u.is_sip(), "a non-SIP URI has a host");
        assert_eq!(
            uri::parse_host(u.host_raw),
            Ok(host),
            "host_raw does not re-parse to the same host"
        );
    }
    assert!(
        u.rfc_eq(u),
        "rfc_eq is not reflexive: {:?} does not equal itself",
        show(raw)
    );
}

// ---------------------------------------------------------------------------------------------
// parse_digest_credentials
// ---------------------------------------------------------------------------------------------

/// `header::parse_credentials`: every returned value borrows from the input.
pub fn check_credentials(data: &[u8]) {
    if let Ok(c) = header::parse_credentials(data) {
        check_credentials_borrow(data, &c);
    }
}

fn digest_fields<'b>(d: &DigestCredentials<'b>) -> [(&'static str, Option<&'b [u8]>); 11] {
    [
        ("username", d.username),
        ("realm", d.realm),
        ("nonce", d.nonce),
        ("uri", d.uri),
        ("response", d.response),
        ("algorithm", d.algorithm),
        ("cnonce", d.cnonce),
        ("opaque", d.opaque),
        ("qop", d.qop),
        ("nc", d.nc),
        ("userhash", d.userhash),
    ]
}

fn check_credentials_borrow(data: &[u8], c: &Credentials<'_>) {
    match c {
        Credentials::Digest(d) => {
            for (name, v) in digest_fields(d) {
                let Some(v) = v else { continue };
                if v.is_empty() {
                    continue;
                }
                let at = offset_in(data, v, name);
                // A value is either a token or the inside of a quoted string.
                let quoted =
                    at > 0 && data[at - 1] == b'"' && data.get(at + v.len()) == Some(&b'"');
                assert!(
                    quoted || scan::all_token(v),
                    "digest {name} value {:?} is neither a token nor a quoted string's contents",
                    show(v)
                );
            }
        }
        Credentials::Other { scheme, params } => {
            assert_within(data, scheme, "credentials scheme");
            assert_within(data, params, "credentials params");
            assert!(scan::all_token(scheme), "scheme {:?} is not a token", show(scheme));
            assert!(
                !scheme.eq_ignore_ascii_case(b"Digest"),
                "Digest credentials reported as another scheme"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// write_response
// ---------------------------------------------------------------------------------------------

/// The fixed source addresses the response writer amends the top Via with.
pub const AMENDS: [ViaAmend; 2] = [
    ViaAmend {
        source_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        source_port: 40000,
    },
    ViaAmend {
        source_ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        source_port: 5062,
    },
];

/// The To tag the writer adds.
pub const TO_TAG: &[u8] = b"fz1";

/// Parses the input as a request (strictly, then with every leniency on); for each request
/// that parses, writes a 200 response (status line, echoed headers, `Content-Length: 0`) and
/// re-parses it with the *strict* parser: it must frame as that response, echo the headers
/// as sent (up to folding), and carry the Via amendments and To tag.
pub fn check_write_response(data: &[u8]) {
    for config in [strict(), lenient()] {
        let mut h = [Header::EMPTY; MAX_HEADERS];
        let Ok(Status::Complete(req)) = Request::parse(data, &mut h, Framing::Datagram, &config)
        else {
            continue;
        };
        for amend in AMENDS {
            let mut out = Vec::with_capacity(data.len() + 128);
            writer::status_line(&mut out, 200, b"OK");
            writer::echo_headers(&mut out, &req, amend, TO_TAG);
            writer::finish_empty(&mut out);
            check_response(&out, &req, amend);
        }
    }
}

/// The value with every run of SP, HTAB, CR and LF replaced by one SP, and none at the ends
/// (LWS around a value is not part of it).
fn collapse_lws(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        let ws = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        if !ws {
            out.push(b);
        } else if !out.is_empty() && out.last() != Some(&b' ') {
            out.push(b' ');
        }
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
    out
}

const ECHOED: [Hdr; 5] = [Hdr::Via, Hdr::From, Hdr::To, Hdr::CallId, Hdr::CSeq];

fn check_response(out: &[u8], req: &Request<'_, '_>, amend: ViaAmend) {
    // Strict grammar; only the size limit is lifted, since echoing compact header names in
    // full can make a response longer than the request (the limit guards what we receive).
    let cfg = ParserConfig {
        limits: Limits {
            max_message_bytes: 1 << 20,
            ..Limits::default()
        },
        ..strict()
    };
    let mut h = [Header::EMPTY; 2 * MAX_HEADERS];
    for framing in [Framing::Datagram, Framing::Stream] {
        let m = match message::parse(out, &mut h, framing, &cfg) {
            Ok(Status::Complete(m)) => m,
            other => panic!(
                "written response does not re-parse ({framing:?}): {other:?}\nresponse: {:?}",
                show(out)
            ),
        };
        assert_eq!(
            m.start,
            StartLine::Response {
                code: 200,
                reason: b"OK"
            }
        );
        assert_eq!(m.len, out.len(), "response framed short");
        assert!(m.body.is_empty());
        assert_eq!(m.content_length, Some(0));

        for kind in ECHOED {
            let sent: Vec<&[u8]> = req.msg.headers_of(kind).map(|h| h.value).collect();
            let got: Vec<&[u8]> = m.headers_of(kind).map(|h| h.value).collect();
            assert_eq!(
                sent.len(),
                got.len(),
                "{kind:?}: {} in the request, {} in the response {:?}",
                sent.len(),
                got.len(),
                show(out)
            );
            for (i, (s, g)) in sent.iter().zip(&got).enumerate() {
                let amended = (kind == Hdr::Via && i == 0) || kind == Hdr::To;
                if !amended {
                    // The writer may unfold (RFC 3261 §7.3.1: a folded value is equivalent
                    // to its unfolded form, and LWS to one SP), nothing more.
                    assert_eq!(
                        show(&collapse_lws(s)),
                        show(&collapse_lws(g)),
                        "{kind:?} #{i} is not echoed as sent (up to folding and LWS)"
                    );
                }
            }
        }

        // Top Via: still a Via, with the same branch, `received` naming the source when
        // §18.2.1 / RFC 3581 require it, and a bare `rport` filled with the source port.
        let top = m.header(Hdr::Via).expect("response lost its Via").value;
        let first = header::elements(top)
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("response top Via {:?} has no element", show(top)));
        let via = header::Via::parse(first).unwrap_or_else(|e| {
            panic!(
                "amended top Via {:?} does not parse: {e:?} (request Via {:?})",
                show(first),
                show(req.via.raw)
            )
        });
        assert_eq!(via.branch(), req.via.branch(), "branch changed");
        let sent_by_is_source = match req.via.host {
            uri::Host::V4(ip) => IpAddr::V4(ip) == amend.source_ip,
            uri::Host::V6(ip) => IpAddr::V6(ip) == amend.source_ip,
            uri::Host::Name(_) => false,
        };
        let rport = req.via.rport();
        if req.via.received().is_none() && (!sent_by_is_source || rport.is_some()) {
            let ip = amend.source_ip.to_string();
            assert_eq!(
                via.received(),
                Some(ip.as_bytes()),
                "top Via {:?} does not report received={ip} (request Via {:?})",
                show(first),
                show(req.via.raw)
            );
        } else {
            assert_eq!(via.received(), req.via.received(), "received changed");
        }
        if rport == Some(None) {
            let port = amend.source_port.to_string();
            assert_eq!(
                via.rport(),
                Some(Some(port.as_bytes())),
                "bare rport not filled in {:?}",
                show(first)
            );
        } else {
            assert_eq!(via.rport(), rport, "rport changed");
        }

        // To: parses, and carries the request's tag or ours.
        let to = m.header(Hdr::To).expect("response lost its To").value;
        let to = header::parse_from_to(to, req.uri_limits())
            .unwrap_or_else(|e| panic!("response To {:?} does not parse: {e:?}", show(to)));
        let want = req.to.tag().unwrap_or(TO_TAG);
        assert_eq!(to.tag(), Some(want), "response To tag");
    }
}

// ---------------------------------------------------------------------------------------------
// registrar_handle
// ---------------------------------------------------------------------------------------------

/// Separates the messages of one `registrar_handle` input (no SIP message holds NULs).
pub const MESSAGE_SEPARATOR: &[u8] = b"\0\0";

/// Feeds up to four messages (the input split at [`MESSAGE_SEPARATOR`]) to a fresh
/// `Registrar` with the default configuration, one second apart, over UDP then TCP, and
/// checks every response it chooses to send, the malformed-request salvage path included:
/// it goes back to the source host (the same connection on a stream), and our strict parser frames it as one response with
/// the status code the outcome names, a Via, and a body exactly as long as its Content-Length.
pub fn check_registrar(data: &[u8]) {
    use registrar::registrar::{Config, Millis, Outcome, Registrar, Source, Transport, UnixTime};

    let mut r = Registrar::new(Config::default(), Millis(0)).expect("default config is valid");
    let mut out = Vec::new();
    let mut rest = data;
    for i in 0..4u64 {
        let (msg, next) = match rest
            .windows(MESSAGE_SEPARATOR.len())
            .position(|w| w == MESSAGE_SEPARATOR)
        {
            Some(p) if i < 3 => (&rest[..p], Some(&rest[p + MESSAGE_SEPARATOR.len()..])),
            _ => (rest, None),
        };
        // The shard router reads the same bytes before the core does: it must not panic,
        // and an AoR it names is never empty.
        let mut key = Vec::new();
        if registrar::registrar::route::owner_aor(r.config(), msg, &mut key) {
            assert!(!key.is_empty(), "owner AoR named but empty");
        }
        for transport in [Transport::Udp, Transport::Tcp] {
            let src = Source {
                addr: std::net::SocketAddr::new(AMENDS[0].source_ip, AMENDS[0].source_port),
                transport,
            };
            let now = Millis(i * 1000);
            match r.handle(now, UnixTime(1_700_000_000 + i), src, msg, &mut out) {
                Outcome::Respond { code, dest } => {
                    // RFC 3261 §18.2.2 / RFC 3581: UDP answers go to the source IP (the port
                    // may come from Via); stream answers go back on the connection.
                    if transport.is_stream() {
                        assert_eq!(dest, src.addr, "stream response sent off the connection");
                    } else {
                        assert_eq!(dest.ip(), src.addr.ip(), "UDP response sent to another host");
                    }
                    check_registrar_response(&out, code, msg);
                }
                Outcome::Drop(_) => {}
            }
        }
        r.handle_timeout(Millis(i * 1000 + 500));
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
}

fn check_registrar_response(out: &[u8], code: u16, request: &[u8]) {
    let cfg = ParserConfig {
        limits: Limits {
            max_message_bytes: 1 << 20,
            ..Limits::default()
        },
        ..strict()
    };
    let mut h = [Header::EMPTY; 4 * MAX_HEADERS];
    for framing in [Framing::Datagram, Framing::Stream] {
        let m = match message::parse(out, &mut h, framing, &cfg) {
            Ok(Status::Complete(m)) => m,
            other => panic!(
                "the registrar's {code} response does not re-parse ({framing:?}): {other:?}\n\
                 response: {:?}\nrequest: {:?}",
                show(out),
                show(request)
            ),
        };
        assert!(
            matches!(m.start, StartLine::Response { code: c, .. } if c == code),
            "status line {:?} does not carry the outcome's code {code}",
            m.start
        );
        assert_eq!(m.len, out.len(), "response framed short: trailing bytes");
        assert_eq!(
            m.content_length,
            Some(m.body.len()),
            "response body and Content-Length disagree"
        );
        assert!(
            m.header(Hdr::Via).is_some(),
            "response without a Via: {:?}",
            show(out)
        );
    }
}

/// `journal::decode` on arbitrary bytes: never panics; every record it accepts borrows from
/// the input; it stops at the first error (reporting it once); and re-decoding the accepted
/// prefix gives the same records (the decoder is deterministic and prefix-closed).
pub fn check_journal(data: &[u8]) {
    use registrar::registrar::journal;
    let mut accepted = Vec::new();
    let mut errors = 0;
    for r in journal::decode(data) {
        match r {
            Ok(rec) => {
                assert!(errors == 0, "a record after an error");
                assert!(is_within(data, rec.aor), "aor borrows from the input");
                for b in &rec.bindings {
                    for s in [b.uri, b.params, b.call_id, b.path] {
                        assert!(is_within(data, s), "binding strings borrow from the input");
                    }
                }
                accepted.push(rec);
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1, "decoding stops at the first error");
    // The accepted records end where the first error (or the input) starts.
    let mut end = 0;
    for _ in &accepted {
        let len = u32::from_le_bytes([data[end], data[end + 1], data[end + 2], data[end + 3]]);
        end += 4 + len as usize;
    }
    let again: Vec<_> = journal::decode(&data[..end]).collect::<Result<_, _>>().expect("prefix");
    assert_eq!(again, accepted, "re-decoding the accepted prefix");
}
