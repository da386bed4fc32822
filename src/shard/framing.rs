//! Framing of a SIP byte stream (RFC 3261 §18.3), shared by both shard backends: where the
//! next message ends, or what else the stream holds.

use crate::registrar::route::HEADER_SLOTS;
use crate::sip::message::{self, Framing, Header, ParserConfig, Status};

/// What the front of a stream buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// An RFC 5626 §3.5.1 CRLFCRLF keep-alive ping (4 bytes): answer with a CRLF pong.
    Ping,
    /// A complete message of this many bytes (leading CRLFs included).
    Message(usize),
    /// Nothing complete yet: read more.
    Partial,
    /// More than `max_message_bytes` without a complete message: answer 513, close.
    TooLarge,
    /// Bytes that cannot start a message: answer 400 if possible, close (the stream cannot
    /// be resynchronised).
    Garbage,
}

pub fn next_frame(buf: &[u8], parser: &ParserConfig) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Ping;
    }
    // Empty, or the start of a ping / lone CRLFs between messages (RFC 3261 §7.5).
    if buf.is_empty() || matches!(buf, b"\r" | b"\r\n" | b"\r\n\r") {
        return Frame::Partial;
    }
    let mut headers = [Header::EMPTY; HEADER_SLOTS];
    let slots = parser.limits.max_headers.min(HEADER_SLOTS);
    match message::parse(buf, &mut headers[..slots], Framing::Stream, parser) {
        Ok(Status::Complete(m)) => Frame::Message(m.len),
        Ok(Status::Partial) if buf.len() > parser.limits.max_message_bytes => Frame::TooLarge,
        Ok(Status::Partial) => Frame::Partial,
        Err(message::Error::TooLarge) => Frame::TooLarge,
        Err(_) => Frame::Garbage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_pings_messages_partials_and_garbage() {
        let p = ParserConfig::default();
        let msg = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(next_frame(b"\r\n\r\nX", &p), Frame::Ping);
        assert_eq!(next_frame(b"\r\n", &p), Frame::Partial);
        assert_eq!(next_frame(&msg[..20], &p), Frame::Partial);
        let mut two = msg.to_vec();
        two.extend_from_slice(msg);
        assert_eq!(next_frame(&two, &p), Frame::Message(msg.len()));
        assert_eq!(next_frame(b"\x00\x01 garbage\r\n\r\n", &p), Frame::Garbage);
        let big = vec![b'a'; p.limits.max_message_bytes + 1];
        assert!(matches!(
            next_frame(&big, &p),
            Frame::TooLarge | Frame::Garbage
        ));
    }
}
