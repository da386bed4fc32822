//! The command line: a config file, a tuning profile, and overrides for the settings an
//! operator changes most. Every override wins over the file and the profile.

use std::path::PathBuf;

use clap::Parser;

use super::{ConfigError, CoreList, File, Listen};

/// A thread-per-core SIP registrar (RFC 3261 §10.3) with redirect lookup.
///
/// With no arguments it serves on 127.0.0.1:5060 over UDP and TCP with the embedded
/// defaults. Settings come from the tuning profile, then the config file, then these options.
/// docs/configuration.md lists every key of the file.
#[derive(Parser, Debug, Clone, Default)]
#[command(name = "registrar", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (docs/configuration.md). Default: none (embedded defaults).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Tuning profile (e.g. tuning/2-core.toml) applied before the config file. Default: the
    /// file's `profile` key, else none.
    #[arg(long, value_name = "PATH")]
    pub profile: Option<PathBuf>,

    /// Listening address, `udp:IP:PORT` or `tcp:IP:PORT`; repeat for several. Replaces
    /// `server.listen`. Default: udp:127.0.0.1:5060 and tcp:127.0.0.1:5060. Port 0 picks a
    /// free port (the same for every shard), logged at start-up.
    #[arg(long, value_name = "TRANSPORT:IP:PORT")]
    pub listen: Vec<String>,

    /// Number of shards (one pinned executor thread each). Default: one per CPU in
    /// `--cores`, else one per CPU this process may use.
    #[arg(long, value_name = "N")]
    pub shards: Option<i64>,

    /// CPUs to pin the shards to, in shard order, e.g. `0-3,8`. Default: the first CPUs
    /// this process may use.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,

    /// Do not pin shards to CPUs (development; shards may then outnumber CPUs).
    #[arg(long)]
    pub no_pin: bool,

    /// Domain served (Request-URI and AoR host); repeat for several. Replaces
    /// `registrar.domains`. Default: none, which accepts every domain.
    #[arg(long, value_name = "NAME")]
    pub domain: Vec<String>,

    /// Shortest registration accepted, seconds; shorter ones get 423. Default 60.
    #[arg(long, value_name = "S")]
    pub min_expires: Option<i64>,

    /// Longest registration granted, seconds; longer ones are shortened. Default 7200.
    #[arg(long, value_name = "S")]
    pub max_expires: Option<i64>,

    /// Expiry when the REGISTER names none, seconds. Default 3600.
    #[arg(long, value_name = "S")]
    pub default_expires: Option<i64>,

    /// Most contacts per AoR. Default 10.
    #[arg(long, value_name = "N")]
    pub max_contacts: Option<i64>,

    /// Directory for durable state. Default: none. Checked at start-up; bindings are kept in
    /// memory until the store lands (see docs/configuration.md).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Shard runtime: `glommio` (pinned glommio executors) or `batched` (pinned threads,
    /// epoll). Both batch datagrams with recvmmsg/sendmmsg. Default: batched (less CPU per
    /// REGISTER below saturation; docs/performance.md).
    #[arg(long, value_name = "BACKEND")]
    pub backend: Option<String>,

    /// Log level or filter (error, warn, info, debug, trace, or `registrar=debug,...`).
    /// Default: info; RUST_LOG, when set, wins.
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,

    /// Check the configuration, print the effective settings, and exit.
    #[arg(long)]
    pub check_config: bool,
}

impl Cli {
    /// Overlays the command-line overrides on the decoded file.
    pub(super) fn apply(&self, f: &mut File) -> Result<(), ConfigError> {
        if !self.listen.is_empty() {
            // Checked here so the error names the option the operator typed.
            for l in &self.listen {
                l.parse::<Listen>()
                    .map_err(|e| ConfigError::new("--listen", e))?;
            }
            f.server.listen = Some(self.listen.clone());
        }
        if let Some(n) = self.shards {
            f.server.shards = Some(n);
        }
        if let Some(c) = &self.cores {
            f.server.cores = CoreList::Text(c.clone());
        }
        if self.no_pin {
            f.server.pin = Some(false);
        }
        if !self.domain.is_empty() {
            f.registrar.domains = Some(self.domain.clone());
        }
        let r = &mut f.registrar;
        r.min_expires = self.min_expires.or(r.min_expires);
        r.max_expires = self.max_expires.or(r.max_expires);
        r.default_expires = self.default_expires.or(r.default_expires);
        r.max_contacts = self.max_contacts.or(r.max_contacts);
        if let Some(d) = &self.data_dir {
            f.server.data_dir = Some(d.clone());
        }
        if let Some(b) = &self.backend {
            b.parse::<super::Backend>()
                .map_err(|e| ConfigError::new("--backend", e))?;
            f.tuning.backend = Some(b.clone());
        }
        if let Some(l) = &self.log {
            f.server.log = Some(l.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppConfig;

    fn load(args: &[&str]) -> Result<AppConfig, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("registrar").chain(args.iter().copied()))
            .expect("arguments parse");
        AppConfig::load(&cli)
    }

    #[test]
    fn overrides_win() {
        let c = load(&[
            "--listen",
            "udp:127.0.0.2:5070",
            "--shards",
            "1",
            "--min-expires",
            "30",
            "--domain",
            "example.org",
        ])
        .unwrap();
        assert_eq!(c.server.listen.len(), 1);
        assert_eq!(c.server.listen[0].to_string(), "udp:127.0.0.2:5070");
        assert_eq!(c.server.shards, 1);
        assert_eq!(c.core.min_expires_s, 30);
        assert_eq!(c.core.domains.len(), 1);
    }

    #[test]
    fn bad_overrides_name_the_option_or_key() {
        assert_eq!(
            load(&["--listen", "udp:nowhere"]).unwrap_err().key,
            "--listen"
        );
        assert_eq!(load(&["--shards", "0"]).unwrap_err().key, "server.shards");
        assert_eq!(
            load(&["--min-expires", "900", "--max-expires", "600"])
                .unwrap_err()
                .key,
            "registrar.min_expires"
        );
        assert_eq!(load(&["--cores", "99999"]).unwrap_err().key, "server.cores");
    }
}
