//! SIP over TCP (RFC 3261 §18.3): messages framed by Content-Length, several per read or one
//! across many reads, answered on the same connection. Per-connection and per-source limits,
//! an idle timeout and a partial-message timeout; a connection that fails only ends itself.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::{TcpListener, TcpStream};
use tracing::{Instrument, debug, warn};

use super::framing::{Frame, next_frame};
use super::{ReplyPath, Shard, bump, sockets};
use crate::registrar::Transport;

/// Accepts connections on one listener until the shard stops.
pub(super) async fn accept_loop(shard: Rc<Shard>, listener: TcpListener, addr: SocketAddr) {
    debug!(%addr, "tcp listening");
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors, aborted handshakes: wait a little and go on.
                warn!(error = %e, "tcp accept");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let limits = shard.cfg.tcp;
        let from_source = shard
            .per_source
            .borrow()
            .get(&peer.ip())
            .copied()
            .unwrap_or(0);
        if shard.conns.borrow().len() >= limits.max_connections
            || from_source >= limits.max_connections_per_source
        {
            bump(&shard.stats.tcp_refused);
            debug!(%peer, "tcp connection refused by limits");
            continue;
        }
        bump(&shard.stats.tcp_accepted);
        glommio::spawn_local(connection(shard.clone(), stream, peer).in_current_span()).detach();
    }
}

/// One connection: a reader (this task) that frames and dispatches, and a writer task that
/// sends responses in order from a bounded queue (local ones and those other shards send back).
async fn connection(shard: Rc<Shard>, mut stream: TcpStream, peer: SocketAddr) {
    let id = shard.next_conn.get();
    shard.next_conn.set(id + 1);
    let limits = shard.cfg.tcp;
    let writer = match sockets::dup_stream(&stream) {
        Ok(w) => w,
        Err(e) => {
            warn!(error = %e, "tcp: cannot duplicate the connection for writing");
            return;
        }
    };
    let (tx, rx) = local_channel::new_bounded::<Vec<u8>>(limits.max_pending_responses);
    let tx = Rc::new(tx);
    shard.conns.borrow_mut().insert(id, tx.clone());
    *shard.per_source.borrow_mut().entry(peer.ip()).or_insert(0) += 1;
    let write_task = glommio::spawn_local(
        async move {
            let mut writer = writer;
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = writer.close().await;
        }
        .in_current_span(),
    );

    read_loop(&shard, &mut stream, peer, id, &tx).await;

    // Unregister: the writer ends once the queue drains and every sender is gone.
    shard.conns.borrow_mut().remove(&id);
    {
        let mut per = shard.per_source.borrow_mut();
        if let Some(n) = per.get_mut(&peer.ip()) {
            *n -= 1;
            if *n == 0 {
                per.remove(&peer.ip());
            }
        }
    }
    drop(tx);
    write_task.await;
    let _ = stream.close().await;
    debug!(%peer, conn = id, "tcp connection closed");
}

/// Reads, frames and dispatches until the peer closes, a limit is hit or a timeout fires.
async fn read_loop(
    shard: &Shard,
    stream: &mut TcpStream,
    peer: SocketAddr,
    id: u64,
    tx: &local_channel::LocalSender<Vec<u8>>,
) {
    let limits = shard.cfg.tcp;
    let max = shard.cfg.core.parser.limits.max_message_bytes;
    let idle = Duration::from_secs(limits.idle_timeout_s);
    let partial = Duration::from_millis(limits.partial_message_timeout_ms);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(4096);
    let mut started: Option<Instant> = None;
    loop {
        // Frame every complete message in the buffer.
        loop {
            match next_frame(&buf, &shard.cfg.core.parser) {
                Frame::Ping => {
                    buf.drain(..4);
                    bump(&shard.stats.tcp_keepalives);
                    if tx.send(b"\r\n".to_vec()).await.is_err() {
                        return;
                    }
                }
                Frame::Message(len) => {
                    bump(&shard.stats.tcp_messages);
                    dispatch(shard, &buf[..len], peer, id, tx, &mut out).await;
                    buf.drain(..len);
                    started = None;
                }
                Frame::Partial => {
                    if !buf.is_empty() && buf != b"\r\n" {
                        started.get_or_insert_with(Instant::now);
                    }
                    break;
                }
                Frame::TooLarge | Frame::Garbage => {
                    // §18.3: a stream that cannot be framed is closed; the core answers
                    // first when it can find a Via (400 or 513 naming the problem).
                    let end = buf.len().min(max + 1);
                    answer_and_close(shard, &buf[..end], peer, tx, &mut out).await;
                    return;
                }
            }
        }
        let timeout = match started {
            Some(t) => match partial.checked_sub(t.elapsed()) {
                Some(left) if !left.is_zero() => left,
                _ => {
                    bump(&shard.stats.tcp_partial_closed);
                    return;
                }
            },
            None => idle,
        };
        if stream.set_read_timeout(Some(timeout)).is_err() {
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                bump(if started.is_some() {
                    &shard.stats.tcp_partial_closed
                } else {
                    &shard.stats.tcp_idle_closed
                });
                return;
            }
            Err(e) => {
                debug!(error = %e, "tcp read");
                return;
            }
        }
    }
}

/// Runs one framed message here, or hands it to the shard that owns its AoR.
async fn dispatch(
    shard: &Shard,
    msg: &[u8],
    peer: SocketAddr,
    id: u64,
    tx: &local_channel::LocalSender<Vec<u8>>,
    out: &mut Vec<u8>,
) {
    let owner = shard.owner_of(msg);
    if owner != shard.id {
        let reply = ReplyPath::Tcp {
            shard: shard.id,
            conn: id,
        };
        shard.hand_off_tcp(owner, msg, peer, reply).await;
    } else if shard.process(msg, peer, Transport::Tcp, out).is_some() {
        // Back-pressure: a peer that does not read its responses stops being read.
        let _ = tx.send(out.clone()).await;
    }
}

async fn answer_and_close(
    shard: &Shard,
    msg: &[u8],
    peer: SocketAddr,
    tx: &local_channel::LocalSender<Vec<u8>>,
    out: &mut Vec<u8>,
) {
    bump(&shard.stats.tcp_framing_closed);
    if shard.process(msg, peer, Transport::Tcp, out).is_some() {
        let _ = tx.send(out.clone()).await;
    }
}
