//! Batched datagram I/O beside glommio: once glommio has woken a shard for one datagram, the
//! shard drains whatever else is queued on the socket with one non-blocking `recvmmsg`, and
//! sends every response of the turn with one `sendmmsg`. Under load this replaces two
//! syscalls per request by two per batch; idle, it costs one failed `recvmmsg` per wake-up.
//!
//! The buffers are allocated once per socket and reused; the `mmsghdr`/`iovec` arrays are
//! rebuilt before each call from the buffers' current addresses, so no pointer outlives the
//! call that uses it.

use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Receive side: `count` buffers of `size` bytes and the source of each datagram.
pub struct RecvBatch {
    data: Vec<u8>,
    size: usize,
    lens: Vec<usize>,
    srcs: Vec<SocketAddr>,
    storage: Vec<libc::sockaddr_storage>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl RecvBatch {
    pub fn new(count: usize, size: usize) -> RecvBatch {
        let count = count.max(1);
        RecvBatch {
            data: vec![0; count * size],
            size,
            lens: vec![0; count],
            srcs: vec![SocketAddr::from(([0, 0, 0, 0], 0)); count],
            storage: vec![zeroed_storage(); count],
            iov: Vec::with_capacity(count),
            hdrs: Vec::with_capacity(count),
        }
    }

    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Buffer `i` (for a datagram received another way).
    pub fn buf_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.data[i * self.size..(i + 1) * self.size]
    }

    /// Records datagram `i` received another way.
    pub fn set(&mut self, i: usize, len: usize, src: SocketAddr) {
        self.lens[i] = len;
        self.srcs[i] = src;
    }

    /// Datagram `i`: its bytes and source.
    pub fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        let start = i * self.size;
        (&self.data[start..start + self.lens[i]], self.srcs[i])
    }

    /// Receives up to `capacity - first` datagrams without blocking into slots `first..`;
    /// returns how many arrived (0 when none is queued).
    #[allow(unsafe_code)]
    pub fn recv_more(&mut self, fd: RawFd, first: usize) -> io::Result<usize> {
        let want = self.capacity().saturating_sub(first);
        if want == 0 {
            return Ok(0);
        }
        self.iov.clear();
        self.hdrs.clear();
        let base = self.data.as_mut_ptr();
        for i in first..first + want {
            self.iov.push(libc::iovec {
                // SAFETY: i < capacity, so the offset stays inside `data` (count * size bytes).
                iov_base: unsafe { base.add(i * self.size) }.cast(),
                iov_len: self.size,
            });
        }
        for (k, i) in (first..first + want).enumerate() {
            // SAFETY: mmsghdr is plain data; every field used is set below.
            let mut h: libc::mmsghdr = unsafe { MaybeUninit::zeroed().assume_init() };
            h.msg_hdr.msg_name = (&mut self.storage[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            h.msg_hdr.msg_iov = &mut self.iov[k];
            h.msg_hdr.msg_iovlen = 1;
            self.hdrs.push(h);
        }
        // SAFETY: `hdrs` holds `want` initialised headers whose name and iovec pointers point
        // into `storage`, `iov` and `data`, all alive and not otherwise borrowed for the
        // duration of the call; the kernel writes at most `iov_len` bytes per buffer and
        // `msg_namelen` bytes per address.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                want as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        let n = n as usize;
        for k in 0..n {
            let i = first + k;
            let h = &self.hdrs[k];
            // A datagram longer than the buffer is cut to it (MSG_TRUNC in msg_flags): the
            // buffer is one byte over the size limit, so the core sees it as too large.
            self.lens[i] = (h.msg_len as usize).min(self.size);
            self.srcs[i] = from_storage(&self.storage[i])
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        }
        Ok(n)
    }
}

/// Send side: responses of one turn in one arena, sent with one `sendmmsg`.
pub struct SendBatch {
    arena: Vec<u8>,
    spans: Vec<(usize, usize, SocketAddr)>,
    storage: Vec<libc::sockaddr_storage>,
    namelens: Vec<libc::socklen_t>,
    iov: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl SendBatch {
    pub fn new(count: usize) -> SendBatch {
        SendBatch {
            arena: Vec::with_capacity(count * 1024),
            spans: Vec::with_capacity(count),
            storage: Vec::with_capacity(count),
            namelens: Vec::with_capacity(count),
            iov: Vec::with_capacity(count),
            hdrs: Vec::with_capacity(count),
        }
    }

    pub fn push(&mut self, bytes: &[u8], dest: SocketAddr) {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.spans.push((start, bytes.len(), dest));
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Response `i`.
    pub fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        let (s, l, d) = self.spans[i];
        (&self.arena[s..s + l], d)
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
    }

    /// Sends responses `from..` without blocking; returns how many the kernel took (the rest
    /// did not fit the socket buffer now: the caller sends them the waiting way).
    #[allow(unsafe_code)]
    pub fn send_from(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let want = self.spans.len().saturating_sub(from);
        if want == 0 {
            return Ok(0);
        }
        self.storage.clear();
        self.namelens.clear();
        self.iov.clear();
        self.hdrs.clear();
        for &(s, l, d) in &self.spans[from..] {
            let (st, len) = to_storage(d);
            self.storage.push(st);
            self.namelens.push(len);
            self.iov.push(libc::iovec {
                // SAFETY: s + l <= arena.len(): the span was pushed from this arena. The
                // kernel only reads through it.
                iov_base: unsafe { self.arena.as_ptr().add(s) } as *mut libc::c_void,
                iov_len: l,
            });
        }
        for k in 0..want {
            // SAFETY: mmsghdr is plain data; every field used is set below.
            let mut h: libc::mmsghdr = unsafe { MaybeUninit::zeroed().assume_init() };
            h.msg_hdr.msg_name = (&mut self.storage[k] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = self.namelens[k];
            h.msg_hdr.msg_iov = &mut self.iov[k];
            h.msg_hdr.msg_iovlen = 1;
            self.hdrs.push(h);
        }
        // SAFETY: `want` initialised headers pointing into `storage`, `iov` and `arena`, all
        // alive and unchanged during the call; the kernel only reads the messages.
        let n =
            unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr(), want as u32, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }
}

fn zeroed_storage() -> libc::sockaddr_storage {
    #[allow(unsafe_code)]
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are a valid value.
    unsafe {
        MaybeUninit::zeroed().assume_init()
    }
}

#[allow(unsafe_code)]
fn from_storage(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match st.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // enough and aligned enough for (that is what sockaddr_storage is for).
            let a: &libc::sockaddr_in = unsafe { &*(st as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                u32::from_be(a.sin_addr.s_addr).into(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(st as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                u32::from_be(a.sin6_flowinfo),
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[allow(unsafe_code)]
fn to_storage(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let mut st = zeroed_storage();
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
            let sin: &mut libc::sockaddr_in =
                unsafe { &mut *(&mut st as *mut libc::sockaddr_storage).cast() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            (
                st,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6: &mut libc::sockaddr_in6 =
                unsafe { &mut *(&mut st as *mut libc::sockaddr_storage).cast() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_flowinfo = a.flowinfo().to_be();
            sin6.sin6_scope_id = a.scope_id();
            (
                st,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_round_trips_over_loopback() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_addr = b.local_addr().unwrap();
        let mut send = SendBatch::new(8);
        for i in 0..5u8 {
            send.push(&[i; 10], b_addr);
        }
        assert_eq!(send.send_from(a.as_raw_fd(), 0).unwrap(), 5);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut recv = RecvBatch::new(8, 16);
        let n = recv.recv_more(b.as_raw_fd(), 1).unwrap();
        assert_eq!(n, 5);
        for i in 0..5 {
            let (bytes, src) = recv.get(1 + i);
            assert_eq!(bytes, &[i as u8; 10]);
            assert_eq!(src, a.local_addr().unwrap());
        }
        // Nothing queued: no datagram, no error.
        assert_eq!(recv.recv_more(b.as_raw_fd(), 0).unwrap(), 0);
        // Over-long datagrams are cut to the buffer.
        a.send_to(&[7; 40], b_addr).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(recv.recv_more(b.as_raw_fd(), 0).unwrap(), 1);
        assert_eq!(recv.get(0).0.len(), 16);
    }
}
