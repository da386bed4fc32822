//! Which AoR a message is about, before it is handled: what a sharded shell needs to pick the
//! shard that owns the AoR. A REGISTER is about its To (RFC 3261 §10.3 step 5); any other
//! request is a lookup of its Request-URI. The key is the canonical AoR, so two spellings of
//! one AoR always go to the same owner.

use super::Config;
/// Header slots a caller's array needs for any message within the parser limits.
pub use super::pipeline::HEADER_SLOTS;
use super::pipeline::canonical_aor;
use crate::sip::header::{Hdr, parse_from_to};
use crate::sip::message::{self, Framing, Header, Method, StartLine, Status};
use crate::sip::uri::{Uri, UriLimits};

/// Writes the canonical AoR `msg` is about into `out` and returns true; false when there is
/// none (a response, a malformed message, a URI with no host). Such messages need no owner:
/// any shard can answer them (with an error, or not at all).
pub fn owner_aor(config: &Config, msg: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut headers = [Header::EMPTY; HEADER_SLOTS];
    let slots = config.parser.limits.max_headers.min(HEADER_SLOTS);
    let Ok(Status::Complete(m)) = message::parse(
        msg,
        &mut headers[..slots],
        Framing::Datagram,
        &config.parser,
    ) else {
        return false;
    };
    let StartLine::Request { method, uri } = m.start else {
        return false;
    };
    let limits = UriLimits {
        max_uri_bytes: config.parser.limits.max_request_uri_bytes,
    };
    if method == Method::Register {
        let Some(to) = m.header(Hdr::To) else {
            return false;
        };
        match parse_from_to(to.value, &limits) {
            Ok(na) => canonical_aor(&na.uri, config.user_case, out),
            Err(_) => false,
        }
    } else {
        match Uri::parse(uri, &limits) {
            Ok(u) => canonical_aor(&u, config.user_case, out),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aor(msg: &str) -> Option<String> {
        let mut out = Vec::new();
        owner_aor(&Config::default(), msg.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn register_is_about_its_to_and_other_requests_about_the_request_uri() {
        let reg = "REGISTER sip:Example.COM SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                   To: <sip:al%69ce@EXAMPLE.com;x=y>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c\r\n\
                   CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(aor(reg).as_deref(), Some("alice@example.com"));
        let inv = "INVITE sip:alice@Example.com:5060;transport=udp SIP/2.0\r\n\
                   Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:bob@x>\r\n\
                   From: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(aor(inv).as_deref(), Some("alice@example.com"));
        assert_eq!(aor("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"), None);
        assert_eq!(aor("garbage"), None);
    }
}
