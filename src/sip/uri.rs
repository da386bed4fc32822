//! SIP, SIPS and TEL URIs (RFC 3261 §19.1, §25.1; RFC 3966), borrowed from the message bytes,
//! and the §19.1.4 comparison that binding matching relies on.
//!
//! ```text
//! SIP-URI   = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
//! SIPS-URI  = "sips:" [ userinfo ] hostport uri-parameters [ headers ]
//! userinfo  = ( user / telephone-subscriber ) [ ":" password ] "@"
//! hostport  = host [ ":" port ]
//! host      = hostname / IPv4address / IPv6reference
//! uri-parameters = *( ";" uri-parameter )
//! headers   = "?" header *( "&" header )
//! ```
//!
//! Any other scheme is accepted as an RFC 2396 `absoluteURI` (`Scheme::Other`), so that a
//! request for it can be answered with 416 rather than rejected as malformed.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::scan;

/// Why a URI did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriError {
    Empty,
    Scheme,
    User,
    Password,
    Host,
    Port,
    Param,
    Header,
    TooLong,
}

impl UriError {
    /// Short description, used in reason phrases.
    pub fn as_str(self) -> &'static str {
        match self {
            UriError::Empty => "empty URI",
            UriError::Scheme => "bad URI scheme",
            UriError::User => "bad URI user part",
            UriError::Password => "bad URI password",
            UriError::Host => "bad URI host",
            UriError::Port => "bad URI port",
            UriError::Param => "bad URI parameter",
            UriError::Header => "bad URI header",
            UriError::TooLong => "URI too long",
        }
    }
}

/// The URI scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme<'b> {
    Sip,
    Sips,
    Tel,
    Other(&'b [u8]),
}

/// The host of a SIP or SIPS URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'b> {
    /// A host name, as written (compare case-insensitively).
    Name(&'b [u8]),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host<'_> {
    /// §19.1.4: host names compare case-insensitively; an IP address never equals a name.
    pub fn matches(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => trim_dot(a).eq_ignore_ascii_case(trim_dot(b)),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        }
    }
}

/// A fully qualified name may end in a dot (`hostname = *( domainlabel "." ) toplabel [ "." ]`).
fn trim_dot(s: &[u8]) -> &[u8] {
    s.strip_suffix(b".").unwrap_or(s)
}

/// A parsed URI. All fields borrow from the input; escapes are left in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uri<'b> {
    pub scheme: Scheme<'b>,
    /// The user part (SIP/SIPS), or the subscriber number (TEL), still escaped.
    pub user: Option<&'b [u8]>,
    pub password: Option<&'b [u8]>,
    /// `None` for TEL and other schemes.
    pub host: Option<Host<'b>>,
    /// The host exactly as written (IPv6 with its brackets).
    pub host_raw: &'b [u8],
    pub port: Option<u16>,
    /// Parameters without the leading `;`, e.g. `transport=tcp;lr`.
    pub params: &'b [u8],
    /// Headers without the leading `?`, e.g. `subject=x&priority=urgent`.
    pub headers: &'b [u8],
    /// The whole URI as written.
    pub raw: &'b [u8],
}

/// Parsing limits for URIs.
#[derive(Clone, Copy, Debug)]
pub struct UriLimits {
    /// Longest URI accepted, in bytes. Default 512 (Kamailio's stock `RURI_MAX_SIZE`): longer
    /// URIs exist only in attacks, and every stored contact costs memory.
    pub max_uri_bytes: usize,
}

impl Default for UriLimits {
    fn default() -> Self {
        UriLimits { max_uri_bytes: 512 }
    }
}

impl<'b> Uri<'b> {
    /// A placeholder for [`parse_into`](Self::parse_into) to overwrite: an empty SIP URI.
    pub(crate) const EMPTY: Uri<'static> = Uri {
        scheme: Scheme::Sip,
        user: None,
        password: None,
        host: None,
        host_raw: b"",
        port: None,
        params: b"",
        headers: b"",
        raw: b"",
    };

    /// Parses a URI (the whole slice must be the URI).
    pub fn parse(raw: &'b [u8], limits: &UriLimits) -> Result<Uri<'b>, UriError> {
        let mut uri = Uri::EMPTY;
        Uri::parse_into(raw, limits, &mut uri)?;
        Ok(uri)
    }

    /// [`parse`](Self::parse) writing the URI into `out`, so that a caller that keeps it
    /// inside a larger value (a name-addr, a request) does not copy its 152 bytes there from
    /// a `Result`. `out` holds no meaningful URI after an error.
    pub(crate) fn parse_into(
        raw: &'b [u8],
        limits: &UriLimits,
        out: &mut Uri<'b>,
    ) -> Result<(), UriError> {
        if raw.is_empty() {
            return Err(UriError::Empty);
        }
        if raw.len() > limits.max_uri_bytes {
            return Err(UriError::TooLong);
        }
        // The scheme of nearly every URI a registrar sees, decided by one word compare.
        if raw.len() > 4 && scan::eq_lower(&raw[..4], b"sip:") {
            return parse_sip(Scheme::Sip, &raw[4..], raw, out);
        }
        let colon = raw
            .iter()
            .position(|&b| b == b':')
            .ok_or(UriError::Scheme)?;
        let (scheme_raw, rest) = (&raw[..colon], &raw[colon + 1..]);
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let scheme_ok = scheme_raw.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme_raw
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(UriError::Scheme);
        }
        let scheme = if scheme_raw.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_raw.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_raw.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_raw)
        };
        match scheme {
            Scheme::Sip | Scheme::Sips => parse_sip(scheme, rest, raw, out),
            Scheme::Tel => parse_tel(rest, raw, out),
            Scheme::Other(_) => {
                if rest.is_empty() || !rest.iter().all(|&b| scan::is_uric(b)) {
                    return Err(UriError::Scheme);
                }
                *out = Uri {
                    scheme,
                    raw,
                    ..Uri::EMPTY
                };
                Ok(())
            }
        }
    }

    /// True for `sip:` and `sips:`.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The URI parameters, in order.
    pub fn params(&self) -> Params<'b> {
        Params::new(self.params)
    }

    /// The value of the first parameter named `name` (case-insensitive); `Some(None)` when it
    /// has no value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'b [u8]>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// RFC 3261 §19.1.4 equality.
    ///
    /// - schemes must match (a SIP URI never equals a SIPS URI);
    /// - user and password compare case-sensitively, after decoding escapes of unreserved
    ///   characters;
    /// - hosts compare case-insensitively, IP addresses by value, and a name never equals an
    ///   address;
    /// - an explicit port never equals an absent one;
    /// - parameters present in both must match (case-insensitively); `user`, `ttl`, `method`,
    ///   `maddr` and `transport` present in only one never match (the RFC's rules name the first
    ///   four; its examples show `transport` too), others present in only one are ignored;
    /// - every header must be present in both and match.
    pub fn rfc_eq(&self, other: &Uri<'_>) -> bool {
        if !scheme_eq(self.scheme, other.scheme) {
            return false;
        }
        match self.scheme {
            Scheme::Sip | Scheme::Sips => {}
            // TEL: compare the number (ignoring visual separators) and parameters.
            Scheme::Tel => {
                return tel_number_eq(self.user.unwrap_or(b""), other.user.unwrap_or(b""))
                    && params_eq(self.params, other.params, &[]);
            }
            Scheme::Other(_) => return self.raw.eq_ignore_ascii_case(other.raw),
        }
        if !opt_escaped_eq(self.user, other.user) || !opt_escaped_eq(self.password, other.password)
        {
            return false;
        }
        match (&self.host, &other.host) {
            (Some(a), Some(b)) if a.matches(b) => {}
            _ => return false,
        }
        self.port == other.port
            && params_eq(
                self.params,
                other.params,
                &[b"user", b"ttl", b"method", b"maddr", b"transport"],
            )
            && headers_eq(self.headers, other.headers)
    }
}

fn scheme_eq(a: Scheme<'_>, b: Scheme<'_>) -> bool {
    match (a, b) {
        (Scheme::Other(x), Scheme::Other(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => x == y,
    }
}

/// A SIP or SIPS URI (`rest` follows the scheme's colon) into `out` (see [`Uri::parse_into`]).
fn parse_sip<'b>(
    scheme: Scheme<'b>,
    rest: &'b [u8],
    raw: &'b [u8],
    out: &mut Uri<'b>,
) -> Result<(), UriError> {
    // '@' may not appear unescaped anywhere after the userinfo, so the first one ends it.
    // One pass reads the user (and password) up to the first byte outside its class: if that
    // is the '@', the userinfo is valid; otherwise a later '@' means the userinfo holds that
    // byte (an error), and no '@' means there is no userinfo.
    let u_end = escaped_run(rest, 0, C_USER);
    let has_at_from = |i: usize| scan::find_any(&rest[i..], b"@").is_some();
    let (user, password, hostpart) = match rest.get(u_end) {
        Some(b'@') if u_end > 0 => (Some(&rest[..u_end]), None, &rest[u_end + 1..]),
        Some(b'@') => return Err(UriError::User),
        Some(b':') => {
            let p_end = escaped_run(rest, u_end + 1, C_PASSWORD);
            if rest.get(p_end) == Some(&b'@') || has_at_from(p_end) {
                if u_end == 0 {
                    return Err(UriError::User);
                }
                if rest[p_end] != b'@' {
                    return Err(UriError::Password);
                }
                (
                    Some(&rest[..u_end]),
                    Some(&rest[u_end + 1..p_end]),
                    &rest[p_end + 1..],
                )
            } else {
                (None, None, rest)
            }
        }
        _ if has_at_from(u_end) => return Err(UriError::User),
        _ => (None, None, rest),
    };
    let (host, host_raw, port, tail) = match hostport_prefix(hostpart, |b| b == b';' || b == b'?') {
        Some((host_end, port, end)) => {
            let host_raw = &hostpart[..host_end];
            (host_name(host_raw)?, host_raw, port, &hostpart[end..])
        }
        None => {
            let hp_end = scan::find_any(hostpart, b";?").unwrap_or(hostpart.len());
            let (hostport, tail) = hostpart.split_at(hp_end);
            let (host, host_raw, port) = parse_hostport(hostport)?;
            (host, host_raw, port, tail)
        }
    };
    let (params, headers) = params_and_headers(tail)?;
    *out = Uri {
        scheme,
        user,
        password,
        host: Some(host),
        host_raw,
        port,
        params,
        headers,
        raw,
    };
    Ok(())
}

/// Splits and checks what follows the hostport (empty, or starting with `;` or `?`): the
/// parameters without their `;` and the headers without their `?`.
#[inline(always)]
fn params_and_headers(tail: &[u8]) -> Result<(&[u8], &[u8]), UriError> {
    // The parameters end at the first `?`, which is no `paramchar`: their check finds it.
    let (params, q) = match tail.split_first() {
        Some((b';', p)) => {
            let q = param_run(p)?;
            (&p[..q], q + 1)
        }
        _ => (&tail[..0], 0),
    };
    let headers = match tail.get(q) {
        Some(b'?') => {
            let h = &tail[q + 1..];
            validate_headers(h)?;
            h
        }
        _ => &tail[tail.len()..],
    };
    Ok((params, headers))
}

/// Index of the first byte at or after `i` that is neither a `class` byte nor the `%` of a
/// well-formed `%XX` escape (the length of `s` if there is none): [`scan::all_escaped`] and the
/// search for the byte that ends the run, in one pass. `class` is one of the `C_*` bits of
/// [`CLASS`], whose classes leave out `%`: runs of plain bytes go eight at a time.
#[inline(always)]
fn escaped_run(s: &[u8], mut i: usize, class: u8) -> usize {
    loop {
        i = class_run(s, i, class);
        match s.get(i..i + 3) {
            Some([b'%', h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
            _ => return i,
        }
    }
}

/// `user` bytes (`unreserved / user-unreserved`), `%` left out (see [`escaped_run`]).
pub(crate) const C_USER: u8 = 1;
/// `password` bytes (`unreserved / "&" / "=" / "+" / "$" / ","`), `%` left out.
pub(crate) const C_PASSWORD: u8 = 2;
/// `paramchar` bytes (`param-unreserved / unreserved`), `%` left out.
pub(crate) const C_PARAM: u8 = 4;
/// Host name bytes: `alphanum / "-" / "."`.
pub(crate) const C_HOST: u8 = 8;
/// `token` bytes.
pub(crate) const C_TOKEN: u8 = 16;
/// `word` bytes (Call-ID).
pub(crate) const C_WORD: u8 = 32;
/// `gen-value` bytes outside a quoted string: token bytes plus `[`, `]` and `:`.
pub(crate) const C_GEN_VALUE: u8 = 64;
/// Letters and digits.
pub(crate) const C_ALNUM: u8 = 128;

/// One table for the byte classes the URI and header parsers scan runs of, a bit per class
/// (the `C_*` constants). The classes are those of [`scan`] (a test checks every byte), with
/// `%` left out of the escapable ones so that a run can be checked eight bytes at a time.
pub(crate) static CLASS: [u8; 256] = {
    const fn set(t: &mut [u8; 256], bytes: &[u8], bit: u8) {
        let mut i = 0;
        while i < bytes.len() {
            t[bytes[i] as usize] |= bit;
            i += 1;
        }
    }
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        if (c as u8).is_ascii_alphanumeric() {
            t[c] =
                C_USER | C_PASSWORD | C_PARAM | C_HOST | C_TOKEN | C_WORD | C_GEN_VALUE | C_ALNUM;
        }
        c += 1;
    }
    set(&mut t, b"-_.!~*'()&=+$,;?/", C_USER);
    set(&mut t, b"-_.!~*'()&=+$,", C_PASSWORD);
    set(&mut t, b"-_.!~*'()[]/:&+$", C_PARAM);
    set(&mut t, b"-.", C_HOST);
    set(&mut t, b"-.!%*_+`'~", C_TOKEN);
    set(&mut t, b"-.!%*_+`'~()<>:\\\"/[]?{}", C_WORD);
    set(&mut t, b"-.!%*_+`'~[]:", C_GEN_VALUE);
    t
};

/// Index of the first byte at or after `i` outside `class` (a `C_*` bit of [`CLASS`]), or the
/// length of `s`. Eight bytes are checked per step with one branch: the values URIs and
/// headers hold are mostly long runs of one class.
#[inline(always)]
pub(crate) fn class_run(s: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(c) = s.get(i..i + 8) {
        let all = CLASS[c[0] as usize]
            & CLASS[c[1] as usize]
            & CLASS[c[2] as usize]
            & CLASS[c[3] as usize]
            & CLASS[c[4] as usize]
            & CLASS[c[5] as usize]
            & CLASS[c[6] as usize]
            & CLASS[c[7] as usize];
        if all & class == 0 {
            break;
        }
        i += 8;
    }
    while i < s.len() && CLASS[s[i] as usize] & class != 0 {
        i += 1;
    }
    i
}

/// `TOKEN_AT[i][b]` is `1 << i` when `b` is a `token` byte (0 otherwise): OR-ing the entries
/// of eight bytes, each from the table of its position, gives the token bytes among them
/// as one bit mask, whose first clear bit is the first byte outside the class.
static TOKEN_AT: [[u8; 256]; 8] = {
    let mut t = [[0u8; 256]; 8];
    let mut b = 0;
    while b < 256 {
        if CLASS[b] & C_TOKEN != 0 {
            let mut i = 0;
            while i < 8 {
                t[i][b] = 1 << i;
                i += 1;
            }
        }
        b += 1;
    }
    t
};

/// Bit `i` set where byte `i` of `c` is a `token` byte (see [`TOKEN_AT`]).
#[inline(always)]
fn token_mask(c: &[u8; 8]) -> u8 {
    TOKEN_AT[0][c[0] as usize]
        | TOKEN_AT[1][c[1] as usize]
        | TOKEN_AT[2][c[2] as usize]
        | TOKEN_AT[3][c[3] as usize]
        | TOKEN_AT[4][c[4] as usize]
        | TOKEN_AT[5][c[5] as usize]
        | TOKEN_AT[6][c[6] as usize]
        | TOKEN_AT[7][c[7] as usize]
}

/// Index of the first byte at or after `i` (`i <= s.len()`) that is not a `token` byte, or
/// the length of `s`: [`class_run`] with `C_TOKEN`, for the short runs of parameter names.
/// Each step of eight bytes gives the exact end of a run that ends within it, so a name
/// shorter than eight bytes costs one step, not a step and then a byte loop; fewer than
/// eight bytes left are read as the last eight of `s` (when it has eight).
#[inline(always)]
pub(crate) fn token_run(s: &[u8], mut i: usize) -> usize {
    while let Some(c) = s.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let m = token_mask(c);
        if m != 0xff {
            return i + (!m).trailing_zeros() as usize;
        }
        i += 8;
    }
    match s.last_chunk::<8>() {
        // The last eight bytes, of which the first `i - last` (at most eight) are behind
        // `i`: shifted out, with zeros (non-token) coming in, so the run ends at the end of
        // `s` at the latest.
        Some(c) => {
            let seen = i - (s.len() - 8);
            i + (!(u32::from(token_mask(c)) >> seen)).trailing_zeros() as usize
        }
        None => {
            while i < s.len() && CLASS[s[i] as usize] & C_TOKEN != 0 {
                i += 1;
            }
            i
        }
    }
}

/// `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each octet 0..=255 and
/// without leading zeros (as `std` reads it), parsed without going through `str`.
///
/// Inlined into [`host_name`] (twice per refresh: Via sent-by and Contact host): as a call
/// it costs about 20 instructions more, its `Option<Ipv4Addr>` packed and unpacked again.
/// A word-at-a-time parse (masks of digits and dots, octets cut at the dots) measured twice
/// the instructions of this one: an address is too short for the set-up to pay.
#[inline(always)]
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let (a, s) = ipv4_octet(s)?;
    let (b, s) = ipv4_octet(s.strip_prefix(b".")?)?;
    let (c, s) = ipv4_octet(s.strip_prefix(b".")?)?;
    let (d, s) = ipv4_octet(s.strip_prefix(b".")?)?;
    s.is_empty().then(|| Ipv4Addr::new(a, b, c, d))
}

/// The octet at the start of `s` (the longest run of up to three digits, a leading `0` alone)
/// and what follows it.
#[inline(always)]
fn ipv4_octet(s: &[u8]) -> Option<(u8, &[u8])> {
    let d = |b: u8| u32::from(b - b'0');
    let (v, rest) = match s {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..] => {
            (d(*a) * 100 + d(*b) * 10 + d(*c), rest)
        }
        [a @ b'1'..=b'9', b @ b'0'..=b'9', rest @ ..] => (d(*a) * 10 + d(*b), rest),
        [a @ b'0'..=b'9', rest @ ..] => (d(*a), rest),
        _ => return None,
    };
    Some((u8::try_from(v).ok()?, rest))
}

/// The common `hostport` at the start of `s`: a run of host name bytes, optionally `:` and
/// a port of one to five digits, ending at the end of `s` or at a byte `stop` accepts.
/// `(host end, port, hostport end)`; `None` for any other form (an IPv6 reference, a port
/// out of range, a host that is wrong anyway), which the caller reads the general way. For
/// every `s` this accepts, [`parse_hostport`] of `s[..hostport end]` reads the same port and
/// the host [`host_name`] reads from `s[..host end]`.
#[inline(always)]
pub(crate) fn hostport_prefix(
    s: &[u8],
    stop: impl Fn(u8) -> bool,
) -> Option<(usize, Option<u16>, usize)> {
    let host_end = class_run(s, 0, C_HOST);
    let ends = |i: usize| s.get(i).is_none_or(|&b| stop(b));
    match s.get(host_end) {
        Some(b':') => {}
        _ => return ends(host_end).then_some((host_end, None, host_end)),
    }
    let start = host_end + 1;
    let mut i = start;
    let mut port = 0u32;
    while let Some(&b) = s.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 || i == start + 5 {
            break;
        }
        port = port * 10 + u32::from(d);
        i += 1;
    }
    let port = u16::try_from(port).ok()?;
    (i > start && ends(i)).then_some((host_end, Some(port), i))
}

/// `hostport = host [ ":" port ]`
pub fn parse_hostport(s: &[u8]) -> Result<(Host<'_>, &[u8], Option<u16>), UriError> {
    // A host name or an IPv4 address holds no `:`: the run of host name bytes ends at the
    // port's colon, if there is one, unless some other byte ends it first (an IPv6
    // reference, or a host that is wrong anyway), which the general reading below handles.
    let end = class_run(s, 0, C_HOST);
    let (host_raw, port_raw) = match s.get(end) {
        None => (s, None),
        Some(b':') => (&s[..end], Some(&s[end + 1..])),
        Some(_) => return parse_hostport_general(s),
    };
    let host = host_name(host_raw)?;
    let port = match port_raw {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, host_raw, port))
}

/// [`parse_hostport`] when the host is not made of host name bytes alone.
fn parse_hostport_general(s: &[u8]) -> Result<(Host<'_>, &[u8], Option<u16>), UriError> {
    let (host_raw, port_raw) = if s.first() == Some(&b'[') {
        let close = s.iter().position(|&b| b == b']').ok_or(UriError::Host)?;
        let after = &s[close + 1..];
        let port = match after {
            [] => None,
            [b':', p @ ..] => Some(p),
            _ => return Err(UriError::Host),
        };
        (&s[..=close], port)
    } else {
        match s.iter().position(|&b| b == b':') {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let host = parse_host(host_raw)?;
    let port = match port_raw {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, host_raw, port))
}

/// `port = 1*DIGIT`, at most 65535 (leading zeros allowed).
fn parse_port(p: &[u8]) -> Result<u16, UriError> {
    // Five digits or fewer cannot overflow the u32 sum; longer runs go the saturating way.
    if p.is_empty() || p.len() > 5 {
        let v = scan::digits_u64(p).ok_or(UriError::Port)?;
        return u16::try_from(v).map_err(|_| UriError::Port);
    }
    let mut v = 0u32;
    for &d in p {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return Err(UriError::Port);
        }
        v = v * 10 + u32::from(d);
    }
    u16::try_from(v).map_err(|_| UriError::Port)
}

/// `host = hostname / IPv4address / IPv6reference`
pub fn parse_host(s: &[u8]) -> Result<Host<'_>, UriError> {
    if let Some(inner) = s.strip_prefix(b"[") {
        let inner = inner.strip_suffix(b"]").ok_or(UriError::Host)?;
        let text = std::str::from_utf8(inner).map_err(|_| UriError::Host)?;
        return text
            .parse::<Ipv6Addr>()
            .map(Host::V6)
            .map_err(|_| UriError::Host);
    }
    if class_run(s, 0, C_HOST) != s.len() {
        return Err(UriError::Host);
    }
    host_name(s)
}

/// `hostname / IPv4address` for `s` made of host name bytes only (alphanumerics, `-`, `.`):
/// every label starts and ends with an alphanumeric (`domainlabel`); the last label
/// (`toplabel`) of a name starts with a letter, and a name whose last label starts with a
/// digit must be an IPv4 address. One trailing dot is allowed, except after an address.
pub(crate) fn host_name(s: &[u8]) -> Result<Host<'_>, UriError> {
    debug_assert_eq!(class_run(s, 0, C_HOST), s.len());
    // An address is read straight away; what is not one takes the general path, which
    // reaches the same verdict for every address.
    if s.first().is_some_and(u8::is_ascii_digit) {
        if let Some(a) = parse_ipv4(s) {
            return Ok(Host::V4(a));
        }
    }
    let name = trim_dot(s);
    let alnum = |b: u8| CLASS[b as usize] & C_ALNUM != 0;
    // Labels are non-empty and start and end with an alphanumeric (a `-` or a dot at either
    // end of one fails): each label is read up to its dot, byte by byte (names are short,
    // and a search per label costs more than the bytes it skips).
    let (mut last_label, mut i) = (0, 0);
    loop {
        while i < name.len() && name[i] != b'.' {
            i += 1;
        }
        if i == last_label || !alnum(name[last_label]) || !alnum(name[i - 1]) {
            return Err(UriError::Host);
        }
        if i == name.len() {
            break;
        }
        i += 1;
        last_label = i;
    }
    if name[last_label].is_ascii_digit() {
        // All-numeric names included: only an IPv4 address may end so.
        return parse_ipv4(s).map(Host::V4).ok_or(UriError::Host);
    }
    Ok(Host::Name(s))
}

/// Drops the `;` that starts a parameter list; a lone `;` is an empty `uri-parameter`, which
/// the grammar does not allow.
fn strip_param_lead(params: &[u8]) -> Result<&[u8], UriError> {
    match params.strip_prefix(b";") {
        Some([]) => Err(UriError::Param),
        Some(p) => Ok(p),
        None => Ok(params),
    }
}

/// `*( ";" uri-parameter )` after the leading `;`: every `;`-separated item is a non-empty
/// `paramchar` name with an optional non-empty `paramchar` value after the first `=`, checked
/// in one pass over the list.
fn validate_params(params: &[u8]) -> Result<(), UriError> {
    if params.is_empty() {
        return Ok(());
    }
    match param_run(params)? {
        end if end == params.len() => Ok(()),
        _ => Err(UriError::Param),
    }
}

/// The parameters at the start of `s` (after the leading `;`), up to the end or to a `?`
/// (where the URI headers start): their length, once checked as [`validate_params`] checks
/// a list. An empty list is an error (a lone `;` is an empty `uri-parameter`).
#[inline]
fn param_run(s: &[u8]) -> Result<usize, UriError> {
    // Start of the current name or value, and whether the current item has had its `=`.
    let (mut part, mut eq) = (0, false);
    let mut i = 0;
    loop {
        i = escaped_run(s, i, C_PARAM);
        let sep = match s.get(i) {
            None | Some(b'?') => break,
            Some(&b) => b,
        };
        if i == part {
            return Err(UriError::Param);
        }
        match sep {
            b';' => eq = false,
            b'=' if !eq => eq = true,
            _ => return Err(UriError::Param),
        }
        i += 1;
        part = i;
    }
    if part == i {
        return Err(UriError::Param);
    }
    Ok(i)
}

fn validate_headers(headers: &[u8]) -> Result<(), UriError> {
    for h in headers.split(|&b| b == b'&') {
        let e = h.iter().position(|&b| b == b'=').ok_or(UriError::Header)?;
        let (name, value) = (&h[..e], &h[e + 1..]);
        if name.is_empty()
            || !scan::all_escaped(name, scan::is_hnv)
            || !scan::all_escaped(value, scan::is_hnv)
        {
            return Err(UriError::Header);
        }
    }
    Ok(())
}

/// `telephoneuri = "tel:" telephone-subscriber` (RFC 3966), checked loosely: a number of
/// digits, visual separators and `*#+`, then parameters.
fn parse_tel<'b>(rest: &'b [u8], raw: &'b [u8], out: &mut Uri<'b>) -> Result<(), UriError> {
    let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
    let (number, params) = (&rest[..end], &rest[end..]);
    let ok = !number.is_empty()
        && number.iter().all(|&b| {
            b.is_ascii_hexdigit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
        });
    if !ok {
        return Err(UriError::User);
    }
    let params = strip_param_lead(params)?;
    validate_params(params)?;
    *out = Uri {
        scheme: Scheme::Tel,
        user: Some(number),
        password: None,
        host: None,
        host_raw: b"",
        port: None,
        params,
        headers: b"",
        raw,
    };
    Ok(())
}

fn tel_number_eq(a: &[u8], b: &[u8]) -> bool {
    let digits = |s: &'_ [u8]| {
        s.iter()
            .copied()
            .filter(|b| !matches!(b, b'-' | b'.' | b'(' | b')'))
            .map(|b| b.to_ascii_lowercase())
            .collect::<smallbuf::Buf>()
    };
    digits(a) == digits(b)
}

/// A tiny fixed-capacity byte buffer so TEL comparison does not allocate.
mod smallbuf {
    #[derive(PartialEq, Eq)]
    pub struct Buf {
        len: usize,
        bytes: [u8; 64],
        overflow: bool,
    }

    impl FromIterator<u8> for Buf {
        fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
            let mut b = Buf {
                len: 0,
                bytes: [0; 64],
                overflow: false,
            };
            for x in iter {
                if b.len == b.bytes.len() {
                    b.overflow = true;
                    break;
                }
                b.bytes[b.len] = x;
                b.len += 1;
            }
            b
        }
    }
}

/// Compares two escaped strings after decoding escapes of characters outside the `reserved`
/// set (§19.1.4: "characters other than those in the reserved set are equivalent to their
/// escaped form").
pub fn escaped_eq(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    let norm = |(c, esc): (u8, bool)| -> (u8, bool) {
        let c = if ignore_case {
            c.to_ascii_lowercase()
        } else {
            c
        };
        // An escaped reserved character stays distinct from the literal one.
        (c, esc && scan::is_reserved(c))
    };
    scan::unescaped(a)
        .map(norm)
        .eq(scan::unescaped(b).map(norm))
}

fn opt_escaped_eq(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => escaped_eq(x, y, false),
        _ => false,
    }
}

fn params_eq(a: &[u8], b: &[u8], must_match_if_any: &[&[u8]]) -> bool {
    fn find<'a>(set: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
        Params::new(set)
            .find(|(n, _)| escaped_eq(n, name, true))
            .map(|(_, v)| v)
    }
    let value_eq = |x: Option<&[u8]>, y: Option<&[u8]>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => escaped_eq(x, y, true),
        _ => false,
    };
    // Each name is compared once, by its first occurrence on both sides, so that repeated
    // parameters keep the comparison reflexive and symmetric.
    for (i, (name, va)) in Params::new(a).enumerate() {
        if Params::new(a)
            .take(i)
            .any(|(n, _)| escaped_eq(n, name, true))
        {
            continue;
        }
        match find(b, name) {
            Some(vb) => {
                if !value_eq(va, vb) {
                    return false;
                }
            }
            None => {
                if must_match_if_any.iter().any(|m| escaped_eq(name, m, true)) {
                    return false;
                }
            }
        }
    }
    // Special parameters present only in `b`.
    for (name, _) in Params::new(b) {
        if must_match_if_any.iter().any(|m| escaped_eq(name, m, true)) && find(a, name).is_none() {
            return false;
        }
    }
    true
}

/// Headers are never ignored: the same multiset (order-insensitive) must be in both.
fn headers_eq(a: &[u8], b: &[u8]) -> bool {
    if a.is_empty() || b.is_empty() {
        return a.is_empty() == b.is_empty();
    }
    fn split(h: &[u8]) -> (&[u8], &[u8]) {
        let eq = h.iter().position(|&c| c == b'=').unwrap_or(h.len());
        (&h[..eq], &h[eq..])
    }
    let same = |x: &[u8], y: &[u8]| {
        let ((xn, xv), (yn, yv)) = (split(x), split(y));
        escaped_eq(xn, yn, true) && escaped_eq(xv, yv, false)
    };
    let count = |set: &[u8], h: &[u8]| set.split(|&c| c == b'&').filter(|o| same(o, h)).count();
    a.split(|&c| c == b'&').count() == b.split(|&c| c == b'&').count()
        && a.split(|&c| c == b'&').all(|h| count(a, h) == count(b, h))
}

/// Iterator over `name[=value]` pairs of a `;`-separated parameter list (without the leading
/// `;`). Empty items are skipped.
#[derive(Clone, Debug)]
pub struct Params<'b> {
    rest: &'b [u8],
}

impl<'b> Params<'b> {
    pub fn new(s: &'b [u8]) -> Self {
        Params { rest: s }
    }
}

impl<'b> Iterator for Params<'b> {
    type Item = (&'b [u8], Option<&'b [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = self
                .rest
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(self.rest.len());
            let item = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if item.is_empty() {
                continue;
            }
            return Some(match item.iter().position(|&b| b == b'=') {
                Some(e) => (&item[..e], Some(&item[e + 1..])),
                None => (item, None),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Uri<'_> {
        Uri::parse(s.as_bytes(), &UriLimits::default()).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn eq(a: &str, b: &str) -> bool {
        p(a).rfc_eq(&p(b)) && p(b).rfc_eq(&p(a))
    }

    #[test]
    fn parses_the_parts_of_a_sip_uri() {
        let u = p("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?subject=x&a=b");
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secret"[..]));
        assert_eq!(u.host, Some(Host::V6("2001:db8::1".parse().unwrap())));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params, b"transport=tls;lr");
        assert_eq!(u.headers, b"subject=x&a=b");
        assert_eq!(u.param(b"LR"), Some(None));
        assert_eq!(u.param(b"transport"), Some(Some(&b"tls"[..])));
    }

    #[test]
    fn rejects_malformed_uris() {
        let l = UriLimits::default();
        for bad in [
            "",
            "sip:",
            "sip:@host",
            "sip:a b@host",
            "sip:host:99999",
            "sip:host:x",
            "sip:[::1",
            "sip:1.2.3",
            "sip:-bad.com",
            "sip:a@host;=x",
            "sip:a@host?noeq",
            "sip:a%4@host",
            "1sip:x",
            "sip:user@ho st",
        ] {
            assert!(
                Uri::parse(bad.as_bytes(), &l).is_err(),
                "{bad} should be rejected"
            );
        }
        let long = format!("sip:{}@example.com", "a".repeat(600));
        assert_eq!(Uri::parse(long.as_bytes(), &l), Err(UriError::TooLong));
    }

    #[test]
    fn tel_and_other_schemes_parse() {
        let t = p("tel:+1-201-555-0123;phone-context=example.com");
        assert_eq!(t.scheme, Scheme::Tel);
        assert_eq!(t.user, Some(&b"+1-201-555-0123"[..]));
        assert!(eq("tel:+1-201-555-0123", "tel:+12015550123"));
        let o = p("urn:service:sos");
        assert_eq!(o.scheme, Scheme::Other(b"urn"));
    }

    /// RFC 3261 §19.1.4: "The URIs within each of the following sets are equivalent".
    #[test]
    fn rfc3261_19_1_4_equivalent_sets() {
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    /// RFC 3261 §19.1.4: "The URIs within each of the following sets are not equivalent".
    #[test]
    fn rfc3261_19_1_4_non_equivalent_sets() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
    }

    #[test]
    fn rfc3261_19_1_4_sip_never_equals_sips() {
        assert!(!eq("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
    }

    #[test]
    fn rfc3261_19_1_4_user_ttl_method_maddr_in_one_only_never_match() {
        for param in [
            "user=phone",
            "ttl=1",
            "method=INVITE",
            "maddr=239.255.255.1",
        ] {
            assert!(
                !eq("sip:a@b.com", &format!("sip:a@b.com;{param}")),
                "{param}"
            );
        }
    }

    #[test]
    fn rfc3261_19_1_4_escaped_reserved_differs_from_literal() {
        // ';' is reserved: %3B in the user part is not the same as a literal ';'.
        assert!(!eq("sip:a%3Bb@h.com", "sip:a;b@h.com"));
        assert!(eq("sip:a%2Db@h.com", "sip:a-b@h.com"));
    }

    #[test]
    fn repeated_params_and_headers_keep_equality_an_equivalence() {
        // Fuzz findings parse_uri-1 and parse_uri-2.
        assert!(eq("sip:m;d=d;d", "sip:m;d=d;d"));
        assert!(!eq("sip:h?a=1&a=1", "sip:h?a=1&b=2"));
        assert!(eq("sip:h?a=1&b=2", "sip:h?b=2&a=1"));
    }

    #[test]
    fn host_grammar() {
        for ok in [
            "a",
            "a.b",
            "example.com",
            "example.com.",
            "a-b.c",
            "1.2.3.4",
            "x1.com",
            "a.b2",
            "A.EXAMPLE.COM",
            "9a.example.net",
        ] {
            assert!(parse_host(ok.as_bytes()).is_ok(), "{ok} is a host");
        }
        for bad in [
            "",
            ".",
            "a..b",
            "-a.com",
            "a-.com",
            "1.2.3",
            "a.1b",
            "a_b",
            "1.2.3.4.",
            "a.b..",
            "example.com-",
            "256.0.0.1",
            ".a",
        ] {
            assert!(parse_host(bad.as_bytes()).is_err(), "{bad} is not a host");
        }
    }

    #[test]
    fn ipv4_parses_like_std() {
        for t in [
            "0.0.0.0",
            "192.0.2.1",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.",
            "",
            "1.2.3.4a",
        ] {
            assert_eq!(parse_ipv4(t.as_bytes()), t.parse().ok(), "{t}");
        }
    }

    /// Each `C_*` class of [`CLASS`] is the [`scan`] class it stands for, `%` left out of the
    /// escapable ones.
    #[test]
    fn class_table_matches_the_scan_classes() {
        for b in 0..=255u8 {
            let has = |bit: u8| CLASS[b as usize] & bit != 0;
            let pct = b != b'%';
            assert_eq!(has(C_USER), scan::is_user(b) && pct, "user {b}");
            assert_eq!(has(C_PASSWORD), scan::is_password(b) && pct, "password {b}");
            assert_eq!(has(C_PARAM), scan::is_paramchar(b) && pct, "param {b}");
            assert_eq!(has(C_HOST), scan::is_hostname(b), "host {b}");
            assert_eq!(has(C_TOKEN), scan::is_token(b), "token {b}");
            assert_eq!(has(C_WORD), scan::is_word(b), "word {b}");
            assert_eq!(has(C_GEN_VALUE), scan::is_gen_value(b), "gen-value {b}");
            assert_eq!(has(C_ALNUM), b.is_ascii_alphanumeric(), "alnum {b}");
        }
    }

    /// `class_run` stops at the first byte outside the class, wherever it is, for every length
    /// (both the eight-byte steps and the byte loop), bytes >= 0x80 included.
    #[test]
    fn class_run_finds_the_first_byte_outside_the_class() {
        for len in 0..=40 {
            let base = vec![b'a'; len];
            assert_eq!(class_run(&base, 0, C_TOKEN), len);
            for start in 0..=len {
                assert_eq!(class_run(&base, start, C_TOKEN), len);
            }
            for at in 0..len {
                for stop in [b' ', b'@', 0x80, 0xff, b'%', 0] {
                    let mut s = base.clone();
                    s[at] = stop;
                    assert_eq!(
                        class_run(&s, 0, C_TOKEN),
                        if stop == b'%' { len } else { at }
                    ); // `%` is a token byte
                    assert_eq!(class_run(&s, 0, C_USER), at, "{len} {at} {stop}");
                    for start in 0..=len {
                        let want = if start <= at { at } else { len };
                        assert_eq!(class_run(&s, start, C_USER), want);
                    }
                }
            }
        }
        // Escapes continue a run; a broken one ends it.
        assert_eq!(escaped_run(b"ab%41cd@x", 0, C_USER), 7);
        assert_eq!(escaped_run(b"ab%4gcd@x", 0, C_USER), 2);
        assert_eq!(escaped_run(b"abcdefgh%41", 0, C_USER), 11);
        assert_eq!(escaped_run(b"abcdefgh%4", 0, C_USER), 8);
    }

    /// `token_run` stops where `class_run` with `C_TOKEN` does, for every length, start and
    /// stop position (the eight-byte steps, the overlapping last eight bytes and the byte
    /// loop of slices under eight bytes), bytes >= 0x80 included.
    #[test]
    fn token_run_finds_the_first_byte_outside_the_class() {
        for len in 0..=40 {
            let base: Vec<u8> = (0..len).map(|i| b"aZ9-.!%*_+`'~"[i % 13]).collect();
            for start in 0..=len {
                assert_eq!(token_run(&base, start), len, "{len} {start}");
            }
            for at in 0..len {
                for stop in [b' ', b'=', b';', b'@', b'"', 0x80, 0xff, 0, b'\r'] {
                    let mut s = base.clone();
                    s[at] = stop;
                    for start in 0..=len {
                        let want = if start <= at { at } else { len };
                        assert_eq!(token_run(&s, start), want, "{len} {at} {stop} {start}");
                        assert_eq!(token_run(&s, start), class_run(&s, start, C_TOKEN));
                    }
                }
            }
        }
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 16] {
                let s = vec![b; len];
                let want = if scan::is_token(b) { len } else { 0 };
                assert_eq!(token_run(&s, 0), want, "{b} {len}");
            }
        }
    }

    /// The host reading this module had before the label-wise one, kept as the reference.
    fn parse_host_reference(s: &[u8]) -> Result<Host<'_>, UriError> {
        if let Some(inner) = s.strip_prefix(b"[") {
            let inner = inner.strip_suffix(b"]").ok_or(UriError::Host)?;
            let text = std::str::from_utf8(inner).map_err(|_| UriError::Host)?;
            return text
                .parse::<Ipv6Addr>()
                .map(Host::V6)
                .map_err(|_| UriError::Host);
        }
        let name = trim_dot(s);
        let (mut numeric, mut label_start, mut alnum) = (true, 0, false);
        for (i, &b) in name.iter().enumerate() {
            if b.is_ascii_digit() {
                alnum = true;
            } else if b.is_ascii_alphabetic() {
                (numeric, alnum) = (false, true);
            } else if b == b'.' && alnum {
                (label_start, alnum) = (i + 1, false);
            } else if b == b'-' && i != label_start {
                (numeric, alnum) = (false, false);
            } else {
                return Err(UriError::Host);
            }
        }
        if !alnum {
            return Err(UriError::Host);
        }
        if numeric {
            return s
                .to_vec()
                .iter()
                .map(|&b| b as char)
                .collect::<String>()
                .parse::<Ipv4Addr>()
                .map(Host::V4)
                .map_err(|_| UriError::Host);
        }
        if !name[label_start].is_ascii_alphabetic() {
            return Err(UriError::Host);
        }
        Ok(Host::Name(s))
    }

    /// Random hosts and hostports over the bytes the grammar cares about parse as the
    /// reference reads them; IPv4 as `std` reads it.
    #[test]
    fn hosts_parse_as_the_reference_reads_them() {
        let alphabet = b"0129aZ.-:[]_\x80";
        let mut rnd = crate::sip::testing::rnd(0x2545_f491_4f6c_dd1d);
        for _ in 0..200_000 {
            let len = rnd(18);
            let s: Vec<u8> = (0..len).map(|_| alphabet[rnd(alphabet.len())]).collect();
            assert_eq!(parse_host(&s), parse_host_reference(&s), "{s:?}");
            let text = String::from_utf8_lossy(&s);
            assert_eq!(parse_ipv4(&s), text.parse().ok(), "{text}");
            let reference = match s.iter().position(|&b| b == b':') {
                _ if s.first() == Some(&b'[') => None,
                Some(c) => Some((&s[..c], Some(&s[c + 1..]))),
                None => Some((&s[..], None)),
            };
            if let Some((h, p)) = reference {
                let want = parse_host_reference(h).and_then(|host| {
                    let port = p
                        .map(|p| {
                            scan::digits_u64(p)
                                .and_then(|v| u16::try_from(v).ok())
                                .ok_or(UriError::Port)
                        })
                        .transpose()?;
                    Ok((host, h, port))
                });
                assert_eq!(parse_hostport(&s), want, "{text}");
            }
        }
        for port in [
            "0",
            "65535",
            "65536",
            "000080",
            "99999999999999999999999",
            "",
        ] {
            let s = format!("a.b:{port}");
            let want = port.parse::<u16>().ok();
            assert_eq!(
                parse_hostport(s.as_bytes()).ok().and_then(|h| h.2),
                want,
                "{s}"
            );
        }
    }

    /// The split of what follows the hostport, read straight from the grammar: the
    /// parameters end at the first `?`, and each `;`-separated `uri-parameter` is a non-empty
    /// `paramchar` name with an optional non-empty `paramchar` value after `=`.
    fn params_and_headers_reference(tail: &[u8]) -> Result<(&[u8], &[u8]), UriError> {
        let q = tail.iter().position(|&b| b == b'?');
        let (params, headers) = match q {
            Some(q) => (&tail[..q], &tail[q + 1..]),
            None => (tail, &tail[tail.len()..]),
        };
        let params = strip_param_lead(params)?;
        let part_ok = |s: &[u8]| !s.is_empty() && scan::all_escaped(s, scan::is_paramchar);
        if !params.is_empty() {
            for item in params.split(|&b| b == b';') {
                let ok = match item.iter().position(|&b| b == b'=') {
                    Some(e) => part_ok(&item[..e]) && part_ok(&item[e + 1..]),
                    None => part_ok(item),
                };
                if !ok {
                    return Err(UriError::Param);
                }
            }
        }
        if q.is_some() {
            validate_headers(headers)?;
        }
        Ok((params, headers))
    }

    /// Random parameter and header tails split and check as the reference does; random
    /// hostports read by `hostport_prefix` read as `parse_hostport` reads them.
    #[test]
    fn tails_and_hostports_read_as_the_reference_reads_them() {
        let mut rnd = crate::sip::testing::rnd(0x1234_5678_9abc_def1);
        let tail_bytes = b";?=&a1%F:[]\x80 ";
        let host_bytes = b"0159aZ.-:;?[]_\x80";
        let mut accepted = 0;
        for _ in 0..300_000 {
            let len = rnd(20);
            let mut t: Vec<u8> = (0..len)
                .map(|_| tail_bytes[rnd(tail_bytes.len())])
                .collect();
            if rnd(2) == 0 {
                t.insert(0, b';');
            }
            if matches!(t.first(), Some(b';' | b'?')) || t.is_empty() {
                assert_eq!(
                    params_and_headers(&t),
                    params_and_headers_reference(&t),
                    "{:?}",
                    String::from_utf8_lossy(&t)
                );
            }
            let len = rnd(16);
            let s: Vec<u8> = (0..len)
                .map(|_| host_bytes[rnd(host_bytes.len())])
                .collect();
            let stop = |b: u8| b == b';' || b == b'?';
            if let Some((host_end, port, end)) = hostport_prefix(&s, stop) {
                accepted += 1;
                assert!(s.get(end).is_none_or(|&b| stop(b)));
                let want = parse_hostport(&s[..end]);
                let got = host_name(&s[..host_end]).map(|h| (h, &s[..host_end], port));
                assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&s));
            }
        }
        assert!(accepted > 10_000, "{accepted}");
    }

    #[test]
    fn ip_addresses_compare_by_value() {
        assert!(eq("sip:a@[2001:db8::1]", "sip:a@[2001:0db8:0:0::1]"));
        assert!(eq("sip:a@example.com.", "sip:a@EXAMPLE.com"));
    }
}
