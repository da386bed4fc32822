//! Response texts of the registrar: status lines, echoed headers, Contact lists.

use super::Millis;
use super::bindings::{Binding, Q_NONE};
use crate::sip::header::Hdr;
use crate::sip::request::Request;
use crate::sip::scan;
use crate::sip::writer::{self, ViaAmend};

/// The fixed part of every response to `req` (parsed from `buf`): status line and echoed
/// headers. Inlined so that the status line of a call with a constant code and reason is
/// written as constants.
#[inline]
pub fn begin(
    out: &mut Vec<u8>,
    buf: &[u8],
    req: &Request<'_, '_>,
    amend: ViaAmend,
    to_tag: &[u8],
    code: u16,
    reason: &[u8],
) {
    out.clear();
    writer::status_line(out, code, reason);
    writer::echo_headers_from(out, buf, req, amend, to_tag);
}

/// `q` as a qvalue: `1`, `0.5`, `0.125`.
pub fn push_q(out: &mut Vec<u8>, q: u16) {
    if q >= 1000 {
        out.push(b'1');
        return;
    }
    out.extend_from_slice(b"0.");
    let digits = [(q / 100) as u8, (q / 10 % 10) as u8, (q % 10) as u8];
    let n = if digits[2] != 0 {
        3
    } else if digits[1] != 0 {
        2
    } else {
        1
    };
    out.extend(digits[..n].iter().map(|d| b'0' + d));
}

/// `Contact: <uri>;expires=N[;q=..]<params>` for a binding.
pub fn contact_line(out: &mut Vec<u8>, b: &Binding, now: Millis, with_expires: bool) {
    out.extend_from_slice(b"Contact: <");
    out.extend_from_slice(b.uri());
    if with_expires {
        out.extend_from_slice(b">;expires=");
        writer::push_u64(out, b.remaining_s(now));
    } else {
        out.push(b'>');
    }
    if b.q != Q_NONE {
        out.extend_from_slice(b";q=");
        push_q(out, b.q);
    }
    out.extend_from_slice(b.params());
    out.extend_from_slice(b"\r\n");
}

/// Writes an error (400, or 505/513 for a version or size problem) for a request that failed
/// to parse, if enough of it can be salvaged to answer (§8.2.6 needs Via, From, To, Call-ID and
/// CSeq to be copied). Returns false when there is no Via, or the start line is not a request:
/// such input is dropped.
pub fn salvage_error(
    out: &mut Vec<u8>,
    msg: &[u8],
    code: u16,
    reason: &[u8],
    to_tag: &[u8],
) -> bool {
    out.clear();
    let first_end = memchr::memchr(b'\n', msg).unwrap_or(msg.len());
    let first = &msg[..first_end];
    // A request line has a method token and the SIP version at its end; a response starts with
    // the version. Anything else is noise that gets no answer.
    let is_request = !first.starts_with(b"SIP/")
        && first
            .split(|&b| b == b' ')
            .next()
            .is_some_and(scan::all_token)
        && first.windows(4).any(|w| w == b"SIP/");
    if !is_request {
        return false;
    }
    writer::status_line(out, code, reason);
    let mut have = [false; 5];
    for line in msg[first_end.min(msg.len())..]
        .split(|&b| b == b'\n')
        .skip(1)
    {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = scan::trim_lws(&line[..colon]);
        let value = scan::trim_lws(&line[colon + 1..]);
        let kind = crate::sip::header::classify(name);
        let (slot, canonical): (usize, &[u8]) = match kind {
            Hdr::Via => (0, b"Via"),
            Hdr::From => (1, b"From"),
            Hdr::To => (2, b"To"),
            Hdr::CallId => (3, b"Call-ID"),
            Hdr::CSeq => (4, b"CSeq"),
            _ => continue,
        };
        // Only printable text is echoed.
        // Only text is echoed: the same rule as the parser (no control byte but HTAB, no DEL).
        if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) || (slot != 0 && have[slot])
        {
            continue;
        }
        have[slot] = true;
        out.extend_from_slice(canonical);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        if kind == Hdr::To && !contains_tag(value) {
            out.extend_from_slice(b";tag=");
            out.extend_from_slice(to_tag);
        }
        out.extend_from_slice(b"\r\n");
    }
    if !have[0] {
        out.clear();
        return false;
    }
    writer::finish_empty(out);
    true
}

fn contains_tag(v: &[u8]) -> bool {
    v.windows(5).any(|w| w.eq_ignore_ascii_case(b";tag="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues_print_short() {
        for (q, s) in [
            (1000, "1"),
            (500, "0.5"),
            (125, "0.125"),
            (0, "0.0"),
            (50, "0.05"),
        ] {
            let mut v = Vec::new();
            push_q(&mut v, q);
            assert_eq!(v, s.as_bytes());
        }
    }

    #[test]
    fn salvage_needs_a_request_with_via() {
        let mut out = Vec::new();
        let msg = b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@x>\r\nCSeq: x\r\n\r\n";
        assert!(salvage_error(&mut out, msg, 400, b"Malformed CSeq", b"T"));
        let s = String::from_utf8(out.clone()).unwrap();
        assert!(
            s.starts_with("SIP/2.0 400 Malformed CSeq\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n")
        );
        assert!(s.contains("To: <sip:a@x>;tag=T\r\n"));
        assert!(!salvage_error(
            &mut out,
            b"REGISTER sip:x SIP/2.0\r\nTo: x\r\n\r\n",
            400,
            b"x",
            b"T"
        ));
        assert!(!salvage_error(
            &mut out,
            b"\x00\x01garbage",
            400,
            b"x",
            b"T"
        ));
        assert!(!salvage_error(
            &mut out,
            b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
            400,
            b"x",
            b"T"
        ));
    }
}
