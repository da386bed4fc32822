//! `loadgen responder` (stateless canned 200, optional digest challenge) and `loadgen echo`
//! (raw UDP echo): the kernel's limits to compare a server against.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::digest::{self, Algorithm, Writer};
use crate::sys::{self, BATCH, BUF, MmsgBatch};
use crate::template::{self, name_is};

#[derive(Clone, Debug)]
pub struct ResponderCfg {
    pub listen: SocketAddr,
    pub cores: Option<Vec<usize>>,
    pub threads: usize,
    pub duration_s: Option<f64>,
    /// Digest challenge: the password every user has.
    pub challenge: Option<String>,
    /// Algorithms offered in the challenge.
    pub algorithms: Vec<Algorithm>,
    /// Drop the first N requests (to test retransmissions).
    pub drop_first: i64,
    /// Echo mode: send every datagram back unchanged.
    pub echo: bool,
    /// Receive with UDP_GRO and answer each train of datagrams (a client's UDP GSO send) with
    /// one GSO send of equal-length (padded) responses.
    pub gso: bool,
}

const REALM: &[u8] = b"loadgen";
const NONCE: &[u8] = b"bG9hZGdlbi1zdGF0ZWxlc3Mtbm9uY2U";

struct Counters {
    requests: AtomicU64,
    responses: AtomicU64,
    dropped: AtomicI64,
}

/// Builds the answer to `req` into `out`; None when nothing should be sent (a response, or
/// garbage). Keeps no state.
pub fn respond(req: &[u8], cfg: &ResponderCfg, out: &mut [u8]) -> Option<usize> {
    if template::status_code(req).is_some() {
        return None;
    }
    let sp = req.iter().position(|&b| b == b' ')?;
    let method = &req[..sp];
    if method.is_empty() || !method.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let is_register = method == b"REGISTER";
    let mut code: &[u8] = b"200 OK";
    let mut challenge = false;
    if is_register && let Some(pw) = &cfg.challenge {
        let auth = template::headers(req)
            .find(|(n, _)| n.eq_ignore_ascii_case(b"Authorization"))
            .map(|(_, v)| v);
        match auth {
            None => {
                code = b"401 Unauthorized";
                challenge = true;
            }
            Some(v) => {
                if !verify(v, pw.as_bytes(), method) {
                    code = b"403 Forbidden";
                }
            }
        }
    }
    let mut w = Writer::new(out);
    w.put(b"SIP/2.0 ");
    w.put(code);
    w.put(b"\r\n");
    for (name, value) in template::headers(req) {
        let copy = name_is(name, b"Via", Some(b'v'))
            || name_is(name, b"From", Some(b'f'))
            || name_is(name, b"Call-ID", Some(b'i'))
            || name_is(name, b"CSeq", None)
            || (is_register && code[0] == b'2' && name_is(name, b"Contact", Some(b'm')))
            || (is_register && code[0] == b'2' && name.eq_ignore_ascii_case(b"Expires"));
        let to = name_is(name, b"To", Some(b't'));
        if copy || to {
            w.put(name);
            w.put(b": ");
            w.put(value);
            if to && memchr::memmem::find(value, b";tag=").is_none() {
                w.put(b";tag=lgr");
            }
            w.put(b"\r\n");
        }
    }
    if challenge {
        for alg in &cfg.algorithms {
            w.put(b"WWW-Authenticate: Digest realm=\"");
            w.put(REALM);
            w.put(b"\", nonce=\"");
            w.put(NONCE);
            w.put(b"\", algorithm=");
            w.put(alg.name().as_bytes());
            w.put(b", qop=\"auth\"\r\n");
        }
    }
    w.put(TAIL);
    Some(w.len)
}

/// Every response ends with this; `pad_responses` lengthens the Server value.
const TAIL: &[u8] = b"Server: lg\r\nContent-Length: 0\r\n\r\n";

/// Pads the responses `0..count` of `b` to one length (the longest + 2) by extending the
/// `Server: lg` product with a version (`lg/111`), so they can go out as one GSO send.
fn pad_responses(b: &mut MmsgBatch) {
    let max = b.lens[..b.count].iter().copied().max().unwrap_or(0);
    let target = max + 2;
    let tail_after = TAIL.len() - b"Server: lg".len();
    for i in 0..b.count {
        let len = b.lens[i];
        let d = target - len;
        if target > BUF {
            return;
        }
        let at = len - tail_after;
        let buf = &mut b.bufs[i];
        buf.copy_within(at..len, at + d);
        buf[at] = b'/';
        buf[at + 1..at + d].fill(b'1');
        b.lens[i] = target;
    }
}

/// Checks an Authorization value against `password` (MD5 or SHA-256, qop=auth or none).
pub fn verify(value: &[u8], password: &[u8], method: &[u8]) -> bool {
    let v = value.trim_ascii();
    if v.len() < 7 || !v[..6].eq_ignore_ascii_case(b"Digest") {
        return false;
    }
    let l = &v[6..];
    let p = |n: &[u8]| digest::param(l, n);
    let (Some(user), Some(realm), Some(nonce), Some(uri), Some(resp)) = (
        p(b"username"),
        p(b"realm"),
        p(b"nonce"),
        p(b"uri"),
        p(b"response"),
    ) else {
        return false;
    };
    let Some(alg) = Algorithm::parse(p(b"algorithm").unwrap_or(b"MD5")) else {
        return false;
    };
    let mut out = [0u8; 64];
    let n = match p(b"qop") {
        Some(qop) => digest::response(
            &digest::DigestInput {
                alg,
                username: user,
                realm,
                password,
                method,
                uri,
                nonce,
                nc: p(b"nc").unwrap_or(b""),
                cnonce: p(b"cnonce").unwrap_or(b""),
                qop,
            },
            &mut out,
        ),
        None => {
            // RFC 2069 style: H(HA1:nonce:HA2).
            let mut ha1 = [0u8; 64];
            let n1 = digest::hash_hex(alg, &[user, realm, password], &mut ha1);
            let mut ha2 = [0u8; 64];
            let n2 = digest::hash_hex(alg, &[method, uri], &mut ha2);
            digest::hash_hex(alg, &[&ha1[..n1], nonce, &ha2[..n2]], &mut out)
        }
    };
    resp.eq_ignore_ascii_case(&out[..n])
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        None,
    )?;
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    let s: UdpSocket = s.into();
    sys::set_socket_buffers(s.as_raw_fd(), 8 << 20);
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(s)
}

fn send_all(fd: std::os::fd::RawFd, tx: &mut MmsgBatch, c: &Counters) {
    let mut from = 0;
    while from < tx.count {
        match tx.send(fd, from, true) {
            Ok(0) => std::thread::yield_now(),
            Ok(k) => from += k,
            Err(_) => break,
        }
    }
    c.responses.fetch_add(from as u64, Relaxed);
    tx.count = 0;
}

/// The `--gso` loop: UDP_GRO receive, one padded GSO send per received train.
fn udp_gso_loop(sock: UdpSocket, cfg: &ResponderCfg, c: &Counters, stop: &AtomicBool) {
    let fd = sock.as_raw_fd();
    sys::enable_udp_gro(fd);
    let mut rx = Box::new(sys::GroRecv::new());
    let mut single = MmsgBatch::new();
    let mut train = MmsgBatch::new();
    while !stop.load(Relaxed) {
        let n = match rx.recv(fd, true) {
            Ok(n) => n,
            Err(_) => continue,
        };
        if n == 0 {
            continue;
        }
        let mut cur = usize::MAX;
        let flush_train = |train: &mut MmsgBatch, to: libc::sockaddr_in| {
            if train.count == 0 {
                return;
            }
            pad_responses(train);
            let sent = if train.count > 1 {
                train.send_gso(fd, 0, Some(to)).unwrap_or(0)
            } else {
                0
            };
            if sent == 0 {
                for k in 0..train.count {
                    train.addrs[k] = to;
                }
                send_all(fd, train, c);
            } else {
                c.responses.fetch_add(sent as u64, Relaxed);
            }
            train.count = 0;
        };
        rx.for_each(|i, m| {
            c.requests.fetch_add(1, Relaxed);
            if cfg.drop_first > 0 && c.dropped.fetch_add(1, Relaxed) < cfg.drop_first {
                return;
            }
            let in_train = rx.is_train(i);
            if in_train && i != cur {
                if cur != usize::MAX {
                    flush_train(&mut train, rx.addrs[cur]);
                }
                cur = i;
            }
            let b = if in_train && train.count < BATCH {
                &mut train
            } else {
                &mut single
            };
            if b.count == BATCH {
                send_all(fd, b, c);
            }
            let k = b.count;
            if let Some(len) = respond(m, cfg, &mut b.bufs[k]) {
                b.lens[k] = len;
                b.addrs[k] = rx.addrs[i];
                b.count += 1;
            }
        });
        if cur != usize::MAX {
            flush_train(&mut train, rx.addrs[cur]);
        }
        send_all(fd, &mut single, c);
    }
}

fn udp_loop(sock: UdpSocket, cfg: &ResponderCfg, c: &Counters, stop: &AtomicBool) {
    if cfg.gso && !cfg.echo {
        return udp_gso_loop(sock, cfg, c, stop);
    }
    let fd = sock.as_raw_fd();
    let mut rx = MmsgBatch::new();
    let mut tx = MmsgBatch::new();
    while !stop.load(Relaxed) {
        let n = match rx.recv_wait(fd, true) {
            Ok(n) => n,
            Err(_) => continue,
        };
        if n == 0 {
            continue;
        }
        c.requests.fetch_add(n as u64, Relaxed);
        tx.count = 0;
        for i in 0..n {
            let len = rx.lens[i];
            if cfg.drop_first > 0 && c.dropped.fetch_add(1, Relaxed) < cfg.drop_first {
                continue;
            }
            let k = tx.count;
            let out_len = if cfg.echo {
                tx.bufs[k][..len].copy_from_slice(&rx.bufs[i][..len]);
                Some(len)
            } else {
                respond(&rx.bufs[i][..len], cfg, &mut tx.bufs[k])
            };
            if let Some(m) = out_len {
                tx.lens[k] = m;
                tx.addrs[k] = rx.addrs[i];
                tx.count += 1;
            }
        }
        send_all(fd, &mut tx, c);
    }
}

fn tcp_conn(mut s: TcpStream, cfg: ResponderCfg, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut inb = vec![0u8; 256 << 10];
    let mut len = 0;
    let mut out = Vec::with_capacity(256 << 10);
    let mut one = [0u8; BUF];
    while !stop.load(Relaxed) {
        if len == inb.len() {
            inb.resize(len * 2, 0);
        }
        match s.read(&mut inb[len..]) {
            Ok(0) => return,
            Ok(n) => len += n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::TimedOut
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                continue;
            }
            Err(_) => return,
        }
        let mut off = 0;
        // Skip keep-alive CRLFs between messages.
        while let Some(m) = {
            while inb[off..len].starts_with(b"\r\n") {
                off += 2;
            }
            template::frame_len(&inb[off..len])
        } {
            c.requests.fetch_add(1, Relaxed);
            let req = &inb[off..off + m];
            off += m;
            if cfg.drop_first > 0 && c.dropped.fetch_add(1, Relaxed) < cfg.drop_first {
                continue;
            }
            if let Some(k) = respond(req, &cfg, &mut one) {
                out.extend_from_slice(&one[..k]);
                c.responses.fetch_add(1, Relaxed);
            }
        }
        inb.copy_within(off..len, 0);
        len -= off;
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// Runs the responder (or echo) until `--duration` passes or `stop` is set; prints the result.
pub fn run(cfg: ResponderCfg, stop: Arc<AtomicBool>, json: Option<&str>) -> io::Result<()> {
    let counters = Arc::new(Counters {
        requests: AtomicU64::new(0),
        responses: AtomicU64::new(0),
        dropped: AtomicI64::new(0),
    });
    let mut handles = Vec::new();
    let first = udp_socket(cfg.listen)?;
    let listen = first.local_addr()?;
    let mut socks = vec![first];
    for _ in 1..cfg.threads {
        socks.push(udp_socket(listen)?);
    }
    let tcp = if cfg.echo {
        None
    } else {
        let l = TcpListener::bind(listen)?;
        l.set_nonblocking(true)?;
        Some(l)
    };
    let what = if cfg.echo { "echo" } else { "responder" };
    match &tcp {
        Some(_) => eprintln!("{what}: listening udp:{listen} tcp:{listen}"),
        None => eprintln!("{what}: listening udp:{listen}"),
    }
    let t0 = Instant::now();
    let cpu0 = sys::process_cpu_s();
    for (i, sock) in socks.into_iter().enumerate() {
        let cfg = cfg.clone();
        let c = counters.clone();
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            if let Some(cores) = &cfg.cores {
                let _ = sys::pin_to_core(cores[i % cores.len()]);
            }
            udp_loop(sock, &cfg, &c, &stop);
        }));
    }
    let deadline = cfg.duration_s.map(|d| t0 + Duration::from_secs_f64(d));
    let mut conns = Vec::new();
    while !stop.load(Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        if let Some(l) = &tcp {
            match l.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let (cfg, c, st) = (cfg.clone(), counters.clone(), stop.clone());
                    conns.push(std::thread::spawn(move || tcp_conn(s, cfg, c, st)));
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Relaxed);
    for h in handles.into_iter().chain(conns) {
        let _ = h.join();
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = sys::process_cpu_s() - cpu0;
    let req = counters.requests.load(Relaxed);
    let resp = counters.responses.load(Relaxed);
    eprintln!(
        "{what}: {req} requests, {resp} {} in {wall:.2} s = {:.0}/s; CPU {cpu:.2} s ({:.1} us per request)",
        if cfg.echo { "echoed" } else { "answered" },
        req as f64 / wall,
        if req > 0 { cpu * 1e6 / req as f64 } else { 0.0 }
    );
    if let Some(path) = json {
        let v = serde_json::json!({
            "mode": what,
            "listen": listen.to_string(),
            "duration_s": wall,
            "requests": req,
            "responses": resp,
            "per_sec": req as f64 / wall,
            "cpu_s": cpu,
            "threads": cfg.threads,
        });
        std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(challenge: Option<&str>) -> ResponderCfg {
        ResponderCfg {
            listen: "127.0.0.1:0".parse().unwrap(),
            cores: None,
            threads: 1,
            duration_s: None,
            challenge: challenge.map(str::to_string),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            drop_first: 0,
            echo: false,
            gso: false,
        }
    }

    const REQ: &[u8] = b"REGISTER sip:d SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bK-0-1\r\nFrom: <sip:user1@d>;tag=a\r\nTo: <sip:user1@d>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContact: <sip:user1@1.2.3.4:5>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn canned_200_echoes_headers() {
        let mut out = [0u8; BUF];
        let n = respond(REQ, &cfg(None), &mut out).unwrap();
        let s = std::str::from_utf8(&out[..n]).unwrap();
        assert!(s.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(s.contains("Via: SIP/2.0/UDP 1.2.3.4:5;branch=z9hG4bK-0-1\r\n"));
        assert!(s.contains("To: <sip:user1@d>;tag=lgr\r\n"));
        assert!(s.contains("Contact: <sip:user1@1.2.3.4:5>\r\n"));
        assert!(s.contains("CSeq: 1 REGISTER\r\n"));
        assert!(s.ends_with("Server: lg\r\nContent-Length: 0\r\n\r\n"));
        // Padding to a common length keeps the message well-formed.
        let mut b = MmsgBatch::new();
        b.bufs[0][..n].copy_from_slice(&out[..n]);
        b.lens[0] = n;
        b.bufs[1][..n - 5].copy_from_slice(&out[5..n]);
        b.lens[1] = n - 5;
        b.count = 2;
        pad_responses(&mut b);
        assert_eq!(b.lens[0], n + 2);
        assert_eq!(b.lens[1], n + 2);
        let p = std::str::from_utf8(&b.bufs[1][..n + 2]).unwrap();
        assert!(
            p.ends_with("Server: lg/111111\r\nContent-Length: 0\r\n\r\n"),
            "{p}"
        );
        assert_eq!(template::branch_id(&out[..n]), Some((0, 1)));
    }

    #[test]
    fn challenge_then_verify() {
        let mut out = [0u8; BUF];
        let c = cfg(Some("secret"));
        let n = respond(REQ, &c, &mut out).unwrap();
        let s = std::str::from_utf8(&out[..n]).unwrap();
        assert!(s.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{s}");
        assert!(s.contains("algorithm=SHA-256"));
        assert!(s.contains("algorithm=MD5"));
        for (alg, pw, ok) in [
            (Algorithm::Md5, "secret", true),
            (Algorithm::Sha256, "secret", true),
            (Algorithm::Sha256, "wrong", false),
        ] {
            let mut resp = [0u8; 64];
            let k = digest::response(
                &digest::DigestInput {
                    alg,
                    username: b"user1",
                    realm: REALM,
                    password: pw.as_bytes(),
                    method: b"REGISTER",
                    uri: b"sip:d",
                    nonce: NONCE,
                    nc: b"00000001",
                    cnonce: b"x",
                    qop: b"auth",
                },
                &mut resp,
            );
            let auth = format!(
                "Digest username=\"user1\", realm=\"loadgen\", nonce=\"{}\", uri=\"sip:d\", response=\"{}\", algorithm={}, cnonce=\"x\", qop=auth, nc=00000001",
                std::str::from_utf8(NONCE).unwrap(),
                std::str::from_utf8(&resp[..k]).unwrap(),
                alg.name()
            );
            assert_eq!(verify(auth.as_bytes(), b"secret", b"REGISTER"), ok);
        }
    }
}
