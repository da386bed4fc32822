//! Pre-built request templates: literal byte runs with digit slots (user number, thread, seq,
//! CSeq) and one splice slot (the Authorization header). Rendering copies the literals and
//! formats the numbers into a caller-owned buffer: no heap allocation per request.
//! Also the response-side helpers: status code, the transaction id in the Via branch, header
//! lookup and stream framing.

use memchr::memmem;

/// Prefix of every branch the load generator emits: `z9hG4bK-<thread>-<seq>`.
pub const BRANCH_PREFIX: &[u8] = b"branch=z9hG4bK-";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    User,
    Thread,
    Seq,
    CSeq,
    /// Spliced bytes (a whole header line, or nothing).
    Extra,
    /// Filler (`/1111...`, a product version) that brings the message to the template's fixed
    /// length, so that a batch of requests can go out as one UDP GSO send.
    Pad,
}

#[derive(Clone, Debug)]
enum Piece {
    Lit(u32, u32),
    Slot(Slot),
}

/// Values patched into a template.
#[derive(Clone, Copy, Debug, Default)]
pub struct Vals {
    pub user: u64,
    pub thread: u64,
    pub seq: u64,
    pub cseq: u64,
}

#[derive(Clone, Debug)]
pub struct Template {
    text: Vec<u8>,
    pieces: Vec<Piece>,
    /// Length every render without `extra` is padded to (0: no padding).
    fixed_len: usize,
}

/// Decimal digit count of `v`.
pub fn digits(v: u64) -> usize {
    let mut n = 1;
    let mut x = v;
    while x >= 10 {
        x /= 10;
        n += 1;
    }
    n
}

/// Formats `v` in decimal into `out`; returns the digit count.
pub fn fmt_u64(mut v: u64, out: &mut [u8; 20]) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = 20;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = 20 - i;
    out[..n].copy_from_slice(&tmp[i..]);
    n
}

impl Template {
    /// Builds a template from text with `{user}`, `{thread}`, `{seq}`, `{cseq}` and `{extra}`
    /// markers. Line ends in `src` must already be CRLF.
    pub fn parse(src: &str) -> Template {
        let mut text = Vec::new();
        let mut pieces = Vec::new();
        let mut rest = src;
        while let Some(open) = rest.find('{') {
            let close = open + rest[open..].find('}').expect("unclosed marker");
            let lit = &rest[..open];
            if !lit.is_empty() {
                pieces.push(Piece::Lit(text.len() as u32, lit.len() as u32));
                text.extend_from_slice(lit.as_bytes());
            }
            let slot = match &rest[open + 1..close] {
                "user" => Slot::User,
                "thread" => Slot::Thread,
                "seq" => Slot::Seq,
                "cseq" => Slot::CSeq,
                "extra" => Slot::Extra,
                "pad" => Slot::Pad,
                other => panic!("unknown template marker {other}"),
            };
            pieces.push(Piece::Slot(slot));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(text.len() as u32, rest.len() as u32));
            text.extend_from_slice(rest.as_bytes());
        }
        Template {
            text,
            pieces,
            fixed_len: 0,
        }
    }

    /// Length of a render with these values, without padding.
    pub fn natural_len(&self, v: &Vals, extra_len: usize) -> usize {
        self.pieces
            .iter()
            .map(|p| match *p {
                Piece::Lit(_, len) => len as usize,
                Piece::Slot(Slot::Extra) => extra_len,
                Piece::Slot(Slot::Pad) => 0,
                Piece::Slot(Slot::User) => digits(v.user),
                Piece::Slot(Slot::Thread) => digits(v.thread),
                Piece::Slot(Slot::Seq) => digits(v.seq),
                Piece::Slot(Slot::CSeq) => digits(v.cseq),
            })
            .sum()
    }

    /// Pads every render (without extra bytes) to the length of the longest possible one:
    /// `max` holds the largest value of each slot. Two more bytes keep the filler non-empty.
    pub fn set_fixed_len(&mut self, max: &Vals) {
        if self
            .pieces
            .iter()
            .any(|p| matches!(p, Piece::Slot(Slot::Pad)))
        {
            self.fixed_len = self.natural_len(max, 0) + 2;
        }
    }

    /// Renders into `out`; returns the length. `out` must be large enough (the caller uses
    /// 2 KiB buffers; templates are ~500 bytes plus an Authorization line of < 600).
    pub fn render(&self, v: &Vals, extra: &[u8], out: &mut [u8]) -> usize {
        let mut n = 0;
        let mut digits = [0u8; 20];
        let pad = if self.fixed_len > 0 && extra.is_empty() {
            self.fixed_len.saturating_sub(self.natural_len(v, 0))
        } else {
            0
        };
        for p in &self.pieces {
            let src: &[u8] = match *p {
                Piece::Lit(off, len) => &self.text[off as usize..(off + len) as usize],
                Piece::Slot(Slot::Extra) => extra,
                Piece::Slot(Slot::Pad) => {
                    if pad > 0 {
                        out[n] = b'/';
                        out[n + 1..n + pad].fill(b'1');
                        n += pad;
                    }
                    continue;
                }
                Piece::Slot(s) => {
                    let val = match s {
                        Slot::User => v.user,
                        Slot::Thread => v.thread,
                        Slot::Seq => v.seq,
                        _ => v.cseq,
                    };
                    let k = fmt_u64(val, &mut digits);
                    &digits[..k]
                }
            };
            out[n..n + src.len()].copy_from_slice(src);
            n += src.len();
        }
        n
    }
}

/// Status code of a response (`SIP/2.0 200 OK`), or None for a request/garbage.
pub fn status_code(msg: &[u8]) -> Option<u16> {
    if msg.len() < 12 || &msg[..8] != b"SIP/2.0 " {
        return None;
    }
    let d = &msg[8..11];
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((d[0] - b'0') as u16 * 100 + (d[1] - b'0') as u16 * 10 + (d[2] - b'0') as u16)
}

fn parse_digits(s: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut n = 0;
    for &b in s {
        if !b.is_ascii_digit() || n == 19 {
            break;
        }
        v = v * 10 + (b - b'0') as u64;
        n += 1;
    }
    (n > 0).then_some((v, n))
}

static BRANCH_FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(BRANCH_PREFIX));

/// Finds `z9hG4bK-<thread>-<seq>` in the (first) Via branch; returns (thread, seq).
pub fn branch_id(msg: &[u8]) -> Option<(u64, u64)> {
    let at = BRANCH_FINDER.find(msg)? + BRANCH_PREFIX.len();
    let (thread, n) = parse_digits(&msg[at..])?;
    let rest = &msg[at + n..];
    if rest.first() != Some(&b'-') {
        return None;
    }
    let (seq, _) = parse_digits(&rest[1..])?;
    Some((thread, seq))
}

/// End of the header section (index just past the blank line), if complete.
pub fn header_end(msg: &[u8]) -> Option<usize> {
    memmem::find(msg, b"\r\n\r\n").map(|i| i + 4)
}

/// Iterates header lines (name, value) of a message, skipping the start line. Stops at the
/// blank line. Folded lines are not supported (nobody sends them to a load generator).
pub fn headers(msg: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let end = header_end(msg).unwrap_or(msg.len());
    let head = &msg[..end];
    head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line[..colon].trim_ascii();
        Some((name, line[colon + 1..].trim_ascii()))
    })
}

/// Compact and long header names that mean the same header.
pub fn name_is(name: &[u8], long: &[u8], compact: Option<u8>) -> bool {
    name.eq_ignore_ascii_case(long)
        || (name.len() == 1 && compact.is_some_and(|c| name[0].eq_ignore_ascii_case(&c)))
}

/// Content-Length value (0 when absent).
pub fn content_length(msg: &[u8]) -> usize {
    for (n, v) in headers(msg) {
        if name_is(n, b"Content-Length", Some(b'l')) {
            return parse_digits(v).map(|(v, _)| v as usize).unwrap_or(0);
        }
    }
    0
}

/// For stream transports: the length of the first complete message in `buf`, if any.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    // Skip keep-alive CRLFs.
    let end = header_end(buf)?;
    let total = end + content_length(&buf[..end]);
    (buf.len() >= total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_patches_digits() {
        let t = Template::parse(
            "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bK-{thread}-{seq}\r\nFrom: <sip:user{user}@d>\r\nCSeq: {cseq} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n",
        );
        let mut out = [0u8; 512];
        let v = Vals {
            user: 42,
            thread: 3,
            seq: 1234567,
            cseq: 0,
        };
        let n = t.render(&v, b"X: y\r\n", &mut out);
        let s = std::str::from_utf8(&out[..n]).unwrap();
        assert_eq!(
            s,
            "REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bK-3-1234567\r\nFrom: <sip:user42@d>\r\nCSeq: 0 REGISTER\r\nX: y\r\nContent-Length: 0\r\n\r\n"
        );
        // Re-render with other values: digits of other widths.
        let v2 = Vals {
            user: 7,
            thread: 12,
            seq: 9,
            cseq: 18446744073709551615,
        };
        let n2 = t.render(&v2, b"", &mut out);
        let s2 = std::str::from_utf8(&out[..n2]).unwrap();
        assert!(s2.contains("branch=z9hG4bK-12-9\r\n"));
        assert!(s2.contains("<sip:user7@d>"));
        assert!(s2.contains("CSeq: 18446744073709551615 REGISTER"));
        assert!(!s2.contains("X: y"));
    }

    #[test]
    fn pads_to_fixed_length() {
        let mut t = Template::parse(
            "R {user} z9hG4bK-{thread}-{seq}\r\nCSeq: {cseq} R\r\nUser-Agent: lg{pad}\r\n{extra}\r\n",
        );
        t.set_fixed_len(&Vals {
            user: 99_999,
            thread: 0,
            seq: u64::MAX,
            cseq: u32::MAX as u64,
        });
        let mut out = [0u8; 256];
        let a = t.render(
            &Vals {
                user: 1,
                thread: 0,
                seq: 5,
                cseq: 1,
            },
            b"",
            &mut out,
        );
        let sa = String::from_utf8(out[..a].to_vec()).unwrap();
        let b = t.render(
            &Vals {
                user: 99_999,
                thread: 0,
                seq: 123_456_789,
                cseq: 77,
            },
            b"",
            &mut out,
        );
        assert_eq!(a, b);
        assert!(sa.contains("User-Agent: lg/1"), "{sa}");
        // With spliced bytes there is no padding.
        let c = t.render(
            &Vals {
                user: 1,
                thread: 0,
                seq: 5,
                cseq: 1,
            },
            b"X: 1\r\n",
            &mut out,
        );
        assert!(
            String::from_utf8(out[..c].to_vec())
                .unwrap()
                .contains("User-Agent: lg\r\nX: 1\r\n")
        );
    }

    #[test]
    fn matches_branch_in_response() {
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5;rport=5;branch=z9hG4bK-3-99;received=1.2.3.4\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(status_code(resp), Some(200));
        assert_eq!(branch_id(resp), Some((3, 99)));
        assert_eq!(
            branch_id(b"SIP/2.0 200 OK\r\nVia: x;branch=z9hG4bK776\r\n"),
            None
        );
        assert_eq!(
            branch_id(b"SIP/2.0 200 OK\r\nVia: x;branch=z9hG4bK-1-\r\n"),
            None
        );
        assert_eq!(status_code(b"REGISTER sip:x SIP/2.0\r\n"), None);
    }

    #[test]
    fn frames_stream_messages() {
        let two = b"SIP/2.0 200 OK\r\nl: 3\r\n\r\nabcSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        let n = frame_len(two).unwrap();
        assert_eq!(n, 27);
        assert_eq!(frame_len(&two[n..]), Some(two.len() - n));
        assert_eq!(frame_len(&two[..10]), None);
        assert_eq!(frame_len(&two[..22]), None);
    }
}
