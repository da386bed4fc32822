//! The sans-IO registrar core: RFC 3261 §10.3 REGISTER processing, the binding table, lookup
//! and redirect answers.
//!
//! No sockets, no clock, no files: the shell passes in the monotonic time ([`Millis`]), the
//! wall-clock time ([`UnixTime`]), where a message came from ([`Source`]) and its bytes, and
//! gets back the response bytes in a caller-owned buffer plus an [`Outcome`] saying where they
//! go. Expiry is driven by [`Registrar::handle_timeout`] at the time
//! [`Registrar::poll_timeout`] asks for.
//!
//! ```text
//!   bytes ──► parse ──► §10.3 steps 1-8 ──► BindingTable ──► 200 OK (all bindings, Date)
//!                │            │  3/4: Authorizer hook (proof value)
//!                │            └────► error response naming the problem
//!                └──► non-REGISTER: redirect (302 by q / 404 / 405), OPTIONS, CANCEL, ACK
//! ```

pub mod auth;
pub mod bindings;
pub mod config;
pub mod journal;
mod pipeline;
mod response;
pub mod route;

use std::net::SocketAddr;

pub use auth::{Authorized, Authorizer, Open, Rejection};
pub use bindings::{Binding, BindingTable};
pub use config::{Config, ConfigError, Limits, OverflowPolicy, Policy, UserCase};

/// How many messages [`Registrar::handle_batch`] prefetches for at a time.
pub const PREFETCH_BATCH: usize = 16;

/// Monotonic time in milliseconds from an epoch the shell picks (e.g. process start).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    pub fn plus_s(self, seconds: u64) -> Millis {
        Millis(self.0.saturating_add(seconds.saturating_mul(1000)))
    }
}

/// Wall-clock time in seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

/// The transport a message arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Stream transports carry one connection per peer; responses go back on it.
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    pub addr: SocketAddr,
    pub transport: Transport,
}

/// What the shell should do after [`Registrar::handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send the response now in `out` to `dest`: on UDP the address RFC 3261 §18.2.2 and RFC
    /// 3581 give (always the source IP: never a host named in Via, which would make us a
    /// reflector), on a stream transport the same connection.
    Respond { code: u16, dest: SocketAddr },
    /// Nothing to send.
    Drop(DropReason),
}

/// Why a message got no answer (each is counted in [`Stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// ACK: absorbed (we never send a non-2xx to an INVITE that would need it... and 2xx ACKs
    /// end at the UAS).
    Ack,
    /// A response: a registrar sends no requests, so responses are stray.
    Response,
    /// Malformed with no Via to answer to.
    Malformed,
}

/// Counters for everything the core decides. Plain integers: the shell reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub registers: u64,
    /// REGISTERs answered 200 that changed state.
    pub accepted: u64,
    /// REGISTERs answered with an error.
    pub rejected: u64,
    /// REGISTERs recognised as retransmissions (same Call-ID and CSeq within the window).
    pub retransmissions: u64,
    pub queries: u64,
    pub redirects: u64,
    pub not_found: u64,
    pub malformed: u64,
    pub dropped_malformed: u64,
    pub dropped_responses: u64,
    pub dropped_acks: u64,
    pub bindings_added: u64,
    pub bindings_refreshed: u64,
    pub bindings_removed: u64,
    pub bindings_expired: u64,
    pub bindings_evicted: u64,
}

/// The registrar core. See the module doc.
pub struct Registrar<A: Authorizer = Open> {
    config: Config,
    table: BindingTable,
    auth: A,
    stats: Stats,
    /// Random per-registrar state for To tags.
    tag_seed: foldhash::quality::RandomState,
    scratch: pipeline::Scratch,
    /// Persistence effects not yet taken by the shell.
    journal: journal::Journal,
}

impl Registrar<Open> {
    /// A registrar without authentication (every REGISTER passes steps 3 and 4).
    pub fn new(config: Config, now: Millis) -> Result<Registrar<Open>, ConfigError> {
        Registrar::with_authorizer(config, now, Open)
    }
}

impl<A: Authorizer> Registrar<A> {
    pub fn with_authorizer(config: Config, now: Millis, auth: A) -> Result<Self, ConfigError> {
        config.validate()?;
        let table =
            BindingTable::with_capacity(now, config.timer_tick_ms, config.limits.preallocate_aors);
        Ok(Registrar {
            config,
            table,
            auth,
            stats: Stats::default(),
            tag_seed: foldhash::quality::RandomState::default(),
            scratch: pipeline::Scratch::default(),
            journal: journal::Journal::default(),
        })
    }

    /// Handles one message (a datagram, or one message framed off a stream). Clears `out`
    /// and writes the response into it when the outcome is [`Outcome::Respond`].
    pub fn handle(
        &mut self,
        now: Millis,
        wall: UnixTime,
        src: Source,
        msg: &[u8],
        out: &mut Vec<u8>,
    ) -> Outcome {
        pipeline::handle(self, now, wall, src, msg, out)
    }

    /// Handles a batch of messages (e.g. the datagrams one `recvmmsg` returned) exactly as
    /// calling [`handle`](Self::handle) on each in order would, calling `answered` with each
    /// message's index, outcome and response bytes (the bytes live in `out`, reused for every
    /// message). Before handling them, it looks up the AoR each REGISTER names with a quick
    /// scan of its To header and prefetches that AoR's table entries, so that with a large
    /// table the cache misses of several requests overlap instead of coming one after another.
    pub fn handle_batch(
        &mut self,
        now: Millis,
        wall: UnixTime,
        batch: &[(Source, &[u8])],
        out: &mut Vec<u8>,
        mut answered: impl FnMut(usize, Outcome, &[u8]),
    ) {
        for (c, chunk) in batch.chunks(PREFETCH_BATCH).enumerate() {
            // A lone message has nothing to overlap its misses with: skip the scan.
            if chunk.len() == 1 {
                let (src, msg) = chunk[0];
                let o = self.handle(now, wall, src, msg, out);
                answered(c * PREFETCH_BATCH, o, out);
                continue;
            }
            let mut hashes = [None; PREFETCH_BATCH];
            let mut key = [0u8; pipeline::HINT_BYTES];
            for (h, (_, msg)) in hashes.iter_mut().zip(chunk) {
                *h = pipeline::aor_hint(msg, self.config.user_case, &mut key)
                    .map(|n| self.table.key_hash(&key[..n]));
            }
            // The index probes one after another, with little work between them, so that
            // their cache misses overlap.
            for h in hashes.iter().flatten() {
                self.table.prefetch_slot(*h);
            }
            // The slots have had the time of the scans above to arrive: now what they point to.
            for h in hashes.iter().flatten() {
                self.table.prefetch_slot_data(*h);
            }
            for (i, (src, msg)) in chunk.iter().enumerate() {
                let o = self.handle(now, wall, *src, msg, out);
                answered(c * PREFETCH_BATCH + i, o, out);
            }
        }
    }

    /// Removes bindings that expired by `now` (bounded work per call: call again while
    /// [`poll_timeout`](Self::poll_timeout) is due). Spurious calls are no-ops.
    pub fn handle_timeout(&mut self, now: Millis) {
        let stats = &mut self.stats;
        self.table
            .expire(now, self.config.limits.expiry_budget, |_, _| {
                stats.bindings_expired += 1
            });
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.table.next_expiry()
    }

    /// Moves the persistence effects recorded since the last call into `out`: one AoR
    /// snapshot per committed change (see [`journal`]). Call once per loop turn and hand the
    /// bytes to the store.
    pub fn take_journal(&mut self, out: &mut Vec<u8>) {
        self.journal.take(out);
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn table(&self) -> &BindingTable {
        &self.table
    }

    pub fn authorizer_mut(&mut self) -> &mut A {
        &mut self.auth
    }

    /// Live bindings of an AoR given in canonical form (see [`Registrar::canonical_aor`]),
    /// ordered for a lookup: highest q first, then most recently refreshed. With `method`,
    /// only contacts that accept it (RFC 3840 `methods` / Allow).
    pub fn lookup(&mut self, now: Millis, aor: &[u8], method: Option<&[u8]>) -> Lookup<'_> {
        pipeline::lookup(&self.table, &mut self.scratch.order, now, aor, method)
    }

    /// The canonical AoR for a URI: `user@host`, user unescaped (case per
    /// [`Config::user_case`]), host lower-cased, no port or parameters (§10.3 step 5).
    pub fn canonical_aor(&self, uri: &crate::sip::Uri<'_>, out: &mut Vec<u8>) -> bool {
        pipeline::canonical_aor(uri, self.config.user_case, out)
    }
}

/// Result of a lookup (the seed's `lookup()` return codes as a type).
#[derive(Debug)]
pub enum Lookup<'a> {
    /// Contacts in lookup order.
    Found(Vec<&'a Binding>),
    /// No live binding.
    NotFound,
    /// Bindings exist, but none accepts the method; `allow` is the union of what they accept.
    MethodNotAllowed { allow: u16 },
}
