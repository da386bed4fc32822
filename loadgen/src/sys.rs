//! Thin wrappers over the libc calls the load generator needs: CPU pinning, batched UDP
//! send/receive (`sendmmsg`/`recvmmsg`), `ppoll`, and CPU-time accounting. Every `unsafe` block
//! in the crate lives here.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;
use std::time::Duration;

/// Maximum datagrams in one `sendmmsg`/`recvmmsg` call.
pub const BATCH: usize = 64;
/// `UDP_SEGMENT` socket/cmsg option (linux/udp.h), not exported by libc for glibc targets.
const UDP_SEGMENT: libc::c_int = 103;
/// Size of one datagram buffer.
pub const BUF: usize = 2048;

/// Pins the calling thread to `core`.
pub fn pin_to_core(core: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bitmask; zeroed is its empty value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set`; `core` is bounds-checked by the macro.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// CPU time (user + system) consumed by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Monotonic clock in nanoseconds.
pub fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used are supported on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// User + system CPU seconds of the whole process (all threads), from `getrusage`.
pub fn process_cpu_s() -> f64 {
    // SAFETY: rusage is plain data; zeroed is a valid value to be overwritten.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// On-CPU seconds of every thread of process `pid` so far: the sum of the first field
/// (nanoseconds run) of `/proc/PID/task/*/schedstat`, which the scheduler keeps exactly
/// (utime/stime are sampled per tick). Threads that already exited are not counted.
pub fn pid_cpu_s(pid: u32) -> io::Result<f64> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        // A thread may exit between the listing and the read.
        let Ok(s) = std::fs::read_to_string(&path) else {
            continue;
        };
        let run = s
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok());
        ns += run.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {s:?}", path.display()),
            )
        })?;
    }
    Ok(ns as f64 / 1e9)
}

/// Lowers the timer slack of the calling thread so that short sleeps are precise.
pub fn set_timer_slack_ns(ns: u64) {
    // SAFETY: PR_SET_TIMERSLACK takes an unsigned long value and no pointers.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) };
}

/// Waits until one of `fds` is readable or `timeout` passes. Returns true if any is readable.
pub fn poll_readable(fds: &mut [libc::pollfd], timeout: Duration) -> bool {
    for p in fds.iter_mut() {
        p.events = libc::POLLIN;
        p.revents = 0;
    }
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `fds` is a valid slice of pollfd of the given length; `ts` outlives the call; a
    // null sigmask keeps the current mask.
    let rc = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    rc > 0
}

pub fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Converts an IPv4 socket address to a `sockaddr_in`.
pub fn to_sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// A batch of datagram buffers with the `mmsghdr`/`iovec`/address arrays that
/// `sendmmsg`/`recvmmsg` need. Allocated once; reused for every call.
pub struct MmsgBatch {
    pub bufs: Box<[[u8; BUF]]>,
    pub lens: [usize; BATCH],
    pub addrs: [libc::sockaddr_in; BATCH],
    iovs: [libc::iovec; BATCH],
    hdrs: [libc::mmsghdr; BATCH],
    /// Number of filled entries (for sending) or received entries (after `recv`).
    pub count: usize,
}

impl Default for MmsgBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl MmsgBatch {
    pub fn new() -> Self {
        let zero_sa = to_sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: mmsghdr is plain data (pointers and integers); all-zero is a valid value.
        let hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            bufs: vec![[0u8; BUF]; BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            addrs: [zero_sa; BATCH],
            iovs: [iov; BATCH],
            hdrs: [hdr; BATCH],
            count: 0,
        }
    }

    fn prepare(&mut self, n: usize, with_addr: bool, for_recv: bool) {
        for i in 0..n {
            self.iovs[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            self.iovs[i].iov_len = if for_recv { BUF } else { self.lens[i] };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            if with_addr {
                h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
                h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            } else {
                h.msg_name = std::ptr::null_mut();
                h.msg_namelen = 0;
            }
            self.hdrs[i].msg_len = 0;
        }
    }

    /// Sends entries `from..count` on `fd` (connected if `with_addr` is false). Returns how many
    /// were sent (0 on EAGAIN).
    pub fn send(&mut self, fd: RawFd, from: usize, with_addr: bool) -> io::Result<usize> {
        let n = self.count;
        if from >= n {
            return Ok(0);
        }
        self.prepare(n, with_addr, false);
        // SAFETY: hdrs[from..n] point at iovecs/buffers/addresses owned by `self`, which outlive
        // the call; the count passed matches the initialised entries.
        let rc = unsafe {
            libc::sendmmsg(
                fd,
                self.hdrs[from..].as_mut_ptr(),
                (n - from) as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(rc as usize)
    }

    /// Sends entries `from..count` on the connected socket `fd` as one UDP GSO super-datagram
    /// (`UDP_SEGMENT`): the kernel splits it into one datagram per entry, after a single pass
    /// through the IP stack. Every entry but the last must be exactly `lens[from]` long.
    /// Returns the entries sent (0 on EAGAIN); an error means GSO is unavailable.
    pub fn send_gso(
        &mut self,
        fd: RawFd,
        from: usize,
        to: Option<libc::sockaddr_in>,
    ) -> io::Result<usize> {
        let n = self.count;
        if from >= n {
            return Ok(0);
        }
        let seg = self.lens[from] as u16;
        for i in from..n {
            self.iovs[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            self.iovs[i].iov_len = self.lens[i];
        }
        // Room for one cmsghdr carrying a u16, aligned as the kernel wants.
        let mut control = [0u64; 4];
        // SAFETY: msghdr is plain data; all-zero is a valid starting value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        let mut dest = to.unwrap_or(self.addrs[0]);
        if to.is_some() {
            msg.msg_name = (&mut dest as *mut libc::sockaddr_in).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
        msg.msg_iov = self.iovs[from..].as_mut_ptr();
        msg.msg_iovlen = n - from;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as usize;
        // SAFETY: `msg` has a control buffer of at least CMSG_SPACE(2) bytes (32 available), so
        // CMSG_FIRSTHDR returns a valid, aligned pointer into `control`, and CMSG_DATA points at
        // two writable bytes inside it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(2) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
        }
        // SAFETY: `msg` points at iovecs, buffers and control data owned by this frame/`self`,
        // all alive for the duration of the call.
        let rc = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(n - from)
    }

    /// Receives up to `BATCH` datagrams: blocks until at least one arrives (or the socket's
    /// receive timeout passes), then takes what is queued. Sets `count` and `lens`.
    pub fn recv_wait(&mut self, fd: RawFd, with_addr: bool) -> io::Result<usize> {
        self.recv_with(fd, with_addr, libc::MSG_WAITFORONE)
    }

    fn recv_with(&mut self, fd: RawFd, with_addr: bool, flags: libc::c_int) -> io::Result<usize> {
        self.prepare(BATCH, with_addr, true);
        // SAFETY: hdrs[..BATCH] point at buffers/addresses owned by `self` that outlive the call;
        // a null timeout is allowed.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            self.count = 0;
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                // ICMP port unreachable reported on a connected socket: nothing to read.
                io::ErrorKind::ConnectionRefused => Ok(0),
                _ => Err(e),
            };
        }
        let n = rc as usize;
        for i in 0..n {
            self.lens[i] = self.hdrs[i].msg_len as usize;
        }
        self.count = n;
        Ok(n)
    }
}

/// Sets the socket receive and send buffers to `bytes`, beyond `rmem_max`/`wmem_max` when the
/// process may (SO_*BUFFORCE needs CAP_NET_ADMIN), else as far as the limits allow.
pub fn set_socket_buffers(fd: RawFd, bytes: usize) {
    let v = bytes as libc::c_int;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        // SAFETY: `v` is a valid c_int that outlives the call; the option takes an int.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                force,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            // SAFETY: as above.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    plain,
                    (&v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
    }
}

/// Parses a CPU list such as `0`, `1,3` or `0-3,6`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let a: usize = a
                .trim()
                .parse()
                .map_err(|_| format!("bad CPU list {s:?}"))?;
            let b: usize = b
                .trim()
                .parse()
                .map_err(|_| format!("bad CPU list {s:?}"))?;
            if b < a {
                return Err(format!("bad CPU range {part:?}"));
            }
            out.extend(a..=b);
        } else {
            out.push(part.parse().map_err(|_| format!("bad CPU list {s:?}"))?);
        }
    }
    if out.is_empty() {
        return Err(format!("empty CPU list {s:?}"));
    }
    Ok(out)
}

/// `UDP_GRO` socket option (linux/udp.h).
const UDP_GRO: libc::c_int = 104;

/// Asks the kernel to hand over UDP GSO trains (and GRO-merged datagrams) as one buffer with a
/// `UDP_GRO` control message carrying the segment size, instead of one datagram per receive.
pub fn enable_udp_gro(fd: RawFd) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a valid c_int that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            UDP_GRO,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// Entries of a [`GroRecv`] batch.
pub const GRO_BATCH: usize = 32;
/// Size of one [`GroRecv`] buffer: the largest UDP payload.
pub const GRO_BUF: usize = 65536;

/// `recvmmsg` into large buffers on a `UDP_GRO` socket: each entry is one datagram or a train
/// of equal-size datagrams (`seg` set). [`GroRecv::for_each`] walks the datagrams.
pub struct GroRecv {
    bufs: Vec<u8>,
    lens: [usize; GRO_BATCH],
    segs: [usize; GRO_BATCH],
    pub addrs: [libc::sockaddr_in; GRO_BATCH],
    iovs: [libc::iovec; GRO_BATCH],
    hdrs: [libc::mmsghdr; GRO_BATCH],
    control: [[u64; 4]; GRO_BATCH],
    pub count: usize,
}

impl Default for GroRecv {
    fn default() -> Self {
        Self::new()
    }
}

impl GroRecv {
    pub fn new() -> Self {
        let zero_sa = to_sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: mmsghdr is plain data; all-zero is a valid value.
        let hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        Self {
            bufs: vec![0u8; GRO_BATCH * GRO_BUF],
            lens: [0; GRO_BATCH],
            segs: [0; GRO_BATCH],
            addrs: [zero_sa; GRO_BATCH],
            iovs: [iov; GRO_BATCH],
            hdrs: [hdr; GRO_BATCH],
            control: [[0; 4]; GRO_BATCH],
            count: 0,
        }
    }

    /// Receives what is queued; `wait` blocks for the first entry (socket timeout applies).
    /// Returns the number of entries (not datagrams).
    pub fn recv(&mut self, fd: RawFd, wait: bool) -> io::Result<usize> {
        let base = self.bufs.as_mut_ptr();
        for i in 0..GRO_BATCH {
            // SAFETY: i * GRO_BUF is within `bufs` (GRO_BATCH * GRO_BUF bytes).
            self.iovs[i].iov_base = unsafe { base.add(i * GRO_BUF) }.cast();
            self.iovs[i].iov_len = GRO_BUF;
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_control = self.control[i].as_mut_ptr().cast();
            h.msg_controllen = std::mem::size_of::<[u64; 4]>();
            h.msg_flags = 0;
        }
        let flags = if wait {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        // SAFETY: every header points at buffers, addresses and control space owned by `self`
        // that outlive the call; a null timeout is allowed.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                GRO_BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            self.count = 0;
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::Interrupted
                | io::ErrorKind::ConnectionRefused => Ok(0),
                _ => Err(e),
            };
        }
        let n = rc as usize;
        for i in 0..n {
            self.lens[i] = self.hdrs[i].msg_len as usize;
            self.segs[i] = 0;
            let h = &self.hdrs[i].msg_hdr;
            // SAFETY: the kernel filled `msg_control`/`msg_controllen` of this header; the CMSG
            // macros only walk within that length.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(h);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == UDP_GRO {
                        let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                        self.segs[i] = v as usize;
                    }
                    c = libc::CMSG_NXTHDR(h, c);
                }
            }
        }
        self.count = n;
        Ok(n)
    }

    /// Whether entry `i` holds more than one datagram.
    pub fn is_train(&self, i: usize) -> bool {
        self.segs[i] > 0 && self.segs[i] < self.lens[i]
    }

    /// Calls `f(entry, datagram)` for every datagram received.
    pub fn for_each(&self, mut f: impl FnMut(usize, &[u8])) {
        for i in 0..self.count {
            let data = &self.bufs[i * GRO_BUF..i * GRO_BUF + self.lens[i]];
            let seg = self.segs[i];
            if seg == 0 || seg >= data.len() {
                f(i, data);
            } else {
                for chunk in data.chunks(seg) {
                    f(i, chunk);
                }
            }
        }
    }
}
