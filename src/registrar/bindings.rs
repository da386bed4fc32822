//! The binding table: AoR → contacts, owned by one shard.
//!
//! AoRs live in a slab (`Vec<AorSlot>` plus a free list) indexed by a hash table keyed with a
//! per-process random seed (AoRs are chosen by peers: an unkeyed hash could be flooded,
//! reliability.md T11). Each AoR with bindings has one timer in the shard's wheel, set to its
//! earliest expiry; the timer refers to the slot by `(index, generation)` so a reused slot is
//! never expired by a stale timer.
//!
//! A binding keeps its strings in one allocation (`text`: contact URI, contact parameters,
//! Call-ID, Path), so refreshing a binding allocates nothing.

use std::net::SocketAddr;

use foldhash::quality::RandomState;
use hashbrown::HashTable;
use smallvec::SmallVec;

use super::{Millis, Transport, UnixTime};
use crate::timer::{TimerKey, TimerWheel};

/// `q` absent.
pub const Q_NONE: u16 = u16::MAX;

/// A socket address in 20 bytes instead of `SocketAddr`'s 32 (it is kept with every binding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CompactAddr {
    ip: [u8; 16],
    port: u16,
    v4: bool,
}

impl From<SocketAddr> for CompactAddr {
    fn from(a: SocketAddr) -> Self {
        match a {
            SocketAddr::V4(v4) => {
                let mut ip = [0; 16];
                ip[..4].copy_from_slice(&v4.ip().octets());
                CompactAddr {
                    ip,
                    port: v4.port(),
                    v4: true,
                }
            }
            SocketAddr::V6(v6) => CompactAddr {
                ip: v6.ip().octets(),
                port: v6.port(),
                v4: false,
            },
        }
    }
}

impl From<CompactAddr> for SocketAddr {
    fn from(a: CompactAddr) -> Self {
        if a.v4 {
            let ip = std::net::Ipv4Addr::new(a.ip[0], a.ip[1], a.ip[2], a.ip[3]);
            SocketAddr::new(ip.into(), a.port)
        } else {
            SocketAddr::new(std::net::Ipv6Addr::from(a.ip).into(), a.port)
        }
    }
}

/// Fingerprint of a Contact's raw parameter text: when a refresh carries the same text, the
/// stored (normalised) parameters are known to be unchanged without rebuilding them.
pub fn params_key(raw: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(raw)
}

/// A binding of one contact to an AoR.
#[derive(Clone, Debug)]
pub struct Binding {
    /// Contact URI, contact parameters (raw, `;`-led, without `expires` and `q`), Call-ID,
    /// Path (raw header values, comma-joined).
    text: Box<[u8]>,
    uri_len: u16,
    params_len: u16,
    call_id_len: u16,
    /// `q` in thousandths, or [`Q_NONE`].
    pub q: u16,
    /// RFC 5626 `reg-id` (0: none; valid values are 1..2^31).
    pub reg_id: u32,
    pub cseq: u32,
    /// Methods the contact accepts (bit set of [`method_bit`]); 0 means no restriction.
    pub methods: u16,
    pub transport: Transport,
    /// Monotonic deadline (the wall-clock deadline, which persistence stores, follows from it:
    /// see [`Binding::expires_wall`]).
    pub expires_at: Millis,
    /// When the binding was created or last refreshed.
    pub updated_at: Millis,
    /// Where the REGISTER came from (NAT traversal, flows); see [`Binding::source`].
    source: CompactAddr,
    /// [`params_key`] of the raw Contact parameters this binding was last built from.
    pub params_key: u64,
    /// The length of the `+sip.instance` value when the stored parameters lead with it in the
    /// form [`Binding::instance_is`] can read without parsing (see [`lead_instance_len`]);
    /// 0 otherwise. One byte that the layout had as padding.
    lead_instance_len: u8,
}

/// How stored parameters lead with `+sip.instance` when [`lead_instance_len`] finds it.
const LEAD: &[u8] = b";+sip.instance=\"";

/// The length of the instance when `params` (stored: normalised `;name=value`, no white space)
/// start with `;+sip.instance="<instance>"` followed by `;` or the end, the instance holding
/// no `\` (so the first `"` is its closing quote) and being 1 to 255 bytes long; else 0.
/// The instance is then exactly what [`Binding::instance`] returns: the first parameter is
/// `+sip.instance`, and its value, unquoted, is those bytes.
fn lead_instance_len(params: &[u8]) -> u8 {
    let Some(rest) = params.strip_prefix(LEAD) else {
        return 0;
    };
    match memchr::memchr2(b'"', b'\\', rest) {
        Some(end)
            if rest[end] == b'"'
                && matches!(rest.get(end + 1), None | Some(b';'))
                && (1..=usize::from(u8::MAX)).contains(&end) =>
        {
            end as u8
        }
        _ => 0,
    }
}

/// What a binding is made of, borrowed from a request.
#[derive(Clone, Copy, Debug)]
pub struct BindingParts<'a> {
    pub uri: &'a [u8],
    pub params: &'a [u8],
    pub call_id: &'a [u8],
    pub path: &'a [u8],
    pub cseq: u32,
    pub q: u16,
    pub reg_id: u32,
    pub methods: u16,
    pub source: SocketAddr,
    pub transport: Transport,
    pub expires_at: Millis,
    pub now: Millis,
    /// [`params_key`] of the raw parameter text `params` was normalised from.
    pub params_key: u64,
}

impl Binding {
    /// Builds a binding. String lengths must fit in `u16` (the limits enforce far less).
    pub fn new(parts: BindingParts<'_>) -> Binding {
        let mut text = Vec::with_capacity(
            parts.uri.len() + parts.params.len() + parts.call_id.len() + parts.path.len(),
        );
        text.extend_from_slice(parts.uri);
        text.extend_from_slice(parts.params);
        text.extend_from_slice(parts.call_id);
        text.extend_from_slice(parts.path);
        debug_assert!(parts.uri.len() <= usize::from(u16::MAX));
        debug_assert!(parts.params.len() <= usize::from(u16::MAX));
        debug_assert!(parts.call_id.len() <= usize::from(u16::MAX));
        Binding {
            text: text.into_boxed_slice(),
            uri_len: parts.uri.len() as u16,
            params_len: parts.params.len() as u16,
            call_id_len: parts.call_id.len() as u16,
            q: parts.q,
            reg_id: parts.reg_id,
            cseq: parts.cseq,
            methods: parts.methods,
            transport: parts.transport,
            expires_at: parts.expires_at,
            updated_at: parts.now,
            source: parts.source.into(),
            params_key: parts.params_key,
            lead_instance_len: lead_instance_len(parts.params),
        }
    }

    /// Where the REGISTER came from.
    pub fn source(&self) -> SocketAddr {
        self.source.into()
    }

    pub fn set_source(&mut self, source: SocketAddr) {
        self.source = source.into();
    }

    /// Where the REGISTER came from, as stored: address family (4 or 6), the address
    /// (an IPv4 one in the first four bytes, the rest zero) and the port.
    pub fn source_parts(&self) -> (u8, [u8; 16], u16) {
        let a = self.source;
        (if a.v4 { 4 } else { 6 }, a.ip, a.port)
    }

    /// The binding's strings back to back: [`uri`](Self::uri), [`params`](Self::params),
    /// [`call_id`](Self::call_id) and [`path`](Self::path), in that order.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The contact URI as registered.
    pub fn uri(&self) -> &[u8] {
        &self.text[..usize::from(self.uri_len)]
    }

    /// Contact parameters other than `expires` and `q`, starting with `;` (or empty).
    pub fn params(&self) -> &[u8] {
        let start = usize::from(self.uri_len);
        &self.text[start..start + usize::from(self.params_len)]
    }

    pub fn call_id(&self) -> &[u8] {
        let start = usize::from(self.uri_len) + usize::from(self.params_len);
        &self.text[start..start + usize::from(self.call_id_len)]
    }

    /// The Path the REGISTER carried (RFC 3327), comma-joined; empty if none.
    pub fn path(&self) -> &[u8] {
        let start = usize::from(self.uri_len)
            + usize::from(self.params_len)
            + usize::from(self.call_id_len);
        &self.text[start..]
    }

    /// `+sip.instance` without quotes (found in the stored parameters when asked: it is only
    /// needed to match RFC 5626 registrations).
    pub fn instance(&self) -> Option<&[u8]> {
        // The stored parameters were normalised from a validated list.
        crate::sip::header::HeaderParams::trusted(self.params())
            .get(b"+sip.instance")
            .flatten()
            .map(crate::sip::header::unquote)
    }

    /// Compares this binding's `+sip.instance` with `instance` (as [`Binding::instance`] gives
    /// it): `None` if the binding has none. Most UAs put the instance first, and then its
    /// length was noted when the binding was built (see [`lead_instance_len`]): the answer is
    /// one comparison, whatever `instance` holds.
    pub fn instance_is(&self, instance: &[u8]) -> Option<bool> {
        let len = usize::from(self.lead_instance_len);
        if len != 0 {
            let stored = &self.params()[LEAD.len()..LEAD.len() + len];
            return Some(stored == instance);
        }
        self.instance().map(|bi| bi == instance)
    }

    /// The deadline in wall-clock time, given the current monotonic and wall-clock times.
    pub fn expires_wall(&self, now: Millis, wall: UnixTime) -> UnixTime {
        UnixTime(wall.0.saturating_add(self.remaining_s(now)))
    }

    /// Seconds left, rounded up (0 once expired).
    pub fn remaining_s(&self, now: Millis) -> u64 {
        self.expires_at.0.saturating_sub(now.0).div_ceil(1000)
    }

    pub fn is_live(&self, now: Millis) -> bool {
        self.expires_at > now
    }

    /// True if the contact accepts `method` (RFC 3840 `methods` feature tag / Allow).
    pub fn accepts(&self, method_bit: u16) -> bool {
        self.methods == 0 || self.methods & method_bit != 0
    }

    /// Heap bytes this binding owns (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.text.len()
    }
}

/// Bit for a method in [`Binding::methods`]; 0 for methods without a bit. Methods are
/// case-sensitive (RFC 3261 §7.1), so this is an exact match.
pub fn method_bit(method: &[u8]) -> u16 {
    // One candidate per (length, first byte), then one comparison.
    let (name, bit): (&[u8], u16) = match (method.len(), method.first()) {
        (3, Some(b'A')) => (b"ACK", 1 << 1),
        (3, Some(b'B')) => (b"BYE", 1 << 2),
        (4, Some(b'I')) => (b"INFO", 1 << 9),
        (5, Some(b'P')) => (b"PRACK", 1 << 11),
        (5, Some(b'R')) => (b"REFER", 1 << 13),
        (6, Some(b'I')) => (b"INVITE", 1),
        (6, Some(b'C')) => (b"CANCEL", 1 << 3),
        (6, Some(b'N')) => (b"NOTIFY", 1 << 7),
        (6, Some(b'U')) => (b"UPDATE", 1 << 12),
        (7, Some(b'O')) => (b"OPTIONS", 1 << 4),
        (7, Some(b'P')) => (b"PUBLISH", 1 << 8),
        (7, Some(b'M')) => (b"MESSAGE", 1 << 10),
        (8, Some(b'R')) => (b"REGISTER", 1 << 5),
        (9, Some(b'S')) => (b"SUBSCRIBE", 1 << 6),
        _ => return 0,
    };
    if method == name { bit } else { 0 }
}

/// The method bits of a comma-separated method list (`methods="INVITE,BYE"`, Allow).
pub fn methods_mask(list: &[u8]) -> u16 {
    list.split(|&b| b == b',')
        .map(|m| method_bit(crate::sip::scan::trim_lws(m)))
        .fold(0, |a, b| a | b)
}

/// Refers to an AoR slot; stale once the slot is freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AorRef {
    index: u32,
    generation: u32,
}

/// The bindings of one AoR: most AoRs hold one, kept inline (no allocation of its own).
pub type Bindings = SmallVec<[Binding; 1]>;

/// One AoR and its bindings.
#[derive(Debug)]
pub struct AorSlot {
    key: Box<[u8]>,
    generation: u32,
    pub bindings: Bindings,
    timer: Option<TimerKey>,
    /// Bumped on every change to the bindings (RFC 3680 reginfo `version`).
    pub version: u32,
}

impl AorSlot {
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

/// The table. See the module doc.
pub struct BindingTable {
    index: HashTable<u32>,
    hasher: RandomState,
    slots: Vec<AorSlot>,
    free: Vec<u32>,
    wheel: TimerWheel<AorRef>,
    binding_count: usize,
    /// Scratch for `expire` (kept to avoid allocating per call).
    due: Vec<AorRef>,
}

impl BindingTable {
    pub fn new(now: Millis, tick_ms: u64) -> BindingTable {
        BindingTable::with_capacity(now, tick_ms, 0)
    }

    /// A table pre-sized for `aors` AoRs (index, slots and timer entries), so that filling
    /// it up to that size never regrows (and copies) them on the request path.
    pub fn with_capacity(now: Millis, tick_ms: u64, aors: usize) -> BindingTable {
        BindingTable {
            index: HashTable::with_capacity(aors),
            hasher: RandomState::default(),
            slots: Vec::with_capacity(aors),
            free: Vec::new(),
            wheel: TimerWheel::with_capacity(tick_ms, now.0, aors),
            binding_count: 0,
            due: Vec::new(),
        }
    }

    /// Pre-sizes for `aors` AoRs.
    pub fn reserve(&mut self, aors: usize) {
        let hasher = &self.hasher;
        let slots = &self.slots;
        self.index
            .reserve(aors, |&i| hash_key(hasher, &slots[i as usize].key));
        self.slots.reserve(aors);
    }

    pub fn aor_count(&self) -> usize {
        self.index.len()
    }

    pub fn binding_count(&self) -> usize {
        self.binding_count
    }

    /// The slot of an AoR, if it has bindings.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        let h = hash_key(&self.hasher, key);
        self.index
            .find(h, |&i| &*self.slots[i as usize].key == key)
            .copied()
    }

    /// The hash of an AoR key (as the index uses it), for the prefetch hints below.
    pub fn key_hash(&self, key: &[u8]) -> u64 {
        hash_key(&self.hasher, key)
    }

    /// Prefetch hint, first stage: starts loading the slot of the AoR whose key hashes to
    /// `hash` (every slot the index lists under that hash). Changes nothing.
    pub fn prefetch_slot(&self, hash: u64) {
        let _ = self.index.find(hash, |&i| {
            if let Some(s) = self.slots.get(i as usize) {
                crate::prefetch::read(s);
            }
            false
        });
    }

    /// Prefetch hint, second stage (once the slot is in cache): starts loading the AoR key,
    /// every binding's strings and the slot's timer entry, which handling a REGISTER for the
    /// AoR reads. Changes nothing.
    pub fn prefetch_slot_data(&self, hash: u64) {
        let _ = self.index.find(hash, |&i| {
            if let Some(s) = self.slots.get(i as usize) {
                crate::prefetch::bytes(&s.key);
                for b in &s.bindings {
                    crate::prefetch::bytes(&b.text);
                }
                if let Some(t) = s.timer {
                    self.wheel.prefetch(t);
                }
            }
            false
        });
    }

    pub fn slot(&self, index: u32) -> &AorSlot {
        &self.slots[index as usize]
    }

    /// Bindings of an AoR (live or not yet reaped).
    pub fn bindings(&self, key: &[u8]) -> &[Binding] {
        self.find(key)
            .map_or(&[], |i| &self.slots[i as usize].bindings)
    }

    /// Every AoR slot in use, in no particular order.
    pub fn aors(&self) -> impl Iterator<Item = &AorSlot> {
        self.index.iter().map(|&i| &self.slots[i as usize])
    }

    /// Changes the bindings of `key` (slot `slot` if it exists) through `change`, then
    /// updates the counts, bumps the version and reschedules (or frees) the slot. The caller
    /// has validated the change: this cannot fail.
    pub fn update<R>(
        &mut self,
        key: &[u8],
        slot: Option<u32>,
        change: impl FnOnce(&mut Bindings) -> R,
    ) -> R {
        self.update_slot(key, slot, change).0
    }

    /// [`update`](Self::update), also giving the AoR's slot afterwards (None once it has no
    /// bindings and was freed), so the caller can read the bindings without a second lookup.
    pub fn update_slot<R>(
        &mut self,
        key: &[u8],
        slot: Option<u32>,
        change: impl FnOnce(&mut Bindings) -> R,
    ) -> (R, Option<u32>) {
        let index = match slot {
            Some(i) => i,
            None => self.insert_slot(key),
        };
        let s = &mut self.slots[index as usize];
        debug_assert_eq!(&*s.key, key);
        let before = s.bindings.len();
        let r = change(&mut s.bindings);
        self.binding_count = self.binding_count - before + s.bindings.len();
        s.version = s.version.wrapping_add(1);
        let live = !s.bindings.is_empty();
        self.reschedule(index);
        (r, live.then_some(index))
    }

    fn insert_slot(&mut self, key: &[u8]) -> u32 {
        let index = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.key = key.into();
                i
            }
            None => {
                self.slots.push(AorSlot {
                    key: key.into(),
                    generation: 0,
                    bindings: Bindings::new(),
                    timer: None,
                    version: 0,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let h = hash_key(&self.hasher, key);
        let hasher = &self.hasher;
        let slots = &self.slots;
        self.index
            .insert_unique(h, index, |&i| hash_key(hasher, &slots[i as usize].key));
        index
    }

    fn free_slot(&mut self, index: u32) {
        let s = &mut self.slots[index as usize];
        debug_assert!(s.bindings.is_empty());
        let h = hash_key(&self.hasher, &s.key);
        if let Ok(e) = self.index.find_entry(h, |&i| i == index) {
            e.remove();
        }
        if let Some(t) = s.timer.take() {
            self.wheel.cancel(t);
        }
        s.key = Box::default();
        s.bindings = Bindings::new();
        s.generation = s.generation.wrapping_add(1);
        self.free.push(index);
    }

    /// Points the slot's timer at its earliest expiry, or frees the slot if it has no
    /// bindings.
    fn reschedule(&mut self, index: u32) {
        let s = &mut self.slots[index as usize];
        let Some(earliest) = s.bindings.iter().map(|b| b.expires_at).min() else {
            self.free_slot(index);
            return;
        };
        // The usual refresh moves the timer the slot has (the same entry, so `timer` stays).
        if let Some(t) = s.timer {
            if self.wheel.reschedule(t, earliest.0) {
                return;
            }
        }
        let r = AorRef {
            index,
            generation: s.generation,
        };
        s.timer = Some(self.wheel.insert(earliest.0, r));
    }

    /// Removes expired bindings, at most `budget` AoRs' worth per call; calls `expired` for
    /// each removed binding. Returns the number of AoRs visited.
    pub fn expire(
        &mut self,
        now: Millis,
        budget: usize,
        mut expired: impl FnMut(&[u8], &Binding),
    ) -> usize {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        self.wheel.poll(now.0, budget, |_, r| due.push(r));
        for r in &due {
            let Some(s) = self.slots.get_mut(r.index as usize) else {
                continue;
            };
            if s.generation != r.generation {
                continue;
            }
            s.timer = None;
            let before = s.bindings.len();
            let key = &s.key;
            s.bindings.retain(|b| {
                let live = b.is_live(now);
                if !live {
                    expired(key, b);
                }
                live
            });
            let removed = before - s.bindings.len();
            if removed > 0 {
                s.version = s.version.wrapping_add(1);
            }
            self.binding_count -= removed;
            self.reschedule(r.index);
        }
        let n = due.len();
        self.due = due;
        n
    }

    /// When [`expire`](Self::expire) next has work.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.wheel.next_expiration().map(Millis)
    }

    /// Approximate heap bytes used by the table structures (not counting allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        self.index.allocation_size()
            + self.slots.capacity() * std::mem::size_of::<AorSlot>()
            + self
                .slots
                .iter()
                .map(|s| {
                    s.key.len()
                        + if s.bindings.spilled() {
                            s.bindings.capacity() * std::mem::size_of::<Binding>()
                        } else {
                            0
                        }
                        + s.bindings.iter().map(Binding::heap_bytes).sum::<usize>()
                })
                .sum::<usize>()
    }
}

fn hash_key(hasher: &RandomState, key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory per binding is a product figure (issue: ≤ 300 bytes beyond the strings at 1M
    /// bindings); these sizes are its fixed part.
    #[test]
    fn fixed_sizes_stay_small() {
        let binding = std::mem::size_of::<Binding>();
        let slot = std::mem::size_of::<AorSlot>();
        assert!(binding <= 80, "Binding is {binding} bytes");
        assert!(slot <= 120, "AorSlot is {slot} bytes (one binding inline)");
    }

    #[test]
    fn compact_addresses_round_trip() {
        for a in ["192.0.2.1:5060", "[2001:db8::1]:5061", "0.0.0.0:0"] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(SocketAddr::from(CompactAddr::from(a)), a);
        }
    }

    #[test]
    fn leading_instances_are_measured_only_in_the_plain_form() {
        assert_eq!(lead_instance_len(b";+sip.instance=\"<urn:a>\";reg-id=1"), 7);
        assert_eq!(lead_instance_len(b";+sip.instance=\"<urn:a>\""), 7);
        for params in [
            &b""[..],
            b";x=1;+sip.instance=\"<urn:a>\"",
            b";+SIP.INSTANCE=\"<urn:a>\"",
            b";+sip.instance=\"\"",
            b";+sip.instance=\"<urn:\\\"a>\"",
            b";+sip.instance=\"<urn:a>\"x",
            b";+sip.instance=\"<urn:a>",
            b";+sip.instance=<urn:a>",
        ] {
            assert_eq!(lead_instance_len(params), 0, "{params:?}");
        }
        let long = |n: usize| format!(";+sip.instance=\"{}\"", "a".repeat(n));
        assert_eq!(lead_instance_len(long(255).as_bytes()), 255);
        assert_eq!(lead_instance_len(long(256).as_bytes()), 0);
    }

    #[test]
    fn method_masks() {
        assert_eq!(
            methods_mask(b"INVITE, BYE"),
            method_bit(b"INVITE") | method_bit(b"BYE")
        );
        assert_eq!(
            method_bit(b"invite"),
            0,
            "methods are case-sensitive (RFC 3261 §7.1)"
        );
        assert_eq!(method_bit(b"FOO"), 0);
    }
}
