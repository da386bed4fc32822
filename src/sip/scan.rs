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

/// Index of the first byte equal to one of `needles` (1 to 3 bytes). Sixteen bytes a step
/// with a [`Block`] (one SSE2 compare per needle on x86_64); slices shorter than that take
/// one or two overlapping words (SWAR), since a padded copy would cost more than the scan.
/// Header values are short, so this beats `memchr`, whose set-up costs more than the scan
/// itself at these sizes.
#[inline]
pub fn find_any(s: &[u8], needles: &[u8]) -> Option<usize> {
    debug_assert!((1..=3).contains(&needles.len()));
    let n0 = needles[0];
    let n1 = needles[needles.len().min(2) - 1];
    let n2 = needles[needles.len() - 1];
    if s.len() < Block::LEN {
        return find_any_short(s, [n0, n1, n2]);
    }
    let hits = |b: Block| b.eq(n0) | b.eq(n1) | b.eq(n2);
    let mut at = 0;
    while let Some(c) = s.get(at..).and_then(<[u8]>::first_chunk) {
        let m = hits(Block::load(c));
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize);
        }
        at += Block::LEN;
    }
    // The last 16 bytes, of which the first `at - last` were seen already.
    let last = s.len() - Block::LEN;
    let m = hits(Block::load(s[last..].first_chunk()?)) >> (at - last);
    (m != 0).then(|| at + m.trailing_zeros() as usize)
}

/// [`find_any`] for fewer than 16 bytes: two overlapping words of 8 (or 4) bytes, SWAR "has a
/// zero byte" on `w ^ needle`. The lowest flag is always a real hit (a borrow only flags bytes
/// above a real one), and the second word is only looked at when the first had none.
#[inline]
fn find_any_short(s: &[u8], [n0, n1, n2]: [u8; 3]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let hits = |w: u64| {
        zero(w ^ (ONES * u64::from(n0)))
            | zero(w ^ (ONES * u64::from(n1)))
            | zero(w ^ (ONES * u64::from(n2)))
    };
    // Four-byte words widened to u64: the high half is zero, so it must not be tested.
    let hits32 = |w: u32| hits(u64::from(w)) & 0x8080_8080;
    let n = s.len();
    let (first, second) = if n >= 8 {
        (hits(load_u64(s, 0)), (n - 8, hits(load_u64(s, n - 8))))
    } else if n >= 4 {
        (hits32(load_u32(s, 0)), (n - 4, hits32(load_u32(s, n - 4))))
    } else {
        return s.iter().position(|&b| b == n0 || b == n1 || b == n2);
    };
    if first != 0 {
        return Some((first.trailing_zeros() / 8) as usize);
    }
    let (at, m) = second;
    (m != 0).then(|| at + (m.trailing_zeros() / 8) as usize)
}

/// Index of the first control byte (below 0x20, or DEL 0x7f) in `s` at or after `at`
/// (`at <= s.len()`), or `s.len()` if there is none. Bytes at or above 0x80 (UTF-8) are not
/// control bytes. Sixteen bytes a step.
#[inline]
pub fn first_control(s: &[u8], mut at: usize) -> usize {
    let mut chunks = s[at..].chunks_exact(Block::LEN);
    for c in &mut chunks {
        let m = Block::load(c.try_into().expect("16 bytes")).controls();
        if m != 0 {
            return at + m.trailing_zeros() as usize;
        }
        at += Block::LEN;
    }
    // Under 16 bytes left: the last 16 bytes of `s`, less those already seen (or, for a
    // slice shorter than a block, a padded copy).
    let left = chunks.remainder().len();
    let m = match s.last_chunk() {
        Some(c) => Block::load(c).controls() >> (Block::LEN - left),
        None => Block::tail(s, at).controls(),
    };
    (at + m.trailing_zeros() as usize).min(s.len())
}

/// Sixteen bytes examined together: each class test gives a bit mask, bit `i` for byte `i`
/// (bits 16 and up clear). On x86_64 this is one SSE2 register (SSE2 is part of the x86_64
/// baseline: no run-time detection); elsewhere a plain array tested byte by byte.
#[derive(Clone, Copy)]
pub struct Block(imp::Lanes);

#[cfg(target_arch = "x86_64")]
use sse2 as imp;

#[cfg(not(target_arch = "x86_64"))]
use portable as imp;

impl Block {
    /// Bytes in a block.
    pub const LEN: usize = 16;

    /// Sixteen bytes.
    #[inline(always)]
    pub fn load(c: &[u8; 16]) -> Block {
        Block(imp::load(c))
    }

    /// The 16 bytes of `s` from `at` (`at <= s.len()`), reading NUL past the end of `s`.
    #[inline(always)]
    pub fn at(s: &[u8], at: usize) -> Block {
        match s.get(at..at.wrapping_add(Block::LEN)) {
            Some(c) => Block::load(c.try_into().expect("16 bytes")),
            None => Block::tail(s, at),
        }
    }

    /// [`Block::at`] where fewer than 16 bytes are left: the last 16 bytes of `s` shifted
    /// down by the ones already behind `at` (zeros come in at the top), or, for a slice
    /// shorter than a block, a zero-padded copy.
    #[cold]
    #[inline(never)]
    pub fn tail(s: &[u8], at: usize) -> Block {
        let rest = &s[at..];
        let mut w = [0u8; 16];
        match s.len().checked_sub(Block::LEN) {
            Some(last) => {
                w.copy_from_slice(&s[last..]);
                let skip = (at - last) as u32 * 8;
                w = u128::from_le_bytes(w)
                    .checked_shr(skip)
                    .unwrap_or(0)
                    .to_le_bytes();
            }
            None => w[..rest.len()].copy_from_slice(rest),
        }
        Block(imp::load(&w))
    }

    /// Bit `i` set where byte `i` is `b`.
    #[inline(always)]
    pub fn eq(self, b: u8) -> u32 {
        imp::eq(self.0, b)
    }

    /// Bit `i` set where byte `i` is a control byte: below 0x20 or DEL (0x7f).
    #[inline(always)]
    pub fn controls(self) -> u32 {
        imp::controls(self.0)
    }

    /// Bit `i` set where byte `i` is outside `lo..=hi` (unsigned).
    #[inline(always)]
    pub fn outside(self, lo: u8, hi: u8) -> u32 {
        imp::outside(self.0, lo, hi)
    }

    /// Bit `i` set where byte `i` of `self` equals byte `i` of `other`.
    #[inline(always)]
    pub fn eq_bytes(self, other: Block) -> u32 {
        imp::eq_bytes(self.0, other.0)
    }

    /// Byte-wise OR.
    #[inline(always)]
    pub fn or(self, other: Block) -> Block {
        Block(imp::or(self.0, other.0))
    }

    /// The first four bytes, little-endian (one register move, no memory read).
    #[inline(always)]
    pub fn low_u32(self) -> u32 {
        imp::low_u32(self.0)
    }
}

/// The SSE2 lanes of a [`Block`].
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_cvtsi128_si32, _mm_loadu_si128,
        _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_xor_si128,
    };

    pub type Lanes = __m128i;

    #[inline(always)]
    pub fn load(c: &[u8; 16]) -> Lanes {
        // SAFETY: `c` is 16 readable bytes and `loadu` has no alignment requirement; SSE2 is
        // part of the x86_64 baseline, so the instruction is always there.
        unsafe { _mm_loadu_si128(c.as_ptr().cast()) }
    }

    #[inline(always)]
    pub fn eq(v: Lanes, b: u8) -> u32 {
        // SAFETY: register-only SSE2 instructions, part of the x86_64 baseline.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u32 }
    }

    #[inline(always)]
    pub fn controls(v: Lanes) -> u32 {
        // The control bytes 0x00..=0x1f and 0x7f are one run under `^ 0x3f` (0x20..=0x40),
        // and `+ 0x60` moves that run to the bottom of the signed range (-128..=-96), where a
        // single signed compare picks it out; no other byte lands there.
        // SAFETY: register-only SSE2 instructions, part of the x86_64 baseline.
        unsafe {
            let t = _mm_add_epi8(_mm_xor_si128(v, _mm_set1_epi8(0x3f)), _mm_set1_epi8(0x60));
            _mm_movemask_epi8(_mm_cmplt_epi8(t, _mm_set1_epi8(-95))) as u32
        }
    }

    #[inline(always)]
    pub fn outside(v: Lanes, lo: u8, hi: u8) -> u32 {
        // SAFETY: register-only SSE2 instructions, part of the x86_64 baseline.
        let inside = unsafe {
            let clamped = _mm_max_epu8(
                _mm_min_epu8(v, _mm_set1_epi8(hi as i8)),
                _mm_set1_epi8(lo as i8),
            );
            _mm_movemask_epi8(_mm_cmpeq_epi8(clamped, v)) as u32
        };
        !inside & 0xffff
    }

    #[inline(always)]
    pub fn eq_bytes(a: Lanes, b: Lanes) -> u32 {
        // SAFETY: register-only SSE2 instructions, part of the x86_64 baseline.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) as u32 }
    }

    #[inline(always)]
    pub fn or(a: Lanes, b: Lanes) -> Lanes {
        // SAFETY: a register-only SSE2 instruction, part of the x86_64 baseline.
        unsafe { _mm_or_si128(a, b) }
    }

    #[inline(always)]
    pub fn low_u32(v: Lanes) -> u32 {
        // SAFETY: a register-only SSE2 instruction, part of the x86_64 baseline.
        unsafe { _mm_cvtsi128_si32(v) as u32 }
    }
}

/// The portable lanes of a [`Block`] (also built for tests on x86_64, which compare the two).
#[cfg(any(test, not(target_arch = "x86_64")))]
mod portable {
    pub type Lanes = [u8; 16];

    #[inline(always)]
    pub fn load(c: &[u8; 16]) -> Lanes {
        *c
    }

    #[inline(always)]
    fn mask(v: Lanes, f: impl Fn(u8) -> bool) -> u32 {
        v.iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | u32::from(f(b)) << i)
    }

    #[inline(always)]
    pub fn eq(v: Lanes, b: u8) -> u32 {
        mask(v, |x| x == b)
    }

    #[inline(always)]
    pub fn controls(v: Lanes) -> u32 {
        mask(v, |x| x < 0x20 || x == 0x7f)
    }

    #[inline(always)]
    pub fn outside(v: Lanes, lo: u8, hi: u8) -> u32 {
        mask(v, |x| !(lo..=hi).contains(&x))
    }

    #[inline(always)]
    pub fn eq_bytes(a: Lanes, b: Lanes) -> u32 {
        (0..16).fold(0, |m, i| m | u32::from(a[i] == b[i]) << i)
    }

    #[inline(always)]
    pub fn or(a: Lanes, b: Lanes) -> Lanes {
        std::array::from_fn(|i| a[i] | b[i])
    }

    #[inline(always)]
    pub fn low_u32(v: Lanes) -> u32 {
        u32::from_le_bytes([v[0], v[1], v[2], v[3]])
    }
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

    /// Bytes that exercise every class edge: controls, DEL, the needles, high bytes.
    const EDGES: &[u8] = b"\x00\x01\t\n\r\x1f !\"#,:;<=>?@\\azAZ~\x7f\x80\x9f\xa0\xbf\xc0\xfe\xff";

    #[test]
    fn find_any_matches_a_naive_search() {
        for needles in [&b":"[..], b";?", b",\"", b";?>", b"\x00\x7f\xff"] {
            for n in 0..40 {
                for at in 0..=n {
                    for &b in EDGES {
                        // Filler that is no needle, the probe byte at `at` (when inside).
                        let mut v = vec![b'x'; n];
                        if at < n {
                            v[at] = b;
                        }
                        // A later needle too: only the first may count.
                        if at + 1 < n {
                            v[n - 1] = needles[0];
                        }
                        let want = v.iter().position(|c| needles.contains(c));
                        assert_eq!(find_any(&v, needles), want, "{needles:?} in {v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn first_control_matches_a_naive_search() {
        let is_control = |b: &u8| *b < 0x20 || *b == 0x7f;
        for n in 0..40 {
            for at in 0..=n {
                for &b in EDGES {
                    let mut v: Vec<u8> = (0..n).map(|i| b"a \x80~"[i % 4]).collect();
                    if at < n {
                        v[at] = b;
                    }
                    for from in 0..=n {
                        let want = v[from..]
                            .iter()
                            .position(is_control)
                            .map_or(n, |p| from + p);
                        assert_eq!(first_control(&v, from), want, "{v:?} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn blocks_read_nul_past_the_end() {
        for n in 0..40 {
            let v: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            for at in 0..=n {
                let b = Block::at(&v, at);
                let mut want = [0u8; 16];
                let have = (n - at).min(16);
                want[..have].copy_from_slice(&v[at..at + have]);
                for (i, &w) in want.iter().enumerate() {
                    assert_eq!(b.eq(w) >> i & 1, 1, "{n} {at} byte {i}");
                }
                assert_eq!(b.controls(), (0xffff << have) & 0xffff, "{n} {at}");
            }
        }
    }

    /// The SSE2 lanes give the same masks as the portable ones, for every byte value in
    /// every lane.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_and_portable_blocks_agree() {
        for shift in 0..16usize {
            for base in (0..=255u8).step_by(16) {
                let c: [u8; 16] =
                    std::array::from_fn(|i| base.wrapping_add(((i + shift) % 16) as u8));
                let (s, p) = (sse2::load(&c), portable::load(&c));
                assert_eq!(sse2::controls(s), portable::controls(p), "{c:?}");
                for (lo, hi) in [(0x21, 0x7e), (0, 0xff), (0x80, 0x80), (b'a', b'z')] {
                    assert_eq!(sse2::outside(s, lo, hi), portable::outside(p, lo, hi));
                }
                for &b in EDGES {
                    assert_eq!(sse2::eq(s, b), portable::eq(p, b), "{c:?} {b}");
                }
                let d: [u8; 16] = std::array::from_fn(|i| c[(i * 7) % 16] ^ (i as u8 & 0x21));
                let (ds, dp) = (sse2::load(&d), portable::load(&d));
                assert_eq!(sse2::eq_bytes(s, ds), portable::eq_bytes(p, dp));
                assert_eq!(sse2::low_u32(s), portable::low_u32(p));
                let or = sse2::or(s, ds);
                assert_eq!(sse2::eq_bytes(or, sse2::load(&portable::or(p, dp))), 0xffff);
            }
        }
        // Every mask bit is the bit of its own lane.
        for i in 0..16 {
            let mut c = [b'a'; 16];
            c[i] = 0x7f;
            assert_eq!(sse2::controls(sse2::load(&c)), 1 << i);
            assert_eq!(portable::controls(portable::load(&c)), 1 << i);
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
