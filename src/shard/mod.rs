//! The runtime shell: one glommio executor per shard, pinned to its CPU, each with its own
//! SO_REUSEPORT UDP socket and TCP listener on every listening address.
//!
//! Each shard owns the AoRs whose canonical form hashes to it ([`Router`]) and keeps them in
//! its own [`Registrar`]; nothing is shared between shard threads and nothing is locked. The
//! kernel spreads packets by 4-tuple, not by AoR, so a request that lands on a shard that
//! does not own its AoR is handed over, as owned bytes with its source and reply path, on a
//! bounded cross-shard channel (glommio's channel mesh). The owner runs §10.3 and answers:
//! UDP from its own socket (same address and port as every shard's), TCP back through the
//! shard that holds the connection.
//!
//! Each shard ticks its own timer wheel (`handle_timeout`), so expiry needs no global sweep.
//! Nothing but SIP runs on a shard; the admin (later) gets its own thread.

mod batch;
mod batched;
mod framing;
mod sockets;
pub mod stats;
mod tcp;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use glommio::channels::channel_mesh::{MeshBuilder, Senders};
use glommio::channels::local_channel::LocalSender;
use glommio::net::UdpSocket;
use glommio::{LocalExecutorBuilder, Placement};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::config::{AppConfig, Backend, Listen};
use crate::registrar::{Millis, Outcome, Registrar, Source, Stats, Transport, UnixTime, route};

pub use sockets::BindError;
pub use stats::{ShellSnapshot, ShellStats};

/// Picks the owner shard of a canonical AoR: a keyed hash (seeded per process, so a remote
/// party cannot aim many AoRs at one shard) mapped onto the shard count.
#[derive(Clone, Debug)]
pub struct Router {
    hasher: foldhash::fast::FixedState,
    shards: usize,
}

impl Router {
    /// A router with a fresh random key.
    pub fn new(shards: usize) -> Router {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64);
        Router::with_seed(shards, seed)
    }

    pub fn with_seed(shards: usize, seed: u64) -> Router {
        Router {
            hasher: foldhash::fast::FixedState::with_seed(seed),
            shards: shards.max(1),
        }
    }

    /// The shard owning `aor` (canonical form).
    pub fn owner(&self, aor: &[u8]) -> usize {
        let h = self.hasher.hash_one(aor);
        // Multiply-shift maps the hash onto 0..shards without a division.
        ((u128::from(h) * self.shards as u128) >> 64) as usize
    }

    /// The shard owning the AoR `msg` is about; `me` when it names none (the answer is then
    /// an error or nothing, which any shard can give). `key` is scratch space.
    pub(crate) fn owner_of_message(
        &self,
        core: &crate::registrar::Config,
        key: &mut Vec<u8>,
        me: usize,
        msg: &[u8],
    ) -> usize {
        if self.shards == 1 {
            return me;
        }
        if route::owner_aor(core, msg, key) {
            self.owner(key)
        } else {
            me
        }
    }
}

/// Runs the core on one message; the response (if any) is in `out`, to send to the address
/// returned.
pub(crate) fn run_core(
    core: &mut Registrar,
    now: Millis,
    msg: &[u8],
    src: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<SocketAddr> {
    let source = Source {
        addr: src,
        transport,
    };
    match core.handle(now, wall_now(), source, msg, out) {
        Outcome::Respond { dest, .. } => Some(dest),
        Outcome::Drop(_) => None,
    }
}

/// Reusable handoff buffers, one pool per sending shard: the receiver gives a request's
/// buffer back to the shard that filled it, so steady-state handoffs allocate nothing.
pub(crate) struct BufferPools(Vec<crossbeam_queue::ArrayQueue<Vec<u8>>>);

impl BufferPools {
    pub(crate) fn new(shards: usize, depth: usize) -> BufferPools {
        BufferPools(
            (0..shards)
                .map(|_| crossbeam_queue::ArrayQueue::new(depth.max(1)))
                .collect(),
        )
    }

    /// A copy of `msg` in a buffer from shard `me`'s pool (allocated only when it is empty).
    pub(crate) fn take(&self, me: usize, msg: &[u8]) -> Vec<u8> {
        let mut v = self.0[me].pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(msg);
        v
    }

    /// Gives a buffer back to the shard that filled it (dropped if its pool is full).
    pub(crate) fn give(&self, owner: usize, v: Vec<u8>) {
        if let Some(pool) = self.0.get(owner) {
            let _ = pool.push(v);
        }
    }
}

/// What a shard reports when it stops.
#[derive(Debug, Clone)]
pub struct ShardReport {
    pub shard: usize,
    pub core: Stats,
    pub shell: ShellSnapshot,
    pub aors: usize,
    pub bindings: usize,
}

/// Why the runtime could not start.
#[derive(Debug)]
pub enum RunError {
    Bind(BindError),
    Executor { shard: usize, error: String },
    Core(crate::registrar::ConfigError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Bind(e) => write!(f, "{e}"),
            RunError::Executor { shard, error } => {
                write!(f, "shard {shard}: cannot start its executor: {error}")
            }
            RunError::Core(e) => write!(f, "registrar.{e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// How a handed-off request's response travels back.
#[derive(Clone, Copy, Debug)]
enum ReplyPath {
    /// From the owner's UDP socket with this index in `server.listen`'s UDP entries.
    Udp { socket: usize },
    /// Through connection `conn` of shard `shard`.
    Tcp { shard: usize, conn: u64 },
}

impl ReplyPath {
    /// The transport the request arrived on.
    fn transport(self) -> Transport {
        match self {
            ReplyPath::Udp { .. } => Transport::Udp,
            ReplyPath::Tcp { .. } => Transport::Tcp,
        }
    }
}

/// What shards send each other.
enum PeerMsg {
    /// A request for an AoR the receiving shard owns.
    Request {
        bytes: Vec<u8>,
        src: SocketAddr,
        reply: ReplyPath,
    },
    /// A response for a TCP connection the receiving shard holds.
    TcpReply { conn: u64, bytes: Vec<u8> },
}

/// Starts the shards on sockets bound here, calls `ready` with the addresses actually bound
/// (port 0 resolved), and runs until `stop` is set; then every shard drains and reports.
pub fn run(
    cfg: AppConfig,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(&[Listen]),
) -> Result<Vec<ShardReport>, RunError> {
    // The core checks its own settings; do it before any thread starts.
    Registrar::new(cfg.core.clone(), Millis(0)).map_err(RunError::Core)?;
    let (per_shard, bound) = sockets::bind_all(&cfg).map_err(RunError::Bind)?;
    let n = cfg.server.shards;
    let router = Router::new(n);
    let cfg = Arc::new(cfg);
    let epoch = Instant::now();
    if cfg.tuning.lock_memory {
        match lock_memory() {
            Ok(()) => info!("tuning.lock_memory: every page is locked in memory"),
            Err(e) => warn!(
                error = %e,
                "tuning.lock_memory: cannot lock the process's memory (needs CAP_IPC_LOCK or \
                 a larger `ulimit -l`, e.g. LimitMEMLOCK=infinity under systemd); running \
                 without it"
            ),
        }
    }
    let mut backend = cfg.tuning.backend;
    if backend == Backend::Glommio {
        if let Err(e) = glommio_available(cfg.tuning.io_memory_kib << 10) {
            warn!(
                error = %e,
                "glommio cannot start here (io_uring disabled, or too little locked memory: \
                 see tuning/kernel.sh); running the batched backend instead"
            );
            backend = Backend::Batched;
        }
    }
    if backend == Backend::Batched {
        let handles = batched::spawn(cfg.clone(), per_shard, router, stop, epoch).map_err(|e| {
            RunError::Executor {
                shard: 0,
                error: e.to_string(),
            }
        })?;
        ready(&bound);
        let mut reports = Vec::with_capacity(n);
        for (id, h) in handles.into_iter().enumerate() {
            reports.push(h.join().map_err(|_| RunError::Executor {
                shard: id,
                error: "the shard thread panicked".into(),
            })?);
        }
        return Ok(reports);
    }
    let mesh = MeshBuilder::<PeerMsg, _>::full(n, cfg.tuning.handoff_queue_depth);
    let pools = Arc::new(BufferPools::new(n, cfg.tuning.handoff_queue_depth));
    let mut handles = Vec::with_capacity(n);
    for (id, sockets) in per_shard.into_iter().enumerate() {
        let placement = match cfg.server.cores.get(id) {
            Some(&cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
        };
        let builder = LocalExecutorBuilder::new(placement)
            .name(&format!("shard-{id}"))
            .io_memory(cfg.tuning.io_memory_kib << 10)
            .spin_before_park(Duration::from_micros(cfg.tuning.spin_before_park_us));
        let (cfg, stop, mesh, router) = (cfg.clone(), stop.clone(), mesh.clone(), router.clone());
        let pools = pools.clone();
        let handle = builder
            .spawn(move || {
                let span = info_span!("shard", id);
                let common = Common {
                    cfg,
                    router,
                    pools,
                    stop,
                    epoch,
                };
                shard_main(id, common, sockets, mesh).instrument(span)
            })
            .map_err(|e| RunError::Executor {
                shard: id,
                error: e.to_string(),
            })?;
        handles.push(handle);
    }
    ready(&bound);
    let mut reports = Vec::with_capacity(n);
    for (id, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(r) => reports.push(r),
            Err(e) => {
                return Err(RunError::Executor {
                    shard: id,
                    error: e.to_string(),
                });
            }
        }
    }
    Ok(reports)
}

/// Locks every page the process has and will map into memory (`tuning.lock_memory`).
#[allow(unsafe_code)]
fn lock_memory() -> std::io::Result<()> {
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether a glommio executor can be made on this machine (io_uring allowed, enough locked
/// memory), tried on a scratch thread.
fn glommio_available(io_memory: usize) -> Result<(), String> {
    // glommio 0.9 panics (rather than erring) when io_uring is disabled: keep that panic's
    // message for the warning instead of printing it (no other thread runs yet).
    let message = Arc::new(std::sync::Mutex::new(String::new()));
    let seen = message.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut m) = seen.lock() {
            *m = info.to_string();
        }
    }));
    let result = std::thread::spawn(move || {
        LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(io_memory)
            .make()
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .join();
    std::panic::set_hook(previous);
    result.unwrap_or_else(|_| {
        let m = message.lock().map(|m| m.clone()).unwrap_or_default();
        Err(m.lines().last().unwrap_or("the probe panicked").to_string())
    })
}

/// One shard's state, shared by its tasks (all on one thread: `Rc`/`RefCell`, and no borrow
/// is held across an `.await`).
pub(crate) struct Shard {
    id: usize,
    cfg: Arc<AppConfig>,
    core: RefCell<Registrar>,
    epoch: Instant,
    router: Router,
    udp: Vec<Rc<UdpSocket>>,
    peers: Option<Senders<PeerMsg>>,
    pools: Arc<BufferPools>,
    /// Open TCP connections of this shard: their response queues.
    conns: RefCell<HashMap<u64, Rc<LocalSender<Vec<u8>>>>>,
    per_source: RefCell<HashMap<IpAddr, usize>>,
    next_conn: Cell<u64>,
    key: RefCell<Vec<u8>>,
    stats: ShellStats,
}

impl Shard {
    fn now(&self) -> Millis {
        Millis(self.epoch.elapsed().as_millis() as u64)
    }

    fn owner_of(&self, msg: &[u8]) -> usize {
        self.router
            .owner_of_message(&self.cfg.core, &mut self.key.borrow_mut(), self.id, msg)
    }

    fn process(
        &self,
        msg: &[u8],
        src: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        run_core(
            &mut self.core.borrow_mut(),
            self.now(),
            msg,
            src,
            transport,
            out,
        )
    }

    /// Hands a TCP request to its owner, waiting for room in the owner's queue
    /// (back-pressure on the connection).
    async fn hand_off_tcp(&self, owner: usize, msg: &[u8], src: SocketAddr, reply: ReplyPath) {
        let Some(peers) = &self.peers else { return };
        let item = PeerMsg::Request {
            bytes: self.pools.take(self.id, msg),
            src,
            reply,
        };
        bump(if peers.send_to(owner, item).await.is_ok() {
            &self.stats.handed_off
        } else {
            &self.stats.handoff_dropped
        });
    }

    /// Hands a UDP request to its owner without waiting: a full queue drops it (counted; the
    /// client retransmits).
    fn hand_off_now(&self, owner: usize, msg: &[u8], src: SocketAddr, reply: ReplyPath) {
        let Some(peers) = &self.peers else { return };
        let item = PeerMsg::Request {
            bytes: self.pools.take(self.id, msg),
            src,
            reply,
        };
        bump(if peers.try_send_to(owner, item).is_ok() {
            &self.stats.handed_off
        } else {
            &self.stats.handoff_dropped
        });
    }

    /// Queues a response on one of this shard's TCP connections.
    /// Queues a response on one of this shard's TCP connections. When its queue is full
    /// (responses arriving faster than the writer task runs), waits for room, at most
    /// `TCP_REPLY_WAIT`: a peer that does not read its responses must not hold up the
    /// other shards' replies for long.
    async fn deliver_tcp(&self, conn: u64, bytes: Vec<u8>) {
        const TCP_REPLY_WAIT: Duration = Duration::from_secs(1);
        // The sender is cloned out of the map so no borrow lives across the wait.
        let Some(tx) = self.conns.borrow().get(&conn).cloned() else {
            bump(&self.stats.replies_dropped);
            return;
        };
        let bytes = match tx.try_send(bytes) {
            Ok(()) => return,
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(b))) => b,
            Err(_) => {
                bump(&self.stats.replies_dropped);
                return;
            }
        };
        let sent = glommio::timer::timeout(TCP_REPLY_WAIT, async {
            tx.send(bytes)
                .await
                .map_err(|_| std::io::Error::other("connection closed").into())
        })
        .await;
        if sent.is_err() {
            bump(&self.stats.replies_dropped);
        }
    }

    fn report(&self) -> ShardReport {
        let core = self.core.borrow();
        ShardReport {
            shard: self.id,
            core: *core.stats(),
            shell: self.stats.snapshot(),
            aors: core.table().aor_count(),
            bindings: core.table().binding_count(),
        }
    }
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// What every shard starts with (besides its own sockets and mesh handle).
struct Common {
    cfg: Arc<AppConfig>,
    router: Router,
    pools: Arc<BufferPools>,
    stop: Arc<AtomicBool>,
    epoch: Instant,
}

async fn shard_main(
    id: usize,
    common: Common,
    sockets: sockets::ShardSockets,
    mesh: MeshBuilder<PeerMsg, glommio::channels::channel_mesh::Full>,
) -> ShardReport {
    let Common {
        cfg,
        router,
        pools,
        stop,
        epoch,
    } = common;
    let (peers, mut receivers) = if router.shards > 1 {
        match mesh.join().await {
            Ok((s, r)) => (Some(s), Some(r)),
            Err(_) => {
                warn!("cannot join the shard mesh; handling every request locally");
                (None, None)
            }
        }
    } else {
        (None, None)
    };
    let core = Registrar::new(cfg.core.clone(), Millis(epoch.elapsed().as_millis() as u64))
        .expect("validated before the shards started");
    let udp: Vec<Rc<UdpSocket>> = sockets
        .udp
        .into_iter()
        .map(|(_, s)| Rc::new(UdpSocket::from(s)))
        .collect();
    let shard = Rc::new(Shard {
        id,
        cfg: cfg.clone(),
        core: RefCell::new(core),
        epoch,
        router,
        udp,
        peers,
        pools,
        conns: RefCell::new(HashMap::new()),
        per_source: RefCell::new(HashMap::new()),
        next_conn: Cell::new(0),
        key: RefCell::new(Vec::with_capacity(128)),
        stats: ShellStats::default(),
    });

    let mut tasks = Vec::new();
    for i in 0..shard.udp.len() {
        tasks.push(glommio::spawn_local(
            udp_loop(shard.clone(), i).in_current_span(),
        ));
    }
    for (addr, s) in sockets.tcp {
        let listener = sockets::into_glommio_listener(s);
        tasks.push(glommio::spawn_local(
            tcp::accept_loop(shard.clone(), listener, addr).in_current_span(),
        ));
    }
    if let Some(r) = receivers.as_mut() {
        for (peer, rx) in r.streams() {
            let shard = shard.clone();
            tasks.push(glommio::spawn_local(
                async move {
                    let mut out = Vec::with_capacity(4096);
                    while let Some(msg) = rx.recv().await {
                        peer_message(&shard, peer, msg, &mut out).await;
                    }
                    debug!(peer, "peer channel closed");
                }
                .in_current_span(),
            ));
        }
    }
    debug!("shard running");

    tick_loop(&shard, &stop).await;

    // Drain: give requests already queued between shards a moment, then stop.
    glommio::timer::sleep(Duration::from_millis(50)).await;
    drop(tasks);
    let report = shard.report();
    log_stopped(&report);
    report
}

/// The line each shard logs when it stops (tests and operators read the counters from it).
pub(crate) fn log_stopped(r: &ShardReport) {
    info!(
        aors = r.aors,
        bindings = r.bindings,
        "shard stopped: {} registers={} accepted={} rejected={} retransmissions={} redirects={} not_found={} malformed={} dropped_malformed={} dropped_responses={} dropped_acks={} expired={}",
        r.shell,
        r.core.registers,
        r.core.accepted,
        r.core.rejected,
        r.core.retransmissions,
        r.core.redirects,
        r.core.not_found,
        r.core.malformed,
        r.core.dropped_malformed,
        r.core.dropped_responses,
        r.core.dropped_acks,
        r.core.bindings_expired,
    );
}

/// Expiry, journal and housekeeping once per tick, until `stop`.
async fn tick_loop(shard: &Shard, stop: &AtomicBool) {
    let tick = Duration::from_millis(shard.cfg.core.timer_tick_ms.clamp(1, 100));
    let stats_every = Duration::from_secs(shard.cfg.server.stats_interval_s);
    let mut last_stats = Instant::now();
    let mut journal = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        glommio::timer::sleep(tick).await;
        let now = shard.now();
        {
            let mut core = shard.core.borrow_mut();
            // Bounded: each call removes at most `limits.expiry_budget` bindings; what is
            // left waits for the next tick.
            if core.poll_timeout().is_some_and(|t| t <= now) {
                core.handle_timeout(now);
            }
            // Durable storage comes with the store; until then the records are dropped.
            core.take_journal(&mut journal);
            journal.clear();
        }
        if !stats_every.is_zero() && last_stats.elapsed() >= stats_every {
            last_stats = Instant::now();
            let r = shard.report();
            info!(aors = r.aors, bindings = r.bindings, "stats: {}", r.shell);
        }
    }
}

/// Receives on one UDP socket and answers, or hands requests to their owners. glommio wakes
/// the shard for the first datagram; the rest queued on the socket come with one
/// non-blocking `recvmmsg` (up to `tuning.batch`), are handled as a batch (the core
/// prefetches their AoRs' table entries), and every response of the turn leaves with one
/// `sendmmsg`.
async fn udp_loop(shard: Rc<Shard>, index: usize) {
    use std::os::fd::AsRawFd;
    let sock = shard.udp[index].clone();
    let fd = sock.as_raw_fd();
    let max = shard.cfg.core.parser.limits.max_message_bytes;
    let batch = shard.cfg.tuning.batch.clamp(1, 1024);
    // One byte more than the limit: a datagram that fills it is too large (the core answers
    // 513 when it can find a Via, else drops and counts it).
    let mut rx = batch::RecvBatch::new(batch, max + 1);
    let mut tx = batch::SendBatch::new(batch);
    let mut out = Vec::with_capacity(4096);
    loop {
        let (n, src) = match sock.recv_from(rx.buf_mut(0)).await {
            Ok(r) => r,
            Err(e) => {
                bump(&shard.stats.udp_errors);
                debug!(error = %e, "udp receive");
                continue;
            }
        };
        rx.set(0, n, src);
        let more = rx.recv_more(fd, 1).unwrap_or_else(|e| {
            bump(&shard.stats.udp_errors);
            debug!(error = %e, "udp recvmmsg");
            0
        });
        let count = 1 + more;
        let c = &shard.stats.udp_in;
        c.set(c.get() + count as u64);
        handle_datagrams(&shard, &rx, count, index, &mut tx, &mut out);
        flush(&shard, &sock, fd, &mut tx).await;
        glommio::yield_if_needed().await;
    }
}

/// Routes and handles datagrams `0..count` of `rx`; responses go into `tx`.
fn handle_datagrams(
    shard: &Shard,
    rx: &batch::RecvBatch,
    count: usize,
    socket: usize,
    tx: &mut batch::SendBatch,
    out: &mut Vec<u8>,
) {
    let mut core = shard.core.borrow_mut();
    handle_received(&mut core, shard.now(), rx, count, tx, out, |msg, src| {
        let owner = shard.owner_of(msg);
        if owner == shard.id {
            return false;
        }
        shard.hand_off_now(owner, msg, src, ReplyPath::Udp { socket });
        true
    });
}

/// The UDP batch step both backends share: datagrams `0..count` of `rx` that `hand_off`
/// takes (another shard owns their AoR) go there; the rest are handled with
/// `Registrar::handle_batch` (AoR prefetching) in chunks, their responses queued in `tx`.
pub(crate) fn handle_received(
    core: &mut Registrar,
    now: Millis,
    rx: &batch::RecvBatch,
    count: usize,
    tx: &mut batch::SendBatch,
    out: &mut Vec<u8>,
    mut hand_off: impl FnMut(&[u8], SocketAddr) -> bool,
) {
    const CHUNK: usize = 64;
    let wall = wall_now();
    let mut local: smallvec::SmallVec<[(Source, &[u8]); CHUNK]> = smallvec::SmallVec::new();
    let mut run = |local: &mut smallvec::SmallVec<[(Source, &[u8]); CHUNK]>,
                   tx: &mut batch::SendBatch| {
        core.handle_batch(now, wall, local, out, |_, outcome, bytes| {
            if let Outcome::Respond { dest, .. } = outcome {
                tx.push(bytes, dest);
            }
        });
        local.clear();
    };
    for i in 0..count {
        let (msg, src) = rx.get(i);
        if hand_off(msg, src) {
            continue;
        }
        let source = Source {
            addr: src,
            transport: Transport::Udp,
        };
        local.push((source, msg));
        if local.len() == CHUNK {
            run(&mut local, tx);
        }
    }
    if !local.is_empty() {
        run(&mut local, tx);
    }
}

/// Sends every response in `tx`: as many as the socket takes with `sendmmsg`, the rest one
/// by one the waiting way (the socket buffer was full).
async fn flush(shard: &Shard, sock: &UdpSocket, fd: std::os::fd::RawFd, tx: &mut batch::SendBatch) {
    if tx.is_empty() {
        return;
    }
    let mut sent = 0;
    while sent < tx.len() {
        match tx.send_from(fd, sent) {
            Ok(0) => {
                let (bytes, dest) = tx.get(sent);
                send_udp(shard, sock, bytes, dest).await;
                sent += 1;
            }
            Ok(n) => {
                let c = &shard.stats.udp_out;
                c.set(c.get() + n as u64);
                sent += n;
            }
            Err(e) => {
                // The first message failed (e.g. an unreachable destination): skip it.
                bump(&shard.stats.udp_errors);
                debug!(error = %e, "udp sendmmsg");
                sent += 1;
            }
        }
    }
    tx.clear();
}

fn wall_now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

async fn send_udp(shard: &Shard, sock: &UdpSocket, bytes: &[u8], dest: SocketAddr) {
    match sock.send_to(bytes, dest).await {
        Ok(_) => bump(&shard.stats.udp_out),
        Err(e) => {
            bump(&shard.stats.udp_errors);
            debug!(error = %e, %dest, "udp send");
        }
    }
}

/// Handles what another shard sent.
async fn peer_message(shard: &Shard, from: usize, msg: PeerMsg, out: &mut Vec<u8>) {
    match msg {
        PeerMsg::Request { bytes, src, reply } => {
            bump(&shard.stats.from_peers);
            let answered = shard.process(&bytes, src, reply.transport(), out);
            shard.pools.give(from, bytes);
            let Some(dest) = answered else {
                return;
            };
            match reply {
                ReplyPath::Udp { socket } => {
                    if let Some(sock) = shard.udp.get(socket) {
                        send_udp(shard, sock, out, dest).await;
                    }
                }
                ReplyPath::Tcp {
                    shard: holder,
                    conn,
                } if holder == shard.id => {
                    shard.deliver_tcp(conn, out.clone()).await;
                }
                ReplyPath::Tcp {
                    shard: holder,
                    conn,
                } => {
                    let item = PeerMsg::TcpReply {
                        conn,
                        bytes: out.clone(),
                    };
                    // Never wait here: the holder may be waiting on us (a cycle).
                    let sent = shard
                        .peers
                        .as_ref()
                        .is_some_and(|p| p.try_send_to(holder, item).is_ok());
                    bump(if sent {
                        &shard.stats.replies_forwarded
                    } else {
                        &shard.stats.replies_dropped
                    });
                }
            }
        }
        PeerMsg::TcpReply { conn, bytes } => shard.deliver_tcp(conn, bytes).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_spreads_aors_and_is_stable() {
        let r = Router::with_seed(4, 7);
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            let aor = format!("user{i}@example.com");
            let o = r.owner(aor.as_bytes());
            assert_eq!(o, r.owner(aor.as_bytes()));
            counts[o] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
        assert_eq!(Router::with_seed(1, 7).owner(b"x@y"), 0);
    }
}
