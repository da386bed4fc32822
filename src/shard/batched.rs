//! The batched shard backend: one pinned OS thread per shard running an epoll loop (mio),
//! with `recvmmsg`/`sendmmsg` for UDP, non-blocking TCP, and crossbeam queues between shards
//! (a shard parked in epoll is woken through an eventfd only when it is parked).
//!
//! Same interface and behaviour as the glommio backend (`tuning.backend` picks one): the
//! shard owns the AoRs that route to it, hands other requests to their owner, answers UDP
//! from its own socket and TCP through the shard holding the connection. Per loop turn it
//! makes one `epoll_wait`, then per readable UDP socket one `recvmmsg` per batch and one
//! `sendmmsg` for the batch's responses; glommio's reactor makes several `io_uring_enter`
//! calls per turn, which at tens of thousands of requests per second is most of the
//! difference (docs/performance.md).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use tracing::{debug, info, info_span, warn};

use super::batch::{RecvBatch, SendBatch};
use super::framing::{Frame, next_frame};
use super::sockets::ShardSockets;
use super::stats::ShellStats;
use super::{
    BufferPools, PeerMsg, ReplyPath, Router, ShardReport, bump, handle_received, log_stopped,
    run_core,
};
use crate::config::AppConfig;
use crate::registrar::{Millis, Registrar, Transport};

const LISTENER_BASE: usize = 1 << 20;
const CONN_BASE: usize = 1 << 21;
const WAKE: Token = Token(usize::MAX);

/// The queues between shards: `queues[to][from]`, and how to wake a parked shard.
pub(super) struct Peers {
    queues: Vec<Vec<ArrayQueue<PeerMsg>>>,
    parked: Vec<AtomicBool>,
    wakers: Vec<Waker>,
    /// Handoff buffers, per sending shard.
    pool: BufferPools,
}

impl Peers {
    /// Queues `msg` for shard `to`; gives it back when the queue is full.
    fn send(&self, from: usize, to: usize, msg: PeerMsg) -> Result<(), PeerMsg> {
        self.queues[to][from].push(msg)?;
        // SeqCst on both sides: either the receiver sees the item before parking, or we see
        // it parked and wake it.
        if self.parked[to].load(Ordering::SeqCst) {
            let _ = self.wakers[to].wake();
        }
        Ok(())
    }

    fn pending(&self, me: usize) -> bool {
        self.queues[me].iter().any(|q| !q.is_empty())
    }

    fn buffer(&self, me: usize, msg: &[u8]) -> Vec<u8> {
        self.pool.take(me, msg)
    }

    fn recycle(&self, owner: usize, v: Vec<u8>) {
        self.pool.give(owner, v);
    }
}

/// Starts one thread per shard; each returns its report when `stop` is set.
pub(super) fn spawn(
    cfg: Arc<AppConfig>,
    per_shard: Vec<ShardSockets>,
    router: Router,
    stop: Arc<AtomicBool>,
    epoch: Instant,
) -> io::Result<Vec<std::thread::JoinHandle<ShardReport>>> {
    let n = per_shard.len();
    let mut polls = Vec::with_capacity(n);
    let mut wakers = Vec::with_capacity(n);
    for _ in 0..n {
        let poll = Poll::new()?;
        wakers.push(Waker::new(poll.registry(), WAKE)?);
        polls.push(poll);
    }
    let depth = cfg.tuning.handoff_queue_depth;
    let peers = Arc::new(Peers {
        queues: (0..n)
            .map(|_| (0..n).map(|_| ArrayQueue::new(depth)).collect())
            .collect(),
        parked: (0..n).map(|_| AtomicBool::new(false)).collect(),
        wakers,
        pool: BufferPools::new(n, depth),
    });
    let mut handles = Vec::with_capacity(n);
    for (id, (sockets, poll)) in per_shard.into_iter().zip(polls).enumerate() {
        let (cfg, router, stop, peers) = (cfg.clone(), router.clone(), stop.clone(), peers.clone());
        let handle = std::thread::Builder::new()
            .name(format!("shard-{id}"))
            .spawn(move || {
                if let Some(&cpu) = cfg.server.cores.get(id) {
                    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                        warn!(shard = id, cpu, "cannot pin the shard to its CPU");
                    }
                }
                let span = info_span!("shard", id);
                let _enter = span.enter();
                let mut shard = EpollShard::new(id, cfg, sockets, router, poll, peers, epoch);
                shard.run(&stop)
            })?;
        handles.push(handle);
    }
    Ok(handles)
}

/// What dispatching a connection's buffer came to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Everything complete was dispatched.
    Done,
    /// Paused: the responses queued for the peer are over the limit.
    OutputFull,
    /// Paused: the owner shard's queue is full.
    PeerFull,
    /// The connection is closing (or gone).
    Closing,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    last: Instant,
    started: Option<Instant>,
    closing: bool,
}

struct EpollShard {
    id: usize,
    cfg: Arc<AppConfig>,
    core: Registrar,
    epoch: Instant,
    router: Router,
    key: Vec<u8>,
    stats: ShellStats,
    poll: Poll,
    peers: Arc<Peers>,
    udp: Vec<UdpSocket>,
    listeners: Vec<TcpListener>,
    conns: Vec<Option<Conn>>,
    gens: Vec<u32>,
    free: Vec<usize>,
    open: usize,
    per_source: HashMap<IpAddr, usize>,
    /// Connections with input left unprocessed (a full peer queue or output buffer).
    stalled: Vec<usize>,
    rx: RecvBatch,
    tx: SendBatch,
    out: Vec<u8>,
    /// The core's journal records of the last tick (swapped with the core's buffer, so both
    /// keep their capacity: no regrowth per tick).
    journal: Vec<u8>,
    chunk: Vec<u8>,
}

impl EpollShard {
    fn new(
        id: usize,
        cfg: Arc<AppConfig>,
        sockets: ShardSockets,
        router: Router,
        poll: Poll,
        peers: Arc<Peers>,
        epoch: Instant,
    ) -> EpollShard {
        let core = Registrar::new(cfg.core.clone(), Millis(epoch.elapsed().as_millis() as u64))
            .expect("validated before the shards started");
        let mut udp = Vec::new();
        for (i, (_, s)) in sockets.udp.into_iter().enumerate() {
            let std_sock: std::net::UdpSocket = s.into();
            let _ = std_sock.set_nonblocking(true);
            let mut sock = UdpSocket::from_std(std_sock);
            if let Err(e) = poll
                .registry()
                .register(&mut sock, Token(i), Interest::READABLE)
            {
                warn!(error = %e, "cannot register a UDP socket");
            }
            udp.push(sock);
        }
        let mut listeners = Vec::new();
        for (k, (_, s)) in sockets.tcp.into_iter().enumerate() {
            let std_l: std::net::TcpListener = s.into();
            let _ = std_l.set_nonblocking(true);
            let mut l = TcpListener::from_std(std_l);
            if let Err(e) =
                poll.registry()
                    .register(&mut l, Token(LISTENER_BASE + k), Interest::READABLE)
            {
                warn!(error = %e, "cannot register a TCP listener");
            }
            listeners.push(l);
        }
        let batch = cfg.tuning.batch.clamp(1, 1024);
        let max = cfg.core.parser.limits.max_message_bytes;
        EpollShard {
            id,
            core,
            epoch,
            router,
            key: Vec::with_capacity(128),
            stats: ShellStats::default(),
            poll,
            peers,
            udp,
            listeners,
            conns: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            open: 0,
            per_source: HashMap::new(),
            stalled: Vec::new(),
            rx: RecvBatch::new(batch, max + 1),
            tx: SendBatch::new(batch),
            out: Vec::with_capacity(4096),
            journal: Vec::new(),
            chunk: vec![0; 16 * 1024],
            cfg,
        }
    }

    fn now(&self) -> Millis {
        Millis(self.epoch.elapsed().as_millis() as u64)
    }

    fn run(&mut self, stop: &AtomicBool) -> ShardReport {
        let tick = Duration::from_millis(self.cfg.core.timer_tick_ms.clamp(1, 100));
        let stats_every = Duration::from_secs(self.cfg.server.stats_interval_s);
        let mut last_stats = Instant::now();
        let mut next_tick = Instant::now() + tick;
        let mut events = Events::with_capacity(1024);
        debug!("shard running (batched backend)");
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let mut timeout = next_tick.saturating_duration_since(now);
            self.peers.parked[self.id].store(true, Ordering::SeqCst);
            if !self.stalled.is_empty() || self.peers.pending(self.id) {
                timeout = Duration::ZERO;
            }
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.peers.parked[self.id].store(false, Ordering::SeqCst);
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    warn!(error = %e, "epoll");
                }
                continue;
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKE => {}
                    Token(t) if t < LISTENER_BASE => self.drain_udp(t),
                    Token(t) if t < CONN_BASE => self.accept(t - LISTENER_BASE),
                    Token(t) => self.conn_ready(t - CONN_BASE, ev.is_readable(), ev.is_writable()),
                }
            }
            self.drain_peers();
            self.retry_stalled();
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + tick;
                self.tick();
                if !stats_every.is_zero() && last_stats.elapsed() >= stats_every {
                    last_stats = Instant::now();
                    let r = self.report();
                    info!(aors = r.aors, bindings = r.bindings, "stats: {}", r.shell);
                }
            }
        }
        // Drain: what other shards already queued for us.
        std::thread::sleep(Duration::from_millis(50));
        self.drain_peers();
        let report = self.report();
        log_stopped(&report);
        report
    }

    fn report(&self) -> ShardReport {
        ShardReport {
            shard: self.id,
            core: *self.core.stats(),
            shell: self.stats.snapshot(),
            aors: self.core.table().aor_count(),
            bindings: self.core.table().binding_count(),
        }
    }

    fn tick(&mut self) {
        let now = self.now();
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now);
        }
        // Durable storage comes with the store; until then the records are dropped.
        self.core.take_journal(&mut self.journal);
        self.journal.clear();
        let idle = Duration::from_secs(self.cfg.tcp.idle_timeout_s);
        let partial = Duration::from_millis(self.cfg.tcp.partial_message_timeout_ms);
        for slot in 0..self.conns.len() {
            let verdict = match &self.conns[slot] {
                Some(c) if c.started.is_some_and(|t| t.elapsed() >= partial) => {
                    Some(&self.stats.tcp_partial_closed)
                }
                Some(c) if c.last.elapsed() >= idle => Some(&self.stats.tcp_idle_closed),
                _ => None,
            };
            if let Some(counter) = verdict {
                bump(counter);
                self.close(slot);
            }
        }
    }

    fn owner_of(&mut self, msg: &[u8]) -> usize {
        self.router
            .owner_of_message(&self.cfg.core, &mut self.key, self.id, msg)
    }

    fn process(&mut self, msg: &[u8], src: SocketAddr, transport: Transport) -> Option<SocketAddr> {
        let now = self.now();
        run_core(&mut self.core, now, msg, src, transport, &mut self.out)
    }

    // ---- UDP ----

    fn drain_udp(&mut self, index: usize) {
        let Some(sock) = self.udp.get(index) else {
            return;
        };
        let fd = sock.as_raw_fd();
        loop {
            let n = match self.rx.recv_more(fd, 0) {
                Ok(n) => n,
                Err(e) => {
                    bump(&self.stats.udp_errors);
                    debug!(error = %e, "udp recvmmsg");
                    break;
                }
            };
            if n == 0 {
                break;
            }
            let c = &self.stats.udp_in;
            c.set(c.get() + n as u64);
            self.handle_datagrams(n, index);
            self.flush_udp(fd);
            // A lone datagram means the socket is idle between requests: back to epoll. A
            // batch means load: more have likely arrived while it was handled, so read again
            // before paying for an epoll_wait (edge-triggered: we read until it is empty).
            if n == 1 {
                break;
            }
        }
    }

    fn handle_datagrams(&mut self, count: usize, socket: usize) {
        let now = self.now();
        let Self {
            rx,
            tx,
            core,
            out,
            router,
            cfg,
            key,
            id,
            peers,
            stats,
            ..
        } = self;
        handle_received(core, now, rx, count, tx, out, |msg, src| {
            let o = router.owner_of_message(&cfg.core, key, *id, msg);
            if o == *id {
                return false;
            }
            let item = PeerMsg::Request {
                bytes: peers.buffer(*id, msg),
                src,
                reply: ReplyPath::Udp { socket },
            };
            bump(if peers.send(*id, o, item).is_ok() {
                &stats.handed_off
            } else {
                &stats.handoff_dropped
            });
            true
        });
    }

    /// Sends the queued UDP responses with `sendmmsg`. A socket buffer that stays full drops
    /// the rest (counted): the clients retransmit.
    fn flush_udp(&mut self, fd: std::os::fd::RawFd) {
        let mut sent = 0;
        let mut stuck = 0;
        while sent < self.tx.len() {
            match self.tx.send_from(fd, sent) {
                Ok(0) => {
                    stuck += 1;
                    if stuck > 3 {
                        let dropped = (self.tx.len() - sent) as u64;
                        let c = &self.stats.udp_errors;
                        c.set(c.get() + dropped);
                        break;
                    }
                    std::thread::yield_now();
                }
                Ok(n) => {
                    let c = &self.stats.udp_out;
                    c.set(c.get() + n as u64);
                    sent += n;
                }
                Err(e) => {
                    bump(&self.stats.udp_errors);
                    debug!(error = %e, "udp sendmmsg");
                    sent += 1;
                }
            }
        }
        self.tx.clear();
    }

    // ---- shards ----

    fn drain_peers(&mut self) {
        let n = self.peers.queues.len();
        for from in 0..n {
            // Bounded: at most what the queue held when we started.
            let mut budget = self.peers.queues[self.id][from].len();
            while budget > 0 {
                budget -= 1;
                let Some(msg) = self.peers.queues[self.id][from].pop() else {
                    break;
                };
                self.peer_message(from, msg);
            }
        }
    }

    fn peer_message(&mut self, from: usize, msg: PeerMsg) {
        match msg {
            PeerMsg::Request { bytes, src, reply } => {
                bump(&self.stats.from_peers);
                let answered = self.process(&bytes, src, reply.transport());
                self.peers.recycle(from, bytes);
                let Some(dest) = answered else {
                    return;
                };
                match reply {
                    ReplyPath::Udp { socket } => {
                        if let Some(sock) = self.udp.get(socket) {
                            let fd = sock.as_raw_fd();
                            self.tx.push(&self.out, dest);
                            self.flush_udp(fd);
                        }
                    }
                    ReplyPath::Tcp { shard, conn } if shard == self.id => {
                        let bytes = std::mem::take(&mut self.out);
                        self.deliver(conn, &bytes);
                        self.out = bytes;
                    }
                    ReplyPath::Tcp { shard, conn } => {
                        let item = PeerMsg::TcpReply {
                            conn,
                            bytes: self.out.clone(),
                        };
                        let sent = self.peers.send(self.id, shard, item).is_ok();
                        bump(if sent {
                            &self.stats.replies_forwarded
                        } else {
                            &self.stats.replies_dropped
                        });
                    }
                }
            }
            PeerMsg::TcpReply { conn, bytes } => self.deliver(conn, &bytes),
        }
    }

    // ---- TCP ----

    fn accept(&mut self, k: usize) {
        loop {
            let Some(l) = self.listeners.get(k) else {
                return;
            };
            let (mut stream, peer) = match l.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warn!(error = %e, "tcp accept");
                    return;
                }
            };
            let limits = self.cfg.tcp;
            let from_source = self.per_source.get(&peer.ip()).copied().unwrap_or(0);
            if self.open >= limits.max_connections
                || from_source >= limits.max_connections_per_source
            {
                bump(&self.stats.tcp_refused);
                continue;
            }
            let slot = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.conns.push(None);
                    self.gens.push(0);
                    self.conns.len() - 1
                }
            };
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(CONN_BASE + slot),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                warn!(error = %e, "cannot register a TCP connection");
                self.free.push(slot);
                continue;
            }
            let _ = stream.set_nodelay(true);
            self.conns[slot] = Some(Conn {
                stream,
                peer,
                inbuf: Vec::new(),
                outbuf: Vec::new(),
                last: Instant::now(),
                started: None,
                closing: false,
            });
            self.open += 1;
            *self.per_source.entry(peer.ip()).or_insert(0) += 1;
            bump(&self.stats.tcp_accepted);
        }
    }

    fn conn_id(&self, slot: usize) -> u64 {
        (u64::from(self.gens[slot]) << 32) | slot as u64
    }

    /// Any event on a connection: write what is pending, then read and dispatch until the
    /// socket has nothing more (epoll is edge-triggered: what is left unread would never be
    /// signalled again), the connection pauses, or it closes.
    fn conn_ready(&mut self, slot: usize, _readable: bool, writable: bool) {
        if writable {
            self.flush_conn(slot);
        }
        let max = self.cfg.core.parser.limits.max_message_bytes;
        loop {
            let mut closed = false;
            let mut capped = false;
            {
                let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                    return;
                };
                loop {
                    // Never buffer more than one message over the limit: the framer answers
                    // 513 and closes, or frees room by dispatching what is complete.
                    if c.inbuf.len() > max + self.chunk.len() {
                        capped = true;
                        break;
                    }
                    match c.stream.read(&mut self.chunk) {
                        Ok(0) => {
                            closed = true;
                            break;
                        }
                        Ok(n) => {
                            c.inbuf.extend_from_slice(&self.chunk[..n]);
                            c.last = Instant::now();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            closed = true;
                            break;
                        }
                    }
                }
            }
            let progress = self.process_frames(slot);
            if closed {
                self.close(slot);
                return;
            }
            match progress {
                // The owner's queue is full: retried every loop turn until it drains.
                Progress::PeerFull => {
                    if !self.stalled.contains(&slot) {
                        self.stalled.push(slot);
                    }
                    return;
                }
                // The peer is not reading its responses: the writable edge resumes us.
                Progress::OutputFull | Progress::Closing => return,
                Progress::Done if capped => continue,
                Progress::Done => return,
            }
        }
    }

    /// Frames and dispatches what the connection's buffer holds.
    fn process_frames(&mut self, slot: usize) -> Progress {
        let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) else {
            return Progress::Closing;
        };
        let limit = self.cfg.tcp.max_pending_responses * 2048;
        let max = self.cfg.core.parser.limits.max_message_bytes;
        let conn = self.conn_id(slot);
        let mut progress = Progress::Done;
        while !c.closing {
            if c.outbuf.len() > limit {
                progress = Progress::OutputFull;
                break;
            }
            match next_frame(&c.inbuf, &self.cfg.core.parser) {
                Frame::Ping => {
                    c.inbuf.drain(..4);
                    c.outbuf.extend_from_slice(b"\r\n");
                    bump(&self.stats.tcp_keepalives);
                }
                Frame::Message(len) => {
                    let o = self.owner_of(&c.inbuf[..len]);
                    if o != self.id {
                        let item = PeerMsg::Request {
                            bytes: self.peers.buffer(self.id, &c.inbuf[..len]),
                            src: c.peer,
                            reply: ReplyPath::Tcp {
                                shard: self.id,
                                conn,
                            },
                        };
                        if self.peers.send(self.id, o, item).is_err() {
                            // Back-pressure: keep the message and try again next turn.
                            progress = Progress::PeerFull;
                            break;
                        }
                        bump(&self.stats.handed_off);
                    } else if self
                        .process(&c.inbuf[..len], c.peer, Transport::Tcp)
                        .is_some()
                    {
                        c.outbuf.extend_from_slice(&self.out);
                    }
                    bump(&self.stats.tcp_messages);
                    c.inbuf.drain(..len);
                    c.started = None;
                }
                Frame::Partial => {
                    if !c.inbuf.is_empty() && c.inbuf != b"\r\n" {
                        c.started.get_or_insert_with(Instant::now);
                    }
                    break;
                }
                Frame::TooLarge | Frame::Garbage => {
                    bump(&self.stats.tcp_framing_closed);
                    let end = c.inbuf.len().min(max + 1);
                    if self
                        .process(&c.inbuf[..end], c.peer, Transport::Tcp)
                        .is_some()
                    {
                        c.outbuf.extend_from_slice(&self.out);
                    }
                    c.inbuf.clear();
                    c.closing = true;
                }
            }
        }
        if c.closing {
            progress = Progress::Closing;
        }
        self.conns[slot] = Some(c);
        self.flush_conn(slot);
        progress
    }

    fn retry_stalled(&mut self) {
        if self.stalled.is_empty() {
            return;
        }
        for slot in std::mem::take(&mut self.stalled) {
            self.conn_ready(slot, false, false);
        }
    }

    /// Writes what the connection has pending; closes it when it was closing and is done.
    fn flush_conn(&mut self, slot: usize) {
        let mut close = false;
        if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
            while !c.outbuf.is_empty() {
                match c.stream.write(&c.outbuf) {
                    Ok(0) => {
                        close = true;
                        break;
                    }
                    Ok(n) => {
                        c.outbuf.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        close = true;
                        break;
                    }
                }
            }
            close |= c.closing && c.outbuf.is_empty();
        }
        if close {
            self.close(slot);
        }
    }

    /// A response for one of this shard's connections (local, or from the owner shard).
    fn deliver(&mut self, conn: u64, bytes: &[u8]) {
        let slot = (conn & 0xffff_ffff) as usize;
        let live = self
            .gens
            .get(slot)
            .is_some_and(|&g| u64::from(g) == conn >> 32)
            && self.conns.get(slot).is_some_and(Option::is_some);
        if !live {
            bump(&self.stats.replies_dropped);
            return;
        }
        if let Some(c) = self.conns[slot].as_mut() {
            c.outbuf.extend_from_slice(bytes);
        }
        self.flush_conn(slot);
    }

    fn close(&mut self, slot: usize) {
        let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.open -= 1;
        if let Some(n) = self.per_source.get_mut(&c.peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&c.peer.ip());
            }
        }
        self.gens[slot] = self.gens[slot].wrapping_add(1);
        self.free.push(slot);
        self.stalled.retain(|&s| s != slot);
        debug!(peer = %c.peer, "tcp connection closed");
    }
}
