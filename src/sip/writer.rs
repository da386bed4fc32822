//! Writes responses into a caller-owned buffer (no allocation once the buffer has grown to
//! its working size).
//!
//! A response copies Via (all, in order), From, To, Call-ID and CSeq from the request
//! (RFC 3261 §8.2.6.2), adds a To tag when the request had none, and on the top Via adds
//! `received` and fills `rport` as §18.2.1 and RFC 3581 §4 require.

use std::net::IpAddr;

use super::header::Hdr;
use super::request::Request;

/// Appends `n` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends an IP address in the form used in `received` (IPv6 without brackets, RFC 3261
/// §25.1 `received = "received" EQUAL (IPv4address / IPv6address)`).
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    use std::io::Write;
    if let IpAddr::V4(v4) = ip {
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            push_u64(out, u64::from(octet));
        }
        return;
    }
    // Writing to a Vec cannot fail; `write!` formats without an intermediate String.
    let _ = write!(out, "{ip}");
}

/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF`
pub fn status_line(out: &mut Vec<u8>, code: u16, reason: &[u8]) {
    out.extend_from_slice(b"SIP/2.0 ");
    push_u64(out, u64::from(code));
    out.push(b' ');
    // A reason phrase may not hold CR or LF; anything from a peer is scrubbed.
    out.extend(
        reason
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
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
    let mut top_done = false;
    for h in req.msg.headers {
        match h.kind {
            Hdr::Via if !top_done => {
                top_done = true;
                out.extend_from_slice(b"Via: ");
                write_top_via(out, h.value, req, amend);
                out.extend_from_slice(b"\r\n");
            }
            Hdr::Via => header(out, b"Via", h.value),
            Hdr::From => header(out, b"From", h.value),
            Hdr::To => {
                out.extend_from_slice(b"To: ");
                push_value(out, h.value);
                if req.to.tag().is_none() {
                    out.extend_from_slice(b";tag=");
                    out.extend_from_slice(to_tag);
                }
                out.extend_from_slice(b"\r\n");
            }
            Hdr::CallId => header(out, b"Call-ID", h.value),
            Hdr::CSeq => header(out, b"CSeq", h.value),
            _ => {}
        }
    }
}

/// Writes the value of the first Via header with the top element amended.
fn write_top_via(out: &mut Vec<u8>, value: &[u8], req: &Request<'_, '_>, amend: ViaAmend) {
    let via = &req.via;
    let base = value.as_ptr() as usize;
    let top_start = via.raw.as_ptr() as usize - base;
    let top_end = top_start + via.raw.len();
    let raw = via.raw;
    let rport = via.rport();
    // Where a bare `rport` sits, so its value can be filled in.
    let bare_rport_end = match rport {
        Some(None) => via
            .params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"rport"))
            .map(|(n, _)| n.as_ptr() as usize - raw.as_ptr() as usize + n.len()),
        _ => None,
    };
    push_value(out, &value[..top_start]);
    match bare_rport_end {
        Some(end) => {
            push_value(out, &raw[..end]);
            out.push(b'=');
            push_u64(out, u64::from(amend.source_port));
            push_value(out, &raw[end..]);
        }
        None => push_value(out, raw),
    }
    let sent_by_is_source = match via.host {
        super::uri::Host::V4(ip) => IpAddr::V4(ip) == amend.source_ip,
        super::uri::Host::V6(ip) => IpAddr::V6(ip) == amend.source_ip,
        super::uri::Host::Name(_) => false,
    };
    if via.received().is_none() && (!sent_by_is_source || rport.is_some()) {
        out.extend_from_slice(b";received=");
        push_ip(out, amend.source_ip);
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
