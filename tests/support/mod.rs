//! A small test DSL: build SIP requests, run them through the registrar core with a virtual
//! clock, and read the responses back.
#![allow(dead_code)]

pub mod rng;
pub mod server;

use std::net::SocketAddr;

use registrar::registrar::{
    Authorizer, Config, Millis, Open, Outcome, Registrar, Source, Transport, UnixTime,
};
use registrar::sip::message::{self, Framing, Header, ParserConfig, StartLine, Status};

/// Start of the virtual wall clock: 2026-11-25 00:00:00 UTC.
pub const WALL0: u64 = 1_795_564_800;

/// A registrar core with a virtual clock.
pub struct Harness<A: Authorizer = Open> {
    pub reg: Registrar<A>,
    pub now: Millis,
    pub src: Source,
    out: Vec<u8>,
}

impl Harness<Open> {
    pub fn new(config: Config) -> Self {
        Harness::with(Registrar::new(config, Millis(0)).expect("valid config"))
    }
}

impl<A: Authorizer> Harness<A> {
    pub fn with(reg: Registrar<A>) -> Self {
        Harness {
            reg,
            now: Millis(0),
            src: Source {
                addr: "192.0.2.10:5060".parse().unwrap(),
                transport: Transport::Udp,
            },
            out: Vec::new(),
        }
    }

    pub fn wall(&self) -> UnixTime {
        UnixTime(WALL0 + self.now.0 / 1000)
    }

    /// Advances the clock and runs due expiry.
    pub fn advance_s(&mut self, s: u64) {
        self.now = self.now.plus_s(s);
        while self.reg.poll_timeout().is_some_and(|t| t <= self.now) {
            let before = self.reg.poll_timeout();
            self.reg.handle_timeout(self.now);
            if self.reg.poll_timeout() == before {
                break;
            }
        }
    }

    /// Sends raw bytes; returns the response, if any.
    pub fn send_raw(&mut self, msg: &[u8]) -> Option<Resp> {
        let wall = self.wall();
        match self
            .reg
            .handle(self.now, wall, self.src, msg, &mut self.out)
        {
            Outcome::Respond { code, dest } => {
                let r = Resp::parse(&self.out, dest);
                assert_eq!(r.code, code, "outcome code matches the written status");
                Some(r)
            }
            Outcome::Drop(_) => None,
        }
    }

    pub fn send(&mut self, req: &Req) -> Resp {
        self.send_raw(req.build().as_bytes()).expect("a response")
    }

    /// Contact URIs a lookup returns for `aor` (canonical form), in order.
    pub fn lookup(&mut self, aor: &str) -> Vec<String> {
        match self.reg.lookup(self.now, aor.as_bytes(), None) {
            registrar::registrar::Lookup::Found(v) => v
                .iter()
                .map(|b| String::from_utf8_lossy(b.uri()).into_owned())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub code: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub dest: SocketAddr,
    pub raw: String,
}

impl Resp {
    pub fn parse(bytes: &[u8], dest: SocketAddr) -> Resp {
        let mut h = [Header::EMPTY; 64];
        let Ok(Status::Complete(m)) =
            message::parse(bytes, &mut h, Framing::Stream, &ParserConfig::default())
        else {
            panic!("unparsable response: {}", String::from_utf8_lossy(bytes));
        };
        let StartLine::Response { code, reason } = m.start else {
            panic!("not a response")
        };
        Resp {
            code,
            reason: String::from_utf8_lossy(reason).into_owned(),
            headers: m
                .headers
                .iter()
                .map(|h| {
                    (
                        String::from_utf8_lossy(h.name).into_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            dest,
            raw: String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Contact header values.
    pub fn contacts(&self) -> Vec<&str> {
        self.all("Contact")
    }

    /// `expires` of the Contact whose URI is `uri`.
    pub fn expires_of(&self, uri: &str) -> Option<u64> {
        let c = self
            .contacts()
            .into_iter()
            .find(|c| c.starts_with(&format!("<{uri}>")))?;
        let e = c.split(';').find_map(|p| p.strip_prefix("expires="))?;
        e.parse().ok()
    }
}

/// A request under construction.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub ruri: String,
    pub to: String,
    pub from_tag: String,
    pub call_id: String,
    pub cseq: u32,
    pub contacts: Vec<String>,
    pub expires: Option<u32>,
    pub extra: Vec<String>,
}

/// A REGISTER for `user@example.com` from a fixed UA.
pub fn register(user: &str) -> Req {
    Req {
        method: "REGISTER".into(),
        ruri: "sip:example.com".into(),
        to: format!("<sip:{user}@example.com>"),
        from_tag: "fromtag1".into(),
        call_id: format!("call-{user}@192.0.2.10"),
        cseq: 1,
        contacts: Vec::new(),
        expires: None,
        extra: Vec::new(),
    }
}

/// Another request (INVITE, OPTIONS...) to `ruri`.
pub fn request(method: &str, ruri: &str) -> Req {
    Req {
        method: method.into(),
        ruri: ruri.into(),
        to: format!("<{ruri}>"),
        from_tag: "caller1".into(),
        call_id: "call-other@192.0.2.99".into(),
        cseq: 1,
        contacts: Vec::new(),
        expires: None,
        extra: Vec::new(),
    }
}

impl Req {
    pub fn contact(mut self, c: &str) -> Self {
        self.contacts.push(c.into());
        self
    }
    pub fn expires(mut self, e: u32) -> Self {
        self.expires = Some(e);
        self
    }
    pub fn cseq(mut self, n: u32) -> Self {
        self.cseq = n;
        self
    }
    pub fn call_id(mut self, c: &str) -> Self {
        self.call_id = c.into();
        self
    }
    pub fn to(mut self, t: &str) -> Self {
        self.to = t.into();
        self
    }
    pub fn ruri(mut self, r: &str) -> Self {
        self.ruri = r.into();
        self
    }
    pub fn header(mut self, line: &str) -> Self {
        self.extra.push(line.into());
        self
    }

    pub fn build(&self) -> String {
        let mut s = format!("{} {} SIP/2.0\r\n", self.method, self.ruri);
        s += &format!(
            "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{}-{}\r\n",
            self.call_id.len(),
            self.cseq
        );
        s += "Max-Forwards: 70\r\n";
        s += &format!("From: <sip:caller@example.com>;tag={}\r\n", self.from_tag);
        s += &format!("To: {}\r\n", self.to);
        s += &format!("Call-ID: {}\r\n", self.call_id);
        s += &format!("CSeq: {} {}\r\n", self.cseq, self.method);
        for c in &self.contacts {
            s += &format!("Contact: {c}\r\n");
        }
        if let Some(e) = self.expires {
            s += &format!("Expires: {e}\r\n");
        }
        for x in &self.extra {
            s += x;
            s += "\r\n";
        }
        s += "Content-Length: 0\r\n\r\n";
        s
    }
}
