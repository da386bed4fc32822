//! The push parser: frames one SIP message (start line, header lines, body) out of a byte
//! buffer without copying or allocating.
//!
//! ```text
//! generic-message = start-line *message-header CRLF [ message-body ]
//! start-line      = Request-Line / Status-Line
//! Request-Line    = Method SP Request-URI SP SIP-Version CRLF
//! Status-Line     = SIP-Version SP Status-Code SP Reason-Phrase CRLF
//! message-header  = field-name HCOLON field-value CRLF   (values may be folded)
//! ```
//!
//! The caller owns the header array: running out of slots is [`Error::TooManyHeaders`], never
//! an allocation. For stream transports ([`Framing::Stream`]) an incomplete message is
//! [`Status::Partial`]; the body length comes from Content-Length, which a stream message must
//! carry (RFC 3261 §18.3).

use super::header::{self, Hdr};
use super::scan;

/// Result of a successful parse step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message; for [`Message`], `len` says how many bytes it used.
    Complete(T),
    /// More bytes are needed (stream transports only).
    Partial,
}

/// How the message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One message per datagram: the body runs to the end of the datagram unless
    /// Content-Length says less (RFC 3261 §18.3: then the rest is discarded).
    Datagram,
    /// A byte stream: Content-Length is mandatory and frames the body.
    Stream,
}

/// Why a message did not parse. `Copy`, with a static description used in reason phrases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The start line is not a Request-Line or a Status-Line.
    StartLine,
    /// The method is not a token.
    Method,
    /// The Request-URI is missing or contains forbidden characters.
    RequestUri,
    /// The SIP-Version is not `SIP/2.0`.
    Version,
    /// The status code is not three digits in 100..=699.
    StatusCode,
    /// The reason phrase contains control characters.
    ReasonPhrase,
    /// A header name is not a token or is not followed by a colon.
    HeaderName,
    /// A header value contains a forbidden byte.
    HeaderValue,
    /// A line does not end with CRLF (or a bare LF, without the leniency option).
    NewLine,
    /// More header lines than the caller's header array holds.
    TooManyHeaders,
    /// The message is larger than `max_message_bytes`.
    TooLarge,
    /// Content-Length is not a number, or several disagree.
    ContentLength,
    /// Content-Length is larger than the datagram (or absent on a stream).
    BodyLength,
}

impl Error {
    /// A short description, fit for a reason phrase.
    pub fn as_str(self) -> &'static str {
        match self {
            Error::StartLine => "Malformed start line",
            Error::Method => "Malformed method",
            Error::RequestUri => "Malformed Request-URI",
            Error::Version => "Unsupported SIP version",
            Error::StatusCode => "Malformed status code",
            Error::ReasonPhrase => "Malformed reason phrase",
            Error::HeaderName => "Malformed header name",
            Error::HeaderValue => "Malformed header value",
            Error::NewLine => "Malformed line ending",
            Error::TooManyHeaders => "Too many headers",
            Error::TooLarge => "Message too large",
            Error::ContentLength => "Malformed Content-Length",
            Error::BodyLength => "Content-Length does not match the body",
        }
    }
}

/// Tolerances beyond the RFC 3261 grammar, each off by default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Leniency {
    /// Accept a bare LF as a line terminator. RFC 3261 §7.5/§25.1: `CRLF = CR LF`; some
    /// devices and hand-written test tools send `LF` alone.
    pub allow_bare_lf: bool,
    /// Accept several SP (and HTAB) between the parts of the request line. RFC 3261 §25.1:
    /// `Request-Line = Method SP Request-URI SP SIP-Version CRLF` (exactly one SP each; RFC
    /// 4475 §3.1.2.7 `lwsstart` is the invalid example).
    pub allow_multiple_spaces_in_request_line: bool,
}

/// Limits on what a peer can make the parser walk over. Every one has a default and exists to
/// stop an attack.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest message accepted, headers and body, in bytes. Default 16384 (Kamailio's stock
    /// `MSG_MAX_SIZE`): bounds buffering per connection and work per datagram.
    pub max_message_bytes: usize,
    /// Longest Request-URI, in bytes. Default 512 (Kamailio's stock `RURI_MAX_SIZE`).
    pub max_request_uri_bytes: usize,
    /// Most header lines per message. Default 64: a real REGISTER has about 15; the caller's
    /// header array is sized to this, so more is an error rather than an allocation.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16384,
            max_request_uri_bytes: 512,
            max_headers: 64,
        }
    }
}

/// Parser settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParserConfig {
    pub limits: Limits,
    pub leniency: Leniency,
}

/// A SIP method. The ones a registrar cares about are named; others are kept as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method<'b> {
    Ack,
    Bye,
    Cancel,
    Info,
    Invite,
    Message,
    Notify,
    Options,
    Prack,
    Publish,
    Refer,
    Register,
    Subscribe,
    Update,
    Other(&'b [u8]),
}

impl<'b> Method<'b> {
    /// Methods are case-sensitive (RFC 3261 §7.1).
    pub fn from_bytes(b: &'b [u8]) -> Method<'b> {
        // The method a registrar sees most, as one word compare.
        if b.len() == 8 && scan::load_u64(b, 0) == u64::from_le_bytes(*b"REGISTER") {
            return Method::Register;
        }
        match b {
            b"REGISTER" => Method::Register,
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"PUBLISH" => Method::Publish,
            b"INFO" => Method::Info,
            b"MESSAGE" => Method::Message,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"REFER" => Method::Refer,
            other => Method::Other(other),
        }
    }

    pub fn as_bytes(&self) -> &'b [u8] {
        match self {
            Method::Ack => b"ACK",
            Method::Bye => b"BYE",
            Method::Cancel => b"CANCEL",
            Method::Info => b"INFO",
            Method::Invite => b"INVITE",
            Method::Message => b"MESSAGE",
            Method::Notify => b"NOTIFY",
            Method::Options => b"OPTIONS",
            Method::Prack => b"PRACK",
            Method::Publish => b"PUBLISH",
            Method::Refer => b"REFER",
            Method::Register => b"REGISTER",
            Method::Subscribe => b"SUBSCRIBE",
            Method::Update => b"UPDATE",
            Method::Other(b) => b,
        }
    }
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'b> {
    Request { method: Method<'b>, uri: &'b [u8] },
    Response { code: u16, reason: &'b [u8] },
}

/// One header line: its kind (compact forms resolved), its name as written, and its value
/// with surrounding white space removed (folds inside the value are kept as written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'b> {
    pub kind: Hdr,
    pub name: &'b [u8],
    pub value: &'b [u8],
    /// True when the value is known to hold no control byte (so no fold, CR or LF): what
    /// the framing fast path proved. False says nothing either way.
    pub plain: bool,
}

impl Header<'_> {
    /// An empty slot for the caller's header array.
    pub const EMPTY: Header<'static> = Header {
        kind: Hdr::Other,
        name: b"",
        value: b"",
        plain: true,
    };
}

/// A framed message. Header values are unparsed; see [`super::request::Request`] for the typed
/// view.
#[derive(Clone, Copy, Debug)]
pub struct Message<'b, 'h> {
    pub start: StartLine<'b>,
    pub headers: &'h [Header<'b>],
    pub body: &'b [u8],
    /// Bytes used, leading CRLFs included.
    pub len: usize,
    /// The single Content-Length value, if there was one.
    pub content_length: Option<usize>,
    /// Bit `1 << (kind as u32)` set for every header kind present, so looking for an absent
    /// header costs nothing.
    pub kinds: u32,
}

impl<'b> Message<'b, '_> {
    /// Headers of one kind, in order.
    pub fn headers_of(&self, kind: Hdr) -> impl Iterator<Item = &Header<'b>> + '_ {
        let present = self.has(kind);
        let headers = if present { self.headers } else { &[] };
        headers.iter().filter(move |h| h.kind == kind)
    }

    /// True if a header of this kind is present.
    #[inline]
    pub fn has(&self, kind: Hdr) -> bool {
        self.kinds & (1 << kind as u32) != 0
    }

    /// The first header of a kind.
    pub fn header(&self, kind: Hdr) -> Option<&Header<'b>> {
        self.headers_of(kind).next()
    }
}

/// Parses one message from `buf` into the caller's `headers` array.
pub fn parse<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    framing: Framing,
    config: &ParserConfig,
) -> Result<Status<Message<'b, 'h>>, Error> {
    let mut lines = Lines {
        buf,
        pos: 0,
        bare_lf: config.leniency.allow_bare_lf,
        clean: true,
    };
    // §7.5: CRLFs before the start line are ignored (keep-alives on streams).
    while buf[lines.pos..].starts_with(b"\r\n")
        || (lines.bare_lf && buf[lines.pos..].first() == Some(&b'\n'))
    {
        lines.pos += if buf[lines.pos] == b'\r' { 2 } else { 1 };
    }
    let start_pos = lines.pos;
    let over_limit = |end: usize| end - start_pos > config.limits.max_message_bytes;

    let start = if let Some((start, next)) = fast_request_line(buf, start_pos, config) {
        lines.pos = next;
        start
    } else {
        let Some(first) = lines.next_line()? else {
            return partial_or(
                framing,
                buf.len() - start_pos > config.limits.max_message_bytes,
            );
        };
        parse_start_line(first, config)?
    };

    let mut sink = Sink {
        headers,
        count: 0,
        kinds: 0,
        content_length: None,
    };
    // Where a line may end at the latest without making the message too large.
    let limit_end = start_pos.saturating_add(config.limits.max_message_bytes);
    loop {
        // Runs of common lines first: `name: value` CRLF with no fold, tab or control byte.
        let rest = sink.push_fast_lines(&buf[lines.pos..], buf.len().saturating_sub(limit_end))?;
        lines.pos = buf.len() - rest.len();
        // The blank line that ends the headers.
        if buf[lines.pos..].starts_with(b"\r\n") {
            lines.pos += 2;
            break;
        }
        match slow_header_line(&mut lines, framing, &over_limit)? {
            SlowLine::Header(h) => sink.push(h)?,
            SlowLine::End => break,
            SlowLine::Partial(too_large) => return partial_or(framing, too_large),
            SlowLine::WaitForFold => return Ok(Status::Partial),
        }
    }
    let Sink {
        headers,
        count,
        kinds,
        content_length,
    } = sink;

    let body_start = lines.pos;
    let available = buf.len() - body_start;
    let body_len = match (framing, content_length) {
        (Framing::Datagram, None) => available,
        (Framing::Datagram, Some(n)) if n <= available => n,
        (Framing::Datagram, Some(_)) => return Err(Error::BodyLength),
        (Framing::Stream, None) => return Err(Error::BodyLength),
        (Framing::Stream, Some(n)) => {
            if over_limit(body_start.saturating_add(n)) {
                return Err(Error::TooLarge);
            }
            if n > available {
                return Ok(Status::Partial);
            }
            n
        }
    };
    if over_limit(body_start + body_len) {
        return Err(Error::TooLarge);
    }
    let len = if framing == Framing::Datagram {
        buf.len()
    } else {
        body_start + body_len
    };
    Ok(Status::Complete(Message {
        start,
        headers: &headers[..count],
        body: &buf[body_start..body_start + body_len],
        len,
        content_length,
        kinds,
    }))
}

/// The caller's header array as it fills up, with what framing needs to know of it.
struct Sink<'b, 'h> {
    headers: &'h mut [Header<'b>],
    count: usize,
    /// See [`Message::kinds`].
    kinds: u32,
    content_length: Option<usize>,
}

impl<'b> Sink<'b, '_> {
    #[inline]
    fn push(&mut self, h: Header<'b>) -> Result<(), Error> {
        if h.kind == Hdr::ContentLength {
            content_length_seen(&mut self.content_length, h.value)?;
        }
        let slot = self
            .headers
            .get_mut(self.count)
            .ok_or(Error::TooManyHeaders)?;
        self.kinds |= 1 << h.kind as u32;
        *slot = h;
        self.count += 1;
        Ok(())
    }

    /// Frames the run of common header lines at the start of `rest` (see
    /// [`fast_header_line`]); returns what follows the run. At least `min_rest` bytes must
    /// follow each line (the size limit). Kept apart from [`parse`], with the counters in
    /// locals, so that the loop keeps its values in registers.
    #[inline(never)]
    fn push_fast_lines(&mut self, mut rest: &'b [u8], min_rest: usize) -> Result<&'b [u8], Error> {
        // The blank line, or any line not starting with a token byte, goes to the general
        // path before any search; each line below tells whether the next one starts so.
        if !rest.first().is_some_and(|&b| scan::is_token(b)) {
            return Ok(rest);
        }
        let (mut count, mut kinds) = (self.count, self.kinds);
        let headers = &mut *self.headers;
        // Lines that start 16 bytes or more before the end of the buffer.
        while let Some(head) = rest.first_chunk() {
            let Some((h, next, more)) = fast_header_line(rest, head) else {
                break;
            };
            if next.len() < min_rest {
                return Err(Error::TooLarge);
            }
            if h.kind == Hdr::ContentLength {
                content_length_seen(&mut self.content_length, h.value)?;
            }
            let slot = headers.get_mut(count).ok_or(Error::TooManyHeaders)?;
            kinds |= 1 << h.kind as u32;
            *slot = h;
            count += 1;
            rest = next;
            if !more {
                (self.count, self.kinds) = (count, kinds);
                return Ok(rest);
            }
        }
        (self.count, self.kinds) = (count, kinds);
        if rest.len() < scan::Block::LEN {
            return self.push_short_lines(rest, min_rest);
        }
        Ok(rest)
    }

    /// [`Sink::push_fast_lines`] for the lines that start within 16 bytes of the end of the
    /// buffer (see [`fast_short_header_line`]).
    #[cold]
    #[inline(never)]
    fn push_short_lines(&mut self, mut rest: &'b [u8], min_rest: usize) -> Result<&'b [u8], Error> {
        while let Some((h, next, more)) = fast_short_header_line(rest) {
            if next.len() < min_rest {
                return Err(Error::TooLarge);
            }
            self.push(h)?;
            rest = next;
            if !more {
                break;
            }
        }
        Ok(rest)
    }
}

/// Content-Length: `1*DIGIT`, and every copy must agree. Out of line: inlined, its state
/// takes registers of the framing loop.
#[cold]
#[inline(never)]
fn content_length_seen(seen: &mut Option<usize>, value: &[u8]) -> Result<(), Error> {
    let v = scan::digits_u64(value).ok_or(Error::ContentLength)?;
    let v = usize::try_from(v).unwrap_or(usize::MAX);
    if seen.is_some_and(|c| c != v) {
        return Err(Error::ContentLength);
    }
    *seen = Some(v);
    Ok(())
}

/// What the general header-line path found.
enum SlowLine<'b> {
    Header(Header<'b>),
    /// The blank line that ends the headers.
    End,
    /// No line terminator yet; the flag says whether the message is already too large.
    Partial(bool),
    /// A stream read ended right after a line: a fold may still follow.
    WaitForFold,
}

/// The fast path for one header line at the start of `rest`, whose first byte the caller
/// found to be a token byte: `token ":" *SP value CRLF`, the value free of control bytes and
/// tabs, and the next line present and not a continuation. Anything else (folds, tabs, bare
/// LF, errors, the end of the buffer) is left to the general path, which decides with the
/// same rules. Returns the header, what follows its line, and whether that starts with a
/// token byte (so that it may take this path too).
/// `head` is the first 16 bytes of `rest`.
#[inline(always)]
fn fast_header_line<'b>(rest: &'b [u8], head: &[u8; 16]) -> Option<(Header<'b>, &'b [u8], bool)> {
    // The first 16 bytes give the colon of most names and, past it, the end of a short value.
    let first = scan::Block::load(head);
    let colons = first.eq(b':');
    // The name runs to the colon, the value from there to the first control byte (`end`);
    // `lead` spaces follow the colon, as far as the first block tells.
    let (colon, end, kind, lead) = if colons != 0 {
        let c = colons.trailing_zeros() as usize;
        // Classifying the name first spares the per-byte token check for known names: the
        // classifiers match exactly, so a known kind proves the name is a token.
        let name = rest.get(..c)?;
        let kind = classify_in_block(first, name);
        if kind == Hdr::Other && !scan::all_token(name) {
            // White space before the colon, or not a token: the general path decides.
            return None;
        }
        let after = first.controls() >> c >> 1;
        let end = if after != 0 {
            c + 1 + after.trailing_zeros() as usize
        } else {
            first_control_after_block(rest)
        };
        // Spaces to the end of the block at most (`c + 1 <= 16`); the control byte at `end`
        // ends them at the latest.
        let lead = (!(first.eq(b' ') >> (c + 1))).trailing_zeros() as usize;
        (c, end, kind, lead)
    } else {
        let (colon, end, kind) = long_name(rest)?;
        (colon, end, kind, 0)
    };
    let (name, after_colon) = rest.split_at_checked(colon)?;
    // The control byte that ends the value must start CRLF and a line that is not a
    // continuation. (`end` may be the end of `rest`: then there is no CRLF.)
    let (value, tail) = after_colon.split_at_checked(end - colon)?;
    let (&[cr, lf, next], _) = tail.split_first_chunk::<3>()?;
    if u16::from_le_bytes([cr, lf]) != u16::from_le_bytes(*b"\r\n") {
        return None;
    }
    let more = scan::is_token(next);
    if !more && scan::is_wsp(next) {
        return None;
    }
    // The colon, then `*SP` on either side of the value, are not part of it. Leading spaces
    // past the first block (rare) are skipped here.
    let mut value = value.get(1 + lead..)?;
    while let [b' ', v @ ..] = value {
        value = v;
    }
    while let [v @ .., b' '] = value {
        value = v;
    }
    let h = Header {
        kind,
        name,
        value,
        plain: true,
    };
    Some((h, &tail[2..], more))
}

/// [`fast_header_line`] for a line that starts within 16 bytes of the end of the buffer:
/// the same path on a NUL-padded copy (NUL is a control byte: the value ends there at the
/// latest), the slices then taken from `rest`. The line and the byte after it must lie
/// within `rest`, not in the padding. (Also takes a longer `rest`, for tests.)
#[cold]
#[inline(never)]
fn fast_short_header_line(rest: &[u8]) -> Option<(Header<'_>, &[u8], bool)> {
    if !rest.first().is_some_and(|&b| scan::is_token(b)) {
        return None;
    }
    if let Some(head) = rest.first_chunk() {
        return fast_header_line(rest, head);
    }
    let mut padded = [0u8; scan::Block::LEN];
    padded[..rest.len()].copy_from_slice(rest);
    let (h, next, more) = fast_header_line(&padded, &padded)?;
    let used = padded.len() - next.len();
    if used >= rest.len() {
        return None;
    }
    let value_at = h.value.as_ptr() as usize - padded.as_ptr() as usize;
    let h = Header {
        name: &rest[..h.name.len()],
        value: &rest[value_at..value_at + h.value.len()],
        ..h
    };
    Some((h, &rest[used..], more))
}

/// The colon, value end and kind for [`fast_header_line`] where the first 16 bytes of `rest`
/// hold no colon: a long name, or no header line at all.
#[cold]
#[inline(never)]
fn long_name(rest: &[u8]) -> Option<(usize, usize, Hdr)> {
    let from = scan::Block::LEN;
    let colon = from + scan::find_any(rest.get(from..)?, b":")?;
    let name = &rest[..colon];
    let kind = header::classify(name);
    if kind == Hdr::Other && !scan::all_token(name) {
        return None;
    }
    Some((colon, scan::first_control(rest, colon + 1), kind))
}

/// Index of the first control byte of `rest` from byte 16 on (`rest` has at least 16), or
/// of the NUL padding past its end: blocks of 16 from there, the last one padded.
#[inline(always)]
fn first_control_after_block(rest: &[u8]) -> usize {
    let mut at = scan::Block::LEN;
    // Where the last whole block starts.
    let last = rest.len() - scan::Block::LEN;
    while at <= last {
        let c = rest[at..at + scan::Block::LEN]
            .try_into()
            .expect("16 bytes");
        let m = scan::Block::load(c).controls();
        if m != 0 {
            return at + m.trailing_zeros() as usize;
        }
        at += scan::Block::LEN;
    }
    at + scan::Block::tail(rest, at).controls().trailing_zeros() as usize
}

/// [`header::classify`] for a name that ends, with its colon, within the 16 bytes of `block`
/// (`name` is the same bytes up to the colon): one hashed table slot per known name, compared
/// with the whole block at once. A miss asks `header::classify`, so the answer is always the
/// same as its answer.
#[inline(always)]
fn classify_in_block(block: scan::Block, name: &[u8]) -> Hdr {
    let len = name.len();
    let i = name_slot(block.low_u32(), len);
    let slot = &NAME_SLOTS[i];
    // Case folded where the candidate has a letter (see `scan::eq_lower`), then equal bytes
    // for the whole name and the colon after it: the colon also proves the length.
    let same = block
        .or(scan::Block::load(&slot.fold))
        .eq_bytes(scan::Block::load(&slot.pattern));
    let want = (2u32 << len) - 1;
    if same & want == want {
        NAME_KINDS[i]
    } else {
        classify_elsewhere(name)
    }
}

/// [`header::classify`] out of line: the names the block table does not know are rare, and
/// the inlined classifier would crowd the registers of the framing loop.
#[cold]
#[inline(never)]
fn classify_elsewhere(name: &[u8]) -> Hdr {
    header::classify(name)
}

/// The table slot of a name of `len` bytes whose first four bytes are `head` (little
/// endian; the second is its colon for a one-letter name): the first two bytes folded to
/// lower case with the length above them, then the top bits of a multiplicative hash, found
/// by search to put each name of [`header::KNOWN_NAMES`] that fits a block in a slot of its own.
#[inline(always)]
const fn name_slot(head: u32, len: usize) -> usize {
    let w = (head & 0xffff) | 0x2020 | (len as u32) << 16;
    (w.wrapping_mul(0xb53b_86df) >> (32 - NAME_SLOT_BITS)) as usize
}

const NAME_SLOT_BITS: u32 = 6;
const NAME_SLOT_COUNT: usize = 1 << NAME_SLOT_BITS;

/// The names [`classify_in_block`] knows: those of [`header::KNOWN_NAMES`] that fit in a
/// block with their colon (shorter than 16 bytes).
const fn block_name(name: &[u8]) -> bool {
    name.len() < 16
}

/// One slot of [`NAME_SLOTS`]: the name and its colon, and the bits that fold case (32
/// bytes, so that a slot's address is a shift of its index; the kinds are in [`NAME_KINDS`]).
struct NameSlot {
    /// The name in lower case, then `:`, then zeros (an empty slot is all zeros, which no
    /// line starting with a token byte matches).
    pattern: [u8; 16],
    /// 0x20 where the pattern has a letter, so that OR-ing it in folds exactly that byte.
    fold: [u8; 16],
}

static NAME_SLOTS: [NameSlot; NAME_SLOT_COUNT] = {
    const EMPTY: NameSlot = NameSlot {
        pattern: [0; 16],
        fold: [0; 16],
    };
    let mut slots = [EMPTY; NAME_SLOT_COUNT];
    let mut i = 0;
    while i < header::KNOWN_NAMES.len() {
        let (name, _) = header::KNOWN_NAMES[i];
        i += 1;
        if !block_name(name) {
            continue;
        }
        let slot = &mut slots[name_slot(name_head(name), name.len())];
        assert!(
            slot.pattern[0] == 0,
            "two names share a slot: change the hash"
        );
        let mut j = 0;
        while j < name.len() {
            slot.pattern[j] = name[j];
            slot.fold[j] = (name[j] & 0x40) >> 1;
            j += 1;
        }
        slot.pattern[name.len()] = b':';
    }
    slots
};

/// The kind of the name in each slot of [`NAME_SLOTS`] (`Other` for an empty slot).
static NAME_KINDS: [Hdr; NAME_SLOT_COUNT] = {
    let mut kinds = [Hdr::Other; NAME_SLOT_COUNT];
    let mut i = 0;
    while i < header::KNOWN_NAMES.len() {
        let (name, kind) = header::KNOWN_NAMES[i];
        if block_name(name) {
            kinds[name_slot(name_head(name), name.len())] = kind;
        }
        i += 1;
    }
    kinds
};

/// The first two bytes of `name` followed by its colon, as [`name_slot`] reads them.
const fn name_head(name: &[u8]) -> u32 {
    let b1 = if name.len() > 1 { name[1] } else { b':' };
    name[0] as u32 | (b1 as u32) << 8
}

/// The general path for one header line: folds, tabs, bare LF (when allowed), errors.
fn slow_header_line<'b>(
    lines: &mut Lines<'b>,
    framing: Framing,
    over_limit: &impl Fn(usize) -> bool,
) -> Result<SlowLine<'b>, Error> {
    let buf = lines.buf;
    let Some(line) = lines.next_line()? else {
        return Ok(SlowLine::Partial(over_limit(buf.len())));
    };
    if line.is_empty() {
        return Ok(SlowLine::End);
    }
    if over_limit(lines.pos) {
        return Err(Error::TooLarge);
    }
    // On a stream, a header line that ends the buffer may still be folded onto the next
    // line: wait for the byte that decides.
    if framing == Framing::Stream && lines.pos == buf.len() {
        return Ok(SlowLine::WaitForFold);
    }
    // Unfold: continuation lines start with WSP and belong to this header.
    let line_start = line.as_ptr() as usize - buf.as_ptr() as usize;
    let mut line_end = line_start + line.len();
    let mut clean = lines.clean;
    while lines.continues() {
        // The fold's CRLF sits inside the value: let the precise check judge it.
        clean = false;
        let Some(cont) = lines.next_line()? else {
            return Ok(SlowLine::Partial(over_limit(buf.len())));
        };
        if framing == Framing::Stream && lines.pos == buf.len() {
            return Ok(SlowLine::WaitForFold);
        }
        line_end = cont.as_ptr() as usize - buf.as_ptr() as usize + cont.len();
    }
    parse_header_line(&buf[line_start..line_end], clean).map(SlowLine::Header)
}

fn partial_or<T>(framing: Framing, too_large: bool) -> Result<Status<T>, Error> {
    match (framing, too_large) {
        (_, true) => Err(Error::TooLarge),
        (Framing::Stream, false) => Ok(Status::Partial),
        // A datagram that ends before the blank line is missing its header terminator.
        (Framing::Datagram, false) => Err(Error::NewLine),
    }
}

/// Walks CRLF-terminated lines.
struct Lines<'b> {
    buf: &'b [u8],
    pos: usize,
    bare_lf: bool,
    /// Whether the last line held no control byte (HTAB and the final CR aside), so its
    /// header value needs no further check.
    clean: bool,
}

impl<'b> Lines<'b> {
    /// The next line without its terminator; `None` if no terminator is in the buffer yet.
    ///
    /// One pass finds the LF and notes any other control byte: eight bytes at a time while
    /// none of them is below 0x20 or 0x7f (SWAR), byte by byte around the interesting ones.
    #[inline]
    fn next_line(&mut self) -> Result<Option<&'b [u8]>, Error> {
        let rest = &self.buf[self.pos..];
        let mut i = 0;
        let mut clean = true;
        let lf = loop {
            i = scan::first_control(rest, i);
            let Some(&b) = rest.get(i) else {
                return Ok(None);
            };
            match b {
                b'\n' => break i,
                b'\t' => {}
                b'\r' if rest.get(i + 1) == Some(&b'\n') => {}
                _ => clean = false,
            }
            i += 1;
        };
        let line = if lf > 0 && rest[lf - 1] == b'\r' {
            &rest[..lf - 1]
        } else if self.bare_lf {
            &rest[..lf]
        } else {
            return Err(Error::NewLine);
        };
        self.pos += lf + 1;
        self.clean = clean;
        Ok(Some(line))
    }

    /// True if the next line is a continuation (starts with SP or HTAB).
    #[inline]
    fn continues(&self) -> bool {
        self.buf.get(self.pos).is_some_and(|&b| scan::is_wsp(b))
    }
}

/// The common request line, straight from the buffer: `token SP uri SP "SIP/2.0" CRLF`, the
/// URI within its limit and free of white space, controls, `<`, `>` and DQUOTE. Anything else
/// (a status line, leniency, errors) is left to [`parse_start_line`], which also names the
/// error.
#[inline]
fn fast_request_line<'b>(
    buf: &'b [u8],
    pos: usize,
    config: &ParserConfig,
) -> Option<(StartLine<'b>, usize)> {
    // The method runs to the first SP (one longer than 15 bytes goes to the general path);
    // a known method proves itself a token.
    let spaces = scan::Block::at(buf, pos).eq(b' ');
    if spaces == 0 {
        return None;
    }
    let m = pos + spaces.trailing_zeros() as usize;
    let method = Method::from_bytes(&buf[pos..m]);
    if matches!(method, Method::Other(name) if !scan::all_token(name)) {
        return None;
    }
    // The Request-URI runs to the first byte outside the `REQUEST_URI` class: visible ASCII
    // (0x21..=0x7e) other than DQUOTE, `<` and `>`. NUL past the end of `buf` ends it too.
    let uri_start = m + 1;
    let mut at = uri_start;
    let u = loop {
        let b = scan::Block::at(buf, at);
        let stop = b.outside(0x21, 0x7e) | b.eq(b'"') | b.eq(b'<') | b.eq(b'>');
        if stop != 0 {
            break at + stop.trailing_zeros() as usize;
        }
        at += scan::Block::LEN;
    };
    let uri = &buf[uri_start..u];
    let version = buf.get(u..)?.first_chunk::<10>()?;
    if uri.is_empty()
        || uri.len() > config.limits.max_request_uri_bytes
        || !scan::eq_lower(&version[..8], b" sip/2.0")
        || version[8..] != *b"\r\n"
    {
        return None;
    }
    Some((StartLine::Request { method, uri }, u + 10))
}

fn parse_start_line<'b>(line: &'b [u8], config: &ParserConfig) -> Result<StartLine<'b>, Error> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return parse_status_line(line);
    }
    let lenient = config.leniency.allow_multiple_spaces_in_request_line;
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Error::StartLine)?;
    let method = &line[..sp];
    if !scan::all_token(method) {
        return Err(Error::Method);
    }
    let mut rest = &line[sp + 1..];
    if lenient {
        rest = trim_start_wsp(rest);
    }
    let sp2 = rest
        .iter()
        .position(|&b| scan::is_wsp(b))
        .ok_or(Error::StartLine)?;
    let uri = &rest[..sp2];
    let mut version = &rest[sp2..];
    version = match (lenient, version) {
        (true, v) => trim_wsp(v),
        (false, [b' ', v @ ..]) => v,
        _ => return Err(Error::StartLine),
    };
    if uri.is_empty() || uri.len() > config.limits.max_request_uri_bytes {
        return Err(Error::RequestUri);
    }
    // The Request-URI may not contain white space, angle brackets or control bytes.
    if uri
        .iter()
        .any(|&b| b <= b' ' || b >= 0x7f || b == b'<' || b == b'>' || b == b'"')
    {
        return Err(Error::RequestUri);
    }
    if !is_sip_version(version) {
        return Err(if looks_like_version(version) {
            Error::Version
        } else {
            Error::StartLine
        });
    }
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        uri,
    })
}

fn parse_status_line(line: &[u8]) -> Result<StartLine<'_>, Error> {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Error::StartLine)?;
    if !is_sip_version(&line[..sp]) {
        return Err(Error::Version);
    }
    let rest = &line[sp + 1..];
    let code = rest.get(..3).ok_or(Error::StatusCode)?;
    if rest.get(3) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return Err(Error::StatusCode);
    }
    let code = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&code) {
        return Err(Error::StatusCode);
    }
    let reason = &rest[4..];
    // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
    if reason.iter().any(|&b| b < b' ' && b != b'\t' || b == 0x7f) {
        return Err(Error::ReasonPhrase);
    }
    Ok(StartLine::Response { code, reason })
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported.
fn is_sip_version(v: &[u8]) -> bool {
    v.len() == 7 && v[..4].eq_ignore_ascii_case(b"SIP/") && &v[4..] == b"2.0"
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`: a version we could answer 505 to (anything
/// else on the request line is a malformed request line, e.g. white space in the URI).
fn looks_like_version(v: &[u8]) -> bool {
    let Some(num) = v.get(4..).filter(|_| v[..4].eq_ignore_ascii_case(b"SIP/")) else {
        return false;
    };
    let mut parts = num.split(|&b| b == b'.');
    let digits =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

fn trim_start_wsp(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| scan::is_wsp(b)).count();
    &s[n..]
}

fn trim_wsp(s: &[u8]) -> &[u8] {
    let s = trim_start_wsp(s);
    let n = s.iter().rev().take_while(|&&b| scan::is_wsp(b)).count();
    &s[..s.len() - n]
}

// `Message::kinds` is a u32 bit set over `Hdr`.
const _: () = assert!((Hdr::Other as u32) < 32);

/// True if no byte is below 0x20 or 0x7f (HTAB included: the slow path allows it).
#[inline]
fn no_controls(v: &[u8]) -> bool {
    scan::first_control(v, 0) == v.len()
}

/// The precise check: HTAB and folds are allowed, other controls are not.
fn check_controls(value: &[u8]) -> Result<(), Error> {
    let mut i = 0;
    let mut quoted = false;
    while i < value.len() {
        let b = value[i];
        match b {
            b'"' => quoted = !quoted,
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F), only inside a quoted string:
            // the escaped byte (a control byte included, RFC 4475 `intmeth`) is text, and
            // an escaped backslash consumes the second backslash.
            // (Only control bytes are judged here: a lone quote or backslash is TEXT-UTF8char
            // in an unstructured value, and structured values are checked by their parsers.)
            b'\\' if quoted && !matches!(value.get(i + 1), Some(b'\r' | b'\n') | None) => i += 1,
            b'\r'
                if value.get(i + 1) == Some(&b'\n')
                    && value.get(i + 2).is_some_and(|&c| scan::is_wsp(c)) =>
            {
                i += 1;
            }
            // A bare-LF fold (only reachable with `allow_bare_lf`).
            b'\n' if value.get(i + 1).is_some_and(|&c| scan::is_wsp(c)) => {}
            b'\t' => {}
            _ if b < b' ' || b == 0x7f => return Err(Error::HeaderValue),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// `message-header = field-name HCOLON field-value`, `HCOLON = *( SP / HTAB ) ":" SWS`.
#[inline]
fn parse_header_line(line: &[u8], clean: bool) -> Result<Header<'_>, Error> {
    // field-name = token, then optional white space and the colon: one pass checks both.
    let name_end = line
        .iter()
        .position(|&b| !scan::is_token(b))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let mut colon = name_end;
    while colon < line.len() && scan::is_wsp(line[colon]) {
        colon += 1;
    }
    if name.is_empty() || line.get(colon) != Some(&b':') {
        return Err(Error::HeaderName);
    }
    let value = scan::trim_lws(&line[colon + 1..]);
    // Values are UTF-8 text plus LWS; NUL and other controls are never allowed (RFC 3261
    // §25.1 `TEXT-UTF8char`, `LWS`). Folds (CRLF followed by WSP) are allowed inside. The
    // common case, no control byte at all, is checked 16 bytes at a time without branches.
    if !clean && !no_controls(value) {
        check_controls(value)?;
    }
    Ok(Header {
        kind: header::classify(name),
        name,
        value,
        plain: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_dgram(buf: &[u8]) -> Result<Status<(StartLine<'_>, usize, usize)>, Error> {
        let mut h = [Header::EMPTY; 32];
        parse(buf, &mut h, Framing::Datagram, &ParserConfig::default()).map(|s| match s {
            Status::Complete(m) => Status::Complete((m.start, m.headers.len(), m.body.len())),
            Status::Partial => Status::Partial,
        })
    }

    /// The block classifier gives `header::classify`'s answer for every known name in any
    /// case, and for every one-byte change of one (bytes that would end the name early, a
    /// colon, are left out: the caller never passes such a block).
    #[test]
    fn block_classifier_agrees_with_classify() {
        let check = |name: &[u8]| {
            let mut head = [b'x'; 16];
            head[..name.len()].copy_from_slice(name);
            head[name.len()] = b':';
            let block = scan::Block::load(&head);
            assert_eq!(
                classify_in_block(block, name),
                header::classify(name),
                "{:?}",
                String::from_utf8_lossy(name)
            );
        };
        for (name, kind) in header::KNOWN_NAMES
            .into_iter()
            .filter(|(n, _)| block_name(n))
        {
            assert_eq!(header::classify(name), kind);
            check(name);
            check(&name.to_ascii_uppercase());
            for i in 0..name.len() {
                for b in (0..=255u8).filter(|&b| b != b':') {
                    let mut n = name.to_vec();
                    n[i] = b;
                    check(&n);
                }
            }
            for len in 1..15 {
                if len != name.len() {
                    check(&name.iter().copied().cycle().take(len).collect::<Vec<_>>());
                }
            }
        }
        for name in [
            &b"X-Custom"[..],
            b"e",
            b"Proxy-Authenti",
            b"AB",
            b"a-b.c+d!%*_`'~",
        ] {
            check(name);
        }
    }

    /// Whatever the fast header-line path accepts, the general path reads the same way:
    /// every byte value at every position of a few lines.
    #[test]
    fn fast_header_line_agrees_with_the_general_path() {
        let lines: [&[u8]; 6] = [
            b"l: 0\r\n\r\n",
            b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\nX: y\r\n",
            b"To: <sip:u@example.com>\r\nX: y\r\n",
            b"Content-Length:  0 \r\nX: y\r\n",
            b"Proxy-Authorization: Digest a=b\r\nX: y\r\n",
            b"i:x\r\nX: y\r\nZ: 0123456789\r\n",
        ];
        for line in lines {
            let end = line.windows(2).position(|w| w == b"\r\n").unwrap() + 3;
            crate::sip::testing::each_one_byte_change(line, end, |l| {
                let Some((h, rest, more)) = fast_short_header_line(l) else {
                    return;
                };
                assert_eq!(more, scan::is_token(rest[0]));
                let used = l.len() - rest.len();
                let general = parse_header_line(&l[..used - 2], true)
                    .unwrap_or_else(|e| panic!("{e:?} for {:?}", String::from_utf8_lossy(l)));
                assert_eq!(
                    (h.kind, h.name, h.value),
                    (general.kind, general.name, general.value)
                );
                assert_eq!(&l[used - 2..used], b"\r\n");
                assert!(!scan::is_wsp(rest[0]));
                assert!(no_controls(h.value) && !h.value.contains(&b'\t'));
            });
        }
    }

    /// Whatever the fast request-line path accepts, the general path reads the same way.
    #[test]
    fn fast_request_line_agrees_with_the_general_path() {
        let cfg = ParserConfig::default();
        let lines: [&[u8]; 3] = [
            b"REGISTER sip:example.com SIP/2.0\r\nVia: x\r\n\r\n",
            b"OPTIONS sip:u@[::1]:5060;transport=tcp?h=v SIP/2.0\r\n\r\n",
            b"X-METHOD-LONGER-THAN-16 sip:a SIP/2.0\r\n\r\n",
        ];
        for line in lines {
            let end = line.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            crate::sip::testing::each_one_byte_change(line, end, |l| {
                let Some((start, next)) = fast_request_line(l, 0, &cfg) else {
                    return;
                };
                assert_eq!(&l[next - 2..next], b"\r\n");
                assert_eq!(parse_start_line(&l[..next - 2], &cfg), Ok(start));
            });
        }
    }

    /// A header line that starts within 16 bytes of the end of the buffer takes the fast path
    /// too, so `plain` does not depend on what follows the message (the parse_message fuzz
    /// target's stream re-framing check caught this while the block path was written).
    #[test]
    fn short_last_line_takes_the_fast_path() {
        let m = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 0\r\n\r\n";
        let cfg = ParserConfig::default();
        let mut h = [Header::EMPTY; 8];
        let Ok(Status::Complete(msg)) = parse(m, &mut h, Framing::Stream, &cfg) else {
            panic!("frames")
        };
        assert!(msg.headers.iter().all(|h| h.plain));
        let mut longer = m.to_vec();
        longer.extend_from_slice(b"OPTIONS sip:x SIP/2.0\r\n");
        let mut h2 = [Header::EMPTY; 8];
        let Ok(Status::Complete(again)) = parse(&longer, &mut h2, Framing::Stream, &cfg) else {
            panic!("frames")
        };
        assert_eq!(again.headers, msg.headers);
    }

    #[test]
    fn frames_a_request_with_body() {
        let m = b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 3\r\n\r\nabcdef";
        let mut h = [Header::EMPTY; 8];
        let Status::Complete(msg) =
            parse(m, &mut h, Framing::Datagram, &ParserConfig::default()).unwrap()
        else {
            panic!("partial")
        };
        assert_eq!(
            msg.start,
            StartLine::Request {
                method: Method::Options,
                uri: b"sip:a@b.c"
            }
        );
        assert_eq!(msg.headers.len(), 2);
        assert_eq!(msg.headers[1].kind, Hdr::ContentLength);
        assert_eq!(
            msg.body, b"abc",
            "Content-Length shorter than the datagram cuts the body"
        );
    }

    #[test]
    fn stream_framing_waits_for_the_whole_body() {
        let m = b"\r\n\r\nOPTIONS sip:a@b.c SIP/2.0\r\nContent-Length: 4\r\n\r\nab";
        let mut h = [Header::EMPTY; 8];
        let cfg = ParserConfig::default();
        assert!(matches!(
            parse(m, &mut h, Framing::Stream, &cfg),
            Ok(Status::Partial)
        ));
        let mut full = m.to_vec();
        full.extend_from_slice(b"cdNEXT");
        let Status::Complete(msg) = parse(&full, &mut h, Framing::Stream, &cfg).unwrap() else {
            panic!()
        };
        assert_eq!(msg.body, b"abcd");
        assert_eq!(&full[msg.len..], b"NEXT");
    }

    /// Fuzz finding parse_message-1: a read that ends right after a header line cannot tell
    /// whether a fold follows, so it is Partial, never an error.
    #[test]
    fn stream_read_ending_at_a_header_line_is_partial() {
        let full = b"N rg SIP/2.0\r\nl:\r\n 0\r\n\r\n";
        let mut h = [Header::EMPTY; 8];
        let cfg = ParserConfig::default();
        for cut in 0..full.len() {
            let r = parse(&full[..cut], &mut h, Framing::Stream, &cfg);
            assert!(matches!(r, Ok(Status::Partial)), "prefix {cut}: {r:?}");
        }
        assert!(matches!(
            parse(full, &mut h, Framing::Stream, &cfg),
            Ok(Status::Complete(_))
        ));
    }

    /// Fuzz findings parse_message-2 / parse_message_lenient-2: a backslash escapes a
    /// control byte only inside a quoted string, and an escaped backslash escapes nothing more.
    #[test]
    fn rfc3261_25_1_quoted_pair_only_inside_quotes() {
        let cfg = ParserConfig::default();
        let ok = |v: &[u8]| {
            let mut m = b"OPTIONS sip:x SIP/2.0\r\nSubject: ".to_vec();
            m.extend_from_slice(v);
            m.extend_from_slice(b"\r\n\r\n");
            let mut h = [Header::EMPTY; 8];
            parse(&m, &mut h, Framing::Datagram, &cfg).is_ok()
        };
        assert!(
            ok(b"\"a\\\x00b\""),
            "escaped NUL inside quotes (RFC 4475 intmeth)"
        );
        assert!(!ok(b"\\\x7f"), "DEL after a backslash outside quotes");
        assert!(!ok(b"a\\\x00b"), "NUL after a backslash outside quotes");
        assert!(!ok(b"\"a\\\\\x00\""), "NUL after an escaped backslash");
        assert!(ok(b"\"a\\\"b\" c"), "escaped quote");
    }

    /// Fuzz finding parse_message_lenient-3: a value that starts on a bare-LF continuation
    /// line is trimmed like one that starts on a CRLF one.
    #[test]
    fn bare_lf_fold_at_value_start_is_trimmed() {
        let mut cfg = ParserConfig::default();
        cfg.leniency.allow_bare_lf = true;
        let mut h = [Header::EMPTY; 8];
        let Ok(Status::Complete(m)) =
            parse(b"R : SIP/2.0\nV:\n p\n\n", &mut h, Framing::Datagram, &cfg)
        else {
            panic!("parses leniently")
        };
        assert_eq!(m.headers[0].value, b"p");
    }

    #[test]
    fn stream_without_content_length_is_an_error() {
        let mut h = [Header::EMPTY; 8];
        let r = parse(
            b"OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n",
            &mut h,
            Framing::Stream,
            &ParserConfig::default(),
        );
        assert_eq!(r.err(), Some(Error::BodyLength));
    }

    #[test]
    fn folded_header_is_one_header() {
        let m = b"REGISTER sip:b.c SIP/2.0\r\nSubject: a\r\n  b\r\nTo: x\r\n\r\n";
        let mut h = [Header::EMPTY; 8];
        let Status::Complete(msg) =
            parse(m, &mut h, Framing::Datagram, &ParserConfig::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!(msg.headers.len(), 2);
        assert_eq!(msg.headers[0].value, b"a\r\n  b");
    }

    #[test]
    fn rejects_what_the_grammar_forbids() {
        assert_eq!(
            parse_dgram(b"REGISTER  sip:x SIP/2.0\r\n\r\n").err(),
            Some(Error::RequestUri)
        );
        assert_eq!(
            parse_dgram(b"REGISTER sip:x SIP/7.0\r\n\r\n").err(),
            Some(Error::Version)
        );
        assert_eq!(
            parse_dgram(b"REGISTER sip:x SIP/2.0\nTo: x\n\n").err(),
            Some(Error::NewLine)
        );
        assert_eq!(
            parse_dgram(b"SIP/2.0 1000 Big\r\n\r\n").err(),
            Some(Error::StatusCode)
        );
        assert_eq!(
            parse_dgram(b"SIP/2.0 099 Small\r\n\r\n").err(),
            Some(Error::StatusCode)
        );
        assert_eq!(
            parse_dgram(b"OPTIONS sip:x SIP/2.0\r\nBad Name: x\r\n\r\n").err(),
            Some(Error::HeaderName)
        );
        assert_eq!(
            parse_dgram(b"OPTIONS sip:x SIP/2.0\r\nX: a\0b\r\n\r\n").err(),
            Some(Error::HeaderValue)
        );
        assert_eq!(
            parse_dgram(b"OPTIONS sip:x SIP/2.0\r\nl: 9\r\n\r\nabc").err(),
            Some(Error::BodyLength)
        );
        assert_eq!(
            parse_dgram(b"OPTIONS sip:x SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab").err(),
            Some(Error::ContentLength)
        );
        assert_eq!(
            parse_dgram(b"OPTIONS sip:x SIP/2.0\r\nl: -1\r\n\r\n").err(),
            Some(Error::ContentLength)
        );
        assert_eq!(
            parse_dgram(b"OPTIONS sip:x SIP/2.0\r\nTo: x\r\n").err(),
            Some(Error::NewLine)
        );
    }

    #[test]
    fn leniency_options_relax_one_rule_each() {
        let mut cfg = ParserConfig::default();
        let mut h = [Header::EMPTY; 8];
        let lf = b"OPTIONS sip:x SIP/2.0\nTo: x\n\n";
        assert!(parse(lf, &mut h, Framing::Datagram, &cfg).is_err());
        cfg.leniency.allow_bare_lf = true;
        assert!(parse(lf, &mut h, Framing::Datagram, &cfg).is_ok());
        let spaces = b"OPTIONS  sip:x   SIP/2.0\r\n\r\n";
        assert!(parse(spaces, &mut h, Framing::Datagram, &cfg).is_err());
        cfg.leniency.allow_multiple_spaces_in_request_line = true;
        assert!(parse(spaces, &mut h, Framing::Datagram, &cfg).is_ok());
    }

    #[test]
    fn header_array_exhaustion_is_an_error() {
        let mut h = [Header::EMPTY; 1];
        let r = parse(
            b"OPTIONS sip:x SIP/2.0\r\nA: 1\r\nB: 2\r\n\r\n",
            &mut h,
            Framing::Datagram,
            &ParserConfig::default(),
        );
        assert_eq!(r.err(), Some(Error::TooManyHeaders));
    }

    #[test]
    fn size_limit_applies_to_headers_and_body() {
        let mut cfg = ParserConfig::default();
        cfg.limits.max_message_bytes = 40;
        let mut h = [Header::EMPTY; 8];
        let r = parse(
            b"OPTIONS sip:x SIP/2.0\r\nSubject: a long subject line\r\n\r\n",
            &mut h,
            Framing::Datagram,
            &cfg,
        );
        assert_eq!(r.err(), Some(Error::TooLarge));
    }
}
