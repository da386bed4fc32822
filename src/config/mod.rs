//! The appliance's configuration: one TOML file (optionally on top of a tuning profile), then
//! command-line overrides, validated into [`AppConfig`]. Every problem is reported as one
//! [`ConfigError`] naming the key (`section.key`) and what is wrong with it.
//!
//! The file format is documented key by key in `docs/configuration.md`; every key has a
//! default, so an empty file (or none) is a working configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::registrar::{self, OverflowPolicy, Policy, UserCase};
use crate::sip::message::{Leniency, ParserConfig};

mod cli;
mod cores;

pub use cli::Cli;
pub use cores::parse_core_list;

/// A setting that stops start-up: the key and the problem, printed as one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Transport of a listening address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListenTransport {
    Udp,
    Tcp,
}

/// One `udp:IP:PORT` / `tcp:IP:PORT` listening address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listen {
    pub transport: ListenTransport,
    pub addr: SocketAddr,
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match self.transport {
            ListenTransport::Udp => "udp",
            ListenTransport::Tcp => "tcp",
        };
        write!(f, "{t}:{}", self.addr)
    }
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Listen, String> {
        let (t, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not TRANSPORT:IP:PORT (e.g. udp:127.0.0.1:5060)"))?;
        let transport = match t.to_ascii_lowercase().as_str() {
            "udp" => ListenTransport::Udp,
            "tcp" => ListenTransport::Tcp,
            _ => return Err(format!("{s:?}: transport {t:?} is not udp or tcp")),
        };
        let addr = rest
            .parse::<SocketAddr>()
            .map_err(|_| format!("{s:?}: {rest:?} is not IP:PORT (IPv6 as [::1]:5060)"))?;
        Ok(Listen { transport, addr })
    }
}

/// Everything the appliance runs with, validated.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub server: Server,
    pub tcp: Tcp,
    pub tuning: Tuning,
    /// The core's settings (domains, expiry, policy, limits, parser).
    pub core: registrar::Config,
}

/// `[server]`.
#[derive(Clone, Debug)]
pub struct Server {
    pub listen: Vec<Listen>,
    /// Shard count (one executor thread each).
    pub shards: usize,
    /// CPU of each shard, in shard order; empty when `pin = false`.
    pub cores: Vec<usize>,
    pub log: String,
    pub data_dir: Option<PathBuf>,
    /// Seconds between per-shard statistics log lines; 0 = only at shutdown.
    pub stats_interval_s: u64,
}

/// `[tcp]`: limits on what TCP clients control (per shard: shards share nothing).
#[derive(Clone, Copy, Debug)]
pub struct Tcp {
    pub max_connections: usize,
    pub max_connections_per_source: usize,
    pub idle_timeout_s: u64,
    pub partial_message_timeout_ms: u64,
    pub max_pending_responses: usize,
}

/// Which shard runtime runs the shards (both behind the same interface, both batching
/// datagrams with `recvmmsg`/`sendmmsg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One pinned OS thread per shard: epoll (mio), crossbeam queues between shards. Needs
    /// neither io_uring nor locked memory. The default: it costs half the server CPU per
    /// REGISTER of `glommio` when requests arrive evenly spread, less at SIPp's fixed rates,
    /// and about the same at saturation (docs/performance.md).
    Batched,
    /// One glommio executor per shard (io_uring reactor), glommio's channel mesh between
    /// shards: the card's runtime. Each wake-up of a parked executor costs several
    /// `io_uring_enter` calls and a `membarrier`, which makes it the dearer one below
    /// saturation. Where glommio cannot start (io_uring disabled, e.g. by Docker's default
    /// seccomp profile, or too little locked memory) the appliance logs a warning and runs
    /// `batched`.
    Glommio,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "batched" => Ok(Backend::Batched),
            "glommio" => Ok(Backend::Glommio),
            _ => Err(format!("{s:?} is not \"batched\" or \"glommio\"")),
        }
    }
}

/// `[tuning]`: knobs a profile sets for the hardware.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    pub backend: Backend,
    pub socket_recv_buffer: usize,
    pub socket_send_buffer: usize,
    pub batch: usize,
    pub handoff_queue_depth: usize,
    pub spin_before_park_us: u64,
    pub io_memory_kib: usize,
    pub tcp_backlog: i32,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE)` at start-up: every page is faulted in when it is
    /// mapped and never swapped, so a registration storm does not stall on first-touch page
    /// faults (Kamailio's `mlock_pages`). Costs resident memory from the start (the
    /// allocator's arena reservation, about 1 GiB) and needs CAP_IPC_LOCK or a large enough
    /// `ulimit -l`.
    pub lock_memory: bool,
}

// ---- the file's shape (every field optional: defaults live in `AppConfig::build`) ----

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    registrar: FileRegistrar,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    parser: FileParser,
    #[serde(default)]
    tcp: FileTcp,
    #[serde(default)]
    tuning: FileTuning,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(untagged)]
enum CoreList {
    #[default]
    None,
    Text(String),
    List(Vec<i64>),
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct FileServer {
    listen: Option<Vec<String>>,
    shards: Option<i64>,
    #[serde(default)]
    cores: CoreList,
    pin: Option<bool>,
    log: Option<String>,
    data_dir: Option<PathBuf>,
    stats_interval_s: Option<i64>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct FileRegistrar {
    domains: Option<Vec<String>>,
    default_expires: Option<i64>,
    min_expires: Option<i64>,
    max_expires: Option<i64>,
    max_contacts: Option<i64>,
    overflow: Option<String>,
    single_contact: Option<bool>,
    memory_only: Option<bool>,
    user_case: Option<String>,
    path_strict: Option<bool>,
    retransmit_window_ms: Option<i64>,
    timer_tick_ms: Option<i64>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_message_bytes: Option<i64>,
    max_request_uri_bytes: Option<i64>,
    max_headers: Option<i64>,
    max_bindings: Option<i64>,
    max_call_id_bytes: Option<i64>,
    max_contact_params_bytes: Option<i64>,
    max_path_bytes: Option<i64>,
    max_contacts_per_request: Option<i64>,
    preallocate_aors: Option<i64>,
    expiry_budget: Option<i64>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct FileParser {
    allow_bare_lf: Option<bool>,
    allow_multiple_spaces_in_request_line: Option<bool>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct FileTcp {
    max_connections: Option<i64>,
    max_connections_per_source: Option<i64>,
    idle_timeout_s: Option<i64>,
    partial_message_timeout_ms: Option<i64>,
    max_pending_responses: Option<i64>,
}

#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct FileTuning {
    backend: Option<String>,
    socket_recv_buffer: Option<i64>,
    socket_send_buffer: Option<i64>,
    batch: Option<i64>,
    handoff_queue_depth: Option<i64>,
    spin_before_park_us: Option<i64>,
    io_memory_kib: Option<i64>,
    tcp_backlog: Option<i64>,
    lock_memory: Option<bool>,
}

/// Default listening addresses: loopback, the standard SIP port, both transports.
pub const DEFAULT_LISTEN: [&str; 2] = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"];

/// Reads a TOML file into a table, naming the file in the error.
fn read_table(path: &Path, key: &str) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(key, format!("cannot read {}: {e}", path.display())))?;
    text.parse::<toml::Table>().map_err(|e| {
        ConfigError::new(
            key,
            format!(
                "{} is not valid TOML: {}",
                path.display(),
                one_line(&e.to_string())
            ),
        )
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Overlays `top` on `base`, table by table (values in `top` win).
fn merge(base: &mut toml::Table, top: toml::Table) {
    for (k, v) in top {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => merge(b, t),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Decodes the merged table; errors name the key by its path (`server.shards`).
fn decode(table: toml::Table) -> Result<File, ConfigError> {
    serde_path_to_error::deserialize::<_, File>(toml::Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        let msg = one_line(e.inner().message());
        // An unknown field is reported at its parent; name the field itself.
        let key = match msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            Some(field) if path == "." || path.is_empty() => field.to_string(),
            Some(field) => format!("{path}.{field}"),
            None => path,
        };
        ConfigError::new(key, msg)
    })
}

impl AppConfig {
    /// Loads the configuration a command line asks for: the tuning profile (from
    /// `--profile`, or the file's `profile` key, resolved against the file's folder), the
    /// file, then the command-line overrides.
    pub fn load(cli: &Cli) -> Result<AppConfig, ConfigError> {
        let mut table = toml::Table::new();
        let mut profile = cli.profile.clone();
        if let Some(path) = &cli.config {
            let file = read_table(path, "--config")?;
            if profile.is_none() {
                if let Some(p) = file.get("profile") {
                    let p = p
                        .as_str()
                        .ok_or_else(|| ConfigError::new("profile", "must be a path string"))?;
                    let base = path.parent().unwrap_or(Path::new("."));
                    profile = Some(base.join(p));
                }
            }
            if let Some(p) = &profile {
                table = read_table(p, "profile")?;
                table.remove("profile");
            }
            merge(&mut table, file);
        } else if let Some(p) = &profile {
            table = read_table(p, "--profile")?;
            table.remove("profile");
        }
        table.remove("profile");
        let mut file = decode(table)?;
        cli.apply(&mut file)?;
        AppConfig::build(file, &cores::available_cpus())
    }

    /// The configuration from TOML text alone (no profile, no command line).
    pub fn from_toml(text: &str) -> Result<AppConfig, ConfigError> {
        AppConfig::from_toml_for_cpus(text, &cores::available_cpus())
    }

    /// As [`from_toml`](Self::from_toml), checked against a machine whose usable CPUs are
    /// `cpus` (to check a tuning profile meant for a bigger machine).
    pub fn from_toml_for_cpus(text: &str, cpus: &[usize]) -> Result<AppConfig, ConfigError> {
        let mut table = text.parse::<toml::Table>().map_err(|e| {
            ConfigError::new(
                "config",
                format!("not valid TOML: {}", one_line(&e.to_string())),
            )
        })?;
        table.remove("profile");
        AppConfig::build(decode(table)?, cpus)
    }

    fn build(f: File, available: &[usize]) -> Result<AppConfig, ConfigError> {
        let s = &f.server;
        let listen_text: Vec<String> = match &s.listen {
            Some(l) => l.clone(),
            None => DEFAULT_LISTEN.iter().map(|s| s.to_string()).collect(),
        };
        if listen_text.is_empty() {
            return Err(ConfigError::new(
                "server.listen",
                "is empty: give at least one udp:IP:PORT or tcp:IP:PORT",
            ));
        }
        let mut listen = Vec::new();
        for l in &listen_text {
            let parsed: Listen = l
                .parse()
                .map_err(|e: String| ConfigError::new("server.listen", e))?;
            if listen.contains(&parsed) {
                return Err(ConfigError::new(
                    "server.listen",
                    format!("{parsed} is listed twice"),
                ));
            }
            listen.push(parsed);
        }

        let pin = s.pin.unwrap_or(true);
        let listed: Option<Vec<usize>> = match &s.cores {
            CoreList::None => None,
            CoreList::Text(t) => {
                Some(parse_core_list(t).map_err(|e| ConfigError::new("server.cores", e))?)
            }
            CoreList::List(l) => Some(
                l.iter()
                    .map(|&c| {
                        usize::try_from(c).map_err(|_| {
                            ConfigError::new("server.cores", format!("{c} is not a CPU number"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        if let Some(l) = &listed {
            if l.is_empty() {
                return Err(ConfigError::new("server.cores", "is empty"));
            }
            for &c in l {
                if !available.contains(&c) {
                    return Err(ConfigError::new(
                        "server.cores",
                        format!(
                            "CPU {c} is not available to this process (available: {})",
                            cores::format_core_list(available)
                        ),
                    ));
                }
            }
            let mut seen = l.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != l.len() {
                return Err(ConfigError::new("server.cores", "lists a CPU twice"));
            }
        }
        let shards = match s.shards {
            Some(n) if n < 1 => {
                return Err(ConfigError::new(
                    "server.shards",
                    format!("{n}: must be at least 1"),
                ));
            }
            Some(n) if n > 1024 => {
                return Err(ConfigError::new(
                    "server.shards",
                    format!("{n}: at most 1024"),
                ));
            }
            Some(n) => n as usize,
            None => listed.as_ref().map_or(available.len().max(1), Vec::len),
        };
        let cores = if !pin {
            Vec::new()
        } else {
            match listed {
                Some(l) if l.len() != shards => {
                    return Err(ConfigError::new(
                        "server.cores",
                        format!(
                            "lists {} CPUs for {shards} shards (one CPU per shard, or set pin = false)",
                            l.len()
                        ),
                    ));
                }
                Some(l) => l,
                None if shards > available.len() => {
                    return Err(ConfigError::new(
                        "server.shards",
                        format!(
                            "{shards} shards but only {} CPUs are available to pin them to (lower shards, or set pin = false)",
                            available.len()
                        ),
                    ));
                }
                None => available[..shards].to_vec(),
            }
        };
        let log = s.log.clone().unwrap_or_else(|| "info".to_string());
        if tracing_subscriber::EnvFilter::try_new(&log).is_err() {
            return Err(ConfigError::new(
                "server.log",
                format!("{log:?} is not a log level or filter (e.g. info, debug, registrar=trace)"),
            ));
        }
        let server = Server {
            listen,
            shards,
            cores,
            log,
            data_dir: s.data_dir.clone(),
            stats_interval_s: nonneg(s.stats_interval_s, 0, "server.stats_interval_s")?,
        };
        if let Some(d) = &server.data_dir {
            if d.as_os_str().is_empty() {
                return Err(ConfigError::new("server.data_dir", "is empty"));
            }
            if d.exists() && !d.is_dir() {
                return Err(ConfigError::new(
                    "server.data_dir",
                    format!("{} exists and is not a directory", d.display()),
                ));
            }
        }

        let t = &f.tcp;
        let tcp = Tcp {
            max_connections: positive(t.max_connections, 4096, "tcp.max_connections")?,
            max_connections_per_source: positive(
                t.max_connections_per_source,
                64,
                "tcp.max_connections_per_source",
            )?,
            idle_timeout_s: positive(t.idle_timeout_s, 300, "tcp.idle_timeout_s")? as u64,
            partial_message_timeout_ms: positive(
                t.partial_message_timeout_ms,
                10_000,
                "tcp.partial_message_timeout_ms",
            )? as u64,
            max_pending_responses: positive(
                t.max_pending_responses,
                64,
                "tcp.max_pending_responses",
            )?,
        };

        let u = &f.tuning;
        let tuning = Tuning {
            backend: match &u.backend {
                None => Backend::Batched,
                Some(b) => b
                    .parse()
                    .map_err(|e: String| ConfigError::new("tuning.backend", e))?,
            },
            socket_recv_buffer: positive(
                u.socket_recv_buffer,
                4 << 20,
                "tuning.socket_recv_buffer",
            )?,
            socket_send_buffer: positive(
                u.socket_send_buffer,
                4 << 20,
                "tuning.socket_send_buffer",
            )?,
            batch: positive(u.batch, 64, "tuning.batch")?,
            handoff_queue_depth: positive(
                u.handoff_queue_depth,
                4096,
                "tuning.handoff_queue_depth",
            )?,
            spin_before_park_us: nonneg(u.spin_before_park_us, 0, "tuning.spin_before_park_us")?,
            io_memory_kib: positive(u.io_memory_kib, 256, "tuning.io_memory_kib")?,
            lock_memory: u.lock_memory.unwrap_or(false),
            tcp_backlog: positive(u.tcp_backlog, 1024, "tuning.tcp_backlog")?.min(65535) as i32,
        };

        let core = build_core(&f)?;
        Ok(AppConfig {
            server,
            tcp,
            tuning,
            core,
        })
    }
}

fn positive(v: Option<i64>, default: usize, key: &str) -> Result<usize, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) if n >= 1 => {
            usize::try_from(n).map_err(|_| ConfigError::new(key, format!("{n} is too large")))
        }
        Some(n) => Err(ConfigError::new(key, format!("{n}: must be at least 1"))),
    }
}

fn nonneg(v: Option<i64>, default: u64, key: &str) -> Result<u64, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) if n >= 0 => Ok(n as u64),
        Some(n) => Err(ConfigError::new(key, format!("{n}: must not be negative"))),
    }
}

fn seconds(v: Option<i64>, default: u32, key: &str) -> Result<u32, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) => u32::try_from(n)
            .map_err(|_| ConfigError::new(key, format!("{n} is not a number of seconds"))),
    }
}

fn build_core(f: &File) -> Result<registrar::Config, ConfigError> {
    let d = registrar::Config::default();
    let r = &f.registrar;
    let l = &f.limits;
    let mut domains = Vec::new();
    for name in r.domains.iter().flatten() {
        let name = name.trim().trim_end_matches('.');
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ':' || c == '@') {
            return Err(ConfigError::new(
                "registrar.domains",
                format!("{name:?} is not a domain name"),
            ));
        }
        domains.push(name.as_bytes().to_ascii_lowercase().into_boxed_slice());
    }
    let overflow = match r.overflow.as_deref() {
        None | Some("reject") => OverflowPolicy::Reject,
        Some("evict-oldest") => OverflowPolicy::EvictOldest,
        Some(o) => {
            return Err(ConfigError::new(
                "registrar.overflow",
                format!("{o:?} is not \"reject\" or \"evict-oldest\""),
            ));
        }
    };
    let user_case = match r.user_case.as_deref() {
        None | Some("sensitive") => UserCase::Sensitive,
        Some("insensitive") => UserCase::Insensitive,
        Some(o) => {
            return Err(ConfigError::new(
                "registrar.user_case",
                format!("{o:?} is not \"sensitive\" or \"insensitive\""),
            ));
        }
    };
    let max_contacts = match r.max_contacts {
        None => d.policy.max_contacts,
        Some(n) if n >= 1 => u32::try_from(n)
            .map_err(|_| ConfigError::new("registrar.max_contacts", format!("{n} is too large")))?,
        Some(n) => {
            return Err(ConfigError::new(
                "registrar.max_contacts",
                format!("{n}: must be at least 1"),
            ));
        }
    };
    let dl = d.limits;
    let pl = d.parser.limits;
    let core = registrar::Config {
        domains,
        default_expires_s: seconds(
            r.default_expires,
            d.default_expires_s,
            "registrar.default_expires",
        )?,
        min_expires_s: seconds(r.min_expires, d.min_expires_s, "registrar.min_expires")?,
        max_expires_s: seconds(r.max_expires, d.max_expires_s, "registrar.max_expires")?,
        retransmit_window_ms: nonneg(
            r.retransmit_window_ms,
            d.retransmit_window_ms,
            "registrar.retransmit_window_ms",
        )?,
        user_case,
        path_strict: r.path_strict.unwrap_or(d.path_strict),
        timer_tick_ms: positive(
            r.timer_tick_ms,
            d.timer_tick_ms as usize,
            "registrar.timer_tick_ms",
        )? as u64,
        policy: Policy {
            single_contact: r.single_contact.unwrap_or(d.policy.single_contact),
            memory_only: r.memory_only.unwrap_or(d.policy.memory_only),
            max_contacts,
            overflow,
        },
        domain_policies: Vec::new(),
        limits: registrar::Limits {
            max_bindings: positive(l.max_bindings, dl.max_bindings, "limits.max_bindings")?,
            max_call_id_bytes: positive(
                l.max_call_id_bytes,
                dl.max_call_id_bytes,
                "limits.max_call_id_bytes",
            )?,
            max_contact_params_bytes: positive(
                l.max_contact_params_bytes,
                dl.max_contact_params_bytes,
                "limits.max_contact_params_bytes",
            )?,
            max_path_bytes: positive(l.max_path_bytes, dl.max_path_bytes, "limits.max_path_bytes")?,
            max_contacts_per_request: positive(
                l.max_contacts_per_request,
                dl.max_contacts_per_request,
                "limits.max_contacts_per_request",
            )?,
            preallocate_aors: nonneg(
                l.preallocate_aors,
                dl.preallocate_aors as u64,
                "limits.preallocate_aors",
            )? as usize,
            expiry_budget: positive(l.expiry_budget, dl.expiry_budget, "limits.expiry_budget")?,
        },
        parser: ParserConfig {
            limits: crate::sip::message::Limits {
                max_message_bytes: positive(
                    l.max_message_bytes,
                    pl.max_message_bytes,
                    "limits.max_message_bytes",
                )?,
                max_request_uri_bytes: positive(
                    l.max_request_uri_bytes,
                    pl.max_request_uri_bytes,
                    "limits.max_request_uri_bytes",
                )?,
                max_headers: positive(l.max_headers, pl.max_headers, "limits.max_headers")?,
            },
            leniency: Leniency {
                allow_bare_lf: f.parser.allow_bare_lf.unwrap_or(false),
                allow_multiple_spaces_in_request_line: f
                    .parser
                    .allow_multiple_spaces_in_request_line
                    .unwrap_or(false),
            },
        },
    };
    if !(256..=65_000).contains(&core.parser.limits.max_message_bytes) {
        return Err(ConfigError::new(
            "limits.max_message_bytes",
            format!(
                "{} is outside 256..=65000 (a UDP datagram carries at most 65,507 bytes)",
                core.parser.limits.max_message_bytes
            ),
        ));
    }
    core.validate().map_err(|e| {
        let section = match e.key {
            "max_bindings"
            | "max_contacts_per_request"
            | "max_headers"
            | "expiry_budget"
            | "preallocate_aors" => "limits",
            _ => "registrar",
        };
        ConfigError::new(format!("{section}.{}", e.key), e.problem)
    })?;
    Ok(core)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_embedded_defaults() {
        let c = AppConfig::from_toml("").unwrap();
        assert_eq!(c.server.listen.len(), 2);
        assert_eq!(c.server.listen[0].to_string(), "udp:127.0.0.1:5060");
        assert_eq!(c.server.listen[1].to_string(), "tcp:127.0.0.1:5060");
        assert!(c.server.shards >= 1);
        assert_eq!(c.core.min_expires_s, 60);
    }

    fn err(text: &str) -> ConfigError {
        AppConfig::from_toml(text).unwrap_err()
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(err("[server]\nshards = 0").key, "server.shards");
        assert_eq!(err("[server]\ncores = [4096]").key, "server.cores");
        assert_eq!(err("[server]\ncores = \"0-\"").key, "server.cores");
        assert_eq!(
            err("[server]\nlisten = [\"udp:1.2.3:5060\"]").key,
            "server.listen"
        );
        assert_eq!(
            err("[server]\nlisten = [\"sctp:127.0.0.1:5060\"]").key,
            "server.listen"
        );
        assert_eq!(
            err("[registrar]\nmin_expires = 600\nmax_expires = 300").key,
            "registrar.min_expires"
        );
        assert_eq!(
            err("[registrar]\noverflow = \"drop\"").key,
            "registrar.overflow"
        );
        assert_eq!(err("[tcp]\nmax_connections = 0").key, "tcp.max_connections");
        assert_eq!(
            err("[limits]\nmax_message_bytes = 10").key,
            "limits.max_message_bytes"
        );
        assert_eq!(
            err("[limits]\nmax_headers = 1000").key,
            "limits.max_headers"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err("[server]\nshard = 2");
        assert!(e.problem.contains("shard"), "{e}");
        let e = err("[servr]\nshards = 2");
        assert!(e.problem.contains("servr"), "{e}");
    }

    #[test]
    fn core_settings_reach_the_core() {
        let c = AppConfig::from_toml(
            "[registrar]\ndomains = [\"Example.COM.\"]\nmin_expires = 30\nmax_expires = 600\n\
             default_expires = 300\nmax_contacts = 3\noverflow = \"evict-oldest\"\n\
             [limits]\nmax_message_bytes = 4096",
        )
        .unwrap();
        assert_eq!(
            c.core.domains,
            vec![b"example.com".to_vec().into_boxed_slice()]
        );
        assert_eq!(c.core.min_expires_s, 30);
        assert_eq!(c.core.policy.max_contacts, 3);
        assert_eq!(c.core.policy.overflow, OverflowPolicy::EvictOldest);
        assert_eq!(c.core.parser.limits.max_message_bytes, 4096);
    }

    #[test]
    fn unpinned_shards_may_outnumber_cpus() {
        let c = AppConfig::from_toml("[server]\nshards = 64\npin = false").unwrap();
        assert_eq!(c.server.shards, 64);
        assert!(c.server.cores.is_empty());
    }
}
