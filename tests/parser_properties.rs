//! Property tests for the zero-copy SIP parser.
//!
//! Goal: show that what a well-formed request says is exactly what the typed views return,
//! that stream framing recovers every message of a byte stream however it is cut, and that no
//! input, however hostile, makes the parser panic.
//!
//! Method:
//! - `request_round_trip`: generate a structured request (method, Request-URI, Via list with
//!   parameters, From/To with display names and tags, Call-ID, CSeq, Contact list with
//!   expires/q/+sip.instance/reg-id/methods, Expires, Max-Forwards, digest Authorization,
//!   Supported, extension headers, folded lines, compact and odd-case names, LWS variants
//!   around colons, commas and semicolons, body with Content-Length), serialise it, parse it
//!   and check every generated field comes back equal: raw bytes, and URIs with
//!   `Uri::rfc_eq` against equivalent and non-equivalent renderings (RFC 3261 §19.1.4).
//! - `stream_framing_recovers_every_message`: concatenate several messages (with keep-alive
//!   CRLFs), cut the stream at random points, feed it chunk by chunk with `Framing::Stream`:
//!   every message is recovered byte-exactly with the right `len`, and the parser says
//!   `Partial` (never an error, never a wrong message) until a message is complete.
//! - `arbitrary_bytes_never_panic` / `mutated_messages_never_panic`: SIP-flavoured random bytes
//!   and mutations of valid messages go through every public parse function; besides "no
//!   panic", framed results must stay inside the buffer and conserve length.
//!
//! Cosmetic choices (names, separators, shuffles) come from a seeded PRNG inside each case, so
//! a failing case still replays from proptest's seed. Failure persistence is off so that runs
//! write no files into the source tree.

mod support;

use support::rng::Rng;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;

use registrar::sip::header::{self, ContactValue, Hdr, HeaderParams, NameAddr, Via};
use registrar::sip::{
    ContactItem, Credentials, Framing, Header, Host, Message, Method, ParserConfig, Request,
    Scheme, StartLine, Status, Uri, UriLimits, message,
};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

// ---------------------------------------------------------------------------------------------
// Generated values.

const TOKEN: &str = "[a-zA-Z0-9.!%*_+`'~-]{1,10}";
/// `word` (Call-ID): token characters plus `()<>:\"/[]?{}`.
const WORD: &str = r#"[a-zA-Z0-9.!%*_+`'~()<>:\\"/\[\]?{}-]{1,12}"#;
/// `user` without the characters the addr-spec form forbids (`,`, `?`, `;`, RFC 3261 §20).
const USER: &str = "([a-zA-Z0-9_.!~*'()&=+$-]|%[0-9A-Fa-f]{2}){1,10}";
const PASSWORD: &str = "([a-zA-Z0-9_.!~*'()&=+$-]|%[0-9a-f]{2}){0,6}";
/// `paramchar` without escapes.
const PARAMCHARS: &str = r"[a-zA-Z0-9_.!~*'()\[\]/:&+$-]{1,8}";
const HOSTNAME: &str = "([a-zA-Z0-9]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?\\.){0,3}\
                        [a-zA-Z]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?\\.?";

/// A regex strategy compiled once (a bare `&str` strategy re-parses its regex per case).
fn re(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).expect("valid regex")
}

fn token() -> impl Strategy<Value = String> {
    re(TOKEN)
}

type Params = Vec<(String, Option<String>)>;

/// Drops parameters whose name (case-insensitively) was seen before or is reserved.
fn dedupe(params: Params, reserved: &[&str]) -> Params {
    let mut out: Params = Vec::new();
    for (n, v) in params {
        let clash = reserved.iter().any(|r| r.eq_ignore_ascii_case(&n))
            || out.iter().any(|(m, _)| m.eq_ignore_ascii_case(&n));
        if !clash {
            out.push((n, v));
        }
    }
    out
}

fn render_params(params: &Params, sep: &str, eq: &str) -> String {
    let mut s = String::new();
    for (n, v) in params {
        s.push_str(sep);
        s.push_str(n);
        if let Some(v) = v {
            s.push_str(eq);
            s.push_str(v);
        }
    }
    s
}

fn find_param<'a>(params: &'a Params, name: &str) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

#[derive(Clone, Debug)]
enum GHost {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl GHost {
    fn render(&self) -> String {
        match self {
            GHost::Name(n) => n.clone(),
            GHost::V4(a) => a.to_string(),
            GHost::V6(a) => format!("[{a}]"),
        }
    }

    fn expected(&self) -> Host<'_> {
        match self {
            GHost::Name(n) => Host::Name(n.as_bytes()),
            GHost::V4(a) => Host::V4(*a),
            GHost::V6(a) => Host::V6(*a),
        }
    }
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    // Zero runs make `::` compression and IPv4-mapped forms likely.
    prop::array::uniform8(prop_oneof![2 => Just(0u16), 1 => Just(0xffff), 3 => any::<u16>()])
        .prop_map(Ipv6Addr::from)
}

fn ghost() -> BoxedStrategy<GHost> {
    prop_oneof![
        4 => re(HOSTNAME).prop_map(GHost::Name),
        2 => any::<[u8; 4]>().prop_map(|o| GHost::V4(Ipv4Addr::from(o))),
        1 => ipv6().prop_map(GHost::V6),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
struct GUri {
    /// As written (`sip`, `SIP`, `sips`...).
    scheme: String,
    user: Option<String>,
    password: Option<String>,
    host: GHost,
    port: Option<u16>,
    params: Params,
}

impl GUri {
    fn render(&self) -> String {
        let mut s = format!("{}:", self.scheme);
        if let Some(u) = &self.user {
            s.push_str(u);
            if let Some(p) = &self.password {
                s.push(':');
                s.push_str(p);
            }
            s.push('@');
        }
        s.push_str(&self.host.render());
        if let Some(p) = self.port {
            let _ = write!(s, ":{p}");
        }
        s.push_str(&render_params(&self.params, ";", "="));
        s
    }

    fn params_raw(&self) -> String {
        render_params(&self.params, ";", "=")
            .strip_prefix(';')
            .unwrap_or("")
            .to_string()
    }

    /// An RFC 3261 §19.1.4-equivalent rendering: scheme and host case flipped, parameters
    /// reversed with their names' case flipped, one unreserved user character escaped.
    fn equivalent(&self) -> String {
        let mut v = self.clone();
        v.scheme = flip_case(&v.scheme);
        if let GHost::Name(n) = &v.host {
            v.host = GHost::Name(flip_case(n));
        }
        v.params.reverse();
        for (n, _) in &mut v.params {
            *n = flip_case(n);
        }
        if let Some(u) = &v.user {
            // Escape the first alphanumeric outside an existing escape.
            let bytes = u.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    i += 3;
                    continue;
                }
                if bytes[i].is_ascii_alphanumeric() {
                    v.user = Some(format!("{}%{:02X}{}", &u[..i], bytes[i], &u[i + 1..]));
                    break;
                }
                i += 1;
            }
        }
        v.render()
    }
}

fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn uri_params() -> BoxedStrategy<Params> {
    let name = prop_oneof![
        2 => select(&["transport", "lr", "user", "method", "maddr", "ttl", "ob", "gr"][..])
            .prop_map(String::from),
        3 => re(PARAMCHARS),
    ];
    prop::collection::vec((name, prop::option::of(re(PARAMCHARS))), 0..4)
        .prop_map(|p| dedupe(p, &[]))
        .boxed()
}

/// A SIP or SIPS URI. `angle_only` allows URI parameters (which an addr-spec cannot carry).
fn guri(angle_only: bool) -> BoxedStrategy<GUri> {
    (
        select(&["sip", "sip", "sips", "SIP", "sIpS"][..]),
        prop::option::of((re(USER), prop::option::weighted(0.2, re(PASSWORD)))),
        ghost(),
        prop::option::of(any::<u16>()),
        uri_params(),
    )
        .prop_map(move |(scheme, userinfo, host, port, params)| GUri {
            scheme: scheme.to_string(),
            user: userinfo.as_ref().map(|(u, _)| u.clone()),
            password: userinfo.and_then(|(_, p)| p),
            host,
            port,
            params: if angle_only { params } else { Vec::new() },
        })
        .boxed()
}

fn check_uri(u: &Uri<'_>, g: &GUri, context: &str) -> Result<(), TestCaseError> {
    let raw = g.render();
    prop_assert_eq!(u.raw, raw.as_bytes(), "{}: raw", context);
    let scheme = if g.scheme.eq_ignore_ascii_case("sips") {
        Scheme::Sips
    } else {
        Scheme::Sip
    };
    prop_assert_eq!(u.scheme, scheme, "{}: scheme", context);
    prop_assert_eq!(
        u.user,
        g.user.as_deref().map(str::as_bytes),
        "{}: user",
        context
    );
    prop_assert_eq!(
        u.password,
        g.password.as_deref().map(str::as_bytes),
        "{}: password",
        context
    );
    prop_assert_eq!(u.host, Some(g.host.expected()), "{}: host", context);
    let host_raw = g.host.render();
    prop_assert_eq!(u.host_raw, host_raw.as_bytes(), "{}: host_raw", context);
    prop_assert_eq!(u.port, g.port, "{}: port", context);
    let params_raw = g.params_raw();
    prop_assert_eq!(u.params, params_raw.as_bytes(), "{}: params", context);
    prop_assert_eq!(u.headers, b"", "{}: headers", context);
    for (n, v) in &g.params {
        prop_assert_eq!(
            u.param(n.as_bytes()),
            Some(v.as_deref().map(str::as_bytes)),
            "{}: param {}",
            context,
            n
        );
    }

    // §19.1.4: equal to itself re-parsed and to an equivalent rendering, both ways; not equal
    // once the port or the user changes.
    let limits = UriLimits::default();
    let same = Uri::parse(raw.as_bytes(), &limits).map_err(|e| fail(format!("{e:?}")))?;
    prop_assert!(
        u.rfc_eq(&same) && same.rfc_eq(u),
        "{}: not equal to itself",
        context
    );
    let eq_text = g.equivalent();
    let eq = Uri::parse(eq_text.as_bytes(), &limits).map_err(|e| fail(format!("{e:?}")))?;
    prop_assert!(u.rfc_eq(&eq), "{}: {} !~ {}", context, raw, eq_text);
    prop_assert!(eq.rfc_eq(u), "{}: {} !~ {}", context, eq_text, raw);
    let mut other_port = g.clone();
    other_port.port = match g.port {
        None => Some(5060),
        Some(5060) => None,
        Some(p) => Some(p.wrapping_add(1)),
    };
    let op_text = other_port.render();
    let op = Uri::parse(op_text.as_bytes(), &limits).map_err(|e| fail(format!("{e:?}")))?;
    prop_assert!(
        !u.rfc_eq(&op) && !op.rfc_eq(u),
        "{}: {} ~ {}",
        context,
        raw,
        op_text
    );
    let mut other_user = g.clone();
    other_user.user = Some(format!("{}x", g.user.clone().unwrap_or_default()));
    other_user.password = g.password.clone();
    let ou_text = other_user.render();
    let ou = Uri::parse(ou_text.as_bytes(), &limits).map_err(|e| fail(format!("{e:?}")))?;
    prop_assert!(
        !u.rfc_eq(&ou) && !ou.rfc_eq(u),
        "{}: {} ~ {}",
        context,
        raw,
        ou_text
    );
    Ok(())
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// `quoted-string` with escapes, commas, semicolons, angle brackets and UTF-8 inside.
fn quoted() -> BoxedStrategy<String> {
    prop::collection::vec(
        prop_oneof![
            8 => re(r"[ !#-\[\]-~]"),
            1 => Just("\\\"".to_string()),
            1 => Just("\\\\".to_string()),
            1 => Just("\u{fc}".to_string()),
            1 => Just(", <;>".to_string()),
        ],
        0..10,
    )
    .prop_map(|v| format!("\"{}\"", v.concat()))
    .boxed()
}

/// `gen-value = token / host / quoted-string`.
fn gen_value() -> BoxedStrategy<String> {
    prop_oneof![
        5 => token(),
        1 => quoted(),
        1 => ipv6().prop_map(|a| a.to_string()),
        1 => ghost().prop_map(|h| h.render()),
    ]
    .boxed()
}

fn header_params(max: usize) -> BoxedStrategy<Params> {
    prop::collection::vec((token(), prop::option::of(gen_value())), 0..max).boxed()
}

#[derive(Clone, Debug)]
struct GNameAddr {
    /// Display name as written (quotes included).
    display: Option<String>,
    display_sep: &'static str,
    angle: bool,
    uri: GUri,
    params: Params,
    psep: &'static str,
    peq: &'static str,
}

impl GNameAddr {
    fn render(&self) -> String {
        let mut s = String::new();
        if self.angle {
            if let Some(d) = &self.display {
                s.push_str(d);
                s.push_str(self.display_sep);
            }
            s.push('<');
            s.push_str(&self.uri.render());
            s.push('>');
        } else {
            s.push_str(&self.uri.render());
        }
        s.push_str(&render_params(&self.params, self.psep, self.peq));
        s
    }
}

/// Header parameters with a meaning (From/To tag, Contact parameters): random parameters never
/// take these names, so the expected values are unambiguous.
const SPECIAL_PARAMS: &[&str] = &["tag", "expires", "q", "+sip.instance", "reg-id", "methods"];

/// `name-addr` or `addr-spec` with header parameters; `specials` are added first and win
/// over random parameters of the same name.
fn gname_addr(specials: impl Strategy<Value = Params> + 'static) -> BoxedStrategy<GNameAddr> {
    let display = prop_oneof![
        2 => Just(None),
        2 => quoted().prop_map(Some),
        1 => prop::collection::vec(token(), 1..3).prop_map(|w| Some(w.join(" "))),
    ];
    (
        display,
        any::<bool>(),
        guri(true),
        specials,
        header_params(3),
        any::<u64>(),
    )
        .prop_map(|(display, angle, mut uri, specials, others, seed)| {
            let mut rng = Rng::new(seed);
            let angle = angle || display.is_some() || !uri.params.is_empty();
            if !angle {
                uri.params.clear();
            }
            let mut reserved: Vec<&str> = specials.iter().map(|(n, _)| n.as_str()).collect();
            reserved.extend(SPECIAL_PARAMS);
            let mut params = specials.clone();
            params.extend(dedupe(others, &reserved));
            let mut params = dedupe(params, &[]);
            rng.shuffle(&mut params);
            let is_tokens = display.as_ref().is_some_and(|d| !d.starts_with('"'));
            let display_sep = if is_tokens {
                rng.pick(&[" ", "  ", "\r\n "])
            } else {
                rng.pick(&[" ", "", "\r\n\t", "  "])
            };
            GNameAddr {
                display,
                display_sep,
                angle,
                uri,
                params,
                psep: rng.pick(&[";", ";", " ;", "; ", " ; "]),
                peq: rng.pick(&["=", "=", " = "]),
            }
        })
        .boxed()
}

fn check_name_addr(na: &NameAddr<'_>, g: &GNameAddr, context: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        na.display,
        g.display.as_deref().map(str::as_bytes),
        "{}: display",
        context
    );
    prop_assert_eq!(na.angle, g.angle, "{}: angle", context);
    check_uri(&na.uri, &g.uri, context)?;
    let got: Vec<(&[u8], Option<&[u8]>)> = na.params.iter().collect();
    let want: Vec<(&[u8], Option<&[u8]>)> = g
        .params
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_deref().map(str::as_bytes)))
        .collect();
    prop_assert_eq!(got, want, "{}: params", context);
    Ok(())
}

#[derive(Clone, Debug)]
struct GVia {
    proto: &'static str,
    transport: String,
    lws: &'static str,
    host: GHost,
    port: Option<u16>,
    params: Params,
    psep: &'static str,
}

impl GVia {
    fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host.render()),
            None => self.host.render(),
        }
    }

    fn render(&self) -> String {
        format!(
            "{}{}{}{}{}",
            self.proto,
            self.transport,
            self.lws,
            self.sent_by(),
            render_params(&self.params, self.psep, "=")
        )
    }
}

fn gvia() -> BoxedStrategy<GVia> {
    let transport = prop_oneof![
        4 => select(&["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "udp", "tls"][..])
            .prop_map(String::from),
        1 => token(),
    ];
    let received = prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        ipv6().prop_map(|a| a.to_string()),
    ];
    (
        select(&["SIP/2.0/", "SIP / 2.0 / ", "sip/2.0/"][..]),
        transport,
        select(&[" ", "  ", "\t", "\r\n "][..]),
        ghost(),
        prop::option::of(any::<u16>()),
        prop::option::weighted(0.9, re("z9hG4bK[a-zA-Z0-9.!%*_+`'~-]{1,12}")),
        prop::option::of(prop::option::of(any::<u16>())),
        prop::option::of(received),
        header_params(3),
        (select(&[";", " ;", "; ", " ; "][..]), any::<u64>()),
    )
        .prop_map(
            |(proto, transport, lws, host, port, branch, rport, received, others, (psep, seed))| {
                let mut params: Params = Vec::new();
                if let Some(b) = branch {
                    params.push(("branch".into(), Some(b)));
                }
                if let Some(r) = rport {
                    params.push(("rport".into(), r.map(|p| p.to_string())));
                }
                if let Some(r) = received {
                    params.push(("received".into(), Some(r)));
                }
                params.extend(dedupe(others, &["branch", "rport", "received"]));
                let mut params = dedupe(params, &[]);
                Rng::new(seed).shuffle(&mut params);
                GVia {
                    proto,
                    transport,
                    lws,
                    host,
                    port,
                    params,
                    psep,
                }
            },
        )
        .boxed()
}

fn check_via(v: &Via<'_>, g: &GVia, context: &str) -> Result<(), TestCaseError> {
    let (raw, sent_by) = (g.render(), g.sent_by());
    prop_assert_eq!(v.raw, raw.as_bytes(), "{}: raw", context);
    prop_assert_eq!(
        v.transport,
        g.transport.as_bytes(),
        "{}: transport",
        context
    );
    prop_assert_eq!(v.sent_by, sent_by.as_bytes(), "{}: sent-by", context);
    prop_assert_eq!(v.host, g.host.expected(), "{}: host", context);
    prop_assert_eq!(v.port, g.port, "{}: port", context);
    prop_assert_eq!(
        v.branch(),
        find_param(&g.params, "branch").flatten().map(str::as_bytes),
        "{}: branch",
        context
    );
    prop_assert_eq!(
        v.rport(),
        find_param(&g.params, "rport").map(|r| r.map(str::as_bytes)),
        "{}: rport",
        context
    );
    prop_assert_eq!(
        v.received(),
        find_param(&g.params, "received")
            .flatten()
            .map(str::as_bytes),
        "{}: received",
        context
    );
    let got: Vec<(&[u8], Option<&[u8]>)> = v.params.iter().collect();
    let want: Vec<(&[u8], Option<&[u8]>)> = g
        .params
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_deref().map(str::as_bytes)))
        .collect();
    prop_assert_eq!(got, want, "{}: params", context);
    Ok(())
}

/// One Contact element and the values the typed view must report for it.
#[derive(Clone, Debug)]
struct GContact {
    na: GNameAddr,
    expires: Option<u32>,
    q: Option<u16>,
    instance: Option<String>,
    reg_id: Option<u32>,
    methods: Option<String>,
}

/// `(text, thousandths)` pairs covering every qvalue form.
const QVALUES: &[(&str, u16)] = &[
    ("0", 0),
    ("0.", 0),
    ("0.5", 500),
    ("0.05", 50),
    ("0.001", 1),
    ("0.999", 999),
    ("0.7", 700),
    ("1", 1000),
    ("1.", 1000),
    ("1.0", 1000),
    ("1.000", 1000),
];

fn gcontact() -> BoxedStrategy<GContact> {
    let expires = prop_oneof![0u64..100_000, 4_294_967_290u64..10_000_000_000];
    let specials = (
        prop::option::of((select(&["expires", "Expires", "EXPIRES"][..]), expires)),
        prop::option::of((select(&["q", "Q"][..]), select(QVALUES))),
        prop::option::of(re(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        )),
        prop::option::of(0u32..1000),
        prop::option::of(select(
            &["INVITE,BYE", "MESSAGE", "INVITE, ACK, CANCEL"][..],
        )),
        any::<u64>(),
    )
        .prop_map(|(exp, q, instance, reg_id, methods, seed)| {
            let mut p: Params = Vec::new();
            if let Some((n, v)) = exp {
                p.push((n.into(), Some(v.to_string())));
            }
            if let Some((n, (text, _))) = q {
                p.push((n.into(), Some(text.into())));
            }
            if let Some(i) = instance {
                p.push(("+sip.instance".into(), Some(format!("\"<urn:uuid:{i}>\""))));
            }
            if let Some(r) = reg_id {
                p.push(("reg-id".into(), Some(r.to_string())));
            }
            if let Some(m) = methods {
                p.push(("methods".into(), Some(format!("\"{m}\""))));
            }
            Rng::new(seed).shuffle(&mut p);
            p
        });
    gname_addr(specials)
        .prop_map(|na| {
            let p = &na.params;
            GContact {
                expires: find_param(p, "expires")
                    .flatten()
                    .map(|v| u32::try_from(v.parse::<u64>().unwrap()).unwrap_or(u32::MAX)),
                q: find_param(p, "q").flatten().map(|v| {
                    QVALUES
                        .iter()
                        .find(|(t, _)| *t == v)
                        .map(|(_, q)| *q)
                        .unwrap()
                }),
                instance: find_param(p, "+sip.instance")
                    .flatten()
                    .map(|v| v.trim_matches('"').to_string()),
                reg_id: find_param(p, "reg-id")
                    .flatten()
                    .map(|v| v.parse().unwrap()),
                methods: find_param(p, "methods")
                    .flatten()
                    .map(|v| v.trim_matches('"').to_string()),
                na,
            }
        })
        .boxed()
}

/// Digest credentials: `(name as written, value as written, value the view returns)`.
#[derive(Clone, Debug)]
struct GDigest {
    scheme: &'static str,
    fields: Vec<(String, String, String)>,
    seps: Vec<&'static str>,
}

impl GDigest {
    fn render(&self) -> String {
        let mut s = format!("{} ", self.scheme);
        for (i, (n, v, _)) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push_str(self.seps[i % self.seps.len()]);
            }
            let _ = write!(s, "{n}={v}");
        }
        s
    }

    fn expected(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, _, e)| e.as_bytes())
    }
}

fn gdigest() -> BoxedStrategy<GDigest> {
    let q = |p: &str| re(p).prop_map(|v: String| (format!("\"{v}\""), v));
    let t = |p: &str| re(p).prop_map(|v: String| (v.clone(), v));
    (
        (
            prop::option::weighted(0.9, q("[a-z0-9._-]{1,10}")),
            prop::option::weighted(0.9, q("[a-z0-9.]{1,12}")),
            prop::option::weighted(0.9, q("[0-9a-f]{8,32}")),
            prop::option::weighted(
                0.9,
                guri(true).prop_map(|u| {
                    let r = u.render();
                    (format!("\"{r}\""), r)
                }),
            ),
            prop::option::weighted(0.9, q("[0-9a-f]{32}")),
            prop::option::of(t("(MD5|MD5-sess|SHA-256|SHA-512-256)")),
        ),
        (
            prop::option::of(q("[0-9a-zA-Z]{4,16}")),
            prop::option::of(q("[0-9a-f]{4,16}")),
            prop::option::of(t("(auth|auth-int)")),
            prop::option::of(t("[0-9a-f]{8}")),
            prop::option::of(q("[0-9a-f]{16}")),
            prop::option::of((token(), prop_oneof![token(), quoted()])),
        ),
        select(&["Digest", "digest", "DIGEST"][..]),
        any::<u64>(),
    )
        .prop_map(
            |(
                (username, realm, nonce, uri, response, alg),
                (cnonce, opaque, qop, nc, uh, ext),
                scheme,
                seed,
            )| {
                let mut rng = Rng::new(seed);
                let mut fields = Vec::new();
                let mut add = |name: &str, v: Option<(String, String)>, rng: &mut Rng| {
                    if let Some((written, expected)) = v {
                        let name = if rng.chance(20) {
                            flip_case(name)
                        } else {
                            name.into()
                        };
                        fields.push((name, written, expected));
                    }
                };
                add("username", username, &mut rng);
                add("realm", realm, &mut rng);
                add("nonce", nonce, &mut rng);
                add("uri", uri, &mut rng);
                add("response", response, &mut rng);
                add("algorithm", alg, &mut rng);
                add("cnonce", cnonce, &mut rng);
                add("opaque", opaque, &mut rng);
                add("qop", qop, &mut rng);
                add("nc", nc, &mut rng);
                add("userhash", uh, &mut rng);
                if let Some((n, v)) = ext {
                    let known = [
                        "username",
                        "realm",
                        "nonce",
                        "uri",
                        "response",
                        "algorithm",
                        "cnonce",
                        "opaque",
                        "qop",
                        "nc",
                        "userhash",
                    ];
                    if !known.iter().any(|k| k.eq_ignore_ascii_case(&n)) {
                        fields.push((n, v, String::new()));
                    }
                }
                if fields.is_empty() {
                    fields.push(("realm".into(), "\"r\"".into(), "r".into()));
                }
                rng.shuffle(&mut fields);
                let seps = (0..fields.len().max(1))
                    .map(|_| rng.pick(&[", ", ",", " , ", ",\r\n ", ",  "]))
                    .collect();
                GDigest {
                    scheme,
                    fields,
                    seps,
                }
            },
        )
        .boxed()
}

/// The value part of a header line.
#[derive(Clone, Debug)]
enum Body {
    Via(Vec<GVia>, Vec<&'static str>),
    From(GNameAddr),
    To(GNameAddr),
    CallId(String),
    CSeq(u32, &'static str, String),
    Contact(Vec<GContact>, Vec<&'static str>),
    Star,
    Number(u64),
    Digest(GDigest),
    Tags(Vec<String>, Vec<&'static str>),
    Text(String),
    ContentLength,
}

#[derive(Clone, Debug)]
struct GLine {
    name: String,
    colon: &'static str,
    kind: Hdr,
    body: Body,
}

fn join(items: &[String], seps: &[&str]) -> String {
    let mut s = String::new();
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            s.push_str(seps[i % seps.len()]);
        }
        s.push_str(it);
    }
    s
}

impl GLine {
    fn value(&self, body_len: usize) -> String {
        match &self.body {
            Body::Via(v, seps) => join(&v.iter().map(GVia::render).collect::<Vec<_>>(), seps),
            Body::From(na) | Body::To(na) => na.render(),
            Body::CallId(c) => c.clone(),
            Body::CSeq(n, lws, m) => format!("{n}{lws}{m}"),
            Body::Contact(c, seps) => {
                join(&c.iter().map(|c| c.na.render()).collect::<Vec<_>>(), seps)
            }
            Body::Star => "*".into(),
            Body::Number(n) => n.to_string(),
            Body::Digest(d) => d.render(),
            Body::Tags(t, seps) => join(t, seps),
            Body::Text(t) => t.clone(),
            Body::ContentLength => body_len.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ClMode {
    Absent,
    Exact,
    /// Content-Length shorter than the datagram: the rest is discarded (RFC 3261 §18.3).
    WithTrailingJunk,
}

#[derive(Clone, Debug)]
struct GMsg {
    method: String,
    ruri: GUri,
    lines: Vec<GLine>,
    body: Vec<u8>,
    cl: ClMode,
    junk: Vec<u8>,
}

impl GMsg {
    fn render(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.ruri.render()).into_bytes();
        for l in &self.lines {
            out.extend_from_slice(l.name.as_bytes());
            out.extend_from_slice(l.colon.as_bytes());
            out.extend_from_slice(l.value(self.body.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        if self.cl == ClMode::WithTrailingJunk {
            out.extend_from_slice(&self.junk);
        }
        out
    }

    /// The same message as a stream transport must frame it: Content-Length present and exact.
    fn for_stream(&self) -> GMsg {
        let mut m = self.clone();
        m.cl = ClMode::Exact;
        // Excluded until fixed: a fold right after `Content-Length:` that the stream has not
        // delivered yet is read as an empty value and rejected instead of `Partial`; see
        // `stream_content_length_fold_split_is_partial`.
        for l in &mut m.lines {
            if matches!(l.body, Body::ContentLength) && l.colon.contains('\n') {
                l.colon = ": ";
            }
        }
        if !m
            .lines
            .iter()
            .any(|l| matches!(l.body, Body::ContentLength))
        {
            m.lines.push(GLine {
                name: "Content-Length".into(),
                colon: ": ",
                kind: Hdr::ContentLength,
                body: Body::ContentLength,
            });
        }
        m
    }
}

const METHODS: &[&str] = &[
    "REGISTER",
    "REGISTER",
    "REGISTER",
    "INVITE",
    "OPTIONS",
    "BYE",
    "ACK",
    "CANCEL",
    "SUBSCRIBE",
    "NOTIFY",
    "MESSAGE",
    "INFO",
    "PRACK",
    "UPDATE",
    "REFER",
    "PUBLISH",
];

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(METHODS).prop_map(String::from),
        1 => re("[A-Z][A-Za-z0-9.!%*_+`'~-]{0,8}"),
    ]
}

fn names(rng: &mut Rng, long: &[&'static str], compact: &[&'static str]) -> String {
    if !compact.is_empty() && rng.chance(25) {
        rng.pick(compact).to_string()
    } else {
        let n = rng.pick(long);
        match rng.below(6) {
            0 => n.to_ascii_uppercase(),
            1 => n.to_ascii_lowercase(),
            _ => n.to_string(),
        }
    }
}

/// Splits `items` into 1..=groups consecutive groups (each becomes one header line).
fn group<T: Clone>(rng: &mut Rng, items: &[T], groups: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if i == 0 || (out.len() < groups && rng.chance(40)) {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(it.clone());
    }
    out
}

const LIST_SEPS: &[&str] = &[", ", ",", " , ", ",\r\n ", ",\r\n\t"];
const COLONS: &[&str] = &[": ", ": ", ": ", ":", " : ", ":\t", "\t:  ", ":\r\n "];

fn text_value() -> BoxedStrategy<String> {
    prop::collection::vec(
        (
            prop_oneof![5 => re("[!-~]{1,8}"), 1 => Just("\u{e9}t\u{e9}".into())],
            select(&[" ", " ", "\t", "\r\n ", "\r\n\t", "  "][..]),
        ),
        0..5,
    )
    .prop_map(|words| {
        let mut s = String::new();
        for (i, (w, sep)) in words.iter().enumerate() {
            if i > 0 {
                s.push_str(sep);
            }
            s.push_str(w);
        }
        s
    })
    .boxed()
}

fn gmsg() -> BoxedStrategy<GMsg> {
    let tag = || {
        prop::option::of(
            (select(&["tag", "TAG", "Tag"][..]), token())
                .prop_map(|(n, t)| vec![(n.to_string(), Some(t))]),
        )
    };
    let from = gname_addr(
        tag().prop_map(|t| t.unwrap_or_else(|| vec![("tag".into(), Some("1928301774".into()))])),
    );
    let to = gname_addr(tag().prop_map(Option::unwrap_or_default));
    let call_id = (re(WORD), prop::option::of(re(WORD))).prop_map(|(a, b)| match b {
        Some(b) => format!("{a}@{b}"),
        None => a,
    });
    (
        (
            method(),
            guri(true),
            prop::collection::vec(gvia(), 1..4),
            from,
            to,
            call_id,
            0u32..(1 << 31),
        ),
        (
            prop_oneof![8 => prop::collection::vec(gcontact(), 0..4), 1 => Just(Vec::new())],
            any::<bool>(),
            prop::option::of(prop_oneof![
                0u64..100_000,
                4_294_967_290u64..100_000_000_000
            ]),
            prop::option::of(0u64..300),
            prop::option::weighted(0.4, gdigest()),
            prop::option::weighted(0.4, prop::collection::vec(token(), 1..4)),
            prop::collection::vec((re("X-[a-zA-Z0-9-]{1,8}"), text_value()), 0..3),
            prop::collection::vec(any::<u8>(), 0..48),
            prop::collection::vec(any::<u8>(), 1..8),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (method, ruri, vias, from, to, call_id, cseq),
                (contacts, star, expires, max_fwd, digest, supported, others, body, junk, seed),
            )| {
                let mut rng = Rng::new(seed);
                let mut lines = Vec::new();
                let mut line = |rng: &mut Rng, name: String, kind: Hdr, body: Body| {
                    let colon = rng.pick(COLONS);
                    lines.push(GLine {
                        name,
                        colon,
                        kind,
                        body,
                    });
                };
                for g in group(&mut rng, &vias, 3) {
                    let seps = (0..g.len()).map(|_| rng.pick(LIST_SEPS)).collect();
                    let n = names(&mut rng, &["Via"], &["v", "V"]);
                    line(&mut rng, n, Hdr::Via, Body::Via(g, seps));
                }
                let n = names(&mut rng, &["From"], &["f", "F"]);
                line(&mut rng, n, Hdr::From, Body::From(from));
                let n = names(&mut rng, &["To"], &["t", "T"]);
                line(&mut rng, n, Hdr::To, Body::To(to));
                let n = names(&mut rng, &["Call-ID"], &["i", "I"]);
                line(&mut rng, n, Hdr::CallId, Body::CallId(call_id));
                let lws = rng.pick(&[" ", "  ", "\t", "\r\n "]);
                let n = names(&mut rng, &["CSeq"], &[]);
                line(
                    &mut rng,
                    n,
                    Hdr::CSeq,
                    Body::CSeq(cseq, lws, method.clone()),
                );
                if star && contacts.is_empty() {
                    let n = names(&mut rng, &["Contact"], &["m"]);
                    line(&mut rng, n, Hdr::Contact, Body::Star);
                }
                for g in group(&mut rng, &contacts, 3) {
                    let seps = (0..g.len()).map(|_| rng.pick(LIST_SEPS)).collect();
                    let n = names(&mut rng, &["Contact"], &["m", "M"]);
                    line(&mut rng, n, Hdr::Contact, Body::Contact(g, seps));
                }
                if let Some(e) = expires {
                    let n = names(&mut rng, &["Expires"], &[]);
                    line(&mut rng, n, Hdr::Expires, Body::Number(e));
                }
                if let Some(m) = max_fwd {
                    let n = names(&mut rng, &["Max-Forwards"], &[]);
                    line(&mut rng, n, Hdr::MaxForwards, Body::Number(m));
                }
                if let Some(d) = digest {
                    let n = names(&mut rng, &["Authorization"], &[]);
                    line(&mut rng, n, Hdr::Authorization, Body::Digest(d));
                }
                if let Some(tags) = supported {
                    let seps = (0..tags.len()).map(|_| rng.pick(LIST_SEPS)).collect();
                    let n = names(&mut rng, &["Supported"], &["k"]);
                    line(&mut rng, n, Hdr::Supported, Body::Tags(tags, seps));
                }
                for (name, value) in others {
                    line(&mut rng, name, Hdr::Other, Body::Text(value));
                }
                if rng.chance(30) {
                    let n = names(&mut rng, &["User-Agent"], &[]);
                    line(
                        &mut rng,
                        n,
                        Hdr::UserAgent,
                        Body::Text("UA/1.0 (x; y)".into()),
                    );
                }
                if rng.chance(20) {
                    let n = names(&mut rng, &["Subject"], &["s"]);
                    line(
                        &mut rng,
                        n,
                        Hdr::Subject,
                        Body::Text("hello,\r\n world".into()),
                    );
                }
                let cl = match rng.below(6) {
                    0 => ClMode::Absent,
                    1 => ClMode::WithTrailingJunk,
                    _ => ClMode::Exact,
                };
                if cl != ClMode::Absent {
                    let n = names(&mut rng, &["Content-Length"], &["l", "L"]);
                    line(&mut rng, n, Hdr::ContentLength, Body::ContentLength);
                }
                rng.shuffle(&mut lines);
                GMsg {
                    method,
                    ruri,
                    lines,
                    body,
                    cl,
                    junk,
                }
            },
        )
        .boxed()
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn expected_method(m: &str) -> Method<'_> {
    match m {
        "REGISTER" => Method::Register,
        "INVITE" => Method::Invite,
        "OPTIONS" => Method::Options,
        "BYE" => Method::Bye,
        "ACK" => Method::Ack,
        "CANCEL" => Method::Cancel,
        "SUBSCRIBE" => Method::Subscribe,
        "NOTIFY" => Method::Notify,
        "MESSAGE" => Method::Message,
        "INFO" => Method::Info,
        "PRACK" => Method::Prack,
        "UPDATE" => Method::Update,
        "REFER" => Method::Refer,
        "PUBLISH" => Method::Publish,
        other => Method::Other(other.as_bytes()),
    }
}

/// Checks the framing-level view of a generated message.
fn check_message(g: &GMsg, m: &Message<'_, '_>) -> Result<(), TestCaseError> {
    let ruri = g.ruri.render();
    prop_assert_eq!(
        m.start,
        StartLine::Request {
            method: expected_method(&g.method),
            uri: ruri.as_bytes()
        }
    );
    prop_assert_eq!(m.headers.len(), g.lines.len(), "header count");
    for (i, (h, l)) in m.headers.iter().zip(&g.lines).enumerate() {
        prop_assert_eq!(h.name, l.name.as_bytes(), "header {} name", i);
        prop_assert_eq!(h.kind, l.kind, "header {} kind ({})", i, l.name);
        let v = l.value(g.body.len());
        prop_assert_eq!(show(h.value), v, "header {} ({}) value", i, l.name);
    }
    prop_assert_eq!(m.body, &g.body[..], "body");
    let cl = (g.cl != ClMode::Absent).then_some(g.body.len());
    prop_assert_eq!(m.content_length, cl, "content_length");
    Ok(())
}

fn check_request(g: &GMsg, bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut hs = [Header::EMPTY; 64];
    let cfg = ParserConfig::default();
    let req = match Request::parse(bytes, &mut hs, Framing::Datagram, &cfg) {
        Ok(Status::Complete(r)) => r,
        other => return Err(fail(format!("parse: {other:?}\n{}", show(bytes)))),
    };
    prop_assert_eq!(req.msg.len, bytes.len(), "datagram len");
    check_message(g, &req.msg)?;
    prop_assert_eq!(req.method, expected_method(&g.method));
    check_uri(&req.uri, &g.ruri, "Request-URI")?;

    let mut vias = Vec::new();
    let mut contacts = Vec::new();
    let mut star = false;
    for l in &g.lines {
        match &l.body {
            Body::Via(v, _) => vias.extend(v.iter().cloned()),
            Body::Contact(c, _) => contacts.extend(c.iter().cloned().map(Some)),
            Body::Star => {
                star = true;
                contacts.push(None);
            }
            Body::From(na) => check_name_addr(&req.from, na, "From")?,
            Body::To(na) => check_name_addr(&req.to, na, "To")?,
            Body::CallId(c) => prop_assert_eq!(req.call_id, c.as_bytes()),
            Body::CSeq(n, _, m) => {
                prop_assert_eq!(req.cseq.number, *n);
                prop_assert_eq!(req.cseq.method, m.as_bytes());
            }
            Body::Number(n) => {
                let want = Some(u32::try_from(*n).unwrap_or(u32::MAX));
                match l.kind {
                    Hdr::Expires => prop_assert_eq!(req.expires, want, "Expires"),
                    _ => prop_assert_eq!(req.max_forwards, want, "Max-Forwards"),
                }
            }
            Body::Digest(d) => {
                let Some(Ok(Credentials::Digest(c))) = req.authorization() else {
                    return Err(fail(format!("credentials: {:?}", req.authorization())));
                };
                prop_assert_eq!(c.username, d.expected("username"));
                prop_assert_eq!(c.realm, d.expected("realm"));
                prop_assert_eq!(c.nonce, d.expected("nonce"));
                prop_assert_eq!(c.uri, d.expected("uri"));
                prop_assert_eq!(c.response, d.expected("response"));
                prop_assert_eq!(c.algorithm, d.expected("algorithm"));
                prop_assert_eq!(c.cnonce, d.expected("cnonce"));
                prop_assert_eq!(c.opaque, d.expected("opaque"));
                prop_assert_eq!(c.qop, d.expected("qop"));
                prop_assert_eq!(c.nc, d.expected("nc"));
                prop_assert_eq!(c.userhash, d.expected("userhash"));
            }
            Body::Tags(t, _) => {
                let got: Vec<&[u8]> = req
                    .option_tags(Hdr::Supported)
                    .collect::<Result<_, _>>()
                    .map_err(|e| fail(format!("{e:?}")))?;
                let want: Vec<&[u8]> = t.iter().map(|t| t.as_bytes()).collect();
                prop_assert_eq!(got, want);
                prop_assert!(
                    req.lists_option(Hdr::Supported, t[0].to_ascii_uppercase().as_bytes())
                );
            }
            Body::Text(_) | Body::ContentLength => {}
        }
    }
    if !g.lines.iter().any(|l| l.kind == Hdr::Expires) {
        prop_assert_eq!(req.expires, None);
    }
    if !g.lines.iter().any(|l| l.kind == Hdr::MaxForwards) {
        prop_assert_eq!(req.max_forwards, None);
    }

    let got_vias: Vec<Via<'_>> = req.vias().collect();
    prop_assert_eq!(got_vias.len(), vias.len(), "Via count");
    for (i, (v, gv)) in got_vias.iter().zip(&vias).enumerate() {
        check_via(v, gv, &format!("Via {i}"))?;
    }
    check_via(&req.via, &vias[0], "top Via")?;

    prop_assert_eq!(req.has_star_contact(), star);
    let got: Vec<_> = req.contacts().collect();
    prop_assert_eq!(got.len(), contacts.len(), "Contact count");
    for (i, (c, gc)) in got.iter().zip(&contacts).enumerate() {
        let context = format!("Contact {i}");
        match (c, gc) {
            (Ok(ContactItem::Star), None) => {}
            (Ok(ContactItem::Value(c)), Some(gc)) => {
                check_name_addr(&c.addr, &gc.na, &context)?;
                prop_assert_eq!(c.expires, gc.expires, "{}: expires", context);
                prop_assert_eq!(c.q, gc.q, "{}: q", context);
                prop_assert_eq!(
                    c.instance(),
                    gc.instance.as_deref().map(str::as_bytes),
                    "{}: +sip.instance",
                    context
                );
                prop_assert_eq!(c.reg_id(), gc.reg_id.map(Ok), "{}: reg-id", context);
                prop_assert_eq!(
                    c.methods(),
                    gc.methods.as_deref().map(str::as_bytes),
                    "{}: methods",
                    context
                );
            }
            (c, gc) => return Err(fail(format!("{context}: got {c:?}, want {gc:?}"))),
        }
    }
    prop_assert_eq!(req.check_all_headers(), Ok(()));
    Ok(())
}

proptest! {
    #![proptest_config(config(1200))]

    /// Every generated field comes back equal from the typed views.
    #[test]
    fn request_round_trip(g in gmsg()) {
        let bytes = g.render();
        check_request(&g, &bytes)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Stream framing.

proptest! {
    #![proptest_config(config(300))]

    /// Cut a stream of messages anywhere: each message comes out whole, with the right `len`,
    /// and the parser reports `Partial` until it is complete.
    #[test]
    fn stream_framing_recovers_every_message(
        msgs in prop::collection::vec((gmsg(), 0usize..3), 1..5),
        cuts in prop::collection::vec(any::<Index>(), 0..12),
    ) {
        let msgs: Vec<(GMsg, Vec<u8>)> = msgs
            .into_iter()
            .map(|(g, keepalives)| {
                let g = g.for_stream();
                let mut bytes = b"\r\n".repeat(keepalives);
                bytes.extend_from_slice(&g.render());
                (g, bytes)
            })
            .collect();
        let stream: Vec<u8> = msgs.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        points.dedup();

        let cfg = ParserConfig::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut next = 0;
        for w in points.windows(2) {
            buf.extend_from_slice(&stream[w[0]..w[1]]);
            loop {
                let mut hs = [Header::EMPTY; 64];
                match message::parse(&buf, &mut hs, Framing::Stream, &cfg) {
                    Ok(Status::Partial) => {
                        let want = msgs.get(next).map_or(0, |(_, b)| b.len());
                        prop_assert!(
                            buf.len() < want || (next == msgs.len() && buf.is_empty()),
                            "Partial with {} bytes buffered for a {}-byte message {}",
                            buf.len(), want, next
                        );
                        break;
                    }
                    Ok(Status::Complete(m)) => {
                        let (g, bytes) = &msgs[next];
                        prop_assert_eq!(m.len, bytes.len(), "len of message {}", next);
                        prop_assert_eq!(&buf[..m.len], &bytes[..]);
                        check_message(g, &m)?;
                        let len = m.len;
                        buf.drain(..len);
                        next += 1;
                        if buf.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        return Err(fail(format!(
                            "{e:?} on message {next} with {} bytes buffered:\n{}",
                            buf.len(), show(&buf)
                        )));
                    }
                }
            }
        }
        prop_assert_eq!(next, msgs.len(), "messages recovered");
        prop_assert!(buf.is_empty());
    }

}

proptest! {
    #![proptest_config(config(200))]

    /// Every strict prefix of a stream message is `Partial`; the whole is `Complete` with
    /// `len` equal to its size, even with more bytes behind it.
    #[test]
    fn stream_prefixes_are_partial(
        g in gmsg(),
        cuts in prop::collection::vec(any::<Index>(), 1..24),
        tail in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let g = g.for_stream();
        let bytes = g.render();
        let cfg = ParserConfig::default();
        for cut in cuts {
            let k = cut.index(bytes.len());
            let mut hs = [Header::EMPTY; 64];
            let r = message::parse(&bytes[..k], &mut hs, Framing::Stream, &cfg);
            prop_assert!(matches!(r, Ok(Status::Partial)), "prefix {}: {:?}", k, r);
        }
        let mut more = bytes.clone();
        more.extend_from_slice(&tail);
        let mut hs = [Header::EMPTY; 64];
        match message::parse(&more, &mut hs, Framing::Stream, &cfg) {
            Ok(Status::Complete(m)) => {
                prop_assert_eq!(m.len, bytes.len());
                check_message(&g, &m)?;
            }
            other => return Err(fail(format!("{other:?}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input never panics.

const FRAGMENTS: &[&str] = &[
    "\r\n",
    "\r\n",
    "\r\n\r\n",
    " ",
    "\t",
    ":",
    ";",
    ",",
    "=",
    "\"",
    "\\",
    "<",
    ">",
    "@",
    "[",
    "]",
    "%",
    "%4",
    "%41",
    "?",
    "&",
    "/",
    ".",
    "sip:",
    "sips:",
    "tel:",
    "urn:",
    "SIP/2.0",
    "SIP/2.0 ",
    "SIP/2.0/UDP ",
    "REGISTER ",
    "INVITE ",
    "Via: ",
    "v: ",
    "Contact: ",
    "m:",
    "From: ",
    "f:",
    "To: ",
    "Call-ID: ",
    "i:",
    "CSeq: ",
    "Content-Length: ",
    "l:",
    "Expires: ",
    "Max-Forwards: ",
    "Authorization: Digest ",
    "Proxy-Authorization: ",
    "Require: ",
    "Supported: ",
    "Route: ",
    "Record-Route: ",
    "Path: ",
    "Date: ",
    "Min-Expires: ",
    "username=",
    "uri=",
    "tag=",
    "branch=",
    "rport",
    "received=",
    "expires=",
    "q=",
    "reg-id=",
    "+sip.instance=",
    "methods=",
    "0.5",
    "1.000",
    "1.5",
    "*",
    "[::1]",
    "[2001:db8::1]",
    "192.0.2.1",
    "example.com",
    "5060",
    "65536",
    "2147483648",
    "99999999999999999999",
    "\r\n ",
    "\n",
    "\r",
    "\0",
    "\x7f",
    "\u{e9}",
    "\u{fffd}",
    "<sip:a@b.c>",
    "\"x\"",
    "alice",
];

fn sipish_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => any::<u8>().prop_map(|b| vec![b]),
        6 => select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()),
    ];
    let body = prop::collection::vec(piece, 0..max).prop_map(|v| v.concat());
    let start = select(
        &[
            "",
            "REGISTER sip:ex.com SIP/2.0\r\n",
            "SIP/2.0 200 OK\r\n",
            "INVITE sip:a@[::1]:5060;transport=tcp SIP/2.0\r\n",
            "\r\n\r\nOPTIONS sip:x SIP/2.0\r\n",
        ][..],
    );
    (start, body, any::<bool>()).prop_map(|(s, b, end)| {
        let mut v = s.as_bytes().to_vec();
        v.extend_from_slice(&b);
        if end {
            v.extend_from_slice(b"\r\n\r\n");
        }
        v
    })
}

/// True if `inner` lies within `outer`.
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

/// Runs every public parse entry point over `buf` (and over each header value it frames).
/// Panics are the failure; framed results must also stay inside the buffer.
fn exercise(buf: &[u8]) -> Result<(), TestCaseError> {
    let limits = UriLimits::default();
    let strict = ParserConfig::default();
    let mut lenient = ParserConfig::default();
    lenient.leniency.allow_bare_lf = true;
    lenient.leniency.allow_multiple_spaces_in_request_line = true;
    for cfg in [&strict, &lenient] {
        for framing in [Framing::Datagram, Framing::Stream] {
            // A small array so that TooManyHeaders is reachable.
            let mut hs = [Header::EMPTY; 12];
            let m = match message::parse(buf, &mut hs, framing, cfg) {
                Ok(Status::Complete(m)) => m,
                Ok(Status::Partial) => {
                    prop_assert_eq!(framing, Framing::Stream, "Partial on a datagram");
                    continue;
                }
                Err(_) => continue,
            };
            prop_assert!(m.len <= buf.len());
            if framing == Framing::Datagram {
                prop_assert_eq!(m.len, buf.len());
            }
            prop_assert!(within(&buf[..m.len], m.body));
            if let Some(cl) = m.content_length {
                prop_assert_eq!(m.body.len(), cl);
            }
            for h in m.headers {
                prop_assert!(within(buf, h.name) && within(buf, h.value));
                exercise_value(h.value, &limits);
            }
            if let Ok(req) = Request::from_message(m, cfg) {
                touch_request(&req);
            }
        }
    }
    Ok(())
}

fn exercise_value(v: &[u8], limits: &UriLimits) {
    let _ = header::elements(v).count();
    let _ = header::option_tags(v).count();
    let _ = header::parse_credentials(v);
    let _ = header::parse_call_id(v);
    let _ = header::parse_cseq(v);
    let _ = header::parse_number(v);
    let _ = header::parse_qvalue(v);
    let _ = header::parse_from_to(v, limits);
    let _ = header::quoted_string_len(v);
    let _ = header::unquote(v);
    if let Ok(p) = HeaderParams::parse(v) {
        let _ = p.iter().count();
        let _ = p.get(b"tag");
    }
    for e in header::elements(v).flatten() {
        let _ = Via::parse(e).map(|v| (v.branch(), v.rport(), v.received()));
        if let Ok(c) = ContactValue::parse(e, limits) {
            let _ = (c.instance(), c.reg_id(), c.methods());
        }
        if let Ok(na) = NameAddr::parse(e, limits) {
            let _ = (na.tag(), na.uri.params().count());
            let _ = na.uri.rfc_eq(&na.uri);
        }
    }
    if let Ok(u) = Uri::parse(v, limits) {
        let _ = (u.rfc_eq(&u), u.params().count(), u.param(b"transport"));
    }
}

fn touch_request(req: &Request<'_, '_>) {
    let _ = req.check_all_headers();
    let _ = req.vias().count();
    let _ = req.paths().count();
    let _ = req.authorization();
    let _ = req.has_star_contact();
    let _ = req.lists_option(Hdr::Require, b"path");
    let _ = req.option_tags(Hdr::ProxyRequire).count();
    let _ = req.from.uri.rfc_eq(&req.to.uri);
    for c in req.contacts().flatten() {
        if let ContactItem::Value(c) = c {
            let _ = (c.instance(), c.reg_id(), c.methods());
            let _ = c.addr.uri.rfc_eq(&req.uri) || req.to.uri.rfc_eq(&c.addr.uri);
        }
    }
    let _ = req.via.branch();
    let _ = req.via.rport();
    let _ = registrar::sip::RequestError::NotARequest.reason();
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Truncate(Index),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), prop_oneof![any::<u8>(), select(&b"\r\n \t:;,<>\"\\@%=*"[..])])
            .prop_map(|(i, b)| Mutation::Set(i, b)),
        3 => (any::<Index>(), select(FRAGMENTS).prop_map(|s| s.as_bytes().to_vec()))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(buf: &mut Vec<u8>, m: &Mutation) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match m {
        Mutation::Set(i, b) if !buf.is_empty() => {
            let k = i.index(buf.len());
            buf[k] = *b;
        }
        Mutation::Set(..) => {}
        Mutation::Insert(i, b) => {
            let k = at(i, buf.len());
            buf.splice(k..k, b.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let k = at(i, buf.len());
            let end = (k + n).min(buf.len());
            buf.drain(k..end);
        }
        Mutation::Truncate(i) => {
            let k = at(i, buf.len());
            buf.truncate(k);
        }
        Mutation::Duplicate(i, n) => {
            let k = at(i, buf.len());
            let end = (k + n).min(buf.len());
            let piece = buf[k..end].to_vec();
            buf.splice(end..end, piece);
        }
    }
}

proptest! {
    #![proptest_config(config(5000))]

    #[test]
    fn arbitrary_bytes_never_panic(buf in sipish_bytes(96)) {
        exercise(&buf)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_messages_never_panic(
        g in gmsg(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut buf = g.render();
        for m in &muts {
            apply(&mut buf, m);
        }
        exercise(&buf)?;
    }

}

proptest! {
    #![proptest_config(config(2500))]

    #[test]
    fn uri_parser_never_panics(
        g in guri(true),
        muts in prop::collection::vec(mutation(), 0..4),
        other in sipish_bytes(12),
    ) {
        let limits = UriLimits::default();
        let mut raw = g.render().into_bytes();
        for m in &muts {
            apply(&mut raw, m);
        }
        let a = Uri::parse(&raw, &limits);
        let b = Uri::parse(&other, &limits);
        if let (Ok(a), Ok(b)) = (a, b) {
            // Equality is symmetric.
            prop_assert_eq!(a.rfc_eq(&b), b.rfc_eq(&a));
            prop_assert!(a.rfc_eq(&a));
        }
        exercise_value(&raw, &limits);
    }
}

// ---------------------------------------------------------------------------------------------
// Targeted cases the generator does not reach.

/// RFC 3261 §25.1: `sent-by = host [ COLON port ]` with `COLON = SWS ":" SWS`, so LWS may
/// surround the colon of a Via sent-by (the doc of `sent_by_hostport` says so too).
#[test]
fn via_sent_by_allows_lws_around_colon() {
    let v =
        Via::parse(b"SIP/2.0/UDP 192.0.2.1 : 5060;branch=z9hG4bK1").expect("COLON = SWS \":\" SWS");
    assert_eq!(v.port, Some(5060));
    assert_eq!(v.host, Host::V4(Ipv4Addr::new(192, 0, 2, 1)));
}

/// A stream delivers `Content-Length:` and its CRLF, and the folded value (`SWS` after
/// `HCOLON`, RFC 3261 §7.3.1) in the next segment. The header is not complete until the next
/// line is known not to be a continuation, so the first read must be `Partial`; the parser
/// instead validates the empty value and fails with `Error::ContentLength`, dropping a valid
/// message depending on how TCP cut it.
#[test]
fn stream_content_length_fold_split_is_partial() {
    let whole = b"OPTIONS sip:x@example.com SIP/2.0\r\nContent-Length:\r\n 0\r\n\r\n";
    let cfg = ParserConfig::default();
    let mut hs = [Header::EMPTY; 8];
    let r = message::parse(whole, &mut hs, Framing::Stream, &cfg);
    assert!(
        matches!(r, Ok(Status::Complete(m)) if m.len == whole.len()),
        "{r:?}"
    );
    let first_segment = &whole[..whole.len() - b" 0\r\n\r\n".len()];
    assert_eq!(
        first_segment,
        b"OPTIONS sip:x@example.com SIP/2.0\r\nContent-Length:\r\n"
    );
    let r = message::parse(first_segment, &mut hs, Framing::Stream, &cfg);
    assert!(matches!(r, Ok(Status::Partial)), "{r:?}");
}

/// The generator keeps header values free of trailing white space; a trailing SP/HTAB before
/// CRLF is LWS that the value must not include.
#[test]
fn trailing_white_space_is_not_part_of_a_value() {
    let m = b"OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1 \t\r\n\
              From: <sip:a@b.c>;tag=1  \r\nTo: <sip:a@b.c>\r\nCall-ID: c \r\nCSeq: 1 OPTIONS \r\n\
              Content-Length: 0 \r\n\r\n";
    let mut hs = [Header::EMPTY; 16];
    let Ok(Status::Complete(req)) =
        Request::parse(m, &mut hs, Framing::Datagram, &ParserConfig::default())
    else {
        panic!("parse");
    };
    assert_eq!(req.via.branch(), Some(&b"z9hG4bK1"[..]));
    assert_eq!(req.from.tag(), Some(&b"1"[..]));
    assert_eq!(req.call_id, b"c");
    assert_eq!(req.msg.content_length, Some(0));
}
