//! `loadgen`: the bundled SIP REGISTER load generator, with a stateless responder and a UDP
//! echo as kernel references. See `loadgen/README.md`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client;
mod digest;
mod responder;
mod sys;
mod template;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use client::{Op, PhaseResult, RunCfg, Shared, ThreadPub, Transport, WorkerResult};
use digest::Algorithm;

#[derive(Parser)]
#[command(name = "loadgen", version, about = "SIP REGISTER load generator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum TransportArg {
    Udp,
    Tcp,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ScenarioArg {
    Register,
    Refresh,
    Unregister,
    Wildcard,
    Query,
    Auth,
    Mix,
    /// REGISTERs to a raw UDP echo (`loadgen echo`): the echoed request counts as the answer.
    /// The kernel's datagram limit, for benchmarks.
    Echo,
}

#[derive(Clone, Copy, ValueEnum)]
enum AlgArg {
    Md5,
    #[value(name = "sha-256")]
    Sha256,
}

#[derive(Clone, Copy, ValueEnum)]
enum OfferArg {
    Md5,
    #[value(name = "sha-256")]
    Sha256,
    Both,
}

#[derive(Subcommand)]
enum Cmd {
    /// Drive REGISTER load at a target.
    Run(RunArgs),
    /// Stateless canned-200 responder (optionally with a digest challenge).
    Responder(ResponderArgs),
    /// Raw UDP echo with recvmmsg/sendmmsg.
    Echo(EchoArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Target IP:PORT.
    #[arg(long)]
    target: SocketAddrV4,
    #[arg(long, value_enum, default_value = "udp")]
    transport: TransportArg,
    #[arg(long, value_enum, default_value = "register")]
    scenario: ScenarioArg,
    /// Weights for --scenario mix, e.g. register=1,refresh=6,query=2,unregister=1.
    #[arg(long, default_value = "register=1,refresh=6,query=2,unregister=1")]
    mix: String,
    /// Number of distinct users (AoRs user{N}@domain).
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// First user number.
    #[arg(long, default_value_t = 0)]
    user_offset: u64,
    #[arg(long, default_value = "example.com")]
    domain: String,
    /// Open loop: requests per second over all threads, evenly paced.
    #[arg(long, conflicts_with = "max")]
    rate: Option<f64>,
    /// Closed loop: as fast as the target answers, with --window requests in flight per thread.
    #[arg(long)]
    max: bool,
    /// Transactions in flight per thread (--max), or the cap on them (--rate).
    #[arg(long)]
    window: Option<usize>,
    /// Seconds to send for (default 10 unless --requests is given).
    #[arg(long)]
    duration: Option<f64>,
    /// Operations to issue in total (an auth operation is two transactions).
    #[arg(long)]
    requests: Option<u64>,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// CPUs to pin the worker threads to, e.g. 1 or 2-5 (thread i on the i-th, cycling).
    #[arg(long)]
    cores: Option<String>,
    /// Local source addresses, e.g. 127.0.0.1,127.0.0.2 (sockets cycle over them).
    #[arg(long, default_value = "127.0.0.1")]
    sources: String,
    /// Sockets (local ports / TCP connections) per thread; users spread over them.
    #[arg(long, default_value_t = 1)]
    sockets: usize,
    #[arg(long, default_value = "secret")]
    password: String,
    #[arg(long, value_enum, default_value = "md5")]
    algorithm: AlgArg,
    /// Transaction timeout (Timer F) in ms; default 64*T1 = 32000.
    #[arg(long, default_value_t = 32_000)]
    timeout_ms: u64,
    /// Expires value of registrations.
    #[arg(long, default_value_t = 300)]
    expires: u32,
    /// Send UDP batches with sendmmsg only (no UDP GSO super-datagrams).
    #[arg(long)]
    no_gso: bool,
    /// Busy-poll this many microseconds without progress before parking in ppoll (higher: fewer
    /// wake-ups for the target to pay for, more load generator CPU; idle spinning is not counted
    /// as busy in the saturation check).
    #[arg(long, default_value_t = 50)]
    spin_us: u64,
    /// Skip the preparation phase of refresh/unregister/wildcard/query/mix.
    #[arg(long)]
    no_prepare: bool,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<String>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// Process id of the target server (repeat for several processes): its CPU time over the
    /// measured phase only (not the preparation) is reported as `server_cpu_s`, with the
    /// REGISTERs answered per server CPU-second (`ok_per_server_cpu_s`). Same host only.
    #[arg(long = "server-pid", value_name = "PID")]
    server_pids: Vec<u32>,
}

/// What the responder and the echo server share: placement, run time and the summary file.
#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long)]
    cores: Option<String>,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Stop after this many seconds (default: until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    #[arg(long)]
    json: Option<String>,
}

impl ServeArgs {
    /// Serves on `listen` with the options `mode` sets (challenge, echo, GSO...).
    fn serve(
        self,
        listen: SocketAddr,
        mode: impl FnOnce(&mut responder::ResponderCfg),
    ) -> Result<(), String> {
        let cores = self.cores.as_deref().map(sys::parse_cpu_list).transpose()?;
        let mut cfg = responder::ResponderCfg {
            listen,
            cores,
            threads: self.threads.max(1),
            duration_s: self.duration,
            challenge: None,
            algorithms: Vec::new(),
            drop_first: 0,
            echo: false,
            gso: false,
        };
        mode(&mut cfg);
        responder::run(cfg, stop_flag(), self.json.as_deref()).map_err(|e| e.to_string())
    }
}

#[derive(clap::Args)]
struct ResponderArgs {
    #[arg(long, default_value = "127.0.0.1:5060")]
    listen: SocketAddr,
    #[command(flatten)]
    serve: ServeArgs,
    /// Challenge REGISTERs without credentials (401), verify credentials (200/403).
    #[arg(long, requires = "password")]
    challenge: bool,
    #[arg(long)]
    password: Option<String>,
    /// Algorithms offered in the challenge.
    #[arg(long, value_enum, default_value = "both")]
    algorithm: OfferArg,
    /// Receive with UDP_GRO and answer each train of datagrams (a client's UDP GSO send) with one
    /// GSO send of padded, equal-length responses (cheaper than sendmmsg per response).
    #[arg(long)]
    gso: bool,
    /// Drop the first N requests unanswered (retransmission tests).
    #[arg(long, default_value_t = 0)]
    drop_first: i64,
}

#[derive(clap::Args)]
struct EchoArgs {
    #[arg(long, default_value = "127.0.0.1:5070")]
    listen: SocketAddr,
    #[command(flatten)]
    serve: ServeArgs,
}

fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    stop
}

fn parse_mix(s: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = part
            .split_once('=')
            .ok_or_else(|| format!("bad --mix entry {part:?} (want name=weight)"))?;
        let op = Op::parse(name.trim()).ok_or_else(|| format!("unknown mix operation {name:?}"))?;
        let w: u32 = w
            .trim()
            .parse()
            .map_err(|_| format!("bad weight in {part:?}"))?;
        if w > 0 {
            out.push((op, w));
        }
    }
    if out.is_empty() {
        return Err("empty --mix".into());
    }
    Ok(out)
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run(a) => run(a),
        Cmd::Responder(a) => a.serve.serve(a.listen, |cfg| {
            cfg.challenge = if a.challenge { a.password } else { None };
            cfg.algorithms = match a.algorithm {
                OfferArg::Md5 => vec![Algorithm::Md5],
                OfferArg::Sha256 => vec![Algorithm::Sha256],
                OfferArg::Both => vec![Algorithm::Sha256, Algorithm::Md5],
            };
            cfg.drop_first = a.drop_first;
            cfg.gso = a.gso;
        }),
        Cmd::Echo(a) => a.serve.serve(a.listen, |cfg| cfg.echo = true),
    };
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

fn run(a: RunArgs) -> Result<(), String> {
    // A wrong --server-pid fails now, not after the preparation.
    server_cpu(&a.server_pids)?;
    if a.rate.is_none() && !a.max {
        return Err("give --rate R or --max".into());
    }
    if a.rate.is_some_and(|r| r <= 0.0 || !r.is_finite()) {
        return Err("--rate must be positive".into());
    }
    if a.threads == 0 || a.sockets == 0 || a.users == 0 {
        return Err("--threads, --sockets and --users must be at least 1".into());
    }
    if a.users < a.threads as u64 {
        return Err("--users must be at least --threads".into());
    }
    if a.timeout_ms == 0 {
        return Err("--timeout-ms must be positive".into());
    }
    let (scenario, mix) = match a.scenario {
        ScenarioArg::Mix => ("mix", parse_mix(&a.mix)?),
        ScenarioArg::Register => ("register", vec![(Op::Register, 1)]),
        ScenarioArg::Refresh => ("refresh", vec![(Op::Refresh, 1)]),
        ScenarioArg::Unregister => ("unregister", vec![(Op::Unregister, 1)]),
        ScenarioArg::Wildcard => ("wildcard", vec![(Op::Wildcard, 1)]),
        ScenarioArg::Query => ("query", vec![(Op::Query, 1)]),
        ScenarioArg::Auth => ("auth", vec![(Op::Auth, 1)]),
        ScenarioArg::Echo => ("echo", vec![(Op::Register, 1)]),
    };
    let prepare = !a.no_prepare
        && !matches!(
            a.scenario,
            ScenarioArg::Register | ScenarioArg::Auth | ScenarioArg::Echo
        );
    let sources = a
        .sources
        .split(',')
        .map(|s| s.trim().parse::<Ipv4Addr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad --sources: {e}"))?;
    let cores = a.cores.as_deref().map(sys::parse_cpu_list).transpose()?;
    let duration_s = match (a.duration, a.requests) {
        (None, None) => Some(10.0),
        (d, _) => d,
    };
    let window = a
        .window
        .unwrap_or(if a.rate.is_some() { 16_384 } else { 256 });
    let cfg = Arc::new(RunCfg {
        target: a.target,
        transport: match a.transport {
            TransportArg::Udp => Transport::Udp,
            TransportArg::Tcp => Transport::Tcp,
        },
        scenario: scenario.to_string(),
        mix,
        users: a.users,
        user_offset: a.user_offset,
        domain: a.domain.clone(),
        rate: a.rate,
        window: window.max(1),
        duration_s,
        requests: a.requests,
        threads: a.threads,
        cores,
        sources,
        sockets: a.sockets,
        password: a.password.clone(),
        algorithm: match a.algorithm {
            AlgArg::Md5 => Algorithm::Md5,
            AlgArg::Sha256 => Algorithm::Sha256,
        },
        timeout_ms: a.timeout_ms,
        expires: a.expires,
        prepare,
        gso: !a.no_gso,
        spin_us: a.spin_us,
        echo: a.scenario == ScenarioArg::Echo,
    });
    let shared = Arc::new(Shared {
        threads: (0..a.threads).map(|_| ThreadPub::default()).collect(),
        stop: stop_flag(),
        prep_done: AtomicUsize::new(0),
        go: AtomicBool::new(false),
        go_ns: AtomicU64::new(0),
    });
    let run_id = format!("{:x}{:x}", std::process::id(), sys::mono_ns() & 0xffff_ffff);
    let cpu_start = sys::process_cpu_s();
    let mut handles = Vec::new();
    for t in 0..a.threads {
        let (cfg, shared, run_id) = (cfg.clone(), shared.clone(), run_id.clone());
        handles.push(
            std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn(move || -> Result<WorkerResult, String> {
                    if let Some(cores) = &cfg.cores {
                        let core = cores[t % cores.len()];
                        sys::pin_to_core(core).map_err(|e| format!("pin to CPU {core}: {e}"))?;
                    }
                    sys::set_timer_slack_ns(1000);
                    let w = client::Worker::new(t, cfg, shared.clone(), &run_id);
                    let r = w
                        .and_then(|w| w.run())
                        .map_err(|e| format!("thread {t}: {e}"));
                    if r.is_err() {
                        // Let the others go on / stop.
                        shared.prep_done.fetch_add(1, Relaxed);
                        shared.stop.store(true, Relaxed);
                    }
                    r
                })
                .map_err(|e| e.to_string())?,
        );
    }
    // Preparation phase.
    let prep_t0 = sys::mono_ns();
    let mut last = prep_t0;
    while shared.prep_done.load(Relaxed) < a.threads {
        std::thread::sleep(Duration::from_millis(20));
        let now = sys::mono_ns();
        if cfg.prepare && !a.quiet && now - last >= 1_000_000_000 {
            last = now;
            let ok: u64 = shared.threads.iter().map(|t| t.prep_ok.load(Relaxed)).sum();
            eprintln!(
                "[prepare {:5.1}s] registering {} users ...",
                (now - prep_t0) as f64 / 1e9,
                a.users
            );
            let _ = ok;
        }
    }
    let server_cpu0 = server_cpu(&a.server_pids)?;
    let cpu_measured0 = sys::process_cpu_s();
    let go = sys::mono_ns();
    shared.go_ns.store(go, Relaxed);
    shared.go.store(true, Relaxed);
    // Progress lines while the measured phase runs.
    let mut prev = (0u64, 0u64, 0u64, go, cpu_measured0);
    let mut prev_cpu: Vec<u64> = vec![0; a.threads];
    let mut prev_spin: Vec<u64> = vec![0; a.threads];
    let mut next = go + 1_000_000_000;
    let mut warned_second = false;
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(10));
        let now = sys::mono_ns();
        if now < next {
            continue;
        }
        next += 1_000_000_000;
        let ok: u64 = shared.threads.iter().map(|t| t.ok.load(Relaxed)).sum();
        let failed: u64 = shared.threads.iter().map(|t| t.failed.load(Relaxed)).sum();
        let retrans: u64 = shared.threads.iter().map(|t| t.retrans.load(Relaxed)).sum();
        let p99 = shared
            .threads
            .iter()
            .map(|t| t.p99_us.load(Relaxed))
            .max()
            .unwrap_or(0);
        let cpu = sys::process_cpu_s();
        let dt = (now - prev.3) as f64 / 1e9;
        let mut max_busy: f64 = 0.0;
        for (i, t) in shared.threads.iter().enumerate() {
            let c = t.cpu_ns.load(Relaxed);
            let s = t.spin_ns.load(Relaxed);
            let busy = (c.saturating_sub(prev_cpu[i]) as f64
                - s.saturating_sub(prev_spin[i]) as f64)
                / (dt * 1e9);
            max_busy = max_busy.max(busy);
            prev_cpu[i] = c;
            prev_spin[i] = s;
        }
        let behind = shared.threads.iter().any(|t| t.behind.load(Relaxed));
        let sat = max_busy > 0.9 || behind;
        if !a.quiet {
            eprintln!(
                "[{:5.1}s] {:>9.0} ok/s  errors {:>6}  retrans {:>6}  p99 {:>7} us  cpu {:>5.1}%  busiest thread {:>5.1}%{}",
                (now - go) as f64 / 1e9,
                (ok - prev.0) as f64 / dt,
                failed - prev.1,
                retrans - prev.2,
                p99,
                (cpu - prev.4) / dt * 100.0,
                max_busy * 100.0,
                if sat {
                    if behind {
                        "  SATURATED (behind schedule)"
                    } else {
                        "  SATURATED"
                    }
                } else {
                    ""
                }
            );
        } else if sat && !warned_second {
            warned_second = true;
            eprintln!("loadgen: warning: a load generator thread is saturated");
        }
        prev = (ok, failed, retrans, now, cpu);
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.join().map_err(|_| "worker panicked".to_string())??);
    }
    let cpu_total = sys::process_cpu_s() - cpu_start;
    let cpu_measured = sys::process_cpu_s() - cpu_measured0;
    let server_cpu_s = if a.server_pids.is_empty() {
        None
    } else {
        Some(server_cpu(&a.server_pids)? - server_cpu0)
    };
    let cpu = Cpu {
        total: cpu_total,
        measured: cpu_measured,
        server: server_cpu_s,
    };
    report(&a, &cfg, &results, cpu, prep_t0, go)
}

fn pct(h: &hdrhistogram::Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// On-CPU seconds so far of the processes named with `--server-pid`.
fn server_cpu(pids: &[u32]) -> Result<f64, String> {
    pids.iter()
        .map(|&p| sys::pid_cpu_s(p).map_err(|e| format!("--server-pid {p}: {e}")))
        .sum()
}

/// CPU seconds of a run: the load generator's over the whole run and over the measured phase,
/// and the server's (`--server-pid`) over the measured phase.
struct Cpu {
    total: f64,
    measured: f64,
    server: Option<f64>,
}

fn report(
    a: &RunArgs,
    cfg: &RunCfg,
    results: &[WorkerResult],
    cpu: Cpu,
    prep_t0: u64,
    go: u64,
) -> Result<(), String> {
    let mut m = PhaseResult::empty();
    let mut prep = PhaseResult::empty();
    let mut thread_busy = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        m.merge(&r.main);
        if let Some(p) = &r.prep {
            prep.merge(p);
        }
        let wall = (r.main.end_ns.saturating_sub(go)).max(1) as f64;
        let busy = (r.main.cpu_ns as f64 - r.main.spin_ns as f64).max(0.0) / wall;
        thread_busy.push((busy * 1000.0).round() / 10.0);
        if busy > 0.9 {
            reasons.push(format!(
                "thread {i} busy {:.0}% of the run (load generator CPU-bound)",
                busy * 100.0
            ));
        }
        if r.main.behind {
            reasons.push(format!(
                "thread {i} fell behind the send schedule (up to {:.0} ms late)",
                r.main.max_lag_ms
            ));
        }
    }
    let dur = (m.end_ns.saturating_sub(go)).max(1) as f64 / 1e9;
    let ok_per_sec = m.ok as f64 / dur;
    let h = &m.hist;
    let saturated = !reasons.is_empty();
    let rate_s = match cfg.rate {
        Some(r) => format!("{r:.0}/s"),
        None => format!("max (window {})", cfg.window),
    };
    eprintln!(
        "loadgen: {} over {} to {}: {} users, {} threads, rate {}",
        cfg.scenario,
        cfg.transport.name(),
        cfg.target,
        cfg.users,
        cfg.threads,
        rate_s
    );
    if cfg.prepare {
        eprintln!(
            "  prepare: {} registered, {} failed in {:.2} s",
            prep.ok,
            prep.failed,
            (go - prep_t0) as f64 / 1e9
        );
    }
    eprintln!(
        "  {:.2} s: sent {}  ok {}  failed {} (timeouts {}, error statuses {})  retransmissions {}  unfinished {}",
        dur, m.sent, m.ok, m.failed, m.failed_timeout, m.failed_status, m.retrans, m.unfinished
    );
    eprintln!(
        "  {:.0} ok/s; latency us: p50 {} p90 {} p99 {} p99.9 {} max {}; loadgen CPU {:.2} s",
        ok_per_sec,
        pct(h, 0.5),
        pct(h, 0.9),
        pct(h, 0.99),
        pct(h, 0.999),
        h.max(),
        cpu.measured
    );
    let per_server_cpu_s = cpu.server.filter(|&s| s > 0.0).map(|s| m.ok as f64 / s);
    if let (Some(s), Some(per)) = (cpu.server, per_server_cpu_s) {
        eprintln!("  server CPU {s:.3} s: {per:.0} ok per server CPU-second");
    }
    if m.challenges > 0 {
        eprintln!("  digest challenges answered: {}", m.challenges);
    }
    if saturated {
        for r in &reasons {
            eprintln!(
                "loadgen: WARNING: saturated: {r}; the figures may be the load generator's limit, not the target's"
            );
        }
    }
    if let Some(path) = &a.json {
        let v = serde_json::json!({
            "scenario": cfg.scenario,
            "transport": cfg.transport.name(),
            "target": cfg.target.to_string(),
            "rate": cfg.rate.map(serde_json::Value::from).unwrap_or_else(|| "max".into()),
            "window": cfg.window,
            "threads": cfg.threads,
            "sockets_per_thread": cfg.sockets,
            "users": cfg.users,
            "duration_s": dur,
            "sent": m.sent,
            "ok": m.ok,
            "failed": m.failed,
            "failed_timeout": m.failed_timeout,
            "failed_status": m.failed_status,
            "unfinished": m.unfinished,
            "retransmissions": m.retrans,
            "stray_responses": m.stray,
            "challenges": m.challenges,
            "status_classes": {
                "1xx": m.status_counts[1], "2xx": m.status_counts[2], "3xx": m.status_counts[3],
                "4xx": m.status_counts[4], "5xx": m.status_counts[5], "6xx": m.status_counts[6],
            },
            "ok_per_sec": ok_per_sec,
            "latency_us": {
                "p50": pct(h, 0.5),
                "p90": pct(h, 0.9),
                "p99": pct(h, 0.99),
                "p999": pct(h, 0.999),
                "max": h.max(),
                "mean": if h.is_empty() { 0.0 } else { h.mean() },
            },
            "loadgen_cpu_s": cpu.measured,
            "loadgen_cpu_total_s": cpu.total,
            "server_cpu_s": cpu.server,
            "ok_per_server_cpu_s": per_server_cpu_s,
            "thread_busy_pct": thread_busy,
            "saturated": saturated,
            "saturation_reasons": reasons,
            "prepare": if cfg.prepare { serde_json::json!({
                "sent": prep.sent, "ok": prep.ok, "failed": prep.failed,
                "duration_s": (go - prep_t0) as f64 / 1e9,
            }) } else { serde_json::Value::Null },
        });
        let s = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n";
        std::fs::write(path, s).map_err(|e| format!("write {path}: {e}"))?;
    }
    Ok(())
}
