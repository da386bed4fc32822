//! Byte classes from the RFC 3261 §25.1 grammar, and small scanning helpers shared by the
//! header and URI parsers.
//!
//! Everything here works on borrowed `&[u8]` and never allocates. Each class is a 256-entry
//! table so that a membership test is one load.

/// Builds a 256-entry membership table from a list of byte ranges and single bytes.
const fn table(ranges: &[(u8, u8)], singles: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < ranges.len() {
        let (lo, hi) = ranges[i];
        let mut c = lo as usize;
        while c <= hi as usize {
            t[c] = true;
            c += 1;
        }
        i += 1;
    }
    let mut j = 0;
    while j < singles.len() {
        t[singles[j] as usize] = true;
        j += 1;
    }
    t
}

const ALNUM: [(u8, u8); 3] = [(b'a', b'z'), (b'A', b'Z'), (b'0', b'9')];

/// `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )`
static TOKEN: [bool; 256] = table(&ALNUM, b"-.!%*_+`'~");

/// `word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" /
/// "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )` (Call-ID)
static WORD: [bool; 256] = table(&ALNUM, b"-.!%*_+`'~()<>:\\\"/[]?{}");

/// `unreserved = alphanum / mark`, `mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"`
static UNRESERVED: [bool; 256] = table(&ALNUM, b"-_.!~*'()");

/// `user = 1*( unreserved / escaped / user-unreserved )`,
/// `user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"` (escapes checked apart).
static USER: [bool; 256] = table(&ALNUM, b"-_.!~*'()&=+$,;?/%");

/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`
static PASSWORD: [bool; 256] = table(&ALNUM, b"-_.!~*'()&=+$,%");

/// `paramchar = param-unreserved / unreserved / escaped`,
/// `param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"`
static PARAMCHAR: [bool; 256] = table(&ALNUM, b"-_.!~*'()[]/:&+$%");

/// `hnv-unreserved / unreserved / escaped`, `hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" /
/// "$"` (URI header names and values).
static HNV: [bool; 256] = table(&ALNUM, b"-_.!~*'()[]/?:+$%");

/// `uric = reserved / unreserved / escaped` (absoluteURI of RFC 2396, used for non-SIP URIs).
static URIC: [bool; 256] = table(&ALNUM, b"-_.!~*'();/?:@&=+$,%");

/// `reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","`
static RESERVED: [bool; 256] = table(&[], b";/?:@&=+$,");

/// Bytes a Request-URI may hold on the request line: visible ASCII other than `<`, `>` and
/// DQUOTE (white space ends it; controls and non-ASCII are never allowed).
static REQUEST_URI: [bool; 256] = table(&[(0x23, 0x3b), (0x3f, 0x7e)], b"!=");

/// `gen-value` bytes outside a quoted string: token characters plus the `[`, `]` and `:` of a
/// host (IPv6 references included).
static GEN_VALUE: [bool; 256] = table(&ALNUM, b"-.!%*_+`'~[]:");

/// Bytes of a `sent-by` written without LWS: host name characters plus `:`, `[` and `]`
/// (an IPv6 reference and the port).
static SENT_BY: [bool; 256] = table(&ALNUM, b"-.:[]");

/// Host name characters: `alphanum / "-" / "."` (IPv6 references are handled apart).
static HOSTNAME: [bool; 256] = table(&ALNUM, b"-.");

#[inline]
pub fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

#[inline]
pub fn is_word(b: u8) -> bool {
    WORD[b as usize]
}

#[inline]
pub fn is_unreserved(b: u8) -> bool {
    UNRESERVED[b as usize]
}

#[inline]
pub fn is_user(b: u8) -> bool {
    USER[b as usize]
}

#[inline]
pub fn is_password(b: u8) -> bool {
    PASSWORD[b as usize]
}

#[inline]
pub fn is_paramchar(b: u8) -> bool {
    PARAMCHAR[b as usize]
}

#[inline]
pub fn is_hnv(b: u8) -> bool {
    HNV[b as usize]
}

#[inline]
pub fn is_uric(b: u8) -> bool {
    URIC[b as usize]
}

#[inline]
pub fn is_reserved(b: u8) -> bool {
    RESERVED[b as usize]
}

/// See [`GEN_VALUE`].
#[inline]
pub fn is_gen_value(b: u8) -> bool {
    GEN_VALUE[b as usize]
}

/// See [`SENT_BY`].
#[inline]
pub fn is_sent_by(b: u8) -> bool {
    SENT_BY[b as usize]
}

#[inline]
pub fn is_hostname(b: u8) -> bool {
    HOSTNAME[b as usize]
}

/// Bytes allowed in a Request-URI on the request-line fast path (see the `REQUEST_URI` table).
#[inline]
pub fn is_request_uri(b: u8) -> bool {
    REQUEST_URI[b as usize]
}

/// `WSP = SP / HTAB`
#[inline]
pub fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// True if every byte is a token character and there is at least one.
pub fn all_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

/// True if `s` is made of `class` bytes, with every `%` followed by two hex digits.
pub fn all_escaped(s: &[u8], class: fn(u8) -> bool) -> bool {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            if i + 2 >= s.len() || !(s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        if !class(b) {
            return false;
        }
        i += 1;
    }
    true
}

/// Skips linear white space at the start of `s`:
/// `LWS = [*WSP CRLF] 1*WSP` (a folded line counts as white space).
#[inline]
pub fn skip_lws(s: &[u8]) -> &[u8] {
    let mut i = 0;
    loop {
        while i < s.len() && is_wsp(s[i]) {
            i += 1;
        }
        // A fold: CRLF followed by at least one WSP.
        if i + 2 < s.len() && s[i] == b'\r' && s[i + 1] == b'\n' && is_wsp(s[i + 2]) {
            i += 2;
            continue;
        }
        // A bare-LF fold: only a message parsed with `allow_bare_lf` can hold one.
        if i + 1 < s.len() && s[i] == b'\n' && is_wsp(s[i + 1]) {
            i += 1;
            continue;
        }
        return &s[i..];
    }
}

/// Trims LWS from both ends.
#[inline]
pub fn trim_lws(s: &[u8]) -> &[u8] {
    let edge = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    match (s.first(), s.last()) {
        (None, _) => return s,
        (Some(&f), Some(&l)) if !edge(f) && !edge(l) => return s,
        _ => {}
    }
    let s = skip_lws(s);
    let mut end = s.len();
    while end > 0 && matches!(s[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    &s[..end]
}

/// Index of the first byte equal to one of `needles` (1 to 3 bytes), eight bytes at a time
/// (SWAR "has a zero byte" on `w ^ needle`, exact for the first hit). Header values are short,
/// so this beats `memchr`, whose set-up costs more than the scan itself at these sizes.
#[inline]
pub fn find_any(s: &[u8], needles: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    debug_assert!((1..=3).contains(&needles.len()));
    let n0 = ONES * u64::from(needles[0]);
    let n1 = ONES * u64::from(needles[needles.len().min(2) - 1]);
    let n2 = ONES * u64::from(needles[needles.len() - 1]);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let hits = zero(w ^ n0) | zero(w ^ n1) | zero(w ^ n2);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| needles.contains(b))
        .map(|p| at + p)
}

/// Index of the first `stop` byte outside quoted strings and `<...>` (the length of `s` if
/// there is none). Quoted strings honour `\` escapes. Returns `None` on an unterminated quote.
/// Jumps between interesting bytes with `memchr` rather than walking every byte.
pub fn find_outside_quotes(s: &[u8], stop: u8) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = find_any(&s[i..], &[stop, b'"', b'<']) {
        let at = i + off;
        match s[at] {
            b if b == stop => return Some(at),
            b'"' => i = at + quoted_string_end(&s[at..])?,
            // b'<': skip to the matching '>' (URIs never contain '>').
            _ => match find_any(&s[at..], b">") {
                Some(gt) => i = at + gt + 1,
                None => return Some(s.len()),
            },
        }
    }
    Some(s.len())
}

/// Length of the quoted string at the start of `s` (quotes included), honouring `\`
/// escapes; `None` if unterminated. The framing parser has already refused raw control bytes
/// (other than escaped ones and folds), so only the structure is checked here.
#[inline]
pub fn quoted_string_end(s: &[u8]) -> Option<usize> {
    debug_assert_eq!(s.first(), Some(&b'"'));
    let mut i = 1;
    loop {
        let off = find_any(s.get(i..)?, b"\"\\")?;
        let at = i + off;
        if s[at] == b'"' {
            return Some(at + 1);
        }
        // quoted-pair: the escaped byte may not be CR or LF.
        match s.get(at + 1) {
            Some(b'\r' | b'\n') | None => return None,
            Some(_) => i = at + 2,
        }
    }
}

/// Parses `1*DIGIT` as a `u64`, saturating at `u64::MAX`. `None` if empty or not all digits.
pub fn digits_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        v = v.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Some(v)
}

/// Parses `1*DIGIT` as a `u32`; `None` if empty, not all digits, or over `u32::MAX`.
pub fn digits_u32(s: &[u8]) -> Option<u32> {
    digits_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// Value of one hex digit.
#[inline]
pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Iterates over the bytes of `s` with `%XX` escapes decoded. A malformed escape is yielded
/// as the literal `%`.
pub fn unescaped(s: &[u8]) -> Unescaped<'_> {
    Unescaped { s, i: 0 }
}

/// See [`unescaped`]. Each item is `(byte, was_escaped)`.
pub struct Unescaped<'a> {
    s: &'a [u8],
    i: usize,
}

impl Iterator for Unescaped<'_> {
    type Item = (u8, bool);

    #[inline]
    fn next(&mut self) -> Option<(u8, bool)> {
        let b = *self.s.get(self.i)?;
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                self.s.get(self.i + 1).copied().and_then(hex_val),
                self.s.get(self.i + 2).copied().and_then(hex_val),
            ) {
                self.i += 3;
                return Some(((h << 4) | l, true));
            }
        }
        self.i += 1;
        Some((b, false))
    }
}

/// Compares a token (a parameter or header name, already validated) with a lower-case
/// candidate made of letters, digits, `-`, `+`, `.`: OR-ing 0x20 into both is exact for such
/// pairs (no other token byte maps onto one of those).
/// (Now a word-at-a-time [`eq_lower`], which gives the same answer for every token.)
#[inline(always)]
pub fn token_eq(token: &[u8], lower: &[u8]) -> bool {
    eq_lower(token, lower)
}

/// Exact ASCII case-insensitive comparison of any bytes `s` with a candidate `lower` made of
/// lower-case letters, digits, `-`, `+` and `.`, a word at a time. OR-ing 0x20 into `s` only
/// where the candidate has a letter (bit 0x40, which no digit or sign has) is exact: the only
/// bytes that become a lower-case letter under `| 0x20` are that letter and its upper case.
/// Unlike [`token_eq`], `s` need not be validated first: a match proves `s` is a token.
#[inline(always)]
pub fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    const M64: u64 = 0x4040_4040_4040_4040;
    let n = lower.len();
    if s.len() != n {
        return false;
    }
    if n >= 8 {
        let eq = |at: usize| {
            let c = load_u64(lower, at);
            load_u64(s, at) | ((c & M64) >> 1) == c
        };
        let mut at = 0;
        while at + 8 < n {
            if !eq(at) {
                return false;
            }
            at += 8;
        }
        eq(n - 8)
    } else if n >= 4 {
        let eq = |at: usize| {
            let c = load_u32(lower, at);
            load_u32(s, at) | ((c & 0x4040_4040) >> 1) == c
        };
        eq(0) && eq(n - 4)
    } else {
        s.iter()
            .zip(lower)
            .all(|(&x, &c)| x | ((c & 0x40) >> 1) == c)
    }
}

/// The eight bytes of `s` at `at`, little-endian (`at + 8 <= s.len()`).
#[inline(always)]
pub fn load_u64(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The four bytes of `s` at `at`, little-endian (`at + 4 <= s.len()`).
#[inline(always)]
pub fn load_u32(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Case-insensitive ASCII comparison.
#[inline]
pub fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Splits `s` at the first `sep` outside quotes and angle brackets:
/// `(before, after-the-separator)`.
pub fn split_once_outside(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match find_outside_quotes(s, sep) {
        Some(i) if i < s.len() => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_any_finds_the_first_needle() {
        let s = b"abcdefgh;ijklmnop\"qrstuvwxyz<";
        assert_eq!(find_any(s, b";"), Some(8));
        assert_eq!(find_any(s, b"<\""), Some(17));
        assert_eq!(find_any(s, b"<"), Some(28));
        assert_eq!(find_any(s, b"#"), None);
        assert_eq!(find_any(b"", b";"), None);
        // High bytes and borrows across lanes do not produce false hits.
        assert_eq!(find_any(b"\xff\x80\x01\x00\xfe;", b";"), Some(5));
        for n in 0..40 {
            let mut v = vec![b'x'; n];
            v.push(b',');
            assert_eq!(find_any(&v, b",\""), Some(n));
        }
    }

    #[test]
    fn token_eq_folds_case_only() {
        assert!(token_eq(b"Expires", b"expires"));
        assert!(token_eq(b"+SIP.Instance", b"+sip.instance"));
        assert!(token_eq(b"REG-ID", b"reg-id"));
        assert!(!token_eq(b"expire", b"expires"));
        assert!(!token_eq(b"regxid", b"reg-id"));
        // Every token byte that is not a letter keeps its identity under | 0x20.
        for b in 0u8..=255 {
            if is_token(b) && !b.is_ascii_alphabetic() {
                for c in b"-+.0123456789" {
                    assert_eq!(b | 0x20 == *c | 0x20, b == *c, "{b:#x} vs {c}");
                }
            }
        }
    }

    #[test]
    fn eq_lower_is_exact_for_any_input() {
        for cand in [
            &b"a"[..],
            b"to",
            b"via",
            b"from",
            b"reg-id",
            b"call-id",
            b"expires",
            b"username",
            b"+sip.instance",
            b"authorization",
            b"proxy-authorization",
        ] {
            let upper = cand.to_ascii_uppercase();
            assert!(eq_lower(cand, cand));
            assert!(eq_lower(&upper, cand));
            assert!(!eq_lower(&cand[1..], cand));
            // Change one byte at a time to every other value: never a match unless the byte
            // is the candidate's own letter in the other case.
            for i in 0..cand.len() {
                for b in 0u8..=255 {
                    let mut s = cand.to_vec();
                    s[i] = b;
                    let expect = b.eq_ignore_ascii_case(&cand[i]);
                    assert_eq!(eq_lower(&s, cand), expect, "{cand:?} [{i}] = {b:#x}");
                }
            }
        }
    }

    #[test]
    fn lws_includes_folds() {
        assert_eq!(skip_lws(b" \t\r\n  x"), b"x");
        assert_eq!(skip_lws(b"\r\nx"), b"\r\nx", "CRLF without WSP is not LWS");
        assert_eq!(trim_lws(b"  a b \r\n "), b"a b");
    }

    #[test]
    fn escapes_must_have_two_hex_digits() {
        assert!(all_escaped(b"a%41b", is_user));
        assert!(!all_escaped(b"a%4", is_user));
        assert!(!all_escaped(b"a%", is_user));
        assert!(!all_escaped(b"a%zz", is_user));
        assert!(!all_escaped(b"a b", is_user));
    }

    #[test]
    fn quotes_and_angles_hide_separators() {
        let s = b"\"a,b\" <sip:x,y>;p=1, next";
        let (first, rest) = split_once_outside(s, b',');
        assert_eq!(first, b"\"a,b\" <sip:x,y>;p=1");
        assert_eq!(rest, Some(&b" next"[..]));
        assert_eq!(find_outside_quotes(b"\"open", b','), None);
        assert_eq!(find_outside_quotes(b"\"a\\\"b\",c", b','), Some(6));
        assert_eq!(
            find_outside_quotes(b"<sip:a,b>;x=\"1,2\",c", b','),
            Some(17)
        );
    }

    #[test]
    fn digits_saturate_or_reject() {
        assert_eq!(digits_u64(b"0042"), Some(42));
        assert_eq!(digits_u64(b"99999999999999999999999"), Some(u64::MAX));
        assert_eq!(digits_u32(b"4294967296"), None);
        assert_eq!(digits_u32(b""), None);
        assert_eq!(digits_u32(b"1a"), None);
    }

    #[test]
    fn unescape_decodes_hex_pairs() {
        let v: Vec<(u8, bool)> = unescaped(b"%61b%2").collect();
        assert_eq!(
            v,
            vec![(b'a', true), (b'b', false), (b'%', false), (b'2', false)]
        );
    }
}
