//! Writes responses into a caller-owned buffer (no allocation once the buffer has grown to
//! its working size).
//!
//! A response copies Via (all, in order), From, To, Call-ID and CSeq from the request
//! (RFC 3261 §8.2.6.2), adds a To tag when the request had none, and on the top Via adds
//! `received` and fills `rport` as §18.2.1 and RFC 3581 §4 require.

use std::net::IpAddr;

use super::header::Hdr;
use super::message::Header;
use super::request::Request;

/// Appends `n` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    match u32::try_from(n) {
        Ok(short) if short < 100_000_000 => {
            let (digits, len) = digits8(short);
            push_prefix(out, &digits, len);
        }
        _ => push_u64_long(out, n),
    }
}

/// [`push_u64`] for any `n`, a digit at a time.
#[cold]
fn push_u64_long(out: &mut Vec<u8>, n: u64) {
    let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let mut tmp = [b'0'; 20];
    let mut rest = n;
    for d in tmp[..digits].iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    push_prefix(out, &tmp, digits);
}

/// The decimal digits of `n < 10^8` at the start of an 8-byte array, and how many there are.
///
/// All eight digits are worked out at once in one `u64`, a lane per group (the SWAR method of
/// the `itoa` family): one 32-bit lane per four digits, each split into two 16-bit lanes of two
/// digits (`x * 5243 >> 19` is `x / 100` for `x < 43_699`), each split into two bytes of one
/// digit (`x * 103 >> 10` is `x / 10` for `x < 179`). No lane's product reaches the next lane.
/// The most significant digit ends up in the lowest byte, so the leading zeros are the low
/// zero bytes, dropped with one shift. Why: a port or an `expires` written a digit at a time
/// costs a division chain per digit plus a digit count; this is a dozen operations.
#[inline]
fn digits8(n: u32) -> ([u8; 8], usize) {
    debug_assert!(n < 100_000_000);
    // The high four digits in the low lane: they are written first.
    let v = u64::from(n / 10_000) | (u64::from(n % 10_000) << 32);
    let hundreds = ((v * 5243) >> 19) & 0x0000_007f_0000_007f;
    let v = hundreds | ((v - hundreds * 100) << 16);
    let tens = ((v * 103) >> 10) & 0x000f_000f_000f_000f;
    let v = tens | ((v - tens * 10) << 8);
    // `n == 0` has eight zero digits: keep one.
    let zeros = (v.trailing_zeros() / 8).min(7) as usize;
    let ascii = (v >> (zeros * 8)) | 0x3030_3030_3030_3030;
    (ascii.to_le_bytes(), 8 - zeros)
}

/// Appends the first `len` bytes of `tmp`. Copying the whole fixed-size array and then
/// truncating compiles to a few moves, where a variable-length copy would call `memcpy`.
#[inline]
fn push_prefix<const N: usize>(out: &mut Vec<u8>, tmp: &[u8; N], len: usize) {
    debug_assert!(len <= N);
    let start = out.len();
    out.extend_from_slice(tmp);
    out.truncate(start + len);
}

/// `OCTETS[o]`: the decimal text of `o` followed by a dot, padded to four bytes.
const OCTETS: [[u8; 4]; 256] = {
    let mut table = [[0u8; 4]; 256];
    let mut o = 0;
    while o < 256 {
        let (h, t, u) = (
            b'0' + (o / 100) as u8,
            b'0' + (o / 10 % 10) as u8,
            b'0' + (o % 10) as u8,
        );
        table[o] = if o >= 100 {
            [h, t, u, b'.']
        } else if o >= 10 {
            [t, u, b'.', 0]
        } else {
            [u, b'.', 0, 0]
        };
        o += 1;
    }
    table
};

/// The dotted-decimal text of an IPv4 address at the start of a 16-byte array, and its length
/// (at most 15: "255.255.255.255"). One table load and one 4-byte store per octet.
#[inline]
fn ipv4_text(ip: std::net::Ipv4Addr) -> ([u8; 16], usize) {
    let mut tmp = [0u8; 16];
    let mut len = 0;
    for octet in ip.octets() {
        // Before the last octet `len <= 12`, so the four bytes fit.
        tmp[len..len + 4].copy_from_slice(&OCTETS[usize::from(octet)]);
        len += 2 + usize::from(octet >= 10) + usize::from(octet >= 100);
    }
    // Without the last octet's dot.
    (tmp, len - 1)
}

/// Appends an IP address in the form used in `received` (IPv6 without brackets, RFC 3261
/// §25.1 `received = "received" EQUAL (IPv4address / IPv6address)`).
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    use std::io::Write;
    if let IpAddr::V4(v4) = ip {
        let (text, len) = ipv4_text(v4);
        push_prefix(out, &text, len);
        return;
    }
    // Writing to a Vec cannot fail; `write!` formats without an intermediate String.
    let _ = write!(out, "{ip}");
}

/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF`
///
/// Inlined so that a status line whose code and reason are constants is written without the
/// checks (and the reason without its scan).
#[inline]
pub fn status_line(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    if code == 200 && reason == b"OK" {
        // The line of nearly every response, as one fixed-size copy: the compiler does not
        // fold the reason's scan below away even for a constant reason.
        out.extend_from_slice(b"SIP/2.0 200 OK\r\n");
        return;
    }
    if (100..=999).contains(&code) {
        // `Status-Code` is three digits (§25.1): the line head is one fixed-size copy.
        let mut head = *b"SIP/2.0 000 ";
        head[8] += (code / 100) as u8;
        head[9] += (code / 10 % 10) as u8;
        head[10] += (code % 10) as u8;
        out.extend_from_slice(&head);
    } else {
        out.extend_from_slice(b"SIP/2.0 ");
        push_u64(out, u64::from(code));
        out.push(b' ');
    }
    // A reason phrase may not hold CR or LF; anything from a peer is scrubbed.
    if reason.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            reason
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.extend_from_slice(reason);
    }
    out.extend_from_slice(b"\r\n");
}

/// One header line.
#[inline]
pub fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    push_value(out, value);
    out.extend_from_slice(b"\r\n");
}

/// Appends a header value copied from a request, unfolded: line breaks inside a folded value
/// (CRLF, or a bare LF accepted by a leniency option) are dropped, leaving the white space that
/// followed them, so what we write is always one well-formed line.
#[inline]
pub fn push_value(out: &mut Vec<u8>, value: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', value).is_none() {
        out.extend_from_slice(value);
    } else {
        out.extend(value.iter().copied().filter(|&b| b != b'\r' && b != b'\n'));
    }
}

/// How the top Via is to be amended (§18.2.1, RFC 3581).
#[derive(Clone, Copy, Debug)]
pub struct ViaAmend {
    /// The source address of the request.
    pub source_ip: IpAddr,
    pub source_port: u16,
}

/// Writes Via, From, To (with `to_tag` if it had none), Call-ID and CSeq copied from `req`.
pub fn echo_headers(out: &mut Vec<u8>, req: &Request<'_, '_>, amend: ViaAmend, to_tag: &[u8]) {
    // Without the request bytes no line can be copied whole: every line takes the general
    // path of `echo_headers_from`.
    echo_headers_from(out, &[], req, amend, to_tag);
}

/// Writes what [`echo_headers`] writes, copying straight from `buf` (the bytes `req` was
/// parsed from) every stretch that needs no change.
///
/// An echoed line is copied as it stands when it is already in the form `echo_headers`
/// writes: the canonical name, `": "`, a value without line breaks, then CRLF. Such lines that
/// follow each other in the request (From, To, Call-ID and CSeq often do) become one copy, and
/// only the top Via (`received`, `rport`) and a To without a tag are written piecewise. Any
/// other line (compact or odd-cased name, other spacing, a folded value) is written as
/// `echo_headers` would. Why: a response is mostly copies of short request lines, and each
/// separate copy costs a `memcpy` call. Only the headers up to the last echoed one are looked
/// at ([`Request::echoed`]): Contact, Expires and the rest usually come after CSeq.
pub fn echo_headers_from(
    out: &mut Vec<u8>,
    buf: &[u8],
    req: &Request<'_, '_>,
    amend: ViaAmend,
    to_tag: &[u8],
) {
    let mut copy = Copy {
        buf,
        start: 0,
        end: 0,
    };
    let mut top_done = false;
    for h in req.echoed() {
        if ECHOED & (1 << h.kind as u32) == 0 {
            continue;
        }
        let Some(line) = Line::find(buf, h) else {
            copy.flush(out);
            match h.kind {
                Hdr::Via if !top_done => {
                    top_done = true;
                    out.extend_from_slice(b"Via: ");
                    write_top_via(out, h.value, req, amend);
                    out.extend_from_slice(b"\r\n");
                }
                Hdr::To => write_to(out, h.value, req, to_tag),
                kind => header(out, canonical_name(kind), h.value),
            }
            continue;
        };
        match h.kind {
            Hdr::Via if !top_done => {
                top_done = true;
                copy_top_via(out, &mut copy, line, req, amend);
            }
            Hdr::To if req.to.tag().is_none() => {
                copy.take(out, line.start, line.value_end);
                copy.flush(out);
                push_to_tag(out, to_tag);
                copy.take(out, line.value_end, line.end);
            }
            _ => copy.take(out, line.start, line.end),
        }
    }
    copy.flush(out);
}

/// The header kinds a response copies (§8.2.6.2), one bit per [`Hdr`] discriminant: testing a
/// header costs a shift, where a `match` costs a jump table.
const ECHOED: u32 = 1 << Hdr::Via as u32
    | 1 << Hdr::From as u32
    | 1 << Hdr::To as u32
    | 1 << Hdr::CallId as u32
    | 1 << Hdr::CSeq as u32;

/// The name a response writes for an echoed header kind (see [`ECHOED`]).
fn canonical_name(kind: Hdr) -> &'static [u8] {
    match kind {
        Hdr::Via => b"Via",
        Hdr::From => b"From",
        Hdr::To => b"To",
        Hdr::CallId => b"Call-ID",
        _ => b"CSeq",
    }
}

/// `;tag=` and the tag. A tag of the 16 bytes the registrar makes is one fixed-size copy.
#[inline]
fn push_to_tag(out: &mut Vec<u8>, to_tag: &[u8]) {
    if let Ok(tag) = <&[u8; 16]>::try_from(to_tag) {
        let mut tmp = *b";tag=0123456789abcdef";
        tmp[5..].copy_from_slice(tag);
        out.extend_from_slice(&tmp);
    } else {
        out.extend_from_slice(b";tag=");
        out.extend_from_slice(to_tag);
    }
}

/// A header line of `buf` in the form [`header`] writes, by offsets into `buf`.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    value_start: usize,
    value_end: usize,
    /// After the CRLF.
    end: usize,
}

impl Line {
    /// The line of echoed header `h` (whose value is a slice of `buf`) if `buf` holds exactly
    /// what [`header`] would write for it: `<canonical>: <value>CRLF`, the value holding no CR
    /// or LF (nor other controls). A value the framing fast path already proved free of
    /// control bytes is not scanned again.
    #[inline]
    fn find(buf: &[u8], h: &Header<'_>) -> Option<Line> {
        match h.kind {
            Hdr::Via => Self::find_as(buf, h, b"Via: "),
            Hdr::From => Self::find_as(buf, h, b"From: "),
            Hdr::To => Self::find_as(buf, h, b"To: "),
            Hdr::CallId => Self::find_as(buf, h, b"Call-ID: "),
            Hdr::CSeq => Self::find_as(buf, h, b"CSeq: "),
            _ => None,
        }
    }

    /// [`find`](Self::find) for a header written with `head` (name, colon, space) before its
    /// value. Only bytes of `buf` are compared, whatever `h.name` points at: the line is copied
    /// when its bytes are right. A fixed-size `head` compares inline, without a `memcmp` call.
    #[inline(always)]
    fn find_as<const N: usize>(buf: &[u8], h: &Header<'_>, head: &[u8; N]) -> Option<Line> {
        let value = h.value;
        let value_start = (value.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        // One range check covers the head, the value and the CRLF. The bounds differ by
        // `N + value.len() + 2` modulo 2^64, so a range `get` accepts is exactly that long:
        // offsets that wrapped (a value outside `buf`) give a reversed or out-of-bounds range.
        let start = value_start.wrapping_sub(N);
        let value_end = value_start.wrapping_add(value.len());
        let line = buf.get(start..value_end.wrapping_add(2))?;
        if line.first_chunk::<N>() != Some(head)
            || line.last_chunk::<2>() != Some(b"\r\n")
            || (!h.plain && has_line_break(value))
        {
            return None;
        }
        let end = value_end + 2;
        debug_assert!(std::ptr::eq(&buf[value_start..value_end], value));
        Some(Line {
            start,
            value_start,
            value_end,
            end,
        })
    }
}

/// True if `s` may hold CR or LF: it holds a byte below 0x0e (CR), HTAB and escaped controls
/// included, which only sends such rare values down the careful path. Eight bytes at a time,
/// without early exit: header values are short, and a search routine's set-up would cost more.
#[inline]
fn has_line_break(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte below 0x0e (exact for a limit of at most 0x80).
    let below = |x: u64| x.wrapping_sub(ONES * 0x0e) & !x & HIGHS;
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_le_bytes(w)
    };
    if s.len() < 8 {
        return s.iter().any(|&b| b < 0x0e);
    }
    // The last word overlaps the others when the length is not a multiple of eight.
    let mut found = below(word(s.len() - 8));
    let mut i = 0;
    while i + 8 <= s.len() {
        found |= below(word(i));
        i += 8;
    }
    found != 0
}

/// A pending copy of `buf[start..end]`: adjacent stretches join into one copy.
struct Copy<'a> {
    buf: &'a [u8],
    start: usize,
    end: usize,
}

impl Copy<'_> {
    /// Adds `buf[from..to]` after what is pending.
    #[inline]
    fn take(&mut self, out: &mut Vec<u8>, from: usize, to: usize) {
        if from != self.end {
            self.flush(out);
            self.start = from;
        }
        self.end = to;
    }

    /// Writes what is pending (before anything not from `buf` is written).
    #[inline]
    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.start != self.end {
            out.extend_from_slice(&self.buf[self.start..self.end]);
            self.start = self.end;
        }
    }
}

/// The top Via line, copied from `buf` around the amendments [`write_top_via`] makes.
fn copy_top_via(
    out: &mut Vec<u8>,
    copy: &mut Copy<'_>,
    line: Line,
    req: &Request<'_, '_>,
    amend: ViaAmend,
) {
    let via = &req.via;
    let base = copy.buf.as_ptr() as usize;
    let top_start = via.raw.as_ptr() as usize - base;
    let top_end = top_start + via.raw.len();
    debug_assert!(line.value_start <= top_start && top_end <= line.value_end);
    match bare_rport_end(via) {
        Some(end) => {
            copy.take(out, line.start, top_start + end);
            copy.flush(out);
            push_rport_value(out, amend.source_port);
            copy.take(out, top_start + end, top_end);
        }
        None => copy.take(out, line.start, top_end),
    }
    if needs_received(via, amend) {
        copy.flush(out);
        push_received(out, amend.source_ip);
        if top_end + 2 == line.end {
            // Only the CRLF is left: written here, it is not left pending as a copy of its
            // own when the next echoed line is not adjacent (Max-Forwards often comes between).
            out.extend_from_slice(b"\r\n");
            copy.start = line.end;
            copy.end = line.end;
            return;
        }
    }
    copy.take(out, top_end, line.end);
}

/// Writes the To line, adding the tag if it had none.
fn write_to(out: &mut Vec<u8>, value: &[u8], req: &Request<'_, '_>, to_tag: &[u8]) {
    out.extend_from_slice(b"To: ");
    push_value(out, value);
    if req.to.tag().is_none() {
        push_to_tag(out, to_tag);
    }
    out.extend_from_slice(b"\r\n");
}

/// `=` and the source port, the value of a bare `rport` (RFC 3581 §4), in one fixed-size copy.
#[inline]
fn push_rport_value(out: &mut Vec<u8>, port: u16) {
    let (digits, len) = digits8(u32::from(port));
    let mut tmp = [b'='; 9];
    tmp[1..].copy_from_slice(&digits);
    push_prefix(out, &tmp, 1 + len);
}

/// `;received=` and the source address (§18.2.1); an IPv4 address in one fixed-size copy.
#[inline(always)]
fn push_received(out: &mut Vec<u8>, ip: IpAddr) {
    const HEAD: &[u8; 10] = b";received=";
    if let IpAddr::V4(v4) = ip {
        let (text, len) = ipv4_text(v4);
        let mut tmp = [0u8; 26];
        tmp[..10].copy_from_slice(HEAD);
        tmp[10..].copy_from_slice(&text);
        push_prefix(out, &tmp, 10 + len);
    } else {
        out.extend_from_slice(HEAD);
        push_ip(out, ip);
    }
}

/// Where a bare `rport` (no value) ends in the top Via's text, so its value can be filled in.
#[inline]
fn bare_rport_end(via: &super::header::Via<'_>) -> Option<usize> {
    via.bare_rport_end()
}

/// §18.2.1: `received` unless sent-by is the source address; RFC 3581 §4: always with `rport`.
fn needs_received(via: &super::header::Via<'_>, amend: ViaAmend) -> bool {
    let sent_by_is_source = match via.host {
        super::uri::Host::V4(ip) => IpAddr::V4(ip) == amend.source_ip,
        super::uri::Host::V6(ip) => IpAddr::V6(ip) == amend.source_ip,
        super::uri::Host::Name(_) => false,
    };
    via.received().is_none() && (!sent_by_is_source || via.rport().is_some())
}

/// Writes the value of the first Via header with the top element amended.
fn write_top_via(out: &mut Vec<u8>, value: &[u8], req: &Request<'_, '_>, amend: ViaAmend) {
    let via = &req.via;
    let base = value.as_ptr() as usize;
    let top_start = via.raw.as_ptr() as usize - base;
    let top_end = top_start + via.raw.len();
    let raw = via.raw;
    let bare_rport_end = bare_rport_end(via);
    push_value(out, &value[..top_start]);
    match bare_rport_end {
        Some(end) => {
            push_value(out, &raw[..end]);
            push_rport_value(out, amend.source_port);
            push_value(out, &raw[end..]);
        }
        None => push_value(out, raw),
    }
    if needs_received(via, amend) {
        push_received(out, amend.source_ip);
    }
    push_value(out, &value[top_end..]);
}

/// Appends `Date: <rfc1123>` for a Unix time (RFC 3261 §20.17).
pub fn date_header(out: &mut Vec<u8>, unix_s: u64) {
    out.extend_from_slice(b"Date: ");
    push_http_date(out, unix_s);
    out.extend_from_slice(b"\r\n");
}

/// `rfc1123-date`, e.g. `Sat, 13 Nov 2010 23:29:00 GMT`.
pub fn push_http_date(out: &mut Vec<u8>, unix_s: u64) {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = unix_s / 86_400;
    let secs = unix_s % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    out.extend_from_slice(DAYS[(days % 7) as usize]);
    out.extend_from_slice(b", ");
    push_2(out, d as u64);
    out.push(b' ');
    out.extend_from_slice(MONTHS[(m - 1) as usize]);
    out.push(b' ');
    push_u64(out, y as u64);
    out.push(b' ');
    push_2(out, secs / 3600);
    out.push(b':');
    push_2(out, secs / 60 % 60);
    out.push(b':');
    push_2(out, secs % 60);
    out.extend_from_slice(b" GMT");
}

fn push_2(out: &mut Vec<u8>, n: u64) {
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Ends the headers with `Content-Length: 0` and the blank line.
pub fn finish_empty(out: &mut Vec<u8>) {
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{Framing, Header, ParserConfig, Status};

    #[test]
    fn numbers_and_dates() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, 18_446_744_073_709_551_615);
        assert_eq!(v, b"0 18446744073709551615");
        let mut d = Vec::new();
        push_http_date(&mut d, 1_289_690_940);
        assert_eq!(d, b"Sat, 13 Nov 2010 23:29:00 GMT");
        d.clear();
        push_http_date(&mut d, 951_782_400); // leap day
        assert_eq!(d, b"Tue, 29 Feb 2000 00:00:00 GMT");
    }

    fn echo(via: &str, src: &str) -> String {
        let msg = format!(
            "REGISTER sip:b.c SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP proxy\r\nTo: <sip:a@b.c>\r\n\
             From: <sip:a@b.c>;tag=1\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n"
        );
        let mut h = [Header::EMPTY; 16];
        let Ok(Status::Complete(req)) = Request::parse(
            msg.as_bytes(),
            &mut h,
            Framing::Datagram,
            &ParserConfig::default(),
        ) else {
            panic!("parse")
        };
        let src: std::net::SocketAddr = src.parse().unwrap();
        let mut out = Vec::new();
        echo_headers(
            &mut out,
            &req,
            ViaAmend {
                source_ip: src.ip(),
                source_port: src.port(),
            },
            b"T",
        );
        String::from_utf8(out).unwrap()
    }

    /// RFC 3261 §18.2.1: received is added when sent-by is not the source address.
    #[test]
    fn rfc3261_18_2_1_received_added_when_sent_by_differs() {
        let out = echo(
            "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
            "192.0.2.7:5060",
        );
        assert!(
            out.starts_with(
                "Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;received=192.0.2.7\r\n"
            ),
            "{out}"
        );
        assert!(out.contains("Via: SIP/2.0/UDP proxy\r\n"));
        assert!(out.contains("To: <sip:a@b.c>;tag=T\r\n"));
        let same = echo("SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1", "192.0.2.7:5060");
        assert!(
            same.starts_with("Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n"),
            "{same}"
        );
    }

    /// Fuzz finding write_response-1: a value folded with a bare LF (accepted leniently) is
    /// echoed unfolded, so our response always parses strictly.
    #[test]
    fn echoed_folds_are_unfolded() {
        let msg = b"INVITE i:i SIP/2.0\nT:s:v\nf:<s:m>\nCall-ID:d\ncseq:0 INVITE\nV:SIP/./C n\n ,SIP/0/D 1.8.0.3\n\n";
        let mut cfg = ParserConfig::default();
        cfg.leniency.allow_bare_lf = true;
        let mut h = [Header::EMPTY; 16];
        let Ok(Status::Complete(req)) = Request::parse(msg, &mut h, Framing::Datagram, &cfg) else {
            panic!("parses leniently")
        };
        let mut out = Vec::new();
        status_line(&mut out, 200, b"OK");
        let amend = ViaAmend {
            source_ip: "192.0.2.1".parse().unwrap(),
            source_port: 5060,
        };
        echo_headers(&mut out, &req, amend, b"T");
        finish_empty(&mut out);
        let mut h2 = [Header::EMPTY; 16];
        let strict =
            crate::sip::message::parse(&out, &mut h2, Framing::Datagram, &ParserConfig::default());
        assert!(
            matches!(strict, Ok(Status::Complete(_))),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    /// `echo_headers_from` copies stretches of the request instead of writing each header:
    /// it must write exactly what `echo_headers` writes, whatever the request's spelling
    /// (compact and odd-cased names, spacing, folds, tabs, tags, Via lists, rport forms).
    #[test]
    fn echo_from_buffer_writes_what_echo_writes() {
        let vias = [
            "Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1\r\n",
            "Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;rport=7\r\n",
            "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=10.0.0.9\r\n",
            "Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n",
            "Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1;RPORT\r\n",
            "v: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1\r\n",
            "VIA: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1\r\n",
            "Via:SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1\r\n",
            "Via:  SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1 \r\n",
            "Via: SIP/2.0/UDP 10.0.0.1 ;rport ;branch=z9hG4bK1, SIP/2.0/UDP p2;branch=z9hG4bK2\r\n",
            "Via: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1,\r\n SIP/2.0/UDP p2;branch=z9hG4bK2\r\n",
            "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n",
            "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nv: SIP/2.0/UDP p2\t;branch=z9hG4bK2\r\n",
        ];
        let rests = [
            "From: <sip:a@b.c>;tag=1\r\nTo: <sip:a@b.c>\r\nCall-ID: x@y\r\nCSeq: 1 REGISTER\r\n",
            "From: <sip:a@b.c>;tag=1\r\nTo: <sip:a@b.c>;tag=9\r\nCall-ID: x@y\r\nCSeq: 1 REGISTER\r\n",
            "f: <sip:a@b.c>;tag=1\r\nt: <sip:a@b.c>\r\ni: x@y\r\nCSeq: 1 REGISTER\r\n",
            "Max-Forwards: 70\r\nTo: \"A\" <sip:a@b.c>\r\nFrom: <sip:a@b.c>;tag=1\r\nContact: *\r\n\
             Call-ID: x@y\r\nExpires: 0\r\nCSeq: 1 REGISTER\r\n",
            "From: <sip:a@b.c>\r\n ;tag=1\r\nTo:\t<sip:a@b.c>\r\nCall-Id: x@y\r\ncseq: 1 REGISTER\r\n",
            "From: <sip:a@b.c>;tag=1   \r\nTo: <sip:a@b.c> \r\nCall-ID:   x@y\r\nCSeq: 1\tREGISTER\r\n",
            "From: \"\\\"q\\\" \\\\\" <sip:a@b.c>;tag=1\r\nTo: <sip:a@b.c>\r\nCall-ID: x@y\r\nCSeq: 1 REGISTER\r\n",
        ];
        let sources = ["10.0.0.1:5060", "192.0.2.7:40000", "[2001:db8::1]:5060"];
        let mut checked = 0;
        for via in vias {
            for rest in rests {
                let msg =
                    format!("REGISTER sip:b.c SIP/2.0\r\n{via}{rest}Content-Length: 0\r\n\r\n");
                let mut cfg = ParserConfig::default();
                cfg.leniency.allow_bare_lf = true;
                let mut h = [Header::EMPTY; 32];
                let Ok(Status::Complete(req)) =
                    Request::parse(msg.as_bytes(), &mut h, Framing::Datagram, &cfg)
                else {
                    continue;
                };
                for src in sources {
                    let src: std::net::SocketAddr = src.parse().unwrap();
                    let amend = ViaAmend {
                        source_ip: src.ip(),
                        source_port: src.port(),
                    };
                    let (mut old, mut new) = (b"x".to_vec(), b"x".to_vec());
                    echo_headers(&mut old, &req, amend, b"T0");
                    echo_headers_from(&mut new, msg.as_bytes(), &req, amend, b"T0");
                    assert_eq!(
                        String::from_utf8_lossy(&new),
                        String::from_utf8_lossy(&old),
                        "{msg}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 150, "only {checked} requests parsed");
    }

    /// The echo looks only at the headers up to the last echoed one (`Request::echoed`):
    /// a Via after every other echoed header, and one after unrelated headers, are still
    /// copied, in order, and what follows the last of them is not.
    #[test]
    fn echo_reaches_the_last_echoed_header() {
        let msg = "REGISTER sip:b.c SIP/2.0\r\nFrom: <sip:a@b.c>;tag=1\r\nTo: <sip:a@b.c>;tag=2\r\n\
                   Call-ID: x\r\nCSeq: 1 REGISTER\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\n\
                   Contact: <sip:a@192.0.2.7>\r\nExpires: 60\r\nv: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n\
                   Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        let mut h = [Header::EMPTY; 16];
        let Ok(Status::Complete(req)) = Request::parse(
            msg.as_bytes(),
            &mut h,
            Framing::Datagram,
            &ParserConfig::default(),
        ) else {
            panic!("parse")
        };
        assert_eq!(req.echoed().len(), 8);
        let amend = ViaAmend {
            source_ip: "192.0.2.7".parse().unwrap(),
            source_port: 5060,
        };
        let want = "From: <sip:a@b.c>;tag=1\r\nTo: <sip:a@b.c>;tag=2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\
                    Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n";
        let (mut old, mut new) = (Vec::new(), Vec::new());
        echo_headers(&mut old, &req, amend, b"T");
        echo_headers_from(&mut new, msg.as_bytes(), &req, amend, b"T");
        assert_eq!(String::from_utf8_lossy(&old), want);
        assert_eq!(String::from_utf8_lossy(&new), want);
    }

    #[test]
    fn line_breaks_are_seen_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for b in [b'\r', b'\n', 0, b'\t'] {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    assert!(has_line_break(&v), "{len} {at} {b}");
                }
            }
            assert!(!has_line_break(&vec![b'~'; len]));
            assert!(!has_line_break(&vec![0xff; len]));
        }
    }

    #[test]
    fn short_numbers_and_addresses() {
        for n in [0u64, 9, 10, 99, 100, 5060, 65_535, 4_294_967_296, u64::MAX] {
            let mut v = b"x".to_vec();
            push_u64(&mut v, n);
            assert_eq!(v, format!("x{n}").as_bytes());
        }
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "192.168.100.255",
            "255.255.255.255",
            "2001:db8::1",
        ] {
            let mut v = b"x".to_vec();
            push_ip(&mut v, ip.parse().unwrap());
            assert_eq!(v, format!("x{ip}").as_bytes());
        }
        let mut v = Vec::new();
        status_line(&mut v, 200, b"OK");
        status_line(&mut v, 42, b"Odd\r\nCode");
        assert_eq!(v, b"SIP/2.0 200 OK\r\nSIP/2.0 42 Odd  Code\r\n");
    }

    /// The eight-digit lanes against `format!`: every value below 10^6, every power of ten and
    /// its neighbours, a spread up to 10^8, and the values that take the long path.
    #[test]
    fn decimal_digits_match_format() {
        let check = |n: u64| {
            let mut v = b"x".to_vec();
            push_u64(&mut v, n);
            assert_eq!(v, format!("x{n}").as_bytes(), "{n}");
        };
        (0..1_000_000).for_each(check);
        for p in 0..=19u32 {
            let t = 10u64.pow(p);
            [t - 1, t, t + 1].into_iter().for_each(check);
        }
        (0..100_000_000).step_by(9_973).for_each(check);
        [
            99_999_999,
            100_000_000,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ]
        .into_iter()
        .for_each(check);
    }

    /// Every octet value in every position of an IPv4 address, against `Display`.
    #[test]
    fn ipv4_text_matches_display() {
        for o in 0..=255u8 {
            for ip in [
                [o, 0, 0, 0],
                [1, o, 22, 3],
                [255, 100, o, 9],
                [10, 0, 0, o],
                [o; 4],
            ] {
                let ip = std::net::Ipv4Addr::from(ip);
                let (text, len) = ipv4_text(ip);
                assert_eq!(&text[..len], ip.to_string().as_bytes());
                let mut v = Vec::new();
                push_received(&mut v, IpAddr::V4(ip));
                assert_eq!(v, format!(";received={ip}").as_bytes());
            }
        }
        let mut v = Vec::new();
        push_received(&mut v, "2001:db8::1".parse().unwrap());
        assert_eq!(v, b";received=2001:db8::1");
    }

    #[test]
    fn rport_values_and_tags() {
        for port in [0u16, 1, 9, 10, 5060, 9999, 10_000, 65_535] {
            let mut v = b"x".to_vec();
            push_rport_value(&mut v, port);
            assert_eq!(v, format!("x={port}").as_bytes());
        }
        for tag in [&b""[..], b"T", b"0123456789abcdef", b"0123456789abcdef0"] {
            let mut v = b"x".to_vec();
            push_to_tag(&mut v, tag);
            assert_eq!(v, [&b"x;tag="[..], tag].concat());
        }
    }

    /// RFC 3581 §4: rport gets the source port, and received is added even if equal.
    #[test]
    fn rfc3581_4_rport_filled_and_received_always_added() {
        let out = echo(
            "SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK1",
            "192.0.2.7:40000",
        );
        assert!(
            out.starts_with(
                "Via: SIP/2.0/UDP 192.0.2.7:5060;rport=40000;branch=z9hG4bK1;received=192.0.2.7\r\n"
            ),
            "{out}"
        );
    }
}
