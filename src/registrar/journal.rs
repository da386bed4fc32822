//! Persistence effects: what the core hands the store.
//!
//! After every committed change to an AoR whose domain is not memory-only, the core appends
//! one *AoR snapshot* record to its journal: the AoR and all of its current bindings, with
//! absolute wall-clock expiries. A snapshot with no bindings records a removal. Replaying a
//! journal in order and keeping the last record per AoR, then dropping bindings whose expiry
//! has passed, gives back the table: records are idempotent, removals and evictions are
//! explicit (replication and restarts never resurrect a deleted binding), and expiry needs
//! no record at all because it follows from the stored wall-clock time.
//!
//! The shell drains the journal with [`Journal::take`] once per loop turn and hands the
//! bytes to the store, which frames and checksums them; answers that must wait for
//! durability are released after that (a later issue).
//!
//! Record layout (little-endian), `len` counting the bytes after itself:
//!
//! ```text
//! u32 len | u8 version (1) | u16 aor_len | aor | u16 count | count × binding
//! binding: u16 uri_len | u16 params_len | u16 call_id_len | u16 path_len
//!          | uri | params | call_id | path
//!          | u32 cseq | u16 q | u32 reg_id | u16 methods | u8 transport
//!          | u64 expires_wall_s | u64 updated_wall_s
//!          | u8 family (4 or 6) | [u8; 16] ip | u16 port
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::bindings::Binding;
use super::{Millis, Transport, UnixTime};

const VERSION: u8 = 1;

/// The journal of one registrar core: encoded records in a reusable buffer (no allocation
/// per record once it has grown).
#[derive(Debug, Default)]
pub struct Journal {
    buf: Vec<u8>,
    records: usize,
}

impl Journal {
    /// Appends a snapshot of `aor` with `bindings` (those still live at `now`).
    ///
    /// The record's size is known before it is written, so the buffer grows once (no
    /// zero-filling: every byte is written once) and the fields go in as fixed-size copies. A
    /// binding's four strings are stored back to back in the binding, in the record's order,
    /// so they are one copy.
    pub fn record(&mut self, aor: &[u8], bindings: &[Binding], now: Millis, wall: UnixTime) {
        let live = || bindings.iter().filter(|b| b.is_live(now));
        let (count, strings) =
            live().fold((0usize, 0usize), |(n, s), b| (n + 1, s + b.text().len()));
        let len = 1 + 2 + aor.len() + 2 + count * BINDING_FIXED + strings;
        // Every string the core stores is bounded far below 64 KiB by its limits.
        debug_assert!(aor.len() <= usize::from(u16::MAX));
        let buf = &mut self.buf;
        let start = buf.len();
        buf.reserve(4 + len);
        let mut head = [0u8; 7];
        head[..4].copy_from_slice(&(len as u32).to_le_bytes());
        head[4] = VERSION;
        head[5..].copy_from_slice(&(aor.len() as u16).to_le_bytes());
        buf.extend_from_slice(&head);
        buf.extend_from_slice(aor);
        buf.extend_from_slice(&(count as u16).to_le_bytes());
        for b in live() {
            encode_binding(buf, b, now, wall);
        }
        debug_assert_eq!(buf.len(), start + 4 + len);
        self.records += 1;
    }

    /// Records appended since the last [`take`](Self::take).
    pub fn records(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Moves the encoded records into `out` (cleared first), leaving the journal empty and
    /// keeping both buffers' capacity.
    pub fn take(&mut self, out: &mut Vec<u8>) {
        out.clear();
        std::mem::swap(&mut self.buf, out);
        self.records = 0;
    }
}

/// The fixed part of an encoded binding: the four string lengths, cseq, q, reg_id, methods,
/// transport, the two wall-clock times, family, ip and port.
const BINDING_FIXED: usize = 4 * 2 + 4 + 2 + 4 + 2 + 1 + 8 + 8 + 1 + 16 + 2;

fn encode_binding(out: &mut Vec<u8>, b: &Binding, now: Millis, wall: UnixTime) {
    let strings = [b.uri(), b.params(), b.call_id(), b.path()];
    let mut lens = [0u8; 8];
    for (l, s) in lens.chunks_exact_mut(2).zip(strings) {
        // Bounded far below 64 KiB by the core's limits.
        debug_assert!(s.len() <= usize::from(u16::MAX));
        l.copy_from_slice(&(s.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(&lens);
    // The four strings, in that order.
    out.extend_from_slice(b.text());
    let (family, ip, port) = b.source_parts();
    let age_s = now.0.saturating_sub(b.updated_at.0) / 1000;
    let mut fixed = [0u8; BINDING_FIXED - 8];
    fixed[0..4].copy_from_slice(&b.cseq.to_le_bytes());
    fixed[4..6].copy_from_slice(&b.q.to_le_bytes());
    fixed[6..10].copy_from_slice(&b.reg_id.to_le_bytes());
    fixed[10..12].copy_from_slice(&b.methods.to_le_bytes());
    fixed[12] = transport_code(b.transport);
    fixed[13..21].copy_from_slice(&b.expires_wall(now, wall).0.to_le_bytes());
    fixed[21..29].copy_from_slice(&wall.0.saturating_sub(age_s).to_le_bytes());
    fixed[29] = family;
    fixed[30..46].copy_from_slice(&ip);
    fixed[46..48].copy_from_slice(&port.to_le_bytes());
    out.extend_from_slice(&fixed);
}

fn transport_code(t: Transport) -> u8 {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
        Transport::Ws => 3,
        Transport::Wss => 4,
    }
}

fn transport_from(code: u8) -> Option<Transport> {
    Some(match code {
        0 => Transport::Udp,
        1 => Transport::Tcp,
        2 => Transport::Tls,
        3 => Transport::Ws,
        4 => Transport::Wss,
        _ => return None,
    })
}

/// Why a record did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end inside a record.
    Truncated,
    /// An unknown record version.
    Version,
    /// A field holds a value no encoder writes (transport, family, length mismatch).
    Invalid,
}

/// One binding as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingRecord<'a> {
    pub uri: &'a [u8],
    pub params: &'a [u8],
    pub call_id: &'a [u8],
    pub path: &'a [u8],
    pub cseq: u32,
    pub q: u16,
    pub reg_id: u32,
    pub methods: u16,
    pub transport: Transport,
    pub expires_wall: UnixTime,
    pub updated_wall: UnixTime,
    pub source: SocketAddr,
}

/// One AoR snapshot as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AorRecord<'a> {
    pub aor: &'a [u8],
    pub bindings: Vec<BindingRecord<'a>>,
}

/// Decodes the records in `buf`, in order. Stops (yielding the error once) at the first
/// record that does not decode: a torn tail is reported, never guessed at.
pub fn decode(buf: &[u8]) -> impl Iterator<Item = Result<AorRecord<'_>, DecodeError>> {
    let mut rest = buf;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let r = decode_one(&mut rest);
        failed = r.is_err();
        Some(r)
    })
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }
}

fn decode_one<'a>(rest: &mut &'a [u8]) -> Result<AorRecord<'a>, DecodeError> {
    let mut outer = Reader { buf: rest };
    let len = outer.u32()? as usize;
    let body = outer.take(len)?;
    *rest = outer.buf;
    let mut r = Reader { buf: body };
    if r.u8()? != VERSION {
        return Err(DecodeError::Version);
    }
    let aor_len = usize::from(r.u16()?);
    let aor = r.take(aor_len)?;
    let count = r.u16()?;
    let mut bindings = Vec::with_capacity(usize::from(count).min(64));
    for _ in 0..count {
        let lens = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        let uri = r.take(usize::from(lens[0]))?;
        let params = r.take(usize::from(lens[1]))?;
        let call_id = r.take(usize::from(lens[2]))?;
        let path = r.take(usize::from(lens[3]))?;
        let cseq = r.u32()?;
        let q = r.u16()?;
        let reg_id = r.u32()?;
        let methods = r.u16()?;
        let transport = transport_from(r.u8()?).ok_or(DecodeError::Invalid)?;
        let expires_wall = UnixTime(r.u64()?);
        let updated_wall = UnixTime(r.u64()?);
        let family = r.u8()?;
        let ip: [u8; 16] = r.array()?;
        let port = r.u16()?;
        let ip = match family {
            4 => IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
            6 => IpAddr::V6(Ipv6Addr::from(ip)),
            _ => return Err(DecodeError::Invalid),
        };
        bindings.push(BindingRecord {
            uri,
            params,
            call_id,
            path,
            cseq,
            q,
            reg_id,
            methods,
            transport,
            expires_wall,
            updated_wall,
            source: SocketAddr::new(ip, port),
        });
    }
    if !r.buf.is_empty() {
        return Err(DecodeError::Invalid);
    }
    Ok(AorRecord { aor, bindings })
}
