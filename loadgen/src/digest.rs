//! HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 7616, RFC 8760): the MD5 and
//! SHA-256 `response` computation with `qop=auth`, challenge parsing and credential
//! formatting, all without heap allocation.

use md5::Md5;
use sha2::Sha256;
use sha2::digest::Digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    pub fn parse(s: &[u8]) -> Option<Self> {
        if s.eq_ignore_ascii_case(b"MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case(b"SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }
}

/// Hex digest of the concatenation of `parts` (joined with ':'), written to `out`; returns the
/// number of hex characters.
pub fn hash_hex(alg: Algorithm, parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
    fn run<D: Digest>(parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
        let mut d = D::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(p);
        }
        let r = d.finalize();
        hex(&r, out)
    }
    match alg {
        Algorithm::Md5 => run::<Md5>(parts, out),
        Algorithm::Sha256 => run::<Sha256>(parts, out),
    }
}

fn hex(bytes: &[u8], out: &mut [u8; 64]) -> usize {
    const H: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = H[(b >> 4) as usize];
        out[2 * i + 1] = H[(b & 15) as usize];
    }
    bytes.len() * 2
}

/// Inputs of a `qop=auth` digest response.
pub struct DigestInput<'a> {
    pub alg: Algorithm,
    pub username: &'a [u8],
    pub realm: &'a [u8],
    pub password: &'a [u8],
    pub method: &'a [u8],
    pub uri: &'a [u8],
    pub nonce: &'a [u8],
    pub nc: &'a [u8],
    pub cnonce: &'a [u8],
    pub qop: &'a [u8],
}

/// The `response` value: H(H(A1):nonce:nc:cnonce:qop:H(A2)) with A1 = user:realm:password and
/// A2 = method:uri (RFC 7616 §3.4.1).
pub fn response(i: &DigestInput<'_>, out: &mut [u8; 64]) -> usize {
    let mut ha1 = [0u8; 64];
    let n1 = hash_hex(i.alg, &[i.username, i.realm, i.password], &mut ha1);
    let mut ha2 = [0u8; 64];
    let n2 = hash_hex(i.alg, &[i.method, i.uri], &mut ha2);
    hash_hex(
        i.alg,
        &[&ha1[..n1], i.nonce, i.nc, i.cnonce, i.qop, &ha2[..n2]],
        out,
    )
}

/// Looks up `name=value` or `name="value"` in a comma-separated digest parameter list.
pub fn param<'a>(list: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut rest = list;
    loop {
        while let [b' ' | b'\t' | b',', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return None;
        }
        let eq = rest.iter().position(|&b| b == b'=')?;
        let key = trim(&rest[..eq]);
        rest = &rest[eq + 1..];
        while let [b' ' | b'\t', tail @ ..] = rest {
            rest = tail;
        }
        let value;
        if let [b'"', tail @ ..] = rest {
            let end = tail.iter().position(|&b| b == b'"')?;
            value = &tail[..end];
            rest = &tail[end + 1..];
        } else {
            let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
            value = trim(&rest[..end]);
            rest = &rest[end..];
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', t @ ..] = s {
        s = t;
    }
    while let [t @ .., b' ' | b'\t'] = s {
        s = t;
    }
    s
}

/// A parsed `WWW-Authenticate: Digest ...` challenge (borrowed from the response).
#[derive(Debug)]
pub struct Challenge<'a> {
    pub realm: &'a [u8],
    pub nonce: &'a [u8],
    pub opaque: Option<&'a [u8]>,
    pub alg: Algorithm,
}

/// Parses the value of a WWW-Authenticate header (after the colon).
pub fn parse_challenge(value: &[u8]) -> Option<Challenge<'_>> {
    let v = trim(value);
    if v.len() < 7 || !v[..6].eq_ignore_ascii_case(b"Digest") {
        return None;
    }
    let list = &v[6..];
    let alg = match param(list, b"algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(a)?,
    };
    Some(Challenge {
        realm: param(list, b"realm")?,
        nonce: param(list, b"nonce")?,
        opaque: param(list, b"opaque"),
        alg,
    })
}

/// Small append-only writer over a fixed buffer (no allocation).
pub struct Writer<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Appends `s`; silently truncates when the buffer is full (the caller sizes it).
    pub fn put(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    pub fn put_u64(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        let n = crate::template::fmt_u64(v, &mut tmp);
        self.put(&tmp[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
    fn rfc_input(alg: Algorithm) -> DigestInput<'static> {
        DigestInput {
            alg,
            username: b"Mufasa",
            realm: b"http-auth@example.org",
            password: b"Circle of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            nonce: b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            nc: b"00000001",
            cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            qop: b"auth",
        }
    }

    #[test]
    fn rfc7616_md5_vector() {
        let mut out = [0u8; 64];
        let n = response(&rfc_input(Algorithm::Md5), &mut out);
        assert_eq!(&out[..n], b"8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let mut out = [0u8; 64];
        let n = response(&rfc_input(Algorithm::Sha256), &mut out);
        assert_eq!(
            &out[..n],
            b"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn parses_challenge() {
        let c = parse_challenge(
            b" Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        assert_eq!(c.realm, b"http-auth@example.org");
        assert_eq!(c.alg, Algorithm::Sha256);
        assert_eq!(c.nonce, b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
        assert_eq!(
            c.opaque.unwrap(),
            b"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
        );
        let md5 = parse_challenge(b"Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert_eq!(md5.alg, Algorithm::Md5);
        assert!(parse_challenge(b"Basic realm=\"r\"").is_none());
    }
}
