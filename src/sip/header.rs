//! Header names (with RFC 3261 §7.3.3 compact forms) and typed, borrowed views of the header
//! values a registrar reads.

use super::scan::{self, eq_ic};
use super::uri::{self, Params, Uri, UriError, UriLimits};

/// Known header kinds. Names compare case-insensitively; compact forms map to the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hdr {
    Accept,
    Allow,
    Authorization,
    CallId,
    Contact,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Event,
    Expires,
    From,
    MaxForwards,
    MinExpires,
    Path,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    Require,
    Route,
    Subject,
    Supported,
    To,
    Unsupported,
    UserAgent,
    Via,
    Other,
}

/// Maps a header name to its kind. Compact forms: `i` Call-ID, `m` Contact, `e`
/// Content-Encoding (Other), `l` Content-Length, `c` Content-Type, `f` From, `s` Subject,
/// `k` Supported, `t` To, `v` Via, `o` Event.
#[inline(always)]
pub fn classify(name: &[u8]) -> Hdr {
    if name.len() == 1 {
        return match name[0].to_ascii_lowercase() {
            b'i' => Hdr::CallId,
            b'm' => Hdr::Contact,
            b'l' => Hdr::ContentLength,
            b'c' => Hdr::ContentType,
            b'f' => Hdr::From,
            b's' => Hdr::Subject,
            b'k' => Hdr::Supported,
            b't' => Hdr::To,
            b'v' => Hdr::Via,
            b'o' => Hdr::Event,
            _ => Hdr::Other,
        };
    }
    let Some(&first) = name.first() else {
        return Hdr::Other;
    };
    // One candidate per (length, first letter): a single comparison decides. `eq_lower` is
    // exact for any bytes, so a match also proves the name is a token.
    let (candidate, kind): (&[u8], Hdr) = match (name.len(), first | 0x20) {
        (2, b't') => (b"to", Hdr::To),
        (3, b'v') => (b"via", Hdr::Via),
        (4, b'f') => (b"from", Hdr::From),
        (4, b'c') => (b"cseq", Hdr::CSeq),
        (4, b'p') => (b"path", Hdr::Path),
        (4, b'd') => (b"date", Hdr::Date),
        (5, b'a') => (b"allow", Hdr::Allow),
        (5, b'r') => (b"route", Hdr::Route),
        (5, b'e') => (b"event", Hdr::Event),
        (6, b'a') => (b"accept", Hdr::Accept),
        (7, b'c') if name[1] | 0x20 == b'a' => (b"call-id", Hdr::CallId),
        (7, b'c') => (b"contact", Hdr::Contact),
        (7, b'e') => (b"expires", Hdr::Expires),
        (7, b'r') => (b"require", Hdr::Require),
        (7, b's') => (b"subject", Hdr::Subject),
        (9, b's') => (b"supported", Hdr::Supported),
        (10, b'u') => (b"user-agent", Hdr::UserAgent),
        (11, b'm') => (b"min-expires", Hdr::MinExpires),
        (11, b'u') => (b"unsupported", Hdr::Unsupported),
        (12, b'm') => (b"max-forwards", Hdr::MaxForwards),
        (12, b'c') => (b"content-type", Hdr::ContentType),
        (12, b'r') => (b"record-route", Hdr::RecordRoute),
        (13, b'a') => (b"authorization", Hdr::Authorization),
        (13, b'p') => (b"proxy-require", Hdr::ProxyRequire),
        (14, b'c') => (b"content-length", Hdr::ContentLength),
        (19, b'p') => (b"proxy-authorization", Hdr::ProxyAuthorization),
        _ => return Hdr::Other,
    };
    if scan::eq_lower(name, candidate) {
        kind
    } else {
        Hdr::Other
    }
}

/// Every header name [`classify`] knows, lower case, compact forms first, with its kind: the
/// list the framing's block classifier is built from (a test checks `classify` against it).
pub(crate) const KNOWN_NAMES: [(&[u8], Hdr); 36] = [
    (b"i", Hdr::CallId),
    (b"m", Hdr::Contact),
    (b"l", Hdr::ContentLength),
    (b"c", Hdr::ContentType),
    (b"f", Hdr::From),
    (b"s", Hdr::Subject),
    (b"k", Hdr::Supported),
    (b"t", Hdr::To),
    (b"v", Hdr::Via),
    (b"o", Hdr::Event),
    (b"to", Hdr::To),
    (b"via", Hdr::Via),
    (b"from", Hdr::From),
    (b"cseq", Hdr::CSeq),
    (b"path", Hdr::Path),
    (b"date", Hdr::Date),
    (b"allow", Hdr::Allow),
    (b"route", Hdr::Route),
    (b"event", Hdr::Event),
    (b"accept", Hdr::Accept),
    (b"call-id", Hdr::CallId),
    (b"contact", Hdr::Contact),
    (b"expires", Hdr::Expires),
    (b"require", Hdr::Require),
    (b"subject", Hdr::Subject),
    (b"supported", Hdr::Supported),
    (b"user-agent", Hdr::UserAgent),
    (b"min-expires", Hdr::MinExpires),
    (b"unsupported", Hdr::Unsupported),
    (b"max-forwards", Hdr::MaxForwards),
    (b"content-type", Hdr::ContentType),
    (b"record-route", Hdr::RecordRoute),
    (b"authorization", Hdr::Authorization),
    (b"proxy-require", Hdr::ProxyRequire),
    (b"content-length", Hdr::ContentLength),
    (b"proxy-authorization", Hdr::ProxyAuthorization),
];

/// Why a header value did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    Via,
    NameAddr,
    Uri(UriError),
    Tag,
    CallId,
    CSeq,
    Number,
    Contact,
    Param,
    OptionTag,
    Credentials,
}

impl HeaderError {
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderError::Via => "malformed Via",
            HeaderError::NameAddr => "malformed address",
            HeaderError::Uri(e) => e.as_str(),
            HeaderError::Tag => "malformed tag",
            HeaderError::CallId => "malformed Call-ID",
            HeaderError::CSeq => "malformed CSeq",
            HeaderError::Number => "malformed number",
            HeaderError::Contact => "malformed Contact",
            HeaderError::Param => "malformed parameter",
            HeaderError::OptionTag => "malformed option tag",
            HeaderError::Credentials => "malformed credentials",
        }
    }
}

impl From<UriError> for HeaderError {
    fn from(e: UriError) -> Self {
        HeaderError::Uri(e)
    }
}

/// Splits a header value into its comma-separated elements (outside quotes and `<>`).
/// Yields `Err` once for an unterminated quoted string.
pub fn elements(value: &[u8]) -> Elements<'_> {
    Elements { rest: Some(value) }
}

/// See [`elements`].
pub struct Elements<'b> {
    rest: Option<&'b [u8]>,
}

impl<'b> Iterator for Elements<'b> {
    type Item = Result<&'b [u8], HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        // No comma at all (the usual single-element header): the whole value is the element,
        // without the quote-aware scan; its own parser checks its quoted strings.
        if scan::find_any(rest, b",").is_none() {
            self.rest = None;
            return Some(Ok(scan::trim_lws(rest)));
        }
        match scan::find_outside_quotes(rest, b',') {
            None => {
                self.rest = None;
                Some(Err(HeaderError::Param))
            }
            Some(i) => {
                let elem = scan::trim_lws(&rest[..i]);
                self.rest = rest.get(i + 1..);
                Some(Ok(elem))
            }
        }
    }
}

/// Generic parameters after a header value: `*( SEMI generic-param )`, with
/// `generic-param = token [ EQUAL gen-value ]`, `gen-value = token / host / quoted-string`.
/// The raw text starts at the first `;`. LWS around `;` and `=` is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderParams<'b> {
    raw: &'b [u8],
}

impl<'b> HeaderParams<'b> {
    /// Validates and wraps a parameter list (`;a=b;c`...).
    pub fn parse(raw: &'b [u8]) -> Result<HeaderParams<'b>, HeaderError> {
        Self::parse_with(raw, |_, _| {})
    }

    /// Validates a parameter list, handing each `(name, value)` to `seen` on the way, so a
    /// caller can pick out the parameters it needs in the same pass.
    pub fn parse_with(
        raw: &'b [u8],
        mut seen: impl FnMut(&'b [u8], Option<&'b [u8]>),
    ) -> Result<HeaderParams<'b>, HeaderError> {
        // A list nearly always starts right at its `;`: skip LWS only when there is any.
        let mut rest = match raw.first() {
            Some(b';') | None => raw,
            Some(_) => scan::skip_lws(raw),
        };
        // A plain loop rather than an iterator of `Result`s: each item is handed over in
        // registers instead of through memory.
        while !rest.is_empty() {
            let after = rest.strip_prefix(b";").ok_or(HeaderError::Param)?;
            let (name, value) = if let Some((item_end, param)) = fast_generic_param(after) {
                rest = &after[item_end..];
                param
            } else {
                let item_end = scan::find_outside_quotes(after, b';').ok_or(HeaderError::Param)?;
                rest = &after[item_end..];
                parse_generic_param(&after[..item_end])?
            };
            seen(name, value);
        }
        Ok(HeaderParams { raw })
    }

    pub const EMPTY: HeaderParams<'static> = HeaderParams { raw: b"" };

    /// Wraps parameter text this crate wrote itself from a validated list (e.g. what a
    /// binding stores), skipping validation.
    pub fn trusted(raw: &'b [u8]) -> HeaderParams<'b> {
        HeaderParams { raw }
    }

    /// The raw text, starting with `;` (or empty).
    pub fn raw(&self) -> &'b [u8] {
        self.raw
    }

    /// Iterates `(name, value)`; quoted values keep their quotes. The list was validated when
    /// it was made, so this only splits.
    pub fn iter(&self) -> ParamIter<'b> {
        ParamIter { rest: self.raw }
    }

    /// The first parameter with this name (case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<Option<&'b [u8]>> {
        self.iter().find(|(n, _)| eq_ic(n, name)).map(|(_, v)| v)
    }
}

/// Iterator over a validated parameter list (see [`HeaderParams::iter`]).
#[derive(Clone, Debug)]
pub struct ParamIter<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for ParamIter<'b> {
    type Item = (&'b [u8], Option<&'b [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let after = scan::skip_lws(self.rest).strip_prefix(b";")?;
        // `;` can only hide inside a quoted value.
        let mut i = 0;
        loop {
            let Some(off) = scan::find_any(&after[i..], b";\"") else {
                i = after.len();
                break;
            };
            i += off;
            if after[i] == b';' {
                break;
            }
            i += scan::quoted_string_end(&after[i..]).unwrap_or(after.len() - i);
        }
        let item = scan::trim_lws(&after[..i]);
        self.rest = &after[i..];
        Some(match item.iter().position(|&b| b == b'=') {
            Some(e) => (
                scan::trim_lws(&item[..e]),
                Some(scan::trim_lws(&item[e + 1..])),
            ),
            None => (item, None),
        })
    }
}

/// A generic parameter as `(name, value)`; a quoted value keeps its quotes.
type GenericParam<'b> = (&'b [u8], Option<&'b [u8]>);

/// One pass over the common `name[=value]` item (no LWS, value a token/host or exactly one
/// quoted string) at the start of `after`, ending at `;` or the end: `(item length, param)`.
/// `None` means "not the common form"; the caller then takes the general path, which gives
/// the same answer for every input this accepts.
#[inline(always)]
fn fast_generic_param(after: &[u8]) -> Option<(usize, GenericParam<'_>)> {
    let ends = |i: usize| after.get(i).is_none_or(|&b| b == b';');
    let i = uri::token_run(after, 0);
    if i == 0 {
        return None;
    }
    let name = &after[..i];
    match after.get(i) {
        None | Some(b';') => return Some((i, (name, None))),
        Some(b'=') => {}
        Some(_) => return None,
    }
    let v0 = i + 1;
    let end = if after.get(v0) == Some(&b'"') {
        v0 + scan::quoted_string_end(&after[v0..])?
    } else {
        let j = uri::class_run(after, v0, uri::C_GEN_VALUE);
        if j == v0 {
            return None;
        }
        j
    };
    ends(end).then(|| (end, (name, Some(&after[v0..end]))))
}

fn parse_generic_param(item: &[u8]) -> Result<(&[u8], Option<&[u8]>), HeaderError> {
    let eq = item.iter().position(|&b| b == b'=');
    // White space around the name, the `=` or the value is rare: trim only when it is there.
    let spaced = |s: &[u8]| {
        s.first()
            .zip(s.last())
            .is_some_and(|(&f, &l)| f <= b' ' || l <= b' ')
    };
    let (name, value) = match eq {
        Some(e) if !spaced(&item[..e]) && !spaced(&item[e + 1..]) => {
            (&item[..e], Some(&item[e + 1..]))
        }
        None if !spaced(item) => (item, None),
        _ => {
            let item = scan::trim_lws(item);
            match item.iter().position(|&b| b == b'=') {
                Some(e) => (
                    scan::trim_lws(&item[..e]),
                    Some(scan::trim_lws(&item[e + 1..])),
                ),
                None => (item, None),
            }
        }
    };
    if !scan::all_token(name) {
        return Err(HeaderError::Param);
    }
    if let Some(v) = value {
        let ok = if v.first() == Some(&b'"') {
            quoted_string_len(v) == Some(v.len())
        } else {
            // token / host (IPv6 references included)
            !v.is_empty()
                && v.iter()
                    .all(|&b| scan::is_token(b) || matches!(b, b'[' | b']' | b':'))
        };
        if !ok {
            return Err(HeaderError::Param);
        }
    }
    Ok((name, value))
}

/// Length of the quoted string at the start of `s` (quotes included), honouring `\`
/// escapes; `None` if unterminated or if it holds a control byte other than HTAB.
pub fn quoted_string_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    scan::quoted_string_end(s)
}

/// Strips the quotes of a quoted string (escapes stay in place); other values are returned
/// as they are.
pub fn unquote(v: &[u8]) -> &[u8] {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// `name-addr / addr-spec` followed by header parameters: the value of From, To, Contact
/// (non-`*`), Route, Path, Record-Route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'b> {
    /// The display name as written (quoted or tokens), if any.
    pub display: Option<&'b [u8]>,
    pub uri: Uri<'b>,
    /// True if the URI was written in `<...>`.
    pub angle: bool,
    pub params: HeaderParams<'b>,
    /// The `tag` parameter (From/To): `Some(None)` if it has no value.
    tag: Option<Option<&'b [u8]>>,
}

impl<'b> NameAddr<'b> {
    /// Parses one element (not a list).
    ///
    /// ```text
    /// name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
    /// display-name = *(token LWS) / quoted-string
    /// ```
    /// In the `addr-spec` form (no angle brackets) the URI ends at the first `;`, which
    /// starts the header parameters, and may not contain `,` or `?` (RFC 3261 §20).
    pub fn parse(s: &'b [u8], limits: &UriLimits) -> Result<NameAddr<'b>, HeaderError> {
        Self::parse_with(s, limits, |_, _| {})
    }

    /// [`parse`](Self::parse), handing every header parameter to `seen` on the way (one pass
    /// over the parameters for callers that need several of them).
    pub fn parse_with(
        s: &'b [u8],
        limits: &UriLimits,
        seen: impl FnMut(&'b [u8], Option<&'b [u8]>),
    ) -> Result<NameAddr<'b>, HeaderError> {
        Self::parse_reusing(s, limits, None, seen)
    }

    /// [`parse_with`](Self::parse_with), taking `known` (an already parsed URI, e.g. To's for
    /// From) instead of parsing again when the URI text is byte-for-byte the same: a
    /// REGISTER's From and To usually name the same AoR.
    pub fn parse_reusing(
        s: &'b [u8],
        limits: &UriLimits,
        known: Option<&Uri<'b>>,
        seen: impl FnMut(&'b [u8], Option<&'b [u8]>),
    ) -> Result<NameAddr<'b>, HeaderError> {
        let mut na = NameAddr::EMPTY;
        Self::parse_into(s, limits, known, seen, &mut na)?;
        Ok(na)
    }

    /// A placeholder for [`parse_into`](Self::parse_into) to overwrite.
    pub(crate) const EMPTY: NameAddr<'static> = NameAddr {
        display: None,
        uri: Uri::EMPTY,
        angle: false,
        params: HeaderParams::EMPTY,
        tag: None,
    };

    /// [`parse_reusing`](Self::parse_reusing) writing the address into `out`, the URI parsed
    /// right into its place, so that a caller keeping the address inside a larger value does
    /// not copy its 216 bytes there from a `Result` (nor the URI into it). `out` holds no
    /// meaningful address after an error.
    pub(crate) fn parse_into(
        s: &'b [u8],
        limits: &UriLimits,
        known: Option<&Uri<'b>>,
        mut seen: impl FnMut(&'b [u8], Option<&'b [u8]>),
        out: &mut NameAddr<'b>,
    ) -> Result<(), HeaderError> {
        let parse_uri = |text: &'b [u8], uri: &mut Uri<'b>| match known {
            Some(k) if k.raw == text => {
                *uri = *k;
                Ok(())
            }
            _ => Uri::parse_into(text, limits, uri),
        };
        let s = scan::trim_lws(s);
        // Common case: a quoted display name, blanks, then `<`. One scan of the quoted string
        // both finds the `<` and proves the display name is exactly one quoted string.
        // Commoner still: no display name at all, the value starts with `<`.
        let quoted = match s.first() {
            Some(b'"') => scan::quoted_string_end(s).and_then(|q| {
                let sp = s[q..].iter().position(|&b| b != b' ' && b != b'\t')?;
                (s[q + sp] == b'<').then_some((q, q + sp))
            }),
            _ => None,
        };
        let lt = match (s.first(), quoted) {
            (Some(b'<'), _) => 0,
            (_, Some((_, lt))) => lt,
            _ => scan::find_outside_quotes(s, b'<').ok_or(HeaderError::NameAddr)?,
        };
        if lt < s.len() {
            let display = if let Some((q, _)) = quoted {
                Some(&s[..q])
            } else if lt == 0 {
                None
            } else {
                display_name(scan::trim_lws(&s[..lt]))?
            };
            let after = &s[lt + 1..];
            let gt = scan::find_any(after, b">").ok_or(HeaderError::NameAddr)?;
            parse_uri(&after[..gt], &mut out.uri)?;
            let mut tag = None;
            out.params = HeaderParams::parse_with(&after[gt + 1..], |n, v| {
                if tag.is_none() && scan::token_eq(n, b"tag") {
                    tag = Some(v);
                }
                seen(n, v);
            })?;
            (out.display, out.angle, out.tag) = (display, true, tag);
            return Ok(());
        }
        // addr-spec: no display name, URI until the first ';'.
        let end = s.iter().position(|&b| b == b';').unwrap_or(s.len());
        let uri_raw = scan::trim_lws(&s[..end]);
        if uri_raw
            .iter()
            .any(|&b| b == b',' || b == b'?' || b == b'"' || scan::is_wsp(b))
        {
            return Err(HeaderError::NameAddr);
        }
        parse_uri(uri_raw, &mut out.uri)?;
        let mut tag = None;
        out.params = HeaderParams::parse_with(&s[end..], |n, v| {
            if tag.is_none() && scan::token_eq(n, b"tag") {
                tag = Some(v);
            }
            seen(n, v);
        })?;
        (out.display, out.angle, out.tag) = (None, false, tag);
        Ok(())
    }

    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'b [u8]> {
        self.tag.flatten()
    }
}

/// The display name before `<` other than the common single quoted string (LWS trimmed):
/// `None` if empty, else a quoted string or `*(token LWS)`.
fn display_name(display: &[u8]) -> Result<Option<&[u8]>, HeaderError> {
    if display.is_empty() {
        return Ok(None);
    }
    let ok = if display[0] == b'"' {
        quoted_string_len(display) == Some(display.len())
    } else {
        // *(token LWS)
        display
            .split(|&b| scan::is_wsp(b) || b == b'\r' || b == b'\n')
            .all(|w| w.is_empty() || scan::all_token(w))
    };
    if ok {
        Ok(Some(display))
    } else {
        Err(HeaderError::NameAddr)
    }
}

/// From or To: an address plus the checks the registrar needs (`tag = token`).
pub fn parse_from_to<'b>(s: &'b [u8], limits: &UriLimits) -> Result<NameAddr<'b>, HeaderError> {
    parse_from_to_reusing(s, limits, None)
}

/// [`parse_from_to`] reusing an already parsed URI with the same text (see
/// [`NameAddr::parse_reusing`]).
pub fn parse_from_to_reusing<'b>(
    s: &'b [u8],
    limits: &UriLimits,
    known: Option<&Uri<'b>>,
) -> Result<NameAddr<'b>, HeaderError> {
    let na = NameAddr::parse_reusing(s, limits, known, |_, _| {})?;
    check_tag(na.tag)?;
    Ok(na)
}

/// [`parse_from_to_reusing`] writing the address into `slot`, so that a caller keeping it in
/// an `Option` does not copy it there from a `Result`. `slot` is `None` after an error.
pub(crate) fn parse_from_to_into<'b>(
    s: &'b [u8],
    limits: &UriLimits,
    known: Option<&Uri<'b>>,
    slot: &mut Option<NameAddr<'b>>,
) -> Result<(), HeaderError> {
    let na = slot.insert(NameAddr::EMPTY);
    let parsed =
        NameAddr::parse_into(s, limits, known, |_, _| {}, na).and_then(|()| check_tag(na.tag));
    if parsed.is_err() {
        *slot = None;
    }
    parsed
}

/// From/To: a `tag` parameter must have a token value.
fn check_tag(tag: Option<Option<&[u8]>>) -> Result<(), HeaderError> {
    match tag {
        None => Ok(()),
        Some(Some(t)) if !t.is_empty() && uri::class_run(t, 0, uri::C_TOKEN) == t.len() => Ok(()),
        _ => Err(HeaderError::Tag),
    }
}

/// `Call-ID = ( "Call-ID" / "i" ) HCOLON callid`, `callid = word [ "@" word ]`
pub fn parse_call_id(s: &[u8]) -> Result<&[u8], HeaderError> {
    // `@` is not a word byte: the first run of word bytes ends at it or at the end.
    let at = uri::class_run(s, 0, uri::C_WORD);
    let ok = at > 0
        && match s.get(at) {
            None => true,
            Some(b'@') => {
                let end = uri::class_run(s, at + 1, uri::C_WORD);
                end > at + 1 && end == s.len()
            }
            Some(_) => false,
        };
    if ok { Ok(s) } else { Err(HeaderError::CallId) }
}

/// `CSeq = "CSeq" HCOLON 1*DIGIT LWS Method`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'b> {
    /// The sequence number: "MUST be expressible as a 32-bit unsigned integer and MUST be less
    /// than 2**31" (§8.1.1.5).
    pub number: u32,
    pub method: &'b [u8],
}

pub fn parse_cseq(s: &[u8]) -> Result<CSeq<'_>, HeaderError> {
    // Every failure is the same error, so a number is refused as soon as it reaches 2**31:
    // the sum never gets near overflowing a u64.
    let mut number = 0u64;
    let mut digits_end = 0;
    // Eight digits at once when there are (a CSeq number is often large): they stay below
    // 2**31, and the loop goes on from there.
    if let Some(v) = s
        .first_chunk()
        .and_then(|c| eight_digits(u64::from_le_bytes(*c)))
    {
        number = u64::from(v);
        digits_end = 8;
    }
    while let Some(&b) = s.get(digits_end) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        number = number * 10 + u64::from(d);
        if number >= 1 << 31 {
            return Err(HeaderError::CSeq);
        }
        digits_end += 1;
    }
    if digits_end == 0 || digits_end == s.len() {
        return Err(HeaderError::CSeq);
    }
    let rest = &s[digits_end..];
    // Nearly always one SP, then the method.
    let method = match rest {
        [b' ', m @ ..] if m.first().is_some_and(|&b| scan::is_token(b)) => m,
        _ => scan::skip_lws(rest),
    };
    if method.len() == rest.len()
        || method.is_empty()
        || uri::class_run(method, 0, uri::C_TOKEN) != method.len()
        || number >= 1 << 31
    {
        return Err(HeaderError::CSeq);
    }
    Ok(CSeq {
        number: number as u32,
        method,
    })
}

/// The value of eight ASCII digits loaded little-endian (the first digit in the low byte), or
/// `None` if any byte is not a digit. SWAR: a byte is a digit when its high nibble is 3 and
/// adding 6 leaves it so; then pairs, quads and the two halves are combined by multiplies.
#[inline(always)]
fn eight_digits(w: u64) -> Option<u32> {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // No byte carries into the next in `w + 0x06..`: the first test has already bounded
    // every byte to 0x30..=0x3f.
    if w & HIGH != ZEROS || w.wrapping_add(0x0606_0606_0606_0606) & HIGH != ZEROS {
        return None;
    }
    let v = w - ZEROS;
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
    let v = (v.wrapping_mul(10_000) + (v >> 32)) & 0xffff_ffff;
    Some(v as u32)
}

/// A number header (Expires, Min-Expires, Max-Forwards, Content-Length): `1*DIGIT`.
/// Values above `u32::MAX` saturate (a delta-seconds of 2^32 or more means 2^32-1,
/// RFC 3261 §25.1 note on `delta-seconds`).
pub fn parse_number(s: &[u8]) -> Result<u32, HeaderError> {
    // Up to nine digits cannot reach u32::MAX: one pass, no saturation needed.
    if s.is_empty() || s.len() > 9 {
        return scan::digits_u64(s)
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
            .ok_or(HeaderError::Number);
    }
    // Four digits at once when there are (`3600`), then the rest one by one.
    let (mut v, done) = match s
        .first_chunk()
        .and_then(|c| four_digits(u32::from_le_bytes(*c)))
    {
        Some(v) => (v, 4),
        None => (0, 0),
    };
    for &b in &s[done..] {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(HeaderError::Number);
        }
        v = v * 10 + u32::from(d);
    }
    Ok(v)
}

/// [`eight_digits`] for four digits.
#[inline(always)]
fn four_digits(w: u32) -> Option<u32> {
    const HIGH: u32 = 0xf0f0_f0f0;
    const ZEROS: u32 = 0x3030_3030;
    if w & HIGH != ZEROS || w.wrapping_add(0x0606_0606) & HIGH != ZEROS {
        return None;
    }
    let v = w - ZEROS;
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff;
    Some((v.wrapping_mul(100) + (v >> 16)) & 0xffff)
}

/// One Via value:
/// `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`,
/// `sent-protocol = protocol-name SLASH protocol-version SLASH transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'b> {
    pub transport: &'b [u8],
    /// `sent-by = host [ COLON port ]` as written.
    pub sent_by: &'b [u8],
    pub host: uri::Host<'b>,
    pub port: Option<u16>,
    pub params: HeaderParams<'b>,
    /// The whole element as written.
    pub raw: &'b [u8],
    branch: Option<&'b [u8]>,
    rport: Option<Option<&'b [u8]>>,
    /// The name of the first `rport` parameter (where a response fills in a bare one's value).
    rport_name: &'b [u8],
    received: Option<&'b [u8]>,
}

impl<'b> Via<'b> {
    pub fn parse(s: &'b [u8]) -> Result<Via<'b>, HeaderError> {
        let mut slot = None;
        Self::parse_into(s, &mut slot)?;
        slot.ok_or(HeaderError::Via)
    }

    /// [`parse`](Self::parse) writing the element into `slot`, so that a caller keeping it in
    /// an `Option` does not copy it there from a `Result`. `slot` is left as it was on error.
    #[inline(always)]
    pub(crate) fn parse_into(s: &'b [u8], slot: &mut Option<Via<'b>>) -> Result<(), HeaderError> {
        let s = scan::trim_lws(s);
        let mut parts = [&b""[..]; 3];
        let mut rest = s;
        // Fast path for the common `SIP/2.0/UDP host...` with no LWS inside sent-protocol.
        if s.len() > 8 && s[..8].eq_ignore_ascii_case(b"SIP/2.0/") {
            // The transport is the token run up to the first WSP or CR: one scan finds its
            // end and checks it.
            let t_end = s[8..]
                .iter()
                .position(|&b| !scan::is_token(b))
                .map(|p| p + 8)
                .filter(|&e| e > 8 && (scan::is_wsp(s[e]) || s[e] == b'\r'));
            if let Some(t_end) = t_end {
                return Self::finish(s, &s[8..t_end], scan::skip_lws(&s[t_end..]), slot);
            }
        }
        for (i, part) in parts.iter_mut().enumerate() {
            let rest_t = scan::skip_lws(rest);
            let end = rest_t
                .iter()
                .position(|&b| b == b'/' || scan::is_wsp(b) || b == b'\r')
                .unwrap_or(rest_t.len());
            *part = &rest_t[..end];
            rest = scan::skip_lws(&rest_t[end..]);
            if i < 2 {
                rest = rest.strip_prefix(b"/").ok_or(HeaderError::Via)?;
            }
        }
        if !parts.iter().all(|p| scan::all_token(p)) || !eq_ic(parts[0], b"SIP") {
            return Err(HeaderError::Via);
        }
        Self::finish(s, parts[2], rest, slot)
    }

    /// Parses `sent-by *( SEMI via-params )` (`rest`, after LWS) of the element `s` into
    /// `slot` (left as it was on error).
    fn finish(
        s: &'b [u8],
        transport: &'b [u8],
        rest: &'b [u8],
        slot: &mut Option<Via<'b>>,
    ) -> Result<(), HeaderError> {
        if rest.is_empty() {
            return Err(HeaderError::Via);
        }
        // Commonest case: a host name or IPv4 address and a port, ending at `;` or the end,
        // read in one run (what the loop below and `parse_hostport` would read).
        if let Some((host_end, port, end)) = uri::hostport_prefix(rest, |b| b == b';') {
            let host = uri::host_name(&rest[..host_end]).map_err(|_| HeaderError::Via)?;
            return Self::finish_params(s, transport, &rest[..end], host, port, &rest[end..], slot);
        }
        // Common case: sent-by without LWS, ending at `;` or the end. Then it holds no
        // quote, `<` or white space, so the general split and trims would change nothing
        // and `sent_by_hostport` would come down to `parse_hostport`.
        let mut end = 0;
        while end < rest.len() && scan::is_sent_by(rest[end]) {
            end += 1;
        }
        let (sent_by, host, port) = if end == rest.len() || rest[end] == b';' {
            let sent_by = &rest[..end];
            let (host, _, port) = uri::parse_hostport(sent_by).map_err(|_| HeaderError::Via)?;
            (sent_by, host, port)
        } else {
            end = scan::find_outside_quotes(rest, b';').ok_or(HeaderError::Via)?;
            let sent_by = scan::trim_lws(&rest[..end]);
            let (host, _, port) = sent_by_hostport(sent_by)?;
            (sent_by, host, port)
        };
        Self::finish_params(s, transport, sent_by, host, port, &rest[end..], slot)
    }

    /// Reads the parameters (`params`, from the first `;`) of the element `s` whose other
    /// parts are read, and writes the element into `slot` (left as it was on error).
    #[inline(always)]
    fn finish_params(
        s: &'b [u8],
        transport: &'b [u8],
        sent_by: &'b [u8],
        host: uri::Host<'b>,
        port: Option<u16>,
        params: &'b [u8],
        slot: &mut Option<Via<'b>>,
    ) -> Result<(), HeaderError> {
        let (mut branch, mut rport, mut received) = (None, None, None);
        let mut rport_name: &'b [u8] = b"";
        let params = HeaderParams::parse_with(params, |n, v| {
            if scan::token_eq(n, b"branch") {
                branch = branch.or(v);
            } else if scan::token_eq(n, b"rport") {
                if rport.is_none() {
                    rport_name = n;
                }
                rport = rport.or(Some(v));
            } else if scan::token_eq(n, b"received") {
                received = received.or(v);
            }
        })
        .map_err(|_| HeaderError::Via)?;
        *slot = Some(Via {
            transport,
            sent_by,
            host,
            port,
            params,
            raw: s,
            branch,
            rport,
            rport_name,
            received,
        });
        Ok(())
    }

    pub fn branch(&self) -> Option<&'b [u8]> {
        self.branch
    }

    /// `Some(None)` for a bare `rport` (RFC 3581 request), `Some(Some(v))` with a value.
    pub fn rport(&self) -> Option<Option<&'b [u8]>> {
        self.rport
    }

    pub fn received(&self) -> Option<&'b [u8]> {
        self.received
    }

    /// Where a bare `rport` (no value) ends, as an offset into [`raw`](Self::raw), so that a
    /// response can fill in its value without scanning the parameters again.
    pub fn bare_rport_end(&self) -> Option<usize> {
        match self.rport {
            Some(None) => Some(
                self.rport_name.as_ptr() as usize - self.raw.as_ptr() as usize
                    + self.rport_name.len(),
            ),
            _ => None,
        }
    }
}

/// `sent-by = host [ COLON port ]` where LWS may surround the colon.
fn sent_by_hostport(s: &[u8]) -> Result<(uri::Host<'_>, &[u8], Option<u16>), HeaderError> {
    // `COLON = SWS ":" SWS`: white space around the port's colon is allowed here (not in a
    // URI), so split there first. An IPv6 reference has its colons inside brackets.
    let colon = match s.iter().rposition(|&b| b == b':') {
        Some(c) if !s[c..].contains(&b']') => c,
        _ => return uri::parse_hostport(s).map_err(|_| HeaderError::Via),
    };
    let host = scan::trim_lws(&s[..colon]);
    let port = scan::trim_lws(&s[colon + 1..]);
    if host.len() + port.len() + 1 == s.len() {
        return uri::parse_hostport(s).map_err(|_| HeaderError::Via);
    }
    let h = uri::parse_host(host).map_err(|_| HeaderError::Via)?;
    if matches!(h, uri::Host::V6(_)) && !host.starts_with(b"[") {
        return Err(HeaderError::Via);
    }
    let port = scan::digits_u64(port)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or(HeaderError::Via)?;
    Ok((h, host, Some(port)))
}

/// One element of a Contact header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactValue<'b> {
    pub addr: NameAddr<'b>,
    /// `expires` parameter; values over `u32::MAX` saturate.
    pub expires: Option<u32>,
    /// `q` in thousandths (0..=1000).
    pub q: Option<u16>,
    instance: Option<&'b [u8]>,
    reg_id: Option<Result<u32, HeaderError>>,
    methods: Option<&'b [u8]>,
}

/// A Contact header's value: `STAR` or a list of contact-params.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactList<'b> {
    Star,
    List(&'b [u8]),
}

impl<'b> ContactList<'b> {
    pub fn new(value: &'b [u8]) -> ContactList<'b> {
        if value == b"*" {
            ContactList::Star
        } else {
            ContactList::List(value)
        }
    }
}

impl<'b> ContactValue<'b> {
    /// `contact-param = (name-addr / addr-spec) *(SEMI contact-params)`
    pub fn parse(s: &'b [u8], limits: &UriLimits) -> Result<ContactValue<'b>, HeaderError> {
        let mut c = ContactValue::EMPTY;
        Self::parse_into(s, limits, &mut c)?;
        Ok(c)
    }

    /// A placeholder for [`parse_into`](Self::parse_into) to overwrite.
    pub(crate) const EMPTY: ContactValue<'static> = ContactValue {
        addr: NameAddr::EMPTY,
        expires: None,
        q: None,
        instance: None,
        reg_id: None,
        methods: None,
    };

    /// [`parse`](Self::parse) writing the value into `out`, the address parsed right into its
    /// place (see [`NameAddr::parse_into`]). `out` holds no meaningful value after an error.
    pub(crate) fn parse_into(
        s: &'b [u8],
        limits: &UriLimits,
        out: &mut ContactValue<'b>,
    ) -> Result<(), HeaderError> {
        let (mut expires, mut q, mut instance, mut reg_id, mut methods) =
            (None, None, None, None, None);
        let mut bad = false;
        let addr = &mut out.addr;
        NameAddr::parse_into(
            s,
            limits,
            None,
            |name, value| {
                if scan::token_eq(name, b"expires") {
                    match value.map(parse_number) {
                        Some(Ok(v)) => expires = Some(v),
                        _ => bad = true,
                    }
                } else if scan::token_eq(name, b"q") {
                    match value.map(parse_qvalue) {
                        Some(Ok(v)) => q = Some(v),
                        _ => bad = true,
                    }
                } else if scan::token_eq(name, b"+sip.instance") {
                    instance = instance.or(value.map(unquote));
                } else if scan::token_eq(name, b"reg-id") {
                    reg_id = reg_id.or(Some(
                        value
                            .ok_or(HeaderError::Param)
                            .and_then(|v| parse_number(v).map_err(|_| HeaderError::Param)),
                    ));
                } else if scan::token_eq(name, b"methods") {
                    methods = methods.or(value.map(unquote));
                }
            },
            addr,
        )?;
        if bad {
            return Err(HeaderError::Param);
        }
        if !addr.uri.is_sip() && !matches!(addr.uri.scheme, uri::Scheme::Tel) && !addr.angle {
            // An absoluteURI of another scheme is fine in name-addr form only.
            return Err(HeaderError::Contact);
        }
        (out.expires, out.q, out.instance, out.reg_id, out.methods) =
            (expires, q, instance, reg_id, methods);
        Ok(())
    }

    /// `+sip.instance` (RFC 5626), quotes removed.
    pub fn instance(&self) -> Option<&'b [u8]> {
        self.instance
    }

    /// `reg-id` (RFC 5626): `1*DIGIT`; anything else is an error for the caller to report.
    pub fn reg_id(&self) -> Option<Result<u32, HeaderError>> {
        self.reg_id
    }

    /// `methods` feature tag (RFC 3840 §9), quotes removed: a comma-separated method list.
    pub fn methods(&self) -> Option<&'b [u8]> {
        self.methods
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
pub fn parse_qvalue(s: &[u8]) -> Result<u16, HeaderError> {
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(d) => (&s[..d], &s[d + 1..]),
        None => (s, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return Err(HeaderError::Param);
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Ok(thousandths),
        b"1" if thousandths == 0 => Ok(1000),
        _ => Err(HeaderError::Param),
    }
}

/// Option tags of Require / Supported / Unsupported / Proxy-Require: `option-tag *(COMMA
/// option-tag)`.
pub fn option_tags(value: &[u8]) -> impl Iterator<Item = Result<&[u8], HeaderError>> {
    elements(value)
        .filter(|e| !matches!(e, Ok(t) if t.is_empty()))
        .map(|e| {
            e.and_then(|t| {
                if scan::all_token(t) {
                    Ok(t)
                } else {
                    Err(HeaderError::OptionTag)
                }
            })
        })
}

/// Digest credentials from Authorization / Proxy-Authorization (RFC 3261 §25.1, RFC 7616):
/// `Digest` LWS `dig-resp *(COMMA dig-resp)`. Values are borrowed with quotes removed
/// (escapes, which digest values do not use in practice, are left in place).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestCredentials<'b> {
    pub username: Option<&'b [u8]>,
    pub realm: Option<&'b [u8]>,
    pub nonce: Option<&'b [u8]>,
    pub uri: Option<&'b [u8]>,
    pub response: Option<&'b [u8]>,
    pub algorithm: Option<&'b [u8]>,
    pub cnonce: Option<&'b [u8]>,
    pub opaque: Option<&'b [u8]>,
    pub qop: Option<&'b [u8]>,
    pub nc: Option<&'b [u8]>,
    pub userhash: Option<&'b [u8]>,
}

/// Parsed credentials: digest, or another scheme kept as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials<'b> {
    Digest(DigestCredentials<'b>),
    Other { scheme: &'b [u8], params: &'b [u8] },
}

pub fn parse_credentials(s: &[u8]) -> Result<Credentials<'_>, HeaderError> {
    let s = scan::trim_lws(s);
    let end = s
        .iter()
        .position(|&b| scan::is_wsp(b) || b == b'\r')
        .unwrap_or(s.len());
    let (scheme, rest) = (&s[..end], scan::skip_lws(&s[end..]));
    if !scan::all_token(scheme) {
        return Err(HeaderError::Credentials);
    }
    if !eq_ic(scheme, b"Digest") {
        return Ok(Credentials::Other {
            scheme,
            params: rest,
        });
    }
    digest_params(rest).map(Credentials::Digest)
}

/// `dig-resp *(COMMA dig-resp)`, `dig-resp = token LWS "=" LWS (token / quoted-string)`, in
/// one pass: no element split, no second scan per value, one (length, letter) dispatch per
/// name. White space is what the element-wise reading allowed: LWS (folds included) where
/// an element or a value starts, and any run of SP, HTAB, CR, LF where one ends (before `=`,
/// `,` and the end); empty elements are skipped.
fn digest_params(mut rest: &[u8]) -> Result<DigestCredentials<'_>, HeaderError> {
    const BAD: HeaderError = HeaderError::Credentials;
    let mut d = DigestCredentials::default();
    loop {
        let lead = skip_trailing_ws(rest);
        match lead.first() {
            None => return Ok(d),
            Some(b',') => {
                rest = &lead[1..];
                continue;
            }
            Some(_) => {}
        }
        // A non-empty element starts after LWS proper (a bare LF does not fold).
        if lead.len() != rest.len() && scan::skip_lws(rest).len() != lead.len() {
            return Err(BAD);
        }
        let at = lead;
        // The name: up to the `=` when that is a known name (an exact match proves it is a
        // token), else a token scan that may end in white space.
        let (slot, after) = match scan::find_any(at, b"=") {
            Some(eq) if let Some(slot) = digest_slot(&mut d, &at[..eq]) => {
                (Some(slot), &at[eq + 1..])
            }
            _ => {
                let n = at
                    .iter()
                    .position(|&b| !scan::is_token(b))
                    .unwrap_or(at.len());
                let after = skip_trailing_ws(&at[n..]).strip_prefix(b"=").ok_or(BAD)?;
                let name = &at[..n];
                if name.is_empty() {
                    return Err(BAD);
                }
                (digest_slot(&mut d, name), after)
            }
        };
        let v = skip_lws_fast(after);
        let (value, tail) = if v.first() == Some(&b'"') {
            let q = scan::quoted_string_end(v).ok_or(BAD)?;
            (&v[1..q - 1], &v[q..])
        } else {
            let t = v
                .iter()
                .position(|&b| !scan::is_token(b))
                .unwrap_or(v.len());
            (&v[..t], &v[t..])
        };
        let tail = skip_trailing_ws(tail);
        rest = match tail.first() {
            None => tail,
            Some(b',') => &tail[1..],
            Some(_) => return Err(BAD),
        };
        if value.is_empty() && v.first() != Some(&b'"') {
            return Err(BAD);
        }
        let Some(slot) = slot else {
            continue;
        };
        if slot.is_some() {
            return Err(BAD);
        }
        *slot = Some(value);
    }
}

/// [`scan::skip_lws`] with the common case, no white space, decided up front.
#[inline]
fn skip_lws_fast(s: &[u8]) -> &[u8] {
    match s.first() {
        Some(b' ' | b'\t' | b'\r' | b'\n') => scan::skip_lws(s),
        _ => s,
    }
}

/// The field of `d` for a dig-resp name (case-insensitive), `None` for an extension.
#[inline]
fn digest_slot<'d, 'b>(
    d: &'d mut DigestCredentials<'b>,
    name: &[u8],
) -> Option<&'d mut Option<&'b [u8]>> {
    let (candidate, slot): (&[u8], _) = match (name.len(), name.first()? | 0x20) {
        (2, b'n') => (b"nc", &mut d.nc),
        (3, b'u') => (b"uri", &mut d.uri),
        (3, b'q') => (b"qop", &mut d.qop),
        (5, b'r') => (b"realm", &mut d.realm),
        (5, b'n') => (b"nonce", &mut d.nonce),
        (6, b'c') => (b"cnonce", &mut d.cnonce),
        (6, b'o') => (b"opaque", &mut d.opaque),
        (8, b'u') if name[4] | 0x20 == b'h' => (b"userhash", &mut d.userhash),
        (8, b'u') => (b"username", &mut d.username),
        (8, b'r') => (b"response", &mut d.response),
        (9, b'a') => (b"algorithm", &mut d.algorithm),
        _ => return None,
    };
    scan::eq_lower(name, candidate).then_some(slot)
}

/// Skips any run of SP, HTAB, CR and LF (what trimming the end of an element removed).
#[inline]
fn skip_trailing_ws(s: &[u8]) -> &[u8] {
    if !matches!(s.first(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        return s;
    }
    let n = s
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(s.len());
    &s[n..]
}

/// Parameters of a URI inside a header (used by the registrar for `transport` etc.).
pub fn uri_params<'b>(u: &Uri<'b>) -> Params<'b> {
    u.params()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l() -> UriLimits {
        UriLimits::default()
    }

    /// `classify` knows every name of `KNOWN_NAMES`, in any case, and every kind but `Other`
    /// has a name there.
    #[test]
    fn classify_agrees_with_known_names() {
        for (name, kind) in KNOWN_NAMES {
            assert_eq!(classify(name), kind, "{:?}", String::from_utf8_lossy(name));
            assert_eq!(classify(&name.to_ascii_uppercase()), kind);
        }
        for k in 0..Hdr::Other as u8 {
            assert!(
                KNOWN_NAMES.iter().any(|&(_, h)| h as u8 == k),
                "kind {k} has no name"
            );
        }
    }

    #[test]
    fn compact_and_long_names_classify_the_same() {
        for (a, b) in [
            ("v", "Via"),
            ("f", "FROM"),
            ("t", "to"),
            ("i", "call-id"),
            ("m", "Contact"),
            ("l", "Content-Length"),
            ("k", "Supported"),
        ] {
            assert_eq!(classify(a.as_bytes()), classify(b.as_bytes()), "{a} vs {b}");
            assert_ne!(classify(a.as_bytes()), Hdr::Other);
        }
        assert_eq!(classify(b"X-Custom"), Hdr::Other);
    }

    #[test]
    fn name_addr_forms() {
        let na = NameAddr::parse(
            b"\"Bob \\\"B\\\"\" <sip:bob@biloxi.com;transport=tcp>;tag=abc;x",
            &l(),
        )
        .unwrap();
        assert_eq!(na.display, Some(&b"\"Bob \\\"B\\\"\""[..]));
        assert_eq!(na.uri.params, b"transport=tcp");
        assert_eq!(na.tag(), Some(&b"abc"[..]));
        let spec = NameAddr::parse(b"sip:bob@biloxi.com;tag=1", &l()).unwrap();
        assert_eq!(spec.uri.raw, b"sip:bob@biloxi.com");
        assert_eq!(spec.tag(), Some(&b"1"[..]));
        let tokens = NameAddr::parse(b"Bob Smith <sip:b@c.d>", &l()).unwrap();
        assert_eq!(tokens.display, Some(&b"Bob Smith"[..]));
        assert!(NameAddr::parse(b"<sip:b@c.d", &l()).is_err());
        assert!(NameAddr::parse(b"\"open <sip:b@c.d>", &l()).is_err());
        assert!(
            NameAddr::parse(b"sip:b@c.d?subject=x", &l()).is_err(),
            "addr-spec with ?"
        );
    }

    #[test]
    fn via_parts() {
        let v = Via::parse(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds ;rport").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some(&b"z9hG4bK776asdhds"[..]));
        assert_eq!(v.rport(), Some(None));
        let spaced = Via::parse(b"SIP / 2.0 / TCP [2001:db8::9]").unwrap();
        assert_eq!(spaced.transport, b"TCP");
        assert!(Via::parse(b"SIP/2.0/UDP").is_err());
        assert!(Via::parse(b"HTTP/1.1/TCP host").is_err());
    }

    #[test]
    fn eight_digits_reads_exactly_eight_digits() {
        let reference = |c: [u8; 8]| {
            c.iter().try_fold(0u32, |v, &b| {
                b.is_ascii_digit().then(|| v * 10 + u32::from(b - b'0'))
            })
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..20_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut c = *b"00000000";
            for (k, d) in c.iter_mut().enumerate() {
                *d = b'0' + ((seed >> (k * 4)) % 10) as u8;
            }
            if n % 2 == 1 {
                // One byte of any value at any position.
                c[(seed >> 40) as usize % 8] = (seed >> 48) as u8;
            }
            assert_eq!(eight_digits(u64::from_le_bytes(c)), reference(c), "{c:?}");
        }
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut c = *b"12345678";
                c[at] = b;
                assert_eq!(eight_digits(u64::from_le_bytes(c)), reference(c), "{c:?}");
            }
        }
        assert_eq!(
            eight_digits(u64::from_le_bytes(*b"99999999")),
            Some(99_999_999)
        );
        assert_eq!(eight_digits(u64::from_le_bytes(*b"00000001")), Some(1));
    }

    #[test]
    fn four_digits_reads_exactly_four_digits() {
        let reference = |c: [u8; 4]| {
            c.iter().try_fold(0u32, |v, &b| {
                b.is_ascii_digit().then(|| v * 10 + u32::from(b - b'0'))
            })
        };
        for n in 0..10_000u32 {
            let c = *format!("{n:04}").as_bytes().first_chunk::<4>().unwrap();
            assert_eq!(four_digits(u32::from_le_bytes(c)), Some(n));
        }
        for at in 0..4 {
            for b in 0..=255u8 {
                let mut c = *b"1905";
                c[at] = b;
                assert_eq!(four_digits(u32::from_le_bytes(c)), reference(c), "{c:?}");
            }
        }
    }

    #[test]
    fn numbers_of_every_length() {
        for len in 0..=12 {
            let digits: Vec<u8> = (0..len).map(|k| b"9073641852"[k % 10]).collect();
            let expected = std::str::from_utf8(&digits)
                .unwrap()
                .parse::<u64>()
                .ok()
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX));
            assert_eq!(parse_number(&digits).ok(), expected, "{digits:?}");
            for at in 0..len {
                for b in [b'/', b':', b' ', b'a', 0x80, 0xb9, 0] {
                    let mut bad = digits.clone();
                    bad[at] = b;
                    assert!(parse_number(&bad).is_err(), "{bad:?}");
                }
            }
        }
    }

    #[test]
    fn cseq_numbers_of_every_length() {
        for len in 1..=12 {
            for lead in [b'0', b'1', b'2', b'9'] {
                let digits: Vec<u8> = (0..len)
                    .map(|k| if k == 0 { lead } else { b'0' + (k % 10) as u8 })
                    .collect();
                let text = [&digits[..], b" REGISTER"].concat();
                let value: u64 = std::str::from_utf8(&digits).unwrap().parse().unwrap();
                match parse_cseq(&text) {
                    Ok(c) => assert_eq!(u64::from(c.number), value, "{text:?}"),
                    Err(_) => assert!(value >= 1 << 31, "{text:?}"),
                }
                for at in 0..text.len() {
                    let mut bad = text.clone();
                    bad[at] = b'x';
                    if at < len {
                        assert!(parse_cseq(&bad).is_err(), "{bad:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn via_parse_into_writes_the_slot_only_on_success() {
        let good = b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport";
        let mut slot = None;
        assert_eq!(Via::parse_into(good, &mut slot), Ok(()));
        assert_eq!(slot, Some(Via::parse(good).unwrap()));
        let kept = slot;
        // Failures at each stage: sent-protocol, sent-by, parameters.
        for bad in [
            &b"HTTP/1.1/TCP host"[..],
            b"SIP/2.0/UDP",
            b"SIP/2.0/UDP host:99999",
            b"SIP/2.0/UDP host;branch=\"x",
            b"SIP/2.0/UDP host;=x",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
            assert_eq!(Via::parse_into(bad, &mut slot), Err(HeaderError::Via));
            assert_eq!(slot, kept);
            let mut empty = None;
            assert!(Via::parse_into(bad, &mut empty).is_err());
            assert_eq!(empty, None);
        }
    }

    #[test]
    fn cseq_and_numbers() {
        assert_eq!(
            parse_cseq(b"4711 REGISTER"),
            Ok(CSeq {
                number: 4711,
                method: b"REGISTER"
            })
        );
        assert!(parse_cseq(b"4711REGISTER").is_err());
        assert!(
            parse_cseq(b"2147483648 REGISTER").is_err(),
            "must be below 2**31"
        );
        assert!(parse_cseq(b"-1 REGISTER").is_err());
        assert_eq!(parse_number(b"99999999999"), Ok(u32::MAX));
        assert!(parse_number(b"12a").is_err());
    }

    #[test]
    fn contact_params() {
        let c = ContactValue::parse(
            b"<sip:a@10.0.0.1:5060;transport=udp>;expires=60;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1",
            &l(),
        )
        .unwrap();
        assert_eq!(c.expires, Some(60));
        assert_eq!(c.q, Some(500));
        assert_eq!(c.instance(), Some(&b"<urn:uuid:1>"[..]));
        assert_eq!(c.reg_id(), Some(Ok(1)));
        assert!(ContactValue::parse(b"<sip:a@b.c>;q=1.5", &l()).is_err());
        assert!(ContactValue::parse(b"<sip:a@b.c>;expires=soon", &l()).is_err());
        assert_eq!(parse_qvalue(b"1.000"), Ok(1000));
        assert_eq!(parse_qvalue(b"0.05"), Ok(50));
        assert!(parse_qvalue(b"0.0001").is_err());
    }

    /// The readings of Call-ID, CSeq and number headers this module had before their
    /// one-pass forms, kept as reference models.
    fn call_id_reference(s: &[u8]) -> Result<&[u8], HeaderError> {
        let (a, b) = match s.iter().position(|&c| c == b'@') {
            Some(at) => (&s[..at], Some(&s[at + 1..])),
            None => (s, None),
        };
        let word = |w: &[u8]| !w.is_empty() && w.iter().all(|&c| scan::is_word(c));
        if word(a) && b.is_none_or(word) {
            Ok(s)
        } else {
            Err(HeaderError::CallId)
        }
    }

    fn cseq_reference(s: &[u8]) -> Result<CSeq<'_>, HeaderError> {
        let digits_end = s
            .iter()
            .position(|b| !b.is_ascii_digit())
            .ok_or(HeaderError::CSeq)?;
        let number = scan::digits_u64(&s[..digits_end]).ok_or(HeaderError::CSeq)?;
        let rest = &s[digits_end..];
        let method = scan::skip_lws(rest);
        if method.len() == rest.len() || !scan::all_token(method) || number >= 1 << 31 {
            return Err(HeaderError::CSeq);
        }
        Ok(CSeq {
            number: number as u32,
            method,
        })
    }

    fn number_reference(s: &[u8]) -> Result<u32, HeaderError> {
        scan::digits_u64(s)
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
            .ok_or(HeaderError::Number)
    }

    /// Mutated Call-ID, CSeq and number values read as the reference models read them.
    #[test]
    fn call_id_cseq_and_numbers_match_the_reference_readings() {
        let seeds: [&[u8]; 6] = [
            b"c0000000-1j9FpLxk3uxtm8tn@10.0.0.1",
            b"843817637684230@998sdasdh09",
            b"0000000001 REGISTER",
            b"2147483647 INVITE",
            b"4294967295",
            b"3600",
        ];
        let alphabet = b" \t\r\n@0019aZ-<>\"\x80{";
        let mut rnd = crate::sip::testing::rnd(0x5851_f42d_4c95_7f2d);
        for _ in 0..100_000 {
            let mut v = seeds[rnd(seeds.len())].to_vec();
            for _ in 0..rnd(4) {
                crate::sip::testing::mutate(&mut v, alphabet, &mut rnd);
            }
            let text = String::from_utf8_lossy(&v);
            assert_eq!(parse_call_id(&v), call_id_reference(&v), "{text:?}");
            assert_eq!(parse_cseq(&v), cseq_reference(&v), "{text:?}");
            assert_eq!(parse_number(&v), number_reference(&v), "{text:?}");
        }
        for n in [
            "0",
            "000000000000000000004",
            "999999999",
            "4294967296",
            "99999999999999999999999",
        ] {
            assert_eq!(
                parse_number(n.as_bytes()),
                number_reference(n.as_bytes()),
                "{n}"
            );
            let c = format!("{n} REGISTER");
            assert_eq!(
                parse_cseq(c.as_bytes()),
                cseq_reference(c.as_bytes()),
                "{c}"
            );
        }
    }

    #[test]
    fn elements_split_on_commas_outside_quotes() {
        let v: Vec<_> = elements(b"<sip:a@b.c>;p=\"x,y\", \"N, M\" <sip:c@d.e>")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], b"\"N, M\" <sip:c@d.e>");
    }

    /// A Via value that parses whole holds one element: the element split yields it whole,
    /// and it parses the same (what typing a request relies on to skip the split).
    #[test]
    fn a_via_value_that_parses_is_one_element() {
        const PARTS: &[&str] = &[
            "SIP/2.0/UDP ",
            "SIP / 2.0 / TCP ",
            "host.example.com",
            "10.0.0.1",
            "[::1]",
            ":5060",
            " : 5061",
            ";branch=z9hG4bK1",
            ";rport",
            ";received=[2001:db8::1]",
            ";x=\"a,b\"",
            ";y=\"<,>\"",
            ";z=\"open",
            ",",
            ", ",
            "<",
            ">",
            "\"",
            " ",
            "\r\n ",
            "=",
            ";",
        ];
        let mut rnd = crate::sip::testing::rnd(0x0bad_5eed_1234_5678);
        let mut parsed = 0;
        for _ in 0..200_000 {
            // A protocol, a host, then anything.
            let mut v = String::from(PARTS[rnd(2)]);
            v.push_str(PARTS[2 + rnd(3)]);
            for _ in 0..rnd(5) {
                v.push_str(PARTS[rnd(PARTS.len())]);
            }
            let Ok(via) = Via::parse(v.as_bytes()) else {
                continue;
            };
            parsed += 1;
            let elems: Vec<_> = elements(v.as_bytes()).collect();
            assert_eq!(elems.len(), 1, "{v:?}");
            assert_eq!(Via::parse(elems[0].unwrap()), Ok(via), "{v:?}");
        }
        assert!(parsed > 10_000, "{parsed}");
    }

    /// The element-wise reading `parse_credentials` replaced, kept as the reference model.
    fn credentials_reference(s: &[u8]) -> Result<Credentials<'_>, HeaderError> {
        let s = scan::trim_lws(s);
        let end = s
            .iter()
            .position(|&b| scan::is_wsp(b) || b == b'\r')
            .unwrap_or(s.len());
        let (scheme, rest) = (&s[..end], scan::skip_lws(&s[end..]));
        if !scan::all_token(scheme) {
            return Err(HeaderError::Credentials);
        }
        if !eq_ic(scheme, b"Digest") {
            return Ok(Credentials::Other {
                scheme,
                params: rest,
            });
        }
        let mut d = DigestCredentials::default();
        for elem in elements(rest) {
            let elem = elem.map_err(|_| HeaderError::Credentials)?;
            if elem.is_empty() {
                continue;
            }
            let eq = elem
                .iter()
                .position(|&b| b == b'=')
                .ok_or(HeaderError::Credentials)?;
            let name = scan::trim_lws(&elem[..eq]);
            let raw = scan::trim_lws(&elem[eq + 1..]);
            let quoted = raw.first() == Some(&b'"');
            if !scan::all_token(name)
                || (quoted && quoted_string_len(raw) != Some(raw.len()))
                || (!quoted && !scan::all_token(raw))
            {
                return Err(HeaderError::Credentials);
            }
            let value = unquote(raw);
            let names: [&[u8]; 11] = [
                b"username",
                b"realm",
                b"nonce",
                b"uri",
                b"response",
                b"algorithm",
                b"cnonce",
                b"opaque",
                b"qop",
                b"nc",
                b"userhash",
            ];
            let Some(i) = names.iter().position(|n| eq_ic(name, n)) else {
                continue;
            };
            let slot = [
                &mut d.username,
                &mut d.realm,
                &mut d.nonce,
                &mut d.uri,
                &mut d.response,
                &mut d.algorithm,
                &mut d.cnonce,
                &mut d.opaque,
                &mut d.qop,
                &mut d.nc,
                &mut d.userhash,
            ]
            .into_iter()
            .nth(i)
            .unwrap();
            if slot.is_some() {
                return Err(HeaderError::Credentials);
            }
            *slot = Some(value);
        }
        Ok(Credentials::Digest(d))
    }

    /// Mutated digest headers (bytes inserted, removed, replaced with the characters the
    /// grammar cares about) parse exactly as the element-wise reference reads them.
    #[test]
    fn digest_credentials_match_the_reference_reading() {
        let seeds: [&[u8]; 4] = [
            b"Digest username=\"bob\", realm=\"ex.com\", nonce=\"ea9c8e88\", uri=\"sip:ex.com\", \
response=\"dfe56131d1958046689d83306477ecc5\", algorithm=MD5, cnonce=\"0a4f113b\", \
opaque=\"5ccc069c\", qop=auth, nc=00000001, userhash=false",
            b"Digest USERNAME = \"a\\\"b\" ,\r\n realm=x,,nc=1 , Foo=\"<,>\"",
            b"digest\tuserName=\"\",Realm=r\r\n\t,\r\n nc=2",
            b"Digest uri=\"sip:a@b;x=y\", nonce=\"1\"",
        ];
        let alphabet = b" \t\r\n,=\"\\<>;aUhN0-";
        let mut rnd = crate::sip::testing::rnd(0x9e37_79b9_7f4a_7c15);
        for _ in 0..60_000 {
            let mut v = seeds[rnd(seeds.len())].to_vec();
            for _ in 0..1 + rnd(4) {
                crate::sip::testing::mutate(&mut v, alphabet, &mut rnd);
            }
            assert_eq!(
                parse_credentials(&v),
                credentials_reference(&v),
                "{:?}",
                String::from_utf8_lossy(&v)
            );
        }
        for s in seeds {
            assert!(
                parse_credentials(s).is_ok(),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn digest_credentials() {
        let c = parse_credentials(b"Digest username=\"alice\", realm=\"atlanta.com\",\r\n nonce=\"84a4\", uri=\"sip:atlanta.com\", response=\"7587\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f\"").unwrap();
        let Credentials::Digest(d) = c else { panic!() };
        assert_eq!(d.username, Some(&b"alice"[..]));
        assert_eq!(d.nc, Some(&b"00000001"[..]));
        assert_eq!(d.algorithm, Some(&b"MD5"[..]));
        assert!(parse_credentials(b"Digest username=\"a\", username=\"b\"").is_err());
        assert!(matches!(
            parse_credentials(b"NewAuth foo=bar"),
            Ok(Credentials::Other { .. })
        ));
    }
}
