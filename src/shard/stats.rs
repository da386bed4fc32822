//! Per-shard counters of the runtime shell (the core counts its own decisions in
//! `registrar::Stats`). Plain cells: one thread owns each shard.

use std::cell::Cell;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Counters of one shard's shell.
        #[derive(Default, Debug)]
        pub struct ShellStats {
            $($(#[$doc])* pub $name: Cell<u64>,)*
        }

        /// A copy of [`ShellStats`] taken at one moment.
        #[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
        pub struct ShellSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl ShellStats {
            pub fn snapshot(&self) -> ShellSnapshot {
                ShellSnapshot { $($name: self.$name.get(),)* }
            }
        }

        impl std::fmt::Display for ShellSnapshot {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut first = true;
                $(
                    if !first { f.write_str(" ")?; }
                    first = false;
                    write!(f, "{}={}", stringify!($name), self.$name)?;
                )*
                let _ = first;
                Ok(())
            }
        }
    };
}

counters! {
    /// Datagrams received on this shard's UDP sockets.
    udp_in,
    /// UDP responses sent from this shard's sockets.
    udp_out,
    /// UDP receive or send errors (each is logged at debug).
    udp_errors,
    /// Requests this shard received but another shard owns: handed to the owner.
    handed_off,
    /// Handoffs dropped because the owner's queue was full (UDP: the client retransmits).
    handoff_dropped,
    /// Requests other shards handed to this one (it owns their AoR).
    from_peers,
    /// TCP responses this shard produced for a connection another shard holds.
    replies_forwarded,
    /// TCP responses dropped: the connection had closed, or its queue was full.
    replies_dropped,
    /// TCP connections accepted.
    tcp_accepted,
    /// TCP connections refused at accept by `tcp.max_connections` or
    /// `tcp.max_connections_per_source`.
    tcp_refused,
    /// TCP connections closed by `tcp.idle_timeout_s`.
    tcp_idle_closed,
    /// TCP connections closed by `tcp.partial_message_timeout_ms`.
    tcp_partial_closed,
    /// TCP connections closed because the stream could not be framed (garbage, or a
    /// message over `limits.max_message_bytes`).
    tcp_framing_closed,
    /// Messages framed off TCP streams.
    tcp_messages,
    /// RFC 5626 CRLF keep-alive pings answered.
    tcp_keepalives,
}
