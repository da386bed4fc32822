//! In-process cost of the registrar core: `Registrar::handle` on a refresh REGISTER (parse +
//! §10.3 + 200 OK written) with 1M AoRs in the table, plus memory per binding at 1M bindings.
//!
//! Run: `cargo bench --bench handle`. The persistence journal is drained after every request,
//! as the shell does once per loop turn, so its encoding is part of the measured cost. The memory figures are printed before criterion starts.
//! A counting allocator wraps mimalloc to measure heap bytes; the refresh path allocates
//! nothing, so counting costs the measured loop nothing but two atomic adds never taken.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use registrar::registrar::{
    Config, Millis, Outcome, PREFETCH_BATCH, Registrar, Source, Transport, UnixTime,
};

struct Counting;

static HEAP_BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to mimalloc; the counters do not affect it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, which we pass on.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const AORS: u32 = 1_000_000;

/// A refresh REGISTER as a softphone sends it; the user number, Call-ID and CSeq are patched
/// in place (fixed-width digits) so building a request costs a few copies.
const TEMPLATE: &[u8] = include_bytes!("../tests/data/refresh-template.sip");

struct Template {
    buf: Vec<u8>,
    user_at: Vec<usize>,
    cseq_at: usize,
}

impl Template {
    fn new() -> Template {
        let buf = TEMPLATE.to_vec();
        let find_all = |pat: &[u8]| -> Vec<usize> {
            buf.windows(pat.len())
                .enumerate()
                .filter(|(_, w)| *w == pat)
                .map(|(i, _)| i + 1)
                .collect()
        };
        let mut user_at = find_all(b"u0000000");
        user_at.extend(find_all(b"c0000000"));
        let cseq_at = buf
            .windows(10)
            .position(|w| w == b"0000000001")
            .expect("cseq");
        Template {
            buf,
            user_at,
            cseq_at,
        }
    }

    fn set(&mut self, user: u32, cseq: u32) -> &[u8] {
        let u = format_fixed::<7>(user);
        for &at in &self.user_at {
            self.buf[at..at + 7].copy_from_slice(&u);
        }
        let c = format_fixed::<10>(cseq);
        self.buf[self.cseq_at..self.cseq_at + 10].copy_from_slice(&c);
        &self.buf
    }
}

/// The `i`th AoR of a fixed pseudo-random order that visits every AoR once per `AORS`
/// requests (multiplication by a constant coprime with `AORS`); with `cseq = 2 + i / 1000`
/// every AoR's CSeq still grows from one visit to the next.
fn random_order(i: u64) -> u32 {
    (i.wrapping_mul(2_654_435_761) % u64::from(AORS)) as u32
}

fn format_fixed<const N: usize>(mut n: u32) -> [u8; N] {
    let mut d = [b'0'; N];
    for i in (0..N).rev() {
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    d
}

fn populated() -> (Registrar, Template) {
    let src = Source {
        addr: "10.0.0.1:5060".parse().unwrap(),
        transport: Transport::Udp,
    };
    let config = Config::default();
    let before = HEAP_BYTES.load(Ordering::Relaxed);
    let mut reg = Registrar::new(config, Millis(0)).unwrap();
    let mut t = Template::new();
    let mut out = Vec::with_capacity(2048);
    // The shell drains the persistence journal once per loop turn; so does the bench.
    let mut journal = Vec::new();
    let mut uri_bytes = 0usize;
    for user in 0..AORS {
        let msg = t.set(user, 1);
        let o = reg.handle(Millis(0), UnixTime(1_795_564_800), src, msg, &mut out);
        reg.take_journal(&mut journal);
        assert!(
            matches!(o, Outcome::Respond { code: 200, .. }),
            "{}",
            String::from_utf8_lossy(&out)
        );
        // Strings a binding must keep whatever the design: AoR key, contact URI, Call-ID.
        uri_bytes +=
            b"u0000000@example.com".len() + b"sip:u0000000@10.0.0.1:5060;transport=udp".len();
    }
    let heap = (HEAP_BYTES.load(Ordering::Relaxed) - before) as usize;
    let per = heap as f64 / f64::from(AORS);
    let strings = uri_bytes as f64 / f64::from(AORS);
    let call_id = "c0000000-1j9FpLxk3uxtm8tn@10.0.0.1".len() as f64;
    let params =
        ";+sip.instance=<urn:uuid:00000000-0000-1000-8000-000A95A0E128>;reg-id=1".len() as f64;
    println!(
        "memory: {AORS} AoRs x 1 binding: {heap} heap bytes = {per:.0} B/binding; \
         AoR key + contact URI {strings:.0} B, Call-ID {call_id:.0} B, contact params {params:.0} B; \
         beyond URI strings {:.0} B; beyond all stored strings {:.0} B; table estimate {} B",
        per - strings,
        per - strings - call_id - params,
        reg.table().heap_bytes()
    );
    (reg, t)
}

/// Which AoR the `i`th request refreshes.
type Order = fn(u64) -> u32;

/// The AoR of the `i`th request in stored order.
fn stored_order(i: u64) -> u32 {
    (i % u64::from(AORS)) as u32
}

/// Drives refreshes into the populated registrar: the `i`th request refreshes the AoR
/// `order(i)` with CSeq `2 + i / 1000`, and the journal is drained after every call, as the
/// shell drains it once per loop turn.
struct Driver {
    reg: Registrar,
    t: Template,
    /// One template per request of a batch (the batch's requests are alive together).
    batch_t: Vec<Template>,
    src: Source,
    out: Vec<u8>,
    journal: Vec<u8>,
    i: u64,
}

impl Driver {
    fn next(&mut self, order: Order) -> (u32, u32) {
        let (user, cseq) = (order(self.i), 2 + (self.i / 1000) as u32);
        self.i += 1;
        (user, cseq)
    }

    /// One request through `Registrar::handle`.
    fn one(&mut self, order: Order) -> (Outcome, usize) {
        let (user, cseq) = self.next(order);
        let i = self.i;
        let msg = self.t.set(user, cseq);
        let o = self.reg.handle(
            Millis(1000 + i / 1000),
            UnixTime(1_795_564_801 + i / 1_000_000),
            self.src,
            black_box(msg),
            &mut self.out,
        );
        self.reg.take_journal(&mut self.journal);
        (o, self.out.len() + self.journal.len())
    }

    /// The shard loop's way: a batch of 16 requests (one recvmmsg) through `handle_batch`,
    /// which prefetches each request's AoR entries before handling the batch.
    fn batch16(&mut self, order: Order) -> usize {
        let mut users = [(0, 0); PREFETCH_BATCH];
        for u in &mut users {
            *u = self.next(order);
        }
        let mut msgs: [&[u8]; PREFETCH_BATCH] = [&[]; PREFETCH_BATCH];
        for ((m, t), (user, cseq)) in msgs.iter_mut().zip(self.batch_t.iter_mut()).zip(users) {
            *m = t.set(user, cseq);
        }
        let batch = msgs.map(|m| (self.src, m));
        let i = self.i;
        let mut sent = 0usize;
        self.reg.handle_batch(
            Millis(1000 + i / 1000),
            UnixTime(1_795_564_801 + i / 1_000_000),
            black_box(&batch),
            &mut self.out,
            |_, o, bytes| {
                sent += bytes.len();
                black_box(o);
            },
        );
        self.reg.take_journal(&mut self.journal);
        sent + self.journal.len()
    }
}

fn bench_refresh(c: &mut Criterion) {
    let (reg, t) = populated();
    let mut d = Driver {
        reg,
        t,
        batch_t: (0..PREFETCH_BATCH).map(|_| Template::new()).collect(),
        src: Source {
            addr: "10.0.0.1:5060".parse().unwrap(),
            transport: Transport::Udp,
        },
        out: Vec::with_capacity(2048),
        journal: Vec::with_capacity(4096),
        i: 0,
    };
    let mut g = c.benchmark_group("handle");
    // Stored order: AoRs are refreshed in the order they were stored, so the hardware
    // prefetcher already streams their slots, strings and timers. Random order, as real
    // traffic comes: every request misses the cache on them.
    let orders: [(&str, &str, Order); 2] = [
        (
            "refresh_register_1M_aors",
            "refresh_register_1M_aors_batch16",
            stored_order,
        ),
        (
            "refresh_register_1M_aors_random",
            "refresh_register_1M_aors_random_batch16",
            random_order,
        ),
    ];
    for (name, batch_name, order) in orders {
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| b.iter(|| black_box(d.one(order))));
        g.throughput(Throughput::Elements(PREFETCH_BATCH as u64));
        g.bench_function(batch_name, |b| b.iter(|| black_box(d.batch16(order))));
    }
    g.finish();
    // The same loop outside criterion (whose own bookkeeping allocates): the refresh path
    // itself must allocate nothing.
    let allocs_before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = std::time::Instant::now();
    let n: u64 = 1_000_000;
    for _ in 0..n {
        black_box(d.one(stored_order));
    }
    let elapsed = start.elapsed();
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs_before;
    println!(
        "plain loop: {n} refreshes in {elapsed:?} = {:.0} requests/s, {allocs} allocations",
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(d.reg.stats().rejected, 0, "every refresh accepted");
}

criterion_group!(benches, bench_refresh);
criterion_main!(benches);
