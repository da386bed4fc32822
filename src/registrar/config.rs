//! Settings of the registrar core: the values the §10.3 pipeline applies. Plain data with
//! defaults; the appliance's TOML/command-line layer fills it in and validates it.

use crate::sip::message::ParserConfig;

/// What to do when a REGISTER would take an AoR past `max_contacts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Refuse the REGISTER (403 "Too many contacts"); existing bindings stay.
    Reject,
    /// Drop the least recently refreshed bindings the request does not touch (stale devices
    /// make room for the phone that is registering now).
    EvictOldest,
}

/// How the user part of an AoR is canonicalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserCase {
    /// RFC 3261 §19.1.4: the userinfo compares case-sensitively. The default.
    Sensitive,
    /// Fold the user part to lower case (Kamailio's `case_sensitive=0`).
    Insensitive,
}

/// Per-domain policy: the flags Kamailio's `save()` takes, as named fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Keep one contact per AoR: a new contact replaces the others (`save()` flag 0x04).
    pub single_contact: bool,
    /// Never persist this domain's bindings (`save()` flag 0x01); they live in memory only.
    pub memory_only: bool,
    /// Most bindings one AoR may hold. Default 10 (Kamailio ships 0 = unlimited, which lets
    /// one account fill the table, RFC 3261 §26.1.5).
    pub max_contacts: u32,
    /// What happens past `max_contacts`.
    pub overflow: OverflowPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            single_contact: false,
            memory_only: false,
            max_contacts: 10,
            overflow: OverflowPolicy::Reject,
        }
    }
}

/// Limits on what a client controls, each with its default and what it stops.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bindings the table holds (all AoRs together). Past it new bindings get 503 with
    /// Retry-After. Default 4,000,000: bounds memory (about 1 GB at the measured cost per
    /// binding plus URIs) against a flood of distinct AoRs.
    pub max_bindings: usize,
    /// Longest Call-ID stored, in bytes. Default 256: it is kept with every binding.
    pub max_call_id_bytes: usize,
    /// Longest Contact parameter text stored per binding (feature tags, instance, ...), in
    /// bytes. Default 512 (Kamailio's `contact_max_size`).
    pub max_contact_params_bytes: usize,
    /// Longest Path stored per binding, in bytes. Default 1024.
    pub max_path_bytes: usize,
    /// Contacts one REGISTER may carry (at most 32). Default 16: bounds the work of one
    /// request, whatever `max_contacts` allows.
    pub max_contacts_per_request: usize,
    /// AoRs the table is sized for at start-up (index, slots, timers). Default 0 (grow on
    /// demand). Set it near the expected subscriber count (per shard) so that registrations
    /// never pay for the table regrowing (copying every slot) on the request path; memory is
    /// reserved, and the kernel maps it as it is used.
    pub preallocate_aors: usize,
    /// Expired bindings removed per `handle_timeout` call. Default 10,000: bounds the time one
    /// loop turn spends on expiry when many registrations lapse together.
    pub expiry_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bindings: 4_000_000,
            max_call_id_bytes: 256,
            max_contact_params_bytes: 512,
            max_path_bytes: 1024,
            max_contacts_per_request: 16,
            preallocate_aors: 0,
            expiry_budget: 10_000,
        }
    }
}

/// Registrar core settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Domains served (`Request-URI` hosts, §10.3 step 1, and AoR hosts, step 5). Empty means
    /// every domain is accepted.
    pub domains: Vec<Box<[u8]>>,
    /// Expiry used when neither the Contact's `expires` nor an Expires header gives one.
    /// Default 3600 (RFC 3261 §10.2.1.1 suggests one hour).
    pub default_expires_s: u32,
    /// Requests for less (but more than 0) get 423 Interval Too Brief with Min-Expires.
    /// Default 60. Must be at most 3600: §10.3 step 7 forbids 423 for intervals of an hour or
    /// more.
    pub min_expires_s: u32,
    /// Longer requests are shortened to this. Default 7200.
    pub max_expires_s: u32,
    /// A REGISTER whose Call-ID and CSeq equal a binding's, arriving within this window of
    /// that binding's update, is a retransmission: answered again, state unchanged. Default
    /// 20 s (Kamailio/OpenSIPS `cseq_delay`). Outside the window an equal CSeq fails.
    pub retransmit_window_ms: u64,
    /// User-part case rule for AoRs.
    pub user_case: UserCase,
    /// Reject a REGISTER carrying Path unless the UA lists `Supported: path` (RFC 3327 §5.3,
    /// "strict"; Kamailio's default `path_mode=2`). When false, Path is stored and used anyway.
    pub path_strict: bool,
    /// Timer wheel granularity. Default 1000 ms: expiry is reported at most one tick late
    /// (lookups never return an expired binding in between).
    pub timer_tick_ms: u64,
    /// Policy for domains not listed in `domain_policies`.
    pub policy: Policy,
    /// Per-domain policies (domain compared case-insensitively).
    pub domain_policies: Vec<(Box<[u8]>, Policy)>,
    pub limits: Limits,
    pub parser: ParserConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domains: Vec::new(),
            default_expires_s: 3600,
            min_expires_s: 60,
            max_expires_s: 7200,
            retransmit_window_ms: 20_000,
            user_case: UserCase::Sensitive,
            path_strict: true,
            timer_tick_ms: 1000,
            policy: Policy::default(),
            domain_policies: Vec::new(),
            limits: Limits::default(),
            parser: ParserConfig::default(),
        }
    }
}

/// A setting that cannot work, naming the key and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks the settings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, problem: String| Err(ConfigError { key, problem });
        if self.min_expires_s > 3600 {
            return err(
                "min_expires",
                format!(
                    "{} is over 3600: RFC 3261 §10.3 allows 423 only below one hour",
                    self.min_expires_s
                ),
            );
        }
        if self.min_expires_s > self.max_expires_s {
            return err(
                "min_expires",
                format!(
                    "{} is above max_expires ({})",
                    self.min_expires_s, self.max_expires_s
                ),
            );
        }
        if self.default_expires_s < self.min_expires_s
            || self.default_expires_s > self.max_expires_s
        {
            return err(
                "default_expires",
                format!(
                    "{} is outside min_expires..=max_expires ({}..={})",
                    self.default_expires_s, self.min_expires_s, self.max_expires_s
                ),
            );
        }
        if self.timer_tick_ms == 0 {
            return err("timer_tick_ms", "must be at least 1".into());
        }
        for (name, p) in std::iter::once((&b"*"[..], &self.policy))
            .chain(self.domain_policies.iter().map(|(d, p)| (&d[..], p)))
        {
            if p.max_contacts == 0 {
                return err(
                    "max_contacts",
                    format!(
                        "0 for {} would refuse every registration",
                        String::from_utf8_lossy(name)
                    ),
                );
            }
        }
        if self.limits.max_bindings == 0 {
            return err("max_bindings", "must be at least 1".into());
        }
        if !(1..=32).contains(&self.limits.max_contacts_per_request) {
            return err(
                "max_contacts_per_request",
                "must be between 1 and 32".into(),
            );
        }
        if !(8..=128).contains(&self.parser.limits.max_headers) {
            return err("max_headers", "must be between 8 and 128".into());
        }
        if self.limits.preallocate_aors > self.limits.max_bindings {
            return err(
                "preallocate_aors",
                format!(
                    "{} is above max_bindings ({})",
                    self.limits.preallocate_aors, self.limits.max_bindings
                ),
            );
        }
        if self.limits.expiry_budget == 0 {
            return err("expiry_budget", "must be at least 1".into());
        }
        Ok(())
    }

    /// The policy for an AoR's domain.
    pub fn policy_for(&self, domain: &[u8]) -> &Policy {
        self.domain_policies
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(domain))
            .map_or(&self.policy, |(_, p)| p)
    }

    /// True if `host` is served (always, when no domain is configured).
    pub fn serves(&self, host: &[u8]) -> bool {
        let host = host.strip_suffix(b".").unwrap_or(host);
        self.domains.is_empty() || self.domains.iter().any(|d| d.eq_ignore_ascii_case(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = Config {
            min_expires_s: 4000,
            max_expires_s: 8000,
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "min_expires");
        c = Config {
            min_expires_s: 100,
            max_expires_s: 50,
            default_expires_s: 60,
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "min_expires");
        c = Config {
            default_expires_s: 10,
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "default_expires");
        c = Config::default();
        c.policy.max_contacts = 0;
        assert_eq!(c.validate().unwrap_err().key, "max_contacts");
    }
}
