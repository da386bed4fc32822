//! The real `registrar` binary as a child process on 127.0.0.1 ephemeral ports, with UDP and
//! TCP clients that speak SIP to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Req, Resp};

pub struct Server {
    child: Child,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

/// Per-shard counters from the shutdown log lines.
#[derive(Debug, Default, Clone)]
pub struct ShardLine {
    pub fields: Vec<(String, u64)>,
}

impl ShardLine {
    pub fn get(&self, name: &str) -> u64 {
        self.fields.iter().find(|(n, _)| n == name).map_or_else(
            || panic!("no counter {name} in {:?}", self.fields),
            |(_, v)| *v,
        )
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_registrar")
}

/// Pin the shards when the machine has a CPU for each (CI has two), else run unpinned.
pub fn pin_args(shards: usize) -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= shards {
        vec![]
    } else {
        vec!["--no-pin".into()]
    }
}

impl Server {
    /// Starts the binary with `--shards N` on ephemeral UDP and TCP ports plus `args`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start(shards: usize, args: &[&str]) -> Server {
        let mut cmd = Command::new(binary());
        cmd.args([
            "--listen",
            "udp:127.0.0.1:0",
            "--listen",
            "tcp:127.0.0.1:0",
            "--shards",
            &shards.to_string(),
            "--log",
            "info",
        ])
        .args(pin_args(shards))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start registrar");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut log = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = lines.recv_timeout(left) else {
                let _ = child.kill();
                let status = child.wait();
                panic!("registrar did not start ({status:?}); log: {log:#?}");
            };
            log.push(line.clone());
            if let Some(rest) = line.split(" listening ").nth(1) {
                let mut udp = None;
                let mut tcp = None;
                for word in rest.split_whitespace() {
                    if let Some(a) = word.strip_prefix("udp:") {
                        udp = a.parse().ok();
                    } else if let Some(a) = word.strip_prefix("tcp:") {
                        tcp = a.parse().ok();
                    }
                }
                return Server {
                    child,
                    udp: udp.expect("udp address in the log"),
                    tcp: tcp.expect("tcp address in the log"),
                    lines,
                    log,
                };
            }
        }
    }

    /// SIGTERM, wait for a clean exit, and return the per-shard counter lines.
    pub fn stop(mut self) -> (Vec<ShardLine>, Vec<String>) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with our own child's pid has no memory effects.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "registrar did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.log.push(l);
        }
        assert!(
            status.success(),
            "exit status {status}; log: {:#?}",
            self.log
        );
        let shards = self
            .log
            .iter()
            .filter(|l| l.contains("shard stopped:"))
            .map(|l| ShardLine {
                fields: l
                    .split_whitespace()
                    .filter_map(|w| {
                        let (k, v) = w.split_once('=')?;
                        Some((k.to_string(), v.parse().ok()?))
                    })
                    .collect(),
            })
            .collect();
        (shards, std::mem::take(&mut self.log))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sums a counter over shards.
pub fn total(lines: &[ShardLine], name: &str) -> u64 {
    lines.iter().map(|l| l.get(name)).sum()
}

/// A UDP user agent on its own ephemeral port.
pub struct UdpUa {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl UdpUa {
    pub fn new(server: SocketAddr) -> UdpUa {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        UdpUa { sock, server }
    }

    pub fn send_raw(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.server).unwrap();
    }

    /// The next response, or None after the read timeout.
    pub fn recv(&self) -> Option<Resp> {
        let mut buf = vec![0u8; 65536];
        let (n, from) = self.sock.recv_from(&mut buf).ok()?;
        assert_eq!(
            from, self.server,
            "response from the registrar's address and port"
        );
        Some(Resp::parse(&buf[..n], from))
    }

    /// Sends a request (Via with rport, so the answer comes back to this socket).
    pub fn send(&self, req: &Req) -> Resp {
        self.send_raw(udp_text(req).as_bytes());
        self.recv()
            .unwrap_or_else(|| panic!("no answer to {}", req.build()))
    }
}

/// A request as sent over UDP: RFC 3581 rport asked for.
pub fn udp_text(req: &Req) -> String {
    req.build().replacen(";branch=", ";rport;branch=", 1)
}

/// A request as sent over TCP.
pub fn tcp_text(req: &Req) -> String {
    req.build().replacen("SIP/2.0/UDP", "SIP/2.0/TCP", 1)
}

/// A TCP user agent: one connection, responses framed by Content-Length.
pub struct TcpUa {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl TcpUa {
    pub fn connect(server: SocketAddr) -> TcpUa {
        let stream = TcpStream::connect(server).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        TcpUa {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next response on the connection, or None if it closed or timed out.
    pub fn recv(&mut self) -> Option<Resp> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let cl: usize = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        (n.trim().eq_ignore_ascii_case("content-length")
                            || n.trim().eq_ignore_ascii_case("l"))
                        .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let total = end + 4 + cl;
                if self.buf.len() >= total {
                    let msg: Vec<u8> = self.buf.drain(..total).collect();
                    let addr = self.stream.peer_addr().unwrap();
                    return Some(Resp::parse(&msg, addr));
                }
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// True if the server closed the connection (read returns 0 or reset) within `within`.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        self.stream.set_read_timeout(Some(within)).unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    );
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
