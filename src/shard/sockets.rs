//! Listening sockets, built with `socket2` (SO_REUSEPORT, buffer sizes, backlog) before the
//! shards start, so a bad address stops start-up with a clear error, and handed to glommio
//! inside each shard.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{AppConfig, Listen, ListenTransport};

/// One shard's sockets: one per listening address, in `server.listen` order.
pub struct ShardSockets {
    pub udp: Vec<(SocketAddr, Socket)>,
    pub tcp: Vec<(SocketAddr, Socket)>,
}

/// A socket that could not be set up, with the address and the step that failed.
#[derive(Debug)]
pub struct BindError {
    pub listen: Listen,
    pub step: &'static str,
    pub error: std::io::Error,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server.listen: {}: {}: {}",
            self.listen, self.step, self.error
        )
    }
}

impl std::error::Error for BindError {}

/// What [`BindError::step`] says when another process already listens on the address.
pub const IN_USE: &str = "already in use by another process (a second registrar on the same \
     address would silently take a share of the requests)";

/// Fails when some other socket is bound to `listen` already. The shards' sockets share their
/// port with SO_REUSEPORT, which would let a second registrar (or any process of the same user
/// that sets it) bind beside a running one and take a share of its requests, with AoRs split
/// between two tables; a probe socket bound without SO_REUSEPORT gets `EADDRINUSE` instead.
fn probe_free(listen: Listen) -> Result<(), BindError> {
    let s = new_socket(listen, listen.addr)?;
    match s.bind(&listen.addr.into()) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(bind_error(listen, IN_USE)(e)),
        Err(e) => Err(bind_error(listen, "bind")(e)),
        Ok(()) => Ok(()),
    }
}

fn bind_error(listen: Listen, step: &'static str) -> impl Fn(std::io::Error) -> BindError {
    move |error| BindError {
        listen,
        step,
        error,
    }
}

/// A socket of `listen`'s transport for `addr`, not yet bound: IPv6 only for an IPv6
/// address; TCP with SO_REUSEADDR (a restart binds while old connections linger in
/// TIME_WAIT; a listening socket still conflicts).
fn new_socket(listen: Listen, addr: SocketAddr) -> Result<Socket, BindError> {
    let err = |step| bind_error(listen, step);
    let (ty, proto) = match listen.transport {
        ListenTransport::Udp => (Type::DGRAM, Protocol::UDP),
        ListenTransport::Tcp => (Type::STREAM, Protocol::TCP),
    };
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto)).map_err(err("socket"))?;
    if listen.transport == ListenTransport::Tcp {
        s.set_reuse_address(true).map_err(err("SO_REUSEADDR"))?;
    }
    if addr.is_ipv6() {
        s.set_only_v6(true).map_err(err("IPV6_V6ONLY"))?;
    }
    Ok(s)
}

/// Binds `shards` sockets per listening address, all to the same address and port with
/// SO_REUSEPORT, so the kernel spreads packets (UDP) and connections (TCP) over the shards by
/// 4-tuple. Port 0 is resolved by the first socket; the others bind to the port it got. A
/// fixed port that another process holds already is an error ([`IN_USE`]), not a share.
pub fn bind_all(cfg: &AppConfig) -> Result<(Vec<ShardSockets>, Vec<Listen>), BindError> {
    let shards = cfg.server.shards;
    let mut per_shard: Vec<ShardSockets> = (0..shards)
        .map(|_| ShardSockets {
            udp: Vec::new(),
            tcp: Vec::new(),
        })
        .collect();
    let mut bound = Vec::new();
    for &listen in &cfg.server.listen {
        if listen.addr.port() != 0 {
            probe_free(listen)?;
        }
        let mut addr = listen.addr;
        for shard in per_shard.iter_mut() {
            let err = |step| bind_error(listen, step);
            let s = new_socket(listen, addr)?;
            s.set_reuse_port(true).map_err(err("SO_REUSEPORT"))?;
            // The kernel caps these at net.core.{r,w}mem_max (tuning/kernel.sh raises them);
            // a capped value is not an error.
            let _ = s.set_recv_buffer_size(cfg.tuning.socket_recv_buffer);
            let _ = s.set_send_buffer_size(cfg.tuning.socket_send_buffer);
            s.bind(&addr.into()).map_err(err("bind"))?;
            if listen.transport == ListenTransport::Tcp {
                s.listen(cfg.tuning.tcp_backlog).map_err(err("listen"))?;
            }
            if addr.port() == 0 {
                let got = s
                    .local_addr()
                    .map_err(err("getsockname"))?
                    .as_socket()
                    .ok_or_else(|| BindError {
                        listen,
                        step: "getsockname",
                        error: std::io::Error::other("not an IP socket"),
                    })?;
                addr.set_port(got.port());
            }
            match listen.transport {
                ListenTransport::Udp => shard.udp.push((addr, s)),
                ListenTransport::Tcp => shard.tcp.push((addr, s)),
            }
        }
        bound.push(Listen {
            transport: listen.transport,
            addr,
        });
    }
    Ok((per_shard, bound))
}

/// Hands a bound, listening TCP socket to glommio.
#[allow(unsafe_code)]
pub fn into_glommio_listener(s: Socket) -> glommio::net::TcpListener {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let fd = s.into_raw_fd();
    // SAFETY: `fd` comes from `into_raw_fd`, so it is open, owned by nobody else, and is a
    // bound, listening TCP socket (`bind_all`); ownership passes to the listener, which
    // closes it on drop. Must run on a glommio executor thread (the listener registers with
    // that executor's reactor): callers are shard tasks.
    unsafe { glommio::net::TcpListener::from_raw_fd(fd) }
}

/// A second handle on a connected TCP stream, for a writer task beside the reader.
#[allow(unsafe_code)]
pub fn dup_stream(stream: &glommio::net::TcpStream) -> std::io::Result<glommio::net::TcpStream> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on the stream's open descriptor has no memory effects;
    // it returns a new descriptor or -1.
    let fd = unsafe { libc::fcntl(stream.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh duplicate that nothing else owns; it refers to the same
    // connected TCP socket as `stream`. The new TcpStream owns and closes it. The two handles
    // are used one for reading, one for writing, which the socket allows concurrently. Called
    // on the executor thread that owns `stream`.
    Ok(unsafe { glommio::net::TcpStream::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(listen: &str, shards: usize) -> AppConfig {
        AppConfig::from_toml(&format!(
            "[server]\nlisten = [\"{listen}\"]\nshards = {shards}\npin = false\n"
        ))
        .unwrap()
    }

    /// A port held by some other socket, as a registrar's shards hold it (SO_REUSEPORT).
    fn held(ty: Type, proto: Protocol) -> (Socket, u16) {
        let s = Socket::new(Domain::IPV4, ty, Some(proto)).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        if ty == Type::STREAM {
            s.listen(16).unwrap();
        }
        let port = s.local_addr().unwrap().as_socket().unwrap().port();
        (s, port)
    }

    #[test]
    fn a_udp_port_another_process_listens_on_is_refused_not_shared() {
        let (_other, port) = held(Type::DGRAM, Protocol::UDP);
        let e = bind_all(&config(&format!("udp:127.0.0.1:{port}"), 2))
            .err()
            .unwrap();
        assert_eq!(e.step, IN_USE);
        assert!(e.to_string().contains("already in use"), "{e}");
        assert!(
            e.to_string().starts_with("server.listen: udp:127.0.0.1:"),
            "{e}"
        );
    }

    #[test]
    fn a_tcp_port_another_process_listens_on_is_refused_not_shared() {
        let (_other, port) = held(Type::STREAM, Protocol::TCP);
        let e = bind_all(&config(&format!("tcp:127.0.0.1:{port}"), 2))
            .err()
            .unwrap();
        assert_eq!(e.step, IN_USE);
    }

    #[test]
    fn a_free_port_is_shared_by_every_shard() {
        let (other, port) = held(Type::DGRAM, Protocol::UDP);
        drop(other);
        let (socks, bound) = bind_all(&config(&format!("udp:127.0.0.1:{port}"), 3)).unwrap();
        assert_eq!(socks.len(), 3);
        assert!(socks.iter().all(|s| s.udp[0].0.port() == port));
        assert_eq!(bound[0].addr.port(), port);
    }
}
