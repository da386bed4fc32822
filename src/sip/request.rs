//! The typed view of a request: the framed [`Message`] plus the headers every request must
//! carry (RFC 3261 §8.1.1), parsed once and borrowed from the input.

use super::header::{
    self, CSeq, ContactList, ContactValue, Credentials, Hdr, HeaderError, NameAddr, Via,
};
use super::message::{
    self, Error, Framing, Header, Message, Method, ParserConfig, StartLine, Status,
};
use super::scan;
use super::uri::{Uri, UriError, UriLimits};

/// Why a request is not acceptable as a SIP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The message could not be framed.
    Message(Error),
    /// The message is a response.
    NotARequest,
    /// The Request-URI does not parse.
    RequestUri(UriError),
    /// A mandatory header is absent.
    Missing(Hdr),
    /// A header that may appear once appears more than once.
    Duplicate(Hdr),
    /// A header value does not parse.
    Header(Hdr, HeaderError),
    /// The CSeq method differs from the request method (§8.1.1.5).
    CSeqMethod,
}

impl RequestError {
    /// A reason phrase naming the problem, e.g. "Missing Call-ID" or "Malformed Via".
    pub fn reason(&self) -> ReasonPhrase {
        let mut r = ReasonPhrase::default();
        match self {
            RequestError::Message(e) => r.push(e.as_str()),
            RequestError::NotARequest => r.push("Not a request"),
            RequestError::RequestUri(e) => {
                r.push("Malformed Request-URI: ");
                r.push(e.as_str());
            }
            RequestError::Missing(h) => {
                r.push("Missing ");
                r.push(hdr_name(*h));
                r.push(" header");
            }
            RequestError::Duplicate(h) => {
                r.push("Duplicate ");
                r.push(hdr_name(*h));
                r.push(" header");
            }
            RequestError::Header(h, e) => {
                r.push("Malformed ");
                r.push(hdr_name(*h));
                r.push(" header: ");
                r.push(e.as_str());
            }
            RequestError::CSeqMethod => r.push("CSeq method does not match the request method"),
        }
        r
    }
}

/// A reason phrase built without allocating (fixed capacity; longer text is cut).
#[derive(Clone, Copy)]
pub struct ReasonPhrase {
    buf: [u8; 96],
    len: usize,
}

impl Default for ReasonPhrase {
    fn default() -> Self {
        ReasonPhrase {
            buf: [0; 96],
            len: 0,
        }
    }
}

impl ReasonPhrase {
    pub fn push(&mut self, s: &str) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Debug for ReasonPhrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The canonical name of a header kind, for messages.
pub fn hdr_name(h: Hdr) -> &'static str {
    match h {
        Hdr::Accept => "Accept",
        Hdr::Allow => "Allow",
        Hdr::Authorization => "Authorization",
        Hdr::CallId => "Call-ID",
        Hdr::Contact => "Contact",
        Hdr::ContentLength => "Content-Length",
        Hdr::ContentType => "Content-Type",
        Hdr::CSeq => "CSeq",
        Hdr::Date => "Date",
        Hdr::Event => "Event",
        Hdr::Expires => "Expires",
        Hdr::From => "From",
        Hdr::MaxForwards => "Max-Forwards",
        Hdr::MinExpires => "Min-Expires",
        Hdr::Path => "Path",
        Hdr::ProxyAuthorization => "Proxy-Authorization",
        Hdr::ProxyRequire => "Proxy-Require",
        Hdr::RecordRoute => "Record-Route",
        Hdr::Require => "Require",
        Hdr::Route => "Route",
        Hdr::Subject => "Subject",
        Hdr::Supported => "Supported",
        Hdr::To => "To",
        Hdr::Unsupported => "Unsupported",
        Hdr::UserAgent => "User-Agent",
        Hdr::Via => "Via",
        Hdr::Other => "extension",
    }
}

/// A request whose mandatory headers parsed.
///
/// Max-Forwards is read when present but not required: RFC 3261 §8.1.1 obliges the UAC to
/// send it, while the UAS checks of §8.2 do not reject its absence (and RFC 2543 clients,
/// RFC 4475 §3.4 `inv2543`, never send it).
#[derive(Clone, Copy, Debug)]
pub struct Request<'b, 'h> {
    pub msg: Message<'b, 'h>,
    pub method: Method<'b>,
    pub uri: Uri<'b>,
    /// The top Via.
    pub via: Via<'b>,
    pub from: NameAddr<'b>,
    pub to: NameAddr<'b>,
    pub call_id: &'b [u8],
    pub cseq: CSeq<'b>,
    pub max_forwards: Option<u32>,
    /// The Expires header.
    pub expires: Option<u32>,
    uri_limits: UriLimits,
    /// Where the Contact headers are in `msg.headers`: from the first to past the last (an
    /// empty range when there are none), so that [`contacts`](Self::contacts) skips the rest.
    contact_headers: (usize, usize),
    /// Past the last Via, From, To, Call-ID or CSeq header in `msg.headers`, so that a
    /// response's echo (§8.2.6.2) stops there (see [`echoed`](Self::echoed)).
    echoed_end: usize,
}

impl<'b, 'h> Request<'b, 'h> {
    /// Frames and types a request in one step.
    pub fn parse(
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
        framing: Framing,
        config: &ParserConfig,
    ) -> Result<Status<Request<'b, 'h>>, RequestError> {
        match message::parse(buf, headers, framing, config).map_err(RequestError::Message)? {
            Status::Partial => Ok(Status::Partial),
            Status::Complete(msg) => Request::type_message(msg, config),
        }
    }

    /// Types a framed message.
    pub fn from_message(
        msg: Message<'b, 'h>,
        config: &ParserConfig,
    ) -> Result<Request<'b, 'h>, RequestError> {
        match Request::type_message(msg, config)? {
            Status::Complete(req) => Ok(req),
            Status::Partial => unreachable!("a framed message types to a complete request"),
        }
    }

    /// [`from_message`](Self::from_message), built right where [`parse`](Self::parse) returns
    /// it (a request is nearly a kilobyte: each move is a `memcpy`).
    #[inline(always)]
    fn type_message(
        msg: Message<'b, 'h>,
        config: &ParserConfig,
    ) -> Result<Status<Request<'b, 'h>>, RequestError> {
        let StartLine::Request { method, uri } = msg.start else {
            return Err(RequestError::NotARequest);
        };
        let uri_limits = UriLimits {
            max_uri_bytes: config.limits.max_request_uri_bytes,
        };
        let mut uri_slot = Uri::EMPTY;
        Uri::parse_into(uri, &uri_limits, &mut uri_slot).map_err(RequestError::RequestUri)?;
        let uri = uri_slot;
        // RFC 3261 §19.1.1, Table 1: headers are not allowed in a Request-URI.
        if uri.is_sip() && !uri.headers.is_empty() {
            return Err(RequestError::RequestUri(UriError::Header));
        }

        let mut via = None;
        let mut from = None;
        let mut to = None;
        let mut call_id = None;
        let mut cseq = None;
        let mut max_forwards = None;
        let mut expires = None;
        let mut contacts = (msg.headers.len(), msg.headers.len());
        let mut echoed_end = 0;
        for (i, h) in msg.headers.iter().enumerate() {
            let err = |e: HeaderError| RequestError::Header(h.kind, e);
            match h.kind {
                Hdr::Via => {
                    echoed_end = i + 1;
                    // Nearly every Via header holds one element: read the value whole
                    // first, as a Contact value is (see `whole_element`: a via-parm that
                    // parses holds no comma outside quoted strings either).
                    if via.is_none() && Via::parse_into(h.value, &mut via).is_ok() {
                        continue;
                    }
                    for elem in header::elements(h.value) {
                        let v = Via::parse(elem.map_err(err)?).map_err(err)?;
                        via.get_or_insert(v);
                    }
                }
                Hdr::From => {
                    echoed_end = i + 1;
                    if from.is_some() {
                        return Err(RequestError::Duplicate(h.kind));
                    }
                    let known = to.as_ref().map(|t: &NameAddr<'b>| &t.uri);
                    header::parse_from_to_into(h.value, &uri_limits, known, &mut from)
                        .map_err(err)?;
                }
                Hdr::To => {
                    echoed_end = i + 1;
                    if to.is_some() {
                        return Err(RequestError::Duplicate(h.kind));
                    }
                    let known = from.as_ref().map(|f: &NameAddr<'b>| &f.uri);
                    header::parse_from_to_into(h.value, &uri_limits, known, &mut to)
                        .map_err(err)?;
                }
                Hdr::CallId => {
                    echoed_end = i + 1;
                    set_once(&mut call_id, h, header::parse_call_id(h.value))?;
                }
                Hdr::CSeq => {
                    echoed_end = i + 1;
                    set_once(&mut cseq, h, header::parse_cseq(h.value))?;
                }
                Hdr::MaxForwards => set_once(&mut max_forwards, h, header::parse_number(h.value))?,
                Hdr::Expires => set_once(&mut expires, h, header::parse_number(h.value))?,
                Hdr::Contact => {
                    contacts.0 = contacts.0.min(i);
                    contacts.1 = i + 1;
                }
                _ => {}
            }
        }
        let via = via.ok_or(RequestError::Missing(Hdr::Via))?;
        let from = from.ok_or(RequestError::Missing(Hdr::From))?;
        let to = to.ok_or(RequestError::Missing(Hdr::To))?;
        let call_id = call_id.ok_or(RequestError::Missing(Hdr::CallId))?;
        let cseq: CSeq<'b> = cseq.ok_or(RequestError::Missing(Hdr::CSeq))?;
        if cseq.method != method.as_bytes() {
            return Err(RequestError::CSeqMethod);
        }
        Ok(Status::Complete(Request {
            msg,
            method,
            uri,
            via,
            from,
            to,
            call_id,
            cseq,
            max_forwards,
            expires,
            uri_limits,
            contact_headers: contacts,
            echoed_end,
        }))
    }

    /// The headers up to the last one a response copies (Via, From, To, Call-ID, CSeq):
    /// the ones after it need not be looked at.
    pub fn echoed(&self) -> &'h [Header<'b>] {
        // Found in these very headers (`msg` is not replaced after typing; a bound that does
        // not fit them falls back to all of them).
        self.msg
            .headers
            .get(..self.echoed_end)
            .unwrap_or(self.msg.headers)
    }

    /// Every Via element, top first.
    pub fn vias(&self) -> impl Iterator<Item = Via<'b>> + '_ {
        self.msg
            .headers_of(Hdr::Via)
            .flat_map(|h| header::elements(h.value))
            .filter_map(|e| e.ok().and_then(|e| Via::parse(e).ok()))
    }

    /// The Contact headers: `Star` if any is `*`, else every element, parsed.
    pub fn contacts(&self) -> Contacts<'b, 'h> {
        // The range was found in these very headers (`msg` is not replaced after typing; a
        // range that does not fit them falls back to all of them).
        let headers = self
            .msg
            .headers
            .get(self.contact_headers.0..self.contact_headers.1)
            .unwrap_or(self.msg.headers);
        Contacts {
            headers,
            index: 0,
            elements: None,
            limits: self.uri_limits,
        }
    }

    /// True if any Contact header is `*`.
    pub fn has_star_contact(&self) -> bool {
        self.msg
            .headers_of(Hdr::Contact)
            .any(|h| ContactList::new(h.value) == ContactList::Star)
    }

    /// Option tags of every header of `kind` (Require, Supported, Proxy-Require...).
    pub fn option_tags(
        &self,
        kind: Hdr,
    ) -> impl Iterator<Item = Result<&'b [u8], HeaderError>> + '_ {
        self.msg
            .headers_of(kind)
            .flat_map(|h| header::option_tags(h.value))
    }

    /// True if `tag` is listed in any header of `kind`.
    pub fn lists_option(&self, kind: Hdr, tag: &[u8]) -> bool {
        self.option_tags(kind)
            .any(|t| t.is_ok_and(|t| t.eq_ignore_ascii_case(tag)))
    }

    /// Credentials of the first Authorization header.
    pub fn authorization(&self) -> Option<Result<Credentials<'b>, HeaderError>> {
        self.msg
            .header(Hdr::Authorization)
            .map(|h| header::parse_credentials(h.value))
    }

    /// Every Path element (RFC 3327), in order.
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'b>, HeaderError>> + '_ {
        let limits = self.uri_limits;
        self.msg
            .headers_of(Hdr::Path)
            .flat_map(|h| header::elements(h.value))
            .map(move |e| e.and_then(|e| NameAddr::parse(e, &limits)))
    }

    /// URI limits in force for this request.
    pub fn uri_limits(&self) -> &UriLimits {
        &self.uri_limits
    }

    /// Parses every header this crate has a typed view for and reports the first failure:
    /// the strict check that the RFC 4475 corpus is held to.
    pub fn check_all_headers(&self) -> Result<(), RequestError> {
        for c in self.contacts() {
            c.map_err(|e| RequestError::Header(Hdr::Contact, e))?;
        }
        for kind in [
            Hdr::Require,
            Hdr::Supported,
            Hdr::ProxyRequire,
            Hdr::Unsupported,
        ] {
            for t in self.option_tags(kind) {
                t.map_err(|e| RequestError::Header(kind, e))?;
            }
        }
        for p in self.paths() {
            p.map_err(|e| RequestError::Header(Hdr::Path, e))?;
        }
        for h in self.msg.headers {
            let err = |e: HeaderError| RequestError::Header(h.kind, e);
            match h.kind {
                Hdr::Route | Hdr::RecordRoute => {
                    for e in header::elements(h.value) {
                        NameAddr::parse(e.map_err(err)?, &self.uri_limits).map_err(err)?;
                    }
                }
                Hdr::Authorization | Hdr::ProxyAuthorization => {
                    header::parse_credentials(h.value).map_err(err)?;
                }
                Hdr::MinExpires => {
                    header::parse_number(h.value).map_err(err)?;
                }
                Hdr::Date => check_date(h.value).map_err(err)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Checks the headers every response carries (Via, From, To, Call-ID, CSeq) for a response
/// that framed: a registrar drops responses, but a parser must still tell a well-formed one
/// from a broken one (RFC 4475 §3.1.2.19 `scalarlg`).
pub fn check_response(msg: &Message<'_, '_>) -> Result<(), RequestError> {
    let limits = UriLimits::default();
    for h in msg.headers {
        let err = |e: HeaderError| RequestError::Header(h.kind, e);
        match h.kind {
            Hdr::Via => {
                for elem in header::elements(h.value) {
                    Via::parse(elem.map_err(err)?).map_err(err)?;
                }
            }
            Hdr::From | Hdr::To => {
                header::parse_from_to(h.value, &limits).map_err(err)?;
            }
            Hdr::CallId => {
                header::parse_call_id(h.value).map_err(err)?;
            }
            Hdr::CSeq => {
                header::parse_cseq(h.value).map_err(err)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn set_once<'b, T>(
    slot: &mut Option<T>,
    h: &Header<'b>,
    parsed: Result<T, HeaderError>,
) -> Result<(), RequestError> {
    if slot.is_some() {
        return Err(RequestError::Duplicate(h.kind));
    }
    *slot = Some(parsed.map_err(|e| RequestError::Header(h.kind, e))?);
    Ok(())
}

/// `SIP-date = rfc1123-date` (RFC 3261 §20.17: "the time zone MUST be GMT"):
/// `wkday "," SP date1 SP time SP "GMT"`, e.g. `Sat, 13 Nov 2010 23:29:00 GMT`.
fn check_date(v: &[u8]) -> Result<(), HeaderError> {
    let ok = v.len() == 29
        && matches!(
            &v[..3],
            b"Mon" | b"Tue" | b"Wed" | b"Thu" | b"Fri" | b"Sat" | b"Sun"
        )
        && &v[3..5] == b", "
        && v[5..7].iter().all(u8::is_ascii_digit)
        && v[7] == b' '
        && matches!(
            &v[8..11],
            b"Jan"
                | b"Feb"
                | b"Mar"
                | b"Apr"
                | b"May"
                | b"Jun"
                | b"Jul"
                | b"Aug"
                | b"Sep"
                | b"Oct"
                | b"Nov"
                | b"Dec"
        )
        && v[11] == b' '
        && v[12..16].iter().all(u8::is_ascii_digit)
        && v[16] == b' '
        && v[17..19].iter().all(u8::is_ascii_digit)
        && v[19] == b':'
        && v[20..22].iter().all(u8::is_ascii_digit)
        && v[22] == b':'
        && v[23..25].iter().all(u8::is_ascii_digit)
        && &v[25..] == b" GMT";
    if ok { Ok(()) } else { Err(HeaderError::Param) }
}

/// Iterator over the Contact elements of a request (see [`Request::contacts`]). A `*`
/// element is reported as [`ContactItem::Star`].
pub struct Contacts<'b, 'h> {
    headers: &'h [Header<'b>],
    index: usize,
    elements: Option<header::Elements<'b>>,
    limits: UriLimits,
}

/// One element of the Contact headers.
// Yielded by value one at a time and never stored in bulk: boxing the large variant would
// cost an allocation per contact for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactItem<'b> {
    Star,
    Value(ContactValue<'b>),
}

impl<'b> Iterator for Contacts<'b, '_> {
    type Item = Result<ContactItem<'b>, HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(elems) = &mut self.elements {
                match elems.next() {
                    Some(Ok(b"")) => return Some(Err(HeaderError::Contact)),
                    Some(Ok(b"*")) => return Some(Ok(ContactItem::Star)),
                    Some(Ok(e)) => {
                        return Some(ContactValue::parse(e, &self.limits).map(ContactItem::Value));
                    }
                    Some(Err(e)) => return Some(Err(e)),
                    None => self.elements = None,
                }
            }
            let h = self.headers.get(self.index)?;
            self.index += 1;
            if h.kind == Hdr::Contact {
                // Nearly every Contact header holds one element: read the value whole first,
                // without a search for the commas between elements (see `whole_element`),
                // right into the item returned.
                let mut item = Some(Ok(ContactItem::Value(ContactValue::EMPTY)));
                if let Some(Ok(ContactItem::Value(c))) = &mut item {
                    if whole_element(h.value, &self.limits, c) {
                        return item;
                    }
                }
                self.elements = Some(header::elements(h.value));
            }
        }
    }
}

/// Reads the value of a Contact header as one element into `out`: true when it parses as
/// one (`out` holds no meaningful value otherwise).
///
/// A `contact-param` that parses holds no comma outside quoted strings and `<...>`: display
/// names are one quoted string or tokens, an `addr-spec` refuses commas, parameter names are
/// tokens and their values tokens, hosts or quoted strings. So [`header::elements`] would
/// find no comma in it and yield the value whole (trimmed), and this answers as the element
/// split does. A value that does not parse (or is `*`, or empty) is left to that split,
/// which reports the first bad element exactly as before.
#[inline]
fn whole_element<'b>(value: &'b [u8], limits: &UriLimits, out: &mut ContactValue<'b>) -> bool {
    let v = scan::trim_lws(value);
    !v.is_empty() && v != b"*" && ContactValue::parse_into(v, limits, out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &[u8] = b"REGISTER sip:registrar.biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Bob <sip:bob@biloxi.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:bob@192.0.2.4>, <sip:bob@192.0.2.5>;q=0.5\r\n\
m: <sip:bob@192.0.2.6>\r\n\
Expires: 7200\r\n\
Content-Length: 0\r\n\r\n";

    fn with_request<R>(
        buf: &[u8],
        f: impl FnOnce(Result<Request<'_, '_>, RequestError>) -> R,
    ) -> R {
        let mut h = [Header::EMPTY; 32];
        let r =
            Request::parse(buf, &mut h, Framing::Datagram, &ParserConfig::default()).map(
                |s| match s {
                    Status::Complete(r) => r,
                    Status::Partial => panic!("partial"),
                },
            );
        f(r)
    }

    /// RFC 3261 §10.2 example REGISTER: every mandatory header typed, contacts across headers.
    #[test]
    fn rfc3261_10_2_register_is_typed() {
        with_request(REGISTER, |r| {
            let r = r.unwrap();
            assert_eq!(r.method, Method::Register);
            assert_eq!(r.via.branch(), Some(&b"z9hG4bKnashds7"[..]));
            assert_eq!(r.from.tag(), Some(&b"456248"[..]));
            assert_eq!(r.to.tag(), None);
            assert_eq!(r.cseq.number, 1826);
            assert_eq!(r.expires, Some(7200));
            assert_eq!(r.max_forwards, Some(70));
            let contacts: Vec<_> = r.contacts().collect::<Result<_, _>>().unwrap();
            assert_eq!(contacts.len(), 3);
            assert!(matches!(contacts[1], ContactItem::Value(c) if c.q == Some(500)));
            assert!(r.check_all_headers().is_ok());
        });
    }

    #[test]
    fn rfc3261_8_1_1_missing_mandatory_headers_are_named() {
        let text = String::from_utf8(REGISTER.to_vec()).unwrap();
        for (line, hdr) in [
            ("Call-ID: 843817637684230@998sdasdh09\r\n", Hdr::CallId),
            ("CSeq: 1826 REGISTER\r\n", Hdr::CSeq),
            ("To: Bob <sip:bob@biloxi.com>\r\n", Hdr::To),
            ("From: Bob <sip:bob@biloxi.com>;tag=456248\r\n", Hdr::From),
            (
                "Via: SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bKnashds7\r\n",
                Hdr::Via,
            ),
        ] {
            let msg = text.replace(line, "");
            with_request(msg.as_bytes(), |r| {
                assert_eq!(r.err(), Some(RequestError::Missing(hdr)))
            });
        }
        with_request(REGISTER, |r| assert!(r.is_ok()));
    }

    #[test]
    fn rfc3261_8_1_1_5_cseq_method_must_match() {
        let msg = String::from_utf8(REGISTER.to_vec())
            .unwrap()
            .replace("1826 REGISTER", "1826 INVITE");
        with_request(msg.as_bytes(), |r| {
            assert_eq!(r.err(), Some(RequestError::CSeqMethod))
        });
    }

    #[test]
    fn duplicate_single_headers_are_rejected() {
        let msg = String::from_utf8(REGISTER.to_vec())
            .unwrap()
            .replace("Expires: 7200\r\n", "Call-ID: other\r\n");
        with_request(msg.as_bytes(), |r| {
            let e = r.err().unwrap();
            assert_eq!(e, RequestError::Duplicate(Hdr::CallId));
            assert_eq!(e.reason().as_bytes(), b"Duplicate Call-ID header");
        });
    }

    /// The Contact reading before `whole_element`: split every value at its commas, then
    /// parse each element.
    fn contacts_reference<'b>(
        headers: &[Header<'b>],
        limits: &UriLimits,
    ) -> Vec<Result<ContactItem<'b>, HeaderError>> {
        let mut out = Vec::new();
        for h in headers.iter().filter(|h| h.kind == Hdr::Contact) {
            for e in header::elements(h.value) {
                out.push(match e {
                    Ok(b"") => Err(HeaderError::Contact),
                    Ok(b"*") => Ok(ContactItem::Star),
                    Ok(e) => ContactValue::parse(e, limits).map(ContactItem::Value),
                    Err(e) => Err(e),
                });
            }
        }
        out
    }

    /// Contact values built from fragments that matter to the element split and to the
    /// parser (commas inside and outside quotes and `<>`, broken quotes, `*`, folds) read
    /// as the split-then-parse reference reads them.
    #[test]
    fn contacts_read_as_the_element_split_reads_them() {
        const PARTS: &[&str] = &[
            "<sip:a@b.c>",
            "<sip:a,b@c>",
            "sip:x@y",
            "sip:x,y@z",
            "\"A, b\" ",
            "\"open",
            "Bob ",
            "<",
            ">",
            ",",
            ", ",
            ";",
            ";q=0.5",
            ";expires=10",
            ";tag=1",
            ";+sip.instance=\"<urn:x,y>\"",
            ";methods=\"INVITE,BYE\"",
            ";reg-id=x",
            "=",
            "*",
            " ",
            "\t",
            "\r\n ",
            "tel:123",
            "<mailto:a@b>",
            "mailto:a@b",
            "\"",
            "\\",
        ];
        let limits = UriLimits::default();
        let mut rnd = crate::sip::testing::rnd(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200_000 {
            let values: Vec<String> = (0..1 + rnd(2))
                .map(|_| (0..rnd(6)).map(|_| PARTS[rnd(PARTS.len())]).collect())
                .collect();
            let headers: Vec<Header<'_>> = values
                .iter()
                .map(|v| Header {
                    kind: Hdr::Contact,
                    name: b"Contact",
                    value: v.as_bytes(),
                    plain: false,
                })
                .collect();
            let got: Vec<_> = Contacts {
                headers: &headers,
                index: 0,
                elements: None,
                limits,
            }
            .collect();
            assert_eq!(got, contacts_reference(&headers, &limits), "{values:?}");
        }
    }

    #[test]
    fn dates_follow_rfc1123() {
        assert!(check_date(b"Sat, 13 Nov 2010 23:29:00 GMT").is_ok());
        assert!(check_date(b"Fri, 01 Jan 2010 16:00:00 EST").is_err());
    }
}
