//! `loadgen run`: worker threads that each own their users, sockets, transaction table and
//! histogram; no locks between them (per-thread atomics publish progress; results merge at the
//! end).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::digest::{self, Algorithm, Writer};
use crate::sys::{self, BATCH, BUF, MmsgBatch};
use crate::template::{self, Template, Vals};

pub const T1_MS: u64 = 500;
pub const T2_MS: u64 = 4000;
/// Largest Authorization header line the load generator emits.
const AUTH_MAX: usize = 640;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One kind of REGISTER transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Register,
    Refresh,
    Unregister,
    Wildcard,
    Query,
    Auth,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "register" => Op::Register,
            "refresh" => Op::Refresh,
            "unregister" => Op::Unregister,
            "wildcard" => Op::Wildcard,
            "query" => Op::Query,
            "auth" => Op::Auth,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct RunCfg {
    pub target: SocketAddrV4,
    pub transport: Transport,
    pub scenario: String,
    /// Weighted ops: a single entry for a plain scenario.
    pub mix: Vec<(Op, u32)>,
    pub users: u64,
    pub user_offset: u64,
    pub domain: String,
    /// Requests per second over all threads (open loop), or None for `--max`.
    pub rate: Option<f64>,
    /// Transactions in flight per thread (closed loop) / cap on them (open loop).
    pub window: usize,
    pub duration_s: Option<f64>,
    pub requests: Option<u64>,
    pub threads: usize,
    pub cores: Option<Vec<usize>>,
    pub sources: Vec<Ipv4Addr>,
    pub sockets: usize,
    pub password: String,
    pub algorithm: Algorithm,
    pub timeout_ms: u64,
    pub expires: u32,
    pub prepare: bool,
    /// Send UDP batches as one GSO (UDP_SEGMENT) send when the requests have equal length.
    pub gso: bool,
    /// Busy-poll this long without progress before parking in ppoll.
    pub spin_us: u64,
    /// The target is a raw echo: an echoed request (same branch) is the answer.
    pub echo: bool,
}

/// Counters a worker publishes for the progress line (one cache line pair per thread).
#[repr(align(128))]
#[derive(Default)]
pub struct ThreadPub {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub retrans: AtomicU64,
    pub cpu_ns: AtomicU64,
    pub spin_ns: AtomicU64,
    pub p99_us: AtomicU64,
    pub behind: AtomicBool,
    pub prep_ok: AtomicU64,
    pub prep_failed: AtomicU64,
}

pub struct Shared {
    pub threads: Vec<ThreadPub>,
    /// Ctrl-C / SIGTERM.
    pub stop: Arc<AtomicBool>,
    pub prep_done: AtomicUsize,
    /// Set by the main thread when every worker has prepared: the measured phase starts.
    pub go: AtomicBool,
    pub go_ns: AtomicU64,
}

/// What a phase produced.
pub struct PhaseResult {
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
    pub failed_timeout: u64,
    pub failed_status: u64,
    pub status_counts: [u64; 7],
    pub retrans: u64,
    pub stray: u64,
    pub challenges: u64,
    pub unfinished: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    pub cpu_ns: u64,
    pub spin_ns: u64,
    pub behind: bool,
    pub max_lag_ms: f64,
    pub hist: Histogram<u64>,
}

impl PhaseResult {
    fn new(start_ns: u64) -> Self {
        PhaseResult {
            sent: 0,
            ok: 0,
            failed: 0,
            failed_timeout: 0,
            failed_status: 0,
            status_counts: [0; 7],
            retrans: 0,
            stray: 0,
            challenges: 0,
            unfinished: 0,
            start_ns,
            end_ns: start_ns,
            cpu_ns: 0,
            spin_ns: 0,
            behind: false,
            max_lag_ms: 0.0,
            hist: new_hist(),
        }
    }

    pub fn merge(&mut self, o: &PhaseResult) {
        self.sent += o.sent;
        self.ok += o.ok;
        self.failed += o.failed;
        self.failed_timeout += o.failed_timeout;
        self.failed_status += o.failed_status;
        for i in 0..7 {
            self.status_counts[i] += o.status_counts[i];
        }
        self.retrans += o.retrans;
        self.stray += o.stray;
        self.challenges += o.challenges;
        self.unfinished += o.unfinished;
        self.start_ns = self.start_ns.min(o.start_ns);
        self.end_ns = self.end_ns.max(o.end_ns);
        self.cpu_ns += o.cpu_ns;
        self.spin_ns += o.spin_ns;
        self.behind |= o.behind;
        self.max_lag_ms = self.max_lag_ms.max(o.max_lag_ms);
        self.hist.add(&o.hist).expect("same histogram bounds");
    }

    pub fn empty() -> Self {
        let mut r = PhaseResult::new(u64::MAX);
        r.end_ns = 0;
        r
    }
}

pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

pub struct WorkerResult {
    pub prep: Option<PhaseResult>,
    pub main: PhaseResult,
}

#[derive(Clone, Copy, Default)]
struct User {
    cseq: u32,
    busy: bool,
}

#[derive(Clone, Copy)]
struct Tx {
    seq: u64,
    start_ns: u64,
    user: u32,
    cseq: u32,
    op: Op,
    leg2: bool,
    active: bool,
    retrans: u8,
    conn: u16,
    auth_len: u16,
}

enum Io {
    Udp {
        sock: UdpSocket,
        out: Box<MmsgBatch>,
        head: usize,
    },
    Tcp {
        stream: TcpStream,
        out: Vec<u8>,
        inb: Vec<u8>,
        inlen: usize,
    },
}

struct Conn {
    io: Io,
    /// [contact (register/refresh/auth, extra = Authorization), unregister, wildcard, query]
    tmpl: [Template; 4],
}

impl Conn {
    fn fd(&self) -> RawFd {
        match &self.io {
            Io::Udp { sock, .. } => sock.as_raw_fd(),
            Io::Tcp { stream, .. } => stream.as_raw_fd(),
        }
    }
}

/// How a phase issues requests.
#[derive(Clone, Copy)]
enum Pace {
    /// Open loop: requests per second for this thread.
    Rate(f64),
    /// Closed loop: keep this many in flight.
    Window(usize),
}

struct Phase {
    pace: Pace,
    /// Operations (requests) to issue at most; for the preparation phase, the user count.
    limit: u64,
    /// Stop issuing at this time (monotonic ns).
    deadline_ns: u64,
    /// Registering every user once (preparation).
    prep: bool,
}

pub struct Worker {
    id: u64,
    cfg: Arc<RunCfg>,
    shared: Arc<Shared>,
    conns: Vec<Conn>,
    users: Vec<User>,
    user_base: u64,
    next_user: usize,
    txs: Vec<Tx>,
    free: Vec<u32>,
    slot_bits: u32,
    auth_lines: Vec<[u8; AUTH_MAX]>,
    /// Retransmission / timeout queues: level k fires at start + offsets[k].
    levels: Vec<VecDeque<(u64, u64)>>,
    offsets_ns: Vec<u64>,
    rx: Option<Box<sys::GroRecv>>,
    gso: bool,
    pollfds: Vec<libc::pollfd>,
    inflight: usize,
    rng: u64,
    mix_total: u32,
    /// Interval histogram for the progress line's p99.
    iv: Histogram<u64>,
    /// Authorization line being built for a second leg.
    scratch_auth: [u8; AUTH_MAX],
    scratch_auth_len: usize,
}

fn user_template(cfg: &RunCfg, local: SocketAddr, run_id: &str, contact: &str) -> Template {
    let t = match cfg.transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    let d = &cfg.domain;
    let src = format!(
        "REGISTER sip:{d} SIP/2.0\r\n\
         Via: SIP/2.0/{t} {local};rport;branch=z9hG4bK-{{thread}}-{{seq}}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:user{{user}}@{d}>;tag=lg{{user}}\r\n\
         To: <sip:user{{user}}@{d}>\r\n\
         Call-ID: {{user}}-{run_id}@loadgen\r\n\
         CSeq: {{cseq}} REGISTER\r\n\
         {contact}{{extra}}User-Agent: loadgen{{pad}}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Template::parse(&src)
}

fn templates(cfg: &RunCfg, local: SocketAddr, run_id: &str) -> [Template; 4] {
    let tl = cfg.transport.name();
    let contact = format!("<sip:user{{user}}@{local};transport={tl}>");
    [
        user_template(
            cfg,
            local,
            run_id,
            &format!("Contact: {contact}\r\nExpires: {}\r\n", cfg.expires),
        ),
        user_template(
            cfg,
            local,
            run_id,
            &format!("Contact: {contact};expires=0\r\nExpires: 0\r\n"),
        ),
        user_template(cfg, local, run_id, "Contact: *\r\nExpires: 0\r\n"),
        user_template(cfg, local, run_id, ""),
    ]
}

fn open_conn(cfg: &RunCfg, source: Ipv4Addr, run_id: &str) -> io::Result<Conn> {
    let io = match cfg.transport {
        Transport::Udp => {
            let sock = UdpSocket::bind(SocketAddrV4::new(source, 0))?;
            sys::set_socket_buffers(sock.as_raw_fd(), 4 << 20);
            sock.connect(cfg.target)?;
            sys::enable_udp_gro(sock.as_raw_fd());
            sock.set_nonblocking(true)?;
            Io::Udp {
                sock,
                out: Box::new(MmsgBatch::new()),
                head: 0,
            }
        }
        Transport::Tcp => {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            s.bind(&SocketAddr::V4(SocketAddrV4::new(source, 0)).into())?;
            s.connect_timeout(&SocketAddr::V4(cfg.target).into(), Duration::from_secs(5))?;
            s.set_nodelay(true)?;
            let stream: TcpStream = s.into();
            stream.set_nonblocking(true)?;
            Io::Tcp {
                stream,
                out: Vec::with_capacity(256 << 10),
                inb: vec![0u8; 256 << 10],
                inlen: 0,
            }
        }
    };
    let local = match &io {
        Io::Udp { sock, .. } => sock.local_addr()?,
        Io::Tcp { stream, .. } => stream.local_addr()?,
    };
    Ok(Conn {
        tmpl: templates(cfg, local, run_id),
        io,
    })
}

/// Which users thread `t` of `n` owns: a contiguous range of the global numbering.
pub fn user_range(users: u64, n: usize, t: usize) -> (u64, u64) {
    let n = n as u64;
    let t = t as u64;
    (users * t / n, users * (t + 1) / n)
}

impl Worker {
    pub fn new(id: usize, cfg: Arc<RunCfg>, shared: Arc<Shared>, run_id: &str) -> io::Result<Self> {
        let mut conns = Vec::with_capacity(cfg.sockets);
        let max = Vals {
            user: cfg.user_offset + cfg.users - 1,
            thread: id as u64,
            seq: u64::MAX,
            cseq: u32::MAX as u64,
        };
        for j in 0..cfg.sockets {
            let src = cfg.sources[(id * cfg.sockets + j) % cfg.sources.len()];
            let mut c = open_conn(&cfg, src, run_id)?;
            if cfg.gso && cfg.transport == Transport::Udp {
                for t in &mut c.tmpl {
                    t.set_fixed_len(&max);
                }
            }
            conns.push(c);
        }
        let (lo, hi) = user_range(cfg.users, cfg.threads, id);
        let users = vec![User::default(); (hi - lo) as usize];
        let slots = cfg.window.next_power_of_two().max(BATCH);
        let slot_bits = slots.trailing_zeros();
        let txs = (0..slots)
            .map(|i| Tx {
                seq: i as u64,
                start_ns: 0,
                user: 0,
                cseq: 0,
                op: Op::Register,
                leg2: false,
                active: false,
                retrans: 0,
                conn: 0,
                auth_len: 0,
            })
            .collect();
        let free = (0..slots as u32).rev().collect();
        let uses_auth = cfg.mix.iter().any(|&(o, _)| o == Op::Auth);
        let auth_lines = if uses_auth {
            vec![[0u8; AUTH_MAX]; slots]
        } else {
            Vec::new()
        };
        // Timer E offsets (UDP) capped at the timeout; TCP has only the timeout.
        let timeout_ns = cfg.timeout_ms * 1_000_000;
        let mut offsets_ns = Vec::new();
        if cfg.transport == Transport::Udp {
            let mut off = 0u64;
            let mut iv = T1_MS * 1_000_000;
            loop {
                off += iv;
                if off >= timeout_ns {
                    break;
                }
                offsets_ns.push(off);
                iv = (iv * 2).min(T2_MS * 1_000_000);
            }
        }
        offsets_ns.push(timeout_ns);
        let levels = offsets_ns
            .iter()
            .map(|_| VecDeque::with_capacity(slots * 2))
            .collect();
        let pollfds = conns.iter().map(|c| sys::pollfd(c.fd())).collect();
        let mix_total = cfg.mix.iter().map(|&(_, w)| w).sum();
        Ok(Worker {
            id: id as u64,
            shared,
            conns,
            users,
            user_base: cfg.user_offset + lo,
            next_user: 0,
            txs,
            free,
            slot_bits,
            auth_lines,
            levels,
            offsets_ns,
            rx: Some(Box::new(sys::GroRecv::new())),
            gso: cfg.gso && cfg.transport == Transport::Udp,
            pollfds,
            inflight: 0,
            rng: 0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) * 0x2545_F491_4F6C_DD1D),
            mix_total,
            iv: new_hist(),
            scratch_auth: [0; AUTH_MAX],
            scratch_auth_len: 0,
            cfg,
        })
    }

    /// Runs the preparation (if any) and the measured phase.
    pub fn run(mut self) -> io::Result<WorkerResult> {
        let cfg = self.cfg.clone();
        let prep = if cfg.prepare && !self.users.is_empty() {
            let n = self.users.len() as u64;
            let r = self.phase(
                Phase {
                    pace: Pace::Window(cfg.window.max(64)),
                    limit: n,
                    deadline_ns: u64::MAX,
                    prep: true,
                },
                None,
            )?;
            Some(r)
        } else {
            None
        };
        self.shared.prep_done.fetch_add(1, Relaxed);
        while !self.shared.go.load(Relaxed) {
            std::thread::sleep(Duration::from_micros(200));
        }
        let start = self.shared.go_ns.load(Relaxed);
        let deadline_ns = match cfg.duration_s {
            Some(d) => start + (d * 1e9) as u64,
            None => u64::MAX,
        };
        let limit = match cfg.requests {
            Some(n) => {
                let t = cfg.threads as u64;
                n / t + u64::from(self.id < n % t)
            }
            None => u64::MAX,
        };
        let pace = match cfg.rate {
            Some(r) => Pace::Rate(r / cfg.threads as f64),
            None => Pace::Window(cfg.window),
        };
        let main = if self.users.is_empty() {
            PhaseResult::new(start)
        } else {
            self.phase(
                Phase {
                    pace,
                    limit,
                    deadline_ns,
                    prep: false,
                },
                Some(start),
            )?
        };
        Ok(WorkerResult { prep, main })
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick_op(&mut self) -> Op {
        if self.cfg.mix.len() == 1 {
            return self.cfg.mix[0].0;
        }
        let mut r = (self.next_rand() >> 32) as u32 % self.mix_total;
        for &(op, w) in &self.cfg.mix {
            if r < w {
                return op;
            }
            r -= w;
        }
        self.cfg.mix[0].0
    }

    /// Next idle user (round robin), or None when every user has a transaction in flight.
    fn pick_user(&mut self) -> Option<usize> {
        let n = self.users.len();
        for _ in 0..n.min(1024) {
            let u = self.next_user;
            self.next_user += 1;
            if self.next_user == n {
                self.next_user = 0;
            }
            if !self.users[u].busy {
                return Some(u);
            }
        }
        None
    }

    fn conn_of(&self, user: usize) -> usize {
        user % self.conns.len()
    }

    /// Room for one more request on `conn`'s send path.
    fn has_room(&self, conn: usize) -> bool {
        match &self.conns[conn].io {
            Io::Udp { out, .. } => out.count < BATCH,
            Io::Tcp { out, .. } => out.len() < (1 << 20),
        }
    }

    /// Renders the request of transaction `slot` into `conn`'s send path. A full UDP batch is
    /// flushed first; if the socket buffer is full too, the request is not written now and its
    /// retransmission timer sends it later (as a real UA's would).
    fn enqueue(&mut self, slot: usize) {
        let tx = self.txs[slot];
        if !self.has_room(tx.conn as usize) {
            let _ = self.flush();
            if !self.has_room(tx.conn as usize) {
                return;
            }
        }
        let v = Vals {
            user: self.user_base + tx.user as u64,
            thread: self.id,
            seq: tx.seq,
            cseq: tx.cseq as u64,
        };
        let extra: &[u8] = if tx.leg2 {
            &self.auth_lines[slot][..tx.auth_len as usize]
        } else {
            &[]
        };
        let ti = match tx.op {
            Op::Register | Op::Refresh | Op::Auth => 0,
            Op::Unregister => 1,
            Op::Wildcard => 2,
            Op::Query => 3,
        };
        let conn = &mut self.conns[tx.conn as usize];
        match &mut conn.io {
            Io::Udp { out, .. } => {
                let i = out.count;
                out.lens[i] = conn.tmpl[ti].render(&v, extra, &mut out.bufs[i]);
                out.count += 1;
            }
            Io::Tcp { out, .. } => {
                let mut tmp = [0u8; BUF];
                let n = conn.tmpl[ti].render(&v, extra, &mut tmp);
                out.extend_from_slice(&tmp[..n]);
            }
        }
    }

    /// Starts a transaction for `user`; returns false if no slot is free.
    fn start_tx(&mut self, user: usize, op: Op, leg2: bool, now: u64) -> bool {
        let Some(slot) = self.free.pop() else {
            return false;
        };
        let slot = slot as usize;
        let conn = self.conn_of(user);
        let u = &mut self.users[user];
        u.busy = true;
        u.cseq += 1;
        let cseq = u.cseq;
        let tx = &mut self.txs[slot];
        tx.seq += 1 << self.slot_bits;
        tx.start_ns = now;
        tx.user = user as u32;
        tx.cseq = cseq;
        tx.op = op;
        tx.leg2 = leg2;
        tx.active = true;
        tx.retrans = 0;
        tx.conn = conn as u16;
        let seq = tx.seq;
        if leg2 {
            let n = self.scratch_auth_len;
            self.auth_lines[slot][..n].copy_from_slice(&self.scratch_auth[..n]);
            self.txs[slot].auth_len = n as u16;
        } else {
            self.txs[slot].auth_len = 0;
        }
        self.inflight += 1;
        self.levels[0].push_back((now + self.offsets_ns[0], seq));
        self.enqueue(slot);
        true
    }

    fn finish_tx(&mut self, slot: usize, keep_user_busy: bool) {
        let tx = &mut self.txs[slot];
        tx.active = false;
        if !keep_user_busy {
            self.users[tx.user as usize].busy = false;
        }
        self.free.push(slot as u32);
        self.inflight -= 1;
    }

    /// Flushes every send path; returns the number of datagrams/requests handed to the kernel
    /// (TCP: bytes are flushed, count is not tracked).
    fn flush(&mut self) -> io::Result<()> {
        for c in &mut self.conns {
            match &mut c.io {
                Io::Udp { sock, out, head } => {
                    while *head < out.count {
                        let equal = out.count - *head >= 2
                            && out.lens[*head..out.count]
                                .iter()
                                .all(|&l| l == out.lens[*head]);
                        let n = if self.gso && equal {
                            match out.send_gso(sock.as_raw_fd(), *head, None) {
                                Ok(n) => n,
                                Err(e) => {
                                    eprintln!("loadgen: UDP GSO unavailable ({e}); using sendmmsg");
                                    self.gso = false;
                                    continue;
                                }
                            }
                        } else {
                            out.send(sock.as_raw_fd(), *head, false)?
                        };
                        if n == 0 {
                            break;
                        }
                        *head += n;
                    }
                    if *head == out.count {
                        out.count = 0;
                        *head = 0;
                    } else if *head > 0 {
                        // Socket buffer full: keep the unsent tail at the front for next time.
                        let (h, n) = (*head, out.count);
                        for k in h..n {
                            out.bufs.copy_within(k..k + 1, k - h);
                            out.lens[k - h] = out.lens[k];
                        }
                        out.count = n - h;
                        *head = 0;
                    }
                }
                Io::Tcp { stream, out, .. } => {
                    if out.is_empty() {
                        continue;
                    }
                    match stream.write(out) {
                        Ok(n) => {
                            out.drain(..n);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    /// Handles one response; `now` is its arrival time.
    fn on_response(&mut self, msg: &[u8], now: u64, r: &mut PhaseResult) {
        let code = match template::status_code(msg) {
            Some(code) => code,
            None if self.cfg.echo => 200,
            None => {
                r.stray += 1;
                return;
            }
        };
        let Some((thread, seq)) = template::branch_id(msg) else {
            r.stray += 1;
            return;
        };
        let slot = (seq & ((1u64 << self.slot_bits) - 1)) as usize;
        if thread != self.id || slot >= self.txs.len() {
            r.stray += 1;
            return;
        }
        let tx = self.txs[slot];
        if !tx.active || tx.seq != seq {
            // A response to a retransmission of a finished transaction.
            r.stray += 1;
            return;
        }
        if code < 200 {
            return;
        }
        let lat_us = ((now.saturating_sub(tx.start_ns)) / 1000).max(1);
        let lat_us = lat_us.min(120_000_000);
        let _ = r.hist.record(lat_us);
        let _ = self.iv.record(lat_us);
        r.status_counts[(code / 100).min(6) as usize] += 1;
        let user = tx.user as usize;
        if tx.op == Op::Auth && !tx.leg2 && (code == 401 || code == 407) {
            r.challenges += 1;
            // The credentials for the second leg go to the scratch line; the second leg is a
            // new transaction (new branch, CSeq + 1) of the same user, sent right away.
            let ok = self.auth_line(msg, user, slot);
            self.finish_tx(slot, ok);
            if ok {
                r.ok += 1;
                if self.start_tx(user, Op::Auth, true, now) {
                    r.sent += 1;
                } else {
                    self.users[user].busy = false;
                }
            } else {
                r.failed += 1;
                r.failed_status += 1;
            }
            return;
        }
        if (200..300).contains(&code) {
            r.ok += 1;
        } else {
            r.failed += 1;
            r.failed_status += 1;
        }
        self.finish_tx(slot, false);
    }

    /// Writes the Authorization line answering the challenge in `msg` for `user` into the
    /// scratch line; false when no challenge with the wanted algorithm is present.
    fn auth_line(&mut self, msg: &[u8], user: usize, slot: usize) -> bool {
        let alg = self.cfg.algorithm;
        let mut chosen = None;
        for (name, value) in template::headers(msg) {
            let proxy = name.eq_ignore_ascii_case(b"Proxy-Authenticate");
            if (proxy || name.eq_ignore_ascii_case(b"WWW-Authenticate"))
                && let Some(c) = digest::parse_challenge(value)
                && c.alg == alg
            {
                chosen = Some((c, proxy));
                break;
            }
        }
        let Some((c, proxy)) = chosen else {
            return false;
        };
        if c.nonce.len() > 200 || c.realm.len() > 100 || c.opaque.is_some_and(|o| o.len() > 100) {
            return false;
        }
        let mut uname = [0u8; 24];
        let mut w = Writer::new(&mut uname);
        w.put(b"user");
        w.put_u64(self.user_base + user as u64);
        let ulen = w.len;
        let mut uri = [0u8; 256];
        let mut w = Writer::new(&mut uri);
        w.put(b"sip:");
        w.put(self.cfg.domain.as_bytes());
        let urilen = w.len;
        let mut cnonce = [0u8; 24];
        let mut w = Writer::new(&mut cnonce);
        w.put(b"lg");
        w.put_u64(self.txs[slot].seq);
        let cnlen = w.len;
        let mut resp = [0u8; 64];
        let n = digest::response(
            &digest::DigestInput {
                alg,
                username: &uname[..ulen],
                realm: c.realm,
                password: self.cfg.password.as_bytes(),
                method: b"REGISTER",
                uri: &uri[..urilen],
                nonce: c.nonce,
                nc: b"00000001",
                cnonce: &cnonce[..cnlen],
                qop: b"auth",
            },
            &mut resp,
        );
        let mut w = Writer::new(&mut self.scratch_auth);
        w.put(if proxy {
            b"Proxy-Authorization: Digest username=\""
        } else {
            b"Authorization: Digest username=\""
        });
        w.put(&uname[..ulen]);
        w.put(b"\", realm=\"");
        w.put(c.realm);
        w.put(b"\", nonce=\"");
        w.put(c.nonce);
        w.put(b"\", uri=\"");
        w.put(&uri[..urilen]);
        w.put(b"\", response=\"");
        w.put(&resp[..n]);
        w.put(b"\", algorithm=");
        w.put(alg.name().as_bytes());
        w.put(b", cnonce=\"");
        w.put(&cnonce[..cnlen]);
        w.put(b"\", qop=auth, nc=00000001");
        if let Some(o) = c.opaque {
            w.put(b", opaque=\"");
            w.put(o);
            w.put(b"\"");
        }
        w.put(b"\r\n");
        self.scratch_auth_len = w.len;
        true
    }

    /// Receives everything queued on every connection. Returns the number of messages.
    fn receive(&mut self, r: &mut PhaseResult) -> io::Result<usize> {
        let mut total = 0;
        for ci in 0..self.conns.len() {
            if let Io::Udp { sock, .. } = &self.conns[ci].io {
                let fd = sock.as_raw_fd();
                loop {
                    let mut rx = self.rx.take().expect("receive batch");
                    let got = rx.recv(fd, false);
                    let entries = rx.count;
                    let got = match got {
                        Ok(n) => n,
                        Err(e) => {
                            self.rx = Some(rx);
                            return Err(e);
                        }
                    };
                    let now = sys::mono_ns();
                    let _ = got;
                    let mut k = 0;
                    rx.for_each(|_, m| {
                        self.on_response(m, now, r);
                        k += 1;
                    });
                    self.rx = Some(rx);
                    if entries == 0 {
                        break;
                    }
                    total += k;
                    if entries < sys::GRO_BATCH {
                        break;
                    }
                }
                continue;
            }
            loop {
                let Io::Tcp {
                    stream, inb, inlen, ..
                } = &mut self.conns[ci].io
                else {
                    unreachable!()
                };
                if *inlen == inb.len() {
                    inb.resize(inb.len() * 2, 0);
                }
                let n = match stream.read(&mut inb[*inlen..]) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "target closed the TCP connection",
                        ));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let mut len = *inlen + n;
                let mut buf = std::mem::take(inb);
                let now = sys::mono_ns();
                let mut off = 0;
                while let Some(m) = template::frame_len(&buf[off..len]) {
                    self.on_response(&buf[off..off + m], now, r);
                    off += m;
                    total += 1;
                }
                buf.copy_within(off..len, 0);
                len -= off;
                if let Io::Tcp { inb, inlen, .. } = &mut self.conns[ci].io {
                    *inb = buf;
                    *inlen = len;
                }
            }
        }
        Ok(total)
    }

    /// Retransmits and times out transactions whose timers fired; drops finished entries from
    /// the queue fronts. Returns the earliest pending deadline.
    fn timers(&mut self, now: u64, r: &mut PhaseResult) -> u64 {
        let mask = (1u64 << self.slot_bits) - 1;
        let last = self.levels.len() - 1;
        let mut earliest = u64::MAX;
        for k in 0..self.levels.len() {
            while let Some(&(deadline, seq)) = self.levels[k].front() {
                let slot = (seq & mask) as usize;
                let tx = self.txs[slot];
                if !tx.active || tx.seq != seq {
                    self.levels[k].pop_front();
                    continue;
                }
                if deadline > now {
                    earliest = earliest.min(deadline);
                    break;
                }
                if k == last {
                    // Timer F (or --timeout-ms).
                    self.levels[k].pop_front();
                    r.failed += 1;
                    r.failed_timeout += 1;
                    self.finish_tx(slot, false);
                    continue;
                }
                // Timer E: retransmit, if there is room now; else retry on the next pass.
                if !self.has_room(tx.conn as usize) {
                    break;
                }
                self.levels[k].pop_front();
                self.txs[slot].retrans += 1;
                r.retrans += 1;
                self.enqueue(slot);
                let at = tx.start_ns + self.offsets_ns[k + 1];
                self.levels[k + 1].push_back((at, seq));
            }
        }
        earliest
    }

    fn publish(&self, r: &PhaseResult, prep: bool, cpu0: u64) {
        let me = &self.shared.threads[self.id as usize];
        if prep {
            me.prep_ok.store(r.ok, Relaxed);
            me.prep_failed.store(r.failed, Relaxed);
            return;
        }
        me.sent.store(r.sent, Relaxed);
        me.ok.store(r.ok, Relaxed);
        me.failed.store(r.failed, Relaxed);
        me.retrans.store(r.retrans, Relaxed);
        me.cpu_ns.store(sys::thread_cpu_ns() - cpu0, Relaxed);
        me.spin_ns.store(r.spin_ns, Relaxed);
    }

    fn phase(&mut self, ph: Phase, start: Option<u64>) -> io::Result<PhaseResult> {
        let start = start.unwrap_or_else(sys::mono_ns);
        let cpu0 = sys::thread_cpu_ns();
        let mut r = PhaseResult::new(start);
        let mut next_iv = start + 1_000_000_000;
        let mut next_pub = start;
        let mut issued: u64 = 0;
        let mut idle_since: Option<u64> = None;
        let mut prep_user = 0usize;
        let mut stopping_since: Option<u64> = None;
        let drain_ns = self.cfg.timeout_ms * 1_000_000 + 100_000_000;
        let spin_ns = self.cfg.spin_us * 1000;
        self.iv.reset();
        loop {
            let now = sys::mono_ns();
            let stop_flag = self.shared.stop.load(Relaxed);
            let done_issuing = issued >= ph.limit || now >= ph.deadline_ns || stop_flag;
            if done_issuing && stopping_since.is_none() {
                stopping_since = Some(now);
            }
            if let Some(s) = stopping_since {
                let limit = if stop_flag { 1_000_000_000 } else { drain_ns };
                if self.inflight == 0 || now - s > limit {
                    break;
                }
            }
            let mut progress = false;
            // Issue new requests.
            if !done_issuing {
                let want = match ph.pace {
                    Pace::Window(w) => w.saturating_sub(self.inflight) as u64,
                    Pace::Rate(rate) => {
                        let due = ((now - start) as f64 * rate / 1e9) as u64 + 1;
                        let want = due.saturating_sub(issued);
                        if want > 0 {
                            let sched = start + (issued as f64 * 1e9 / rate) as u64;
                            let lag_ms = now.saturating_sub(sched) as f64 / 1e6;
                            if lag_ms > r.max_lag_ms && now > start + 1_000_000_000 {
                                r.max_lag_ms = lag_ms;
                            }
                        }
                        want
                    }
                };
                let want = want.min(ph.limit - issued).min(BATCH as u64 * 4);
                let mut n = 0;
                while n < want {
                    let user = if ph.prep {
                        if prep_user >= self.users.len() {
                            break;
                        }
                        prep_user += 1;
                        prep_user - 1
                    } else {
                        match self.pick_user() {
                            Some(u) => u,
                            None => break,
                        }
                    };
                    if !self.has_room(self.conn_of(user)) {
                        // Undo the pick: the user is simply skipped this round.
                        if ph.prep {
                            prep_user -= 1;
                        }
                        break;
                    }
                    let op = if ph.prep {
                        Op::Register
                    } else {
                        self.pick_op()
                    };
                    if !self.start_tx(user, op, false, now) {
                        if ph.prep {
                            prep_user -= 1;
                        }
                        break;
                    }
                    n += 1;
                }
                issued += n;
                r.sent += n;
                if n > 0 {
                    progress = true;
                }
            }
            self.flush()?;
            let got = self.receive(&mut r)?;
            if got > 0 {
                progress = true;
            }
            let now2 = sys::mono_ns();
            let earliest = self.timers(now2, &mut r);
            self.flush()?;
            if now2 >= next_pub {
                next_pub = now2 + 50_000_000;
                self.publish(&r, ph.prep, cpu0);
            }
            if !ph.prep && now2 >= next_iv {
                // Interval p99 for the progress line.
                let me = &self.shared.threads[self.id as usize];
                me.p99_us.store(self.iv.value_at_quantile(0.99), Relaxed);
                me.behind.store(r.max_lag_ms > 10.0, Relaxed);
                self.iv.reset();
                next_iv = now2 + 1_000_000_000;
            }
            if progress {
                if let Some(s) = idle_since.take() {
                    r.spin_ns += now2 - s;
                }
                continue;
            }
            // Nothing happened: spin a little, then park in ppoll until the next event.
            let s = *idle_since.get_or_insert(now2);
            if now2 - s < spin_ns {
                continue;
            }
            let mut wake = earliest.min(now2 + 2_000_000);
            if let (Pace::Rate(rate), false) = (ph.pace, done_issuing) {
                let sched = start + ((issued) as f64 * 1e9 / rate) as u64;
                wake = wake.min(sched);
            }
            if let Some(s) = stopping_since {
                wake = wake.min(s + drain_ns);
            }
            if wake > now2 + 20_000 {
                let t0 = now2;
                sys::poll_readable(&mut self.pollfds, Duration::from_nanos(wake - now2));
                // Parked time is not CPU time: restart the spin accounting after it.
                r.spin_ns += t0 - s;
                idle_since = Some(sys::mono_ns());
            }
        }
        if let Some(s) = idle_since {
            r.spin_ns += sys::mono_ns().saturating_sub(s).min(spin_ns);
        }
        r.unfinished = self.inflight as u64;
        // Abandon what is still in flight (Ctrl-C): forget it.
        for slot in 0..self.txs.len() {
            if self.txs[slot].active {
                self.finish_tx(slot, false);
            }
        }
        for l in &mut self.levels {
            l.clear();
        }
        r.end_ns = sys::mono_ns();
        r.cpu_ns = sys::thread_cpu_ns() - cpu0;
        r.behind = r.max_lag_ms > 10.0;
        self.publish(&r, ph.prep, cpu0);
        Ok(r)
    }
}
