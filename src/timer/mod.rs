//! Shard-local hierarchical timer wheel for binding expiry.
//!
//! Every shard of the registrar owns one [`TimerWheel`]. It is not shared, takes no locks and does
//! no I/O: the caller passes the current time in as milliseconds (`u64`) from an arbitrary
//! monotonic epoch, and the wheel hands expired values back through a callback.
//!
//! # Design
//!
//! The layout follows tokio's `runtime/time/wheel`: time is counted in *ticks* of `tick_ms`
//! milliseconds (tick `t` starts at `t * tick_ms`), and the wheel has 6 levels of 64 slots. A slot
//! at level `L` covers `64^L` ticks, so a level covers `64^(L+1)` ticks and the whole wheel covers
//! `64^6 = 2^36` ticks (about 2.2 years with a 1 ms tick). The wheel keeps `elapsed`, the tick up
//! to which it has advanced. An entry whose deadline tick is `when > elapsed` lives at the level
//! given by the highest bit in which `when` and `elapsed` differ (`level_for`), in the slot given
//! by the 6 bits of `when` for that level. Each level keeps a 64-bit occupancy bitmap, so the next
//! slot to process is found with a rotate and a `trailing_zeros` per level (plus a pass over the
//! occupied slots of the top level, see below).
//!
//! When a slot becomes due, its entries are *cascaded*: each one is re-placed relative to the new
//! `elapsed` (the first tick of the slot), which puts it on a lower level, or on the ready queue
//! once its tick has been reached. Slots are processed strictly in order of the tick at which they
//! come due, so entries are handed out in tick order.
//!
//! Deadlines further out than the top level can express (`when` and `elapsed` differ above bit 36)
//! are clamped into the top level, in the slot given by their own bits 30..36, like tokio does.
//! Unlike tokio, each top-level slot also keeps a lower bound of the ticks of the entries in it
//! (exact after insert and cascade, conservative after a cancel), and the slot comes due at the
//! start of the 2^30-tick span holding that bound rather than at the slot's next turn. For
//! entries within range that is the same thing; a clamped entry is re-cascaded when the span of
//! its real deadline begins, instead of once per 2^36-tick rotation, so a long jump in time costs
//! nothing extra. Entries are only ever handed out when their tick is `<= elapsed`, so clamping
//! can never make anything fire early.
//!
//! Entries live in a slab (`Vec` plus free list) and are addressed by a [`TimerKey`] made of the
//! slab index and a generation that is bumped whenever an entry is freed, so stale keys are
//! detected. Every slot, the ready queue and the cascade queue is a circular intrusive doubly
//! linked list whose sentinel node is one of the first 386 slab entries; links are `u32` indices.
//! Because every list has a sentinel, unlinking needs no knowledge of which list an entry is in,
//! and moving a whole slot onto the cascade queue is O(1). Nothing is allocated per insert once the
//! slab has grown to its high-water mark. An entry takes 32 bytes for `T = u32`.
//!
//! # Guarantee: never early, at most one tick late
//!
//! An entry with deadline `d` becomes due at `d` rounded up to the next multiple of `tick_ms`,
//! which is less than one tick after `d`, and it is handed out by the first [`TimerWheel::poll`]
//! whose `now_ms` has reached that point (budget permitting). A poll whose `now_ms` is `< d` never
//! hands it out. So with polls at least once per tick an entry fires at most one tick late (plus
//! the polling interval), and never early. One refinement: an entry inserted with a deadline at
//! or before the latest poll's `now_ms` (or the construction time) is due already and goes
//! straight to the ready queue, so it fires on the next poll without waiting for the round-up.
//!
//! Entries are handed out in tick order (any order within a tick), except that entries inserted
//! already due are queued behind the entries that are ready at that moment.
//!
//! # Complexity
//!
//! | operation                  | cost                                                     |
//! |----------------------------|----------------------------------------------------------|
//! | `insert`                   | O(1); allocates only when the slab grows past its peak   |
//! | `cancel`, `deadline`       | O(1)                                                     |
//! | `next_expiration`          | O(1): 5 bitmap scans plus one pass over occupied top slots |
//! | `poll`                     | O(`budget`): at most `budget` fires, `6 * budget` moves  |
//!
//! An entry is moved at most 6 times over its lifetime (once per level on its way down to the
//! ready queue). The only extra moves come from cancels: a cancel can leave a top-level slot's
//! lower bound too low, and the slot then comes due early once and re-places its entries.

use std::fmt;

/// Bits of the tick number consumed by each level.
const LEVEL_BITS: u32 = 6;
/// Slots per level.
const SLOTS_PER_LEVEL: usize = 1 << LEVEL_BITS;
/// Mask selecting a slot number.
const SLOT_MASK: u64 = SLOTS_PER_LEVEL as u64 - 1;
/// Number of levels; the wheel spans `64^6 = 2^36` ticks.
const NUM_LEVELS: usize = 6;
/// The top level, which also holds clamped far-future entries.
const TOP: usize = NUM_LEVELS - 1;
/// Ticks covered by one top-level slot.
const TOP_SLOT_RANGE: u64 = 1 << (TOP as u32 * LEVEL_BITS);
/// Number of slot lists; slot `s` of level `l` is list `l * 64 + s`.
const NUM_SLOTS: usize = NUM_LEVELS * SLOTS_PER_LEVEL;
/// List of entries whose tick has been reached, waiting to be handed to `fire`.
const READY: u32 = NUM_SLOTS as u32;
/// List of entries taken out of a due slot that still have to be re-placed.
const CASCADE: u32 = READY + 1;
/// Number of lists; their sentinels occupy slab indices `0..NUM_LISTS`.
const NUM_LISTS: usize = NUM_SLOTS + 2;
/// "No entry" marker for the free list and for unlinked entries.
const NIL: u32 = u32::MAX;
/// Cascade moves allowed per unit of `poll` budget: enough to bring one entry down all levels.
const MOVES_PER_BUDGET: usize = NUM_LEVELS;

use std::num::NonZeroU32;

/// Handle to a scheduled entry: slab index + generation, so a stale key (entry already fired,
/// cancelled, or its slot reused) can never cancel or be confused with a newer entry.
///
/// The generation is a wrapping `u32`, so a key could only be confused with a newer entry after
/// its slab slot has been reused 2^32 times. Generations are never 0, so `Option<TimerKey>`
/// costs no more than a key (a binding table keeps one per AoR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: NonZeroU32,
}

/// The key generation for an entry generation (never 0 by the slab's invariant).
fn key_generation(g: u32) -> NonZeroU32 {
    debug_assert_ne!(g, 0);
    NonZeroU32::new(g).unwrap_or(NonZeroU32::MIN)
}

/// One slab slot: a live entry, a free slot or a list sentinel.
///
/// `size_of::<Entry<u32>>() == 32` (8 deadline + 3 * 4 links/generation + 8 `Option<u32>`), so a
/// million `u32` entries take 32 MB; for a `T` with a niche (`Box`, `NonZeroU32`, `Rc`, ...) the
/// `Option` costs nothing extra.
struct Entry<T> {
    /// Deadline as given to `insert`, in milliseconds.
    deadline_ms: u64,
    /// Previous entry in the entry's list (`NIL` when free).
    prev: u32,
    /// Next entry in the entry's list, or the next free slot when free.
    next: u32,
    /// Bumped every time the slot is freed.
    generation: u32,
    /// `Some` exactly for live entries; `None` for free slots and sentinels.
    value: Option<T>,
}

/// Where the next due slot is, and the tick at which it becomes due.
#[derive(Clone, Copy, Debug)]
struct Expiration {
    level: usize,
    slot: usize,
    /// First tick covered by the slot, always `> elapsed`.
    deadline: u64,
}

/// A shard-local hierarchical timer wheel; see the [module documentation](self).
pub struct TimerWheel<T> {
    /// List sentinels (`0..NUM_LISTS`) followed by entries.
    entries: Vec<Entry<T>>,
    /// Head of the singly linked free list (through `next`), or `NIL`.
    free_head: u32,
    /// Number of live entries.
    len: usize,
    /// Per level, bit `s` is set iff slot `s` is non-empty.
    occupied: [u64; NUM_LEVELS],
    /// Per top-level slot, a lower bound of the ticks of its entries (`u64::MAX` when empty).
    top_min: [u64; SLOTS_PER_LEVEL],
    /// Tick length in milliseconds, `>= 1`.
    tick_ms: u64,
    /// Tick up to which the wheel has advanced; entries with a tick `<= elapsed` are due.
    elapsed: u64,
    /// `now_ms` of the latest poll (or of construction); polls with an earlier time are ignored.
    now_ms: u64,
}

impl<T> TimerWheel<T> {
    /// `tick_ms`: granularity (>= 1). `now_ms`: the current time. An entry fires at the first
    /// `poll` whose `now_ms` is >= its deadline, rounded up to the next tick: never early, at
    /// most one tick late (given polls at least once per tick).
    ///
    /// A `tick_ms` of 0 is treated as 1.
    pub fn new(tick_ms: u64, now_ms: u64) -> Self {
        Self::with_capacity(tick_ms, now_ms, 0)
    }

    /// Like [`new`](Self::new), reserving room for `capacity` entries up front. The capacity is a
    /// hint: if it cannot be reserved, the wheel starts smaller and grows on demand.
    pub fn with_capacity(tick_ms: u64, now_ms: u64, capacity: usize) -> Self {
        let tick_ms = tick_ms.max(1);
        let mut entries = Vec::new();
        // Best effort: an absurd capacity must not panic or abort.
        let _ = entries.try_reserve_exact(NUM_LISTS.saturating_add(capacity));
        entries.extend((0..NUM_LISTS as u32).map(|list| Entry {
            deadline_ms: 0,
            prev: list,
            next: list,
            generation: 1,
            value: None,
        }));
        Self {
            entries,
            free_head: NIL,
            len: 0,
            occupied: [0; NUM_LEVELS],
            top_min: [u64::MAX; SLOTS_PER_LEVEL],
            tick_ms,
            elapsed: now_ms / tick_ms,
            now_ms,
        }
    }

    /// O(1). A deadline in the past fires at the next poll. Deadlines far in the future
    /// (beyond the top level's range) are clamped into the top level and re-cascaded — they
    /// must still fire at their real deadline, not early.
    ///
    /// A deadline whose round-up to a multiple of `tick_ms` exceeds `u64::MAX` (a deadline within
    /// one tick of `u64::MAX`, when `tick_ms` does not divide `u64::MAX`) is never reached, so it
    /// never fires.
    ///
    /// # Panics
    ///
    /// Only if the slab would need more than `u32::MAX - 1` slots (over 128 GB of entries).
    pub fn insert(&mut self, deadline_ms: u64, value: T) -> TimerKey {
        let index = self.alloc(deadline_ms, value);
        self.len += 1;
        if deadline_ms <= self.now_ms {
            self.push_back(READY, index);
        } else {
            self.place(index);
        }
        TimerKey {
            index,
            generation: key_generation(self.entries[index as usize].generation),
        }
    }

    /// O(1). Returns the value if the key was live; `None` for a stale key.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        if !self.is_live(key) {
            return None;
        }
        self.unlink(key.index);
        self.release(key.index).1
    }

    /// O(1). Moves a live entry to `deadline_ms` (as if cancelled and inserted again, but the
    /// entry and its key stay the same: nothing is freed or allocated). Returns false, changing
    /// nothing, for a stale key. Moving to the deadline the entry has is a no-op.
    pub fn reschedule(&mut self, key: TimerKey, deadline_ms: u64) -> bool {
        let Some(entry) = self.live_entry(key) else {
            return false;
        };
        let old = entry.deadline_ms;
        if old == deadline_ms {
            return true;
        }
        if self.stays_in_its_slot(old, deadline_ms) {
            self.entries[key.index as usize].deadline_ms = deadline_ms;
            return true;
        }
        self.unlink(key.index);
        self.entries[key.index as usize].deadline_ms = deadline_ms;
        if deadline_ms <= self.now_ms {
            self.push_back(READY, key.index);
        } else {
            self.place(key.index);
        }
        true
    }

    /// True if a live entry with deadline `old` sits in a slot (not on the ready or cascade
    /// queue) where `place` would put it with deadline `new` as well: then moving it is only
    /// changing its deadline. Lowers the slot's `top_min` to the new tick when the slot is on
    /// the top level (a later tick leaves it a valid lower bound).
    ///
    /// An entry is on the ready queue only if its deadline was due when inserted (`old <=
    /// now_ms` ever since) or its tick was reached (`<= elapsed`); on the cascade queue only
    /// while that is not empty. Otherwise it is in the slot that `level_for`/`slot_for` give
    /// for its tick relative to the current `elapsed` (the wheel's invariant).
    fn stays_in_its_slot(&mut self, old: u64, new: u64) -> bool {
        if old <= self.now_ms || new <= self.now_ms || !self.list_is_empty(CASCADE) {
            return false;
        }
        let (from, to) = (self.tick_of(old), self.tick_of(new));
        // `to > elapsed` follows from `new > now_ms >= elapsed * tick_ms`.
        if from <= self.elapsed {
            return false;
        }
        let level = level_for(self.elapsed, from);
        let slot = slot_for(from, level);
        if level_for(self.elapsed, to) != level || slot_for(to, level) != slot {
            return false;
        }
        if level == TOP {
            self.top_min[slot] = self.top_min[slot].min(to);
        }
        true
    }

    /// Starts loading the entry of `key` into the cache (a hint: no effect on the wheel; a
    /// stale or out-of-range key is ignored).
    #[inline]
    pub fn prefetch(&self, key: TimerKey) {
        if let Some(entry) = self.entries.get(key.index as usize) {
            crate::prefetch::read(entry);
        }
    }

    /// Deadline of a live key, as passed to [`insert`](Self::insert); `None` for a stale key.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.live_entry(key).map(|entry| entry.deadline_ms)
    }

    /// Advances to `now_ms` and hands at most `budget` expired entries to `fire` (key, value),
    /// in any order within a tick. Returns how many fired. Entries left over because the budget
    /// ran out fire on the next call, even if time did not advance. A `now_ms` earlier than the
    /// last poll is a no-op (never panics); so is a `budget` of 0 (the time is not recorded).
    ///
    /// # Work bound
    ///
    /// One call makes at most `budget` calls to `fire`, at most `6 * budget` (saturating) cascade
    /// moves (re-placing one entry taken out of a due slot: O(1)), and at most `6 * budget + 1`
    /// searches for the next due slot (O(1) each: 5 bitmap scans and one pass over the at most
    /// 64 occupied top-level slots; taking the slot found out of the wheel is O(1) as well). So
    /// the work is O(`budget`), independent of how many entries are due or how far time jumped.
    /// An entry needs at most 6 moves in its lifetime, which is what the factor of 6 pays for.
    ///
    /// When the moves run out first, `poll` can return less than `budget` while due entries
    /// remain; [`next_expiration`](Self::next_expiration) then returns this poll's `now_ms`, so
    /// an event loop that polls again whenever `next_expiration() <= now` drains everything.
    ///
    /// The key passed to `fire` is already stale when `fire` runs.
    pub fn poll(&mut self, now_ms: u64, budget: usize, mut fire: impl FnMut(TimerKey, T)) -> usize {
        if now_ms < self.now_ms || budget == 0 {
            return 0;
        }
        self.now_ms = now_ms;
        let now_tick = now_ms / self.tick_ms;
        let mut fired = 0;
        let mut moves = budget.saturating_mul(MOVES_PER_BUDGET);
        while fired < budget {
            if let Some(index) = self.pop_front(READY) {
                let (key, value) = self.release(index);
                debug_assert!(value.is_some(), "ready entry without a value");
                if let Some(value) = value {
                    fired += 1;
                    fire(key, value);
                }
                continue;
            }
            if moves == 0 {
                break;
            }
            if let Some(index) = self.pop_front(CASCADE) {
                moves -= 1;
                self.place(index);
                continue;
            }
            match self.next_slot() {
                Some(due) if due.deadline <= now_tick => {
                    // Everything due before this slot has been handed out; its entries are
                    // re-placed relative to its first tick by the cascade steps above.
                    self.elapsed = due.deadline;
                    self.take_slot(due.level, due.slot);
                }
                _ => {
                    // Nothing is due up to `now_tick`: catch up. Every slot's due tick stays
                    // ahead of `elapsed`, so all placements remain valid.
                    self.elapsed = now_tick;
                    break;
                }
            }
        }
        fired
    }

    /// Earliest time at which `poll` has work to do (may be conservative, i.e. earlier than the
    /// true earliest deadline, but never later); `None` when empty.
    ///
    /// The result is never earlier than the latest poll's `now_ms`, since earlier polls are
    /// no-ops: if work is already due (an overdue entry, or leftovers from an exhausted budget),
    /// that time is returned. O(1), like one search for the next due slot in `poll`.
    pub fn next_expiration(&self) -> Option<u64> {
        if !self.list_is_empty(READY) || !self.list_is_empty(CASCADE) {
            return Some(self.now_ms);
        }
        self.next_slot().map(|due| {
            due.deadline
                .checked_mul(self.tick_ms)
                .map_or(u64::MAX, |at| at.max(self.now_ms))
        })
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tick in which `deadline_ms` falls, rounded up.
    fn tick_of(&self, deadline_ms: u64) -> u64 {
        deadline_ms / self.tick_ms + u64::from(deadline_ms % self.tick_ms != 0)
    }

    fn live_entry(&self, key: TimerKey) -> Option<&Entry<T>> {
        self.entries
            .get(key.index as usize)
            .filter(|entry| entry.generation == key.generation.get() && entry.value.is_some())
    }

    fn is_live(&self, key: TimerKey) -> bool {
        self.live_entry(key).is_some()
    }

    /// Takes a slot from the free list or grows the slab; the entry is left unlinked.
    fn alloc(&mut self, deadline_ms: u64, value: T) -> u32 {
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            self.free_head = entry.next;
            entry.deadline_ms = deadline_ms;
            entry.value = Some(value);
            return index;
        }
        let index = match u32::try_from(self.entries.len()) {
            Ok(index) if index != NIL => index,
            _ => panic!("TimerWheel: more than u32::MAX - 1 slab slots"),
        };
        self.entries.push(Entry {
            deadline_ms,
            prev: NIL,
            next: NIL,
            generation: 1,
            value: Some(value),
        });
        index
    }

    /// Frees an unlinked entry, returning its (now stale) key and value.
    fn release(&mut self, index: u32) -> (TimerKey, Option<T>) {
        let entry = &mut self.entries[index as usize];
        let key = TimerKey {
            index,
            generation: key_generation(entry.generation),
        };
        let value = entry.value.take();
        // Wraps past 0: generations are never 0.
        entry.generation = entry.generation.wrapping_add(1).max(1);
        entry.prev = NIL;
        entry.next = self.free_head;
        self.free_head = index;
        self.len -= 1;
        (key, value)
    }

    /// Puts an unlinked live entry where it belongs relative to `elapsed`: the ready queue if its
    /// tick has been reached, otherwise its slot.
    fn place(&mut self, index: u32) {
        let when = self.tick_of(self.entries[index as usize].deadline_ms);
        if when <= self.elapsed {
            self.push_back(READY, index);
            return;
        }
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        self.push_back((level * SLOTS_PER_LEVEL + slot) as u32, index);
        self.occupied[level] |= 1 << slot;
        if level == TOP {
            self.top_min[slot] = self.top_min[slot].min(when);
        }
        debug_assert!(
            (self.elapsed + 1..=when).contains(&self.slot_deadline(level, slot)),
            "slot must come due after elapsed and no later than its entries"
        );
    }

    fn list_is_empty(&self, list: u32) -> bool {
        self.entries[list as usize].next == list
    }

    fn push_back(&mut self, list: u32, index: u32) {
        let last = self.entries[list as usize].prev;
        let entry = &mut self.entries[index as usize];
        entry.prev = last;
        entry.next = list;
        self.entries[last as usize].next = index;
        self.entries[list as usize].prev = index;
    }

    /// Removes an entry from whatever list it is in, keeping the slot bookkeeping exact.
    fn unlink(&mut self, index: u32) {
        let Entry { prev, next, .. } = self.entries[index as usize];
        self.entries[prev as usize].next = next;
        self.entries[next as usize].prev = prev;
        let entry = &mut self.entries[index as usize];
        entry.prev = NIL;
        entry.next = NIL;
        // Only a sentinel can be both neighbours of an entry: its list has just become empty.
        if prev == next && (prev as usize) < NUM_SLOTS {
            self.slot_emptied(
                prev as usize / SLOTS_PER_LEVEL,
                prev as usize % SLOTS_PER_LEVEL,
            );
        }
    }

    fn slot_emptied(&mut self, level: usize, slot: usize) {
        self.occupied[level] &= !(1 << slot);
        if level == TOP {
            self.top_min[slot] = u64::MAX;
        }
    }

    fn pop_front(&mut self, list: u32) -> Option<u32> {
        let first = self.entries[list as usize].next;
        if first == list {
            return None;
        }
        self.unlink(first);
        Some(first)
    }

    /// Moves a whole (non-empty) slot onto the empty cascade queue in O(1).
    fn take_slot(&mut self, level: usize, slot: usize) {
        debug_assert!(self.list_is_empty(CASCADE), "cascade queue not drained");
        let head = (level * SLOTS_PER_LEVEL + slot) as u32;
        let Entry {
            prev: last,
            next: first,
            ..
        } = self.entries[head as usize];
        debug_assert_ne!(first, head, "taking an empty slot");
        self.entries[CASCADE as usize].next = first;
        self.entries[CASCADE as usize].prev = last;
        self.entries[first as usize].prev = CASCADE;
        self.entries[last as usize].next = CASCADE;
        self.entries[head as usize].next = head;
        self.entries[head as usize].prev = head;
        self.slot_emptied(level, slot);
    }

    /// Tick at which an occupied `slot` of `level` comes due: `> elapsed`, and no later than the
    /// tick of any entry in it.
    fn slot_deadline(&self, level: usize, slot: usize) -> u64 {
        if level == TOP {
            // Start of the top-level span holding the lower bound. Every entry of the slot lies
            // in this span or a later one with the same slot number, and (being clamped or
            // beyond the current top-level slot) after the span `elapsed` is in.
            return self.top_min[slot] & !(TOP_SLOT_RANGE - 1);
        }
        let slot_range = 1u64 << (level as u32 * LEVEL_BITS);
        let level_range = slot_range << LEVEL_BITS;
        let level_start = self.elapsed & !(level_range - 1);
        // `level_start` is a multiple of `level_range`, so this cannot overflow.
        let deadline = level_start + slot as u64 * slot_range;
        // Below the top level, entries always sit in a slot after the current one.
        debug_assert!(deadline > self.elapsed, "entry behind the wheel position");
        deadline
    }

    /// The occupied slot that comes due first, if any. Slots of different levels never come due
    /// at the same tick, and a lower level's slots always come due before the top level's.
    fn next_slot(&self) -> Option<Expiration> {
        for level in 0..TOP {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            // Entries are always in a slot after the current one, so scan from there.
            let first = (slot_for(self.elapsed, level) + 1) % SLOTS_PER_LEVEL;
            let offset = occupied.rotate_right(first as u32).trailing_zeros() as usize;
            let slot = (first + offset) % SLOTS_PER_LEVEL;
            return Some(Expiration {
                level,
                slot,
                deadline: self.slot_deadline(level, slot),
            });
        }
        let mut best: Option<Expiration> = None;
        let mut occupied = self.occupied[TOP];
        while occupied != 0 {
            let slot = occupied.trailing_zeros() as usize;
            occupied &= occupied - 1;
            let deadline = self.slot_deadline(TOP, slot);
            if best.is_none_or(|best| deadline < best.deadline) {
                best = Some(Expiration {
                    level: TOP,
                    slot,
                    deadline,
                });
            }
        }
        best
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("len", &self.len)
            .field("tick_ms", &self.tick_ms)
            .field("elapsed_ticks", &self.elapsed)
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

/// Level at which an entry due at tick `when` lives when the wheel is at tick `elapsed`: the
/// highest group of 6 bits in which they differ, clamped to the top level.
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | SLOT_MASK;
    let significant = (u64::BITS - 1 - masked.leading_zeros()) as usize;
    (significant / LEVEL_BITS as usize).min(NUM_LEVELS - 1)
}

/// Slot of tick `when` within `level`.
fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level as u32 * LEVEL_BITS)) & SLOT_MASK) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    impl<T> TimerWheel<T> {
        /// Whether a poll at `now_tick` would find work (ignoring the budget).
        fn has_due_work(&self, now_tick: u64) -> bool {
            !self.list_is_empty(READY)
                || !self.list_is_empty(CASCADE)
                || self.next_slot().is_some_and(|due| due.deadline <= now_tick)
        }

        /// Walks every list and the free list, checking links, bitmaps, placement and counts.
        fn check_invariants(&self) {
            let total = self.entries.len();
            assert!(self.elapsed <= self.now_ms / self.tick_ms);
            let mut linked = 0;
            for list in 0..NUM_LISTS as u32 {
                let mut prev = list;
                let mut cur = self.entries[list as usize].next;
                let mut count = 0;
                while cur != list {
                    let entry = &self.entries[cur as usize];
                    assert!((cur as usize) >= NUM_LISTS && (cur as usize) < total);
                    assert_eq!(entry.prev, prev, "broken back link");
                    assert!(entry.value.is_some(), "linked entry without value");
                    let when = self.tick_of(entry.deadline_ms);
                    if (list as usize) < NUM_SLOTS {
                        let (level, slot) = (
                            list as usize / SLOTS_PER_LEVEL,
                            list as usize % SLOTS_PER_LEVEL,
                        );
                        assert!(when > self.elapsed);
                        assert_eq!(level_for(self.elapsed, when), level);
                        assert_eq!(slot_for(when, level), slot);
                        let deadline = self.slot_deadline(level, slot);
                        assert!(deadline > self.elapsed && deadline <= when);
                        if level == TOP {
                            assert!(self.top_min[slot] <= when);
                        }
                    } else if list == READY {
                        assert!(when <= self.elapsed || entry.deadline_ms <= self.now_ms);
                    }
                    count += 1;
                    assert!(count <= total, "cycle");
                    prev = cur;
                    cur = entry.next;
                }
                assert_eq!(self.entries[list as usize].prev, prev);
                if (list as usize) < NUM_SLOTS {
                    let (level, slot) = (list as usize / SLOTS_PER_LEVEL, list as usize % 64);
                    assert_eq!(self.occupied[level] & (1 << slot) != 0, count > 0);
                    if level == TOP && count == 0 {
                        assert_eq!(self.top_min[slot], u64::MAX);
                    }
                }
                linked += count;
            }
            assert_eq!(linked, self.len);
            let mut free = 0;
            let mut cur = self.free_head;
            while cur != NIL {
                let entry = &self.entries[cur as usize];
                assert!(entry.value.is_none() && entry.prev == NIL);
                free += 1;
                assert!(free <= total, "free list cycle");
                cur = entry.next;
            }
            assert_eq!(NUM_LISTS + self.len + free, total);
        }
    }

    fn round_up(deadline: u64, tick: u64) -> u128 {
        u128::from(deadline).div_ceil(u128::from(tick)) * u128::from(tick)
    }

    fn collect<T>(wheel: &mut TimerWheel<T>, now: u64, budget: usize) -> Vec<(TimerKey, T)> {
        let mut out = Vec::new();
        let n = wheel.poll(now, budget, |key, value| out.push((key, value)));
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn entry_size() {
        assert_eq!(size_of::<Entry<u32>>(), 32);
        assert_eq!(size_of::<Entry<Box<u64>>>(), 32);
        assert_eq!(size_of::<TimerKey>(), 8);
        assert_eq!(size_of::<Option<TimerKey>>(), 8);
    }

    #[test]
    fn test_level_for() {
        for pos in 0..64 {
            assert_eq!(level_for(0, pos), 0, "level_for({pos})");
        }
        for level in 1..NUM_LEVELS {
            for pos in 1..64u64 {
                let a = pos << (6 * level);
                assert_eq!(level_for(0, a), level, "level_for({a:#b})");
                assert_eq!(level_for(0, a + 1), level, "level_for({:#b})", a + 1);
                if pos > 1 {
                    assert_eq!(level_for(0, a - 1), level, "level_for({:#b})", a - 1);
                } else {
                    assert_eq!(level_for(0, a - 1), level - 1, "level_for({:#b})", a - 1);
                }
            }
        }
        // Relative to a non-zero position only the differing bits count.
        assert_eq!(level_for(64, 65), 0);
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for((1 << 36) - 1, 1 << 36), 5);
        // Beyond the top level: clamped.
        assert_eq!(level_for(0, 1 << 36), 5);
        assert_eq!(level_for(0, u64::MAX), 5);
        assert_eq!(level_for(u64::MAX - 1, u64::MAX), 0);
        assert_eq!(slot_for(u64::MAX, 5), 63);
        assert_eq!(slot_for(5 << 30, 5), 5);
    }

    #[test]
    fn never_early_at_most_one_tick_late() {
        for tick in [1u64, 3, 10, 64, 1000] {
            let start = 1_000_003u64;
            let mut wheel = TimerWheel::new(tick, start);
            let mut deadlines = BTreeMap::new();
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for i in 0..2_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mix of short, medium and level-boundary deadlines.
                let offset = match i % 4 {
                    0 => x % 100,
                    1 => x % 5_000,
                    2 => x % 300_000,
                    _ => (64u64.pow((x % 3) as u32 + 1) * tick).saturating_add(x % 3) - 1,
                };
                let deadline = start + 1 + offset;
                let key = wheel.insert(deadline, i);
                assert_eq!(wheel.deadline(key), Some(deadline));
                deadlines.insert(i, deadline);
            }
            let end = start + 300_000 + 2 * 64 * 64 * 64 * tick;
            let mut now = start;
            // Poll every millisecond near deadlines, and skip ahead when the wheel says so.
            while !wheel.is_empty() {
                now += 1;
                if let Some(next) = wheel.next_expiration() {
                    assert!(next >= now - 1);
                    now = now.max(next);
                }
                assert!(now <= end, "tick {tick}: entries left at {now}");
                for (_, id) in collect(&mut wheel, now, usize::MAX) {
                    let deadline = deadlines.remove(&id).expect("fired twice");
                    assert!(deadline <= now, "tick {tick}: {id} early");
                    assert_eq!(
                        u128::from(now),
                        round_up(deadline, tick),
                        "tick {tick}: {id}"
                    );
                    assert!(now - deadline < tick, "tick {tick}: {id} late");
                }
                wheel.check_invariants();
            }
            assert!(deadlines.is_empty());
            assert_eq!(wheel.next_expiration(), None);
        }
    }

    #[test]
    fn polling_once_per_tick_at_any_phase() {
        let tick = 10;
        for phase in 0..tick {
            let mut wheel = TimerWheel::new(tick, 0);
            for d in 1..500u64 {
                wheel.insert(d * 7, d * 7);
            }
            let mut now = phase;
            while !wheel.is_empty() {
                for (_, deadline) in collect(&mut wheel, now, usize::MAX) {
                    assert!(deadline <= now);
                    assert!(
                        now - deadline < 2 * tick,
                        "phase {phase}: {deadline} at {now}"
                    );
                    // The previous poll (one tick earlier) was before the rounded deadline.
                    let previous = now.checked_sub(tick).map(u128::from);
                    assert!(previous.is_none_or(|p| p < round_up(deadline, tick)));
                }
                now += tick;
            }
        }
    }

    #[test]
    fn past_deadline_fires_at_next_poll() {
        let mut wheel = TimerWheel::new(10, 15);
        wheel.insert(12, "rounding"); // rounds up to 20, but it is already past
        wheel.insert(0, "zero");
        wheel.insert(15, "now");
        wheel.insert(16, "future");
        assert_eq!(wheel.next_expiration(), Some(15));
        let mut fired: Vec<_> = collect(&mut wheel, 15, 10)
            .into_iter()
            .map(|f| f.1)
            .collect();
        fired.sort_unstable();
        assert_eq!(fired, ["now", "rounding", "zero"]);
        assert_eq!(wheel.next_expiration(), Some(20));
        assert!(collect(&mut wheel, 19, 10).is_empty());
        wheel.insert(17, "past after poll");
        assert_eq!(collect(&mut wheel, 19, 10).len(), 1);
        assert_eq!(collect(&mut wheel, 20, 10)[0].1, "future");
        assert!(wheel.is_empty());
    }

    #[test]
    fn stale_key_after_fire() {
        let mut wheel = TimerWheel::new(1, 0);
        let key = wheel.insert(5, 'a');
        let fired = collect(&mut wheel, 5, 1);
        assert_eq!(fired, [(key, 'a')]);
        assert_eq!(wheel.cancel(key), None);
        assert_eq!(wheel.deadline(key), None);
        assert!(wheel.is_empty());
    }

    #[test]
    fn stale_key_after_cancel_and_reuse() {
        let mut wheel = TimerWheel::with_capacity(1, 0, 4);
        let old = wheel.insert(5, 1);
        assert_eq!(wheel.cancel(old), Some(1));
        assert_eq!(wheel.cancel(old), None);
        let new = wheel.insert(7, 2);
        assert_eq!(new.index, old.index, "slot reused");
        assert_ne!(new, old);
        assert_eq!(wheel.cancel(old), None);
        assert_eq!(wheel.deadline(old), None);
        assert_eq!(wheel.deadline(new), Some(7));
        assert_eq!(wheel.len(), 1);
        // Keys that never existed, or point at sentinels, are stale too.
        let bogus = TimerKey {
            index: 3,
            generation: NonZeroU32::MIN,
        };
        assert_eq!(wheel.cancel(bogus), None);
        let bogus = TimerKey {
            index: u32::MAX,
            generation: NonZeroU32::MIN,
        };
        assert_eq!(wheel.cancel(bogus), None);
        assert_eq!(collect(&mut wheel, 100, 10), [(new, 2)]);
        assert_eq!(wheel.cancel(new), None);
    }

    #[test]
    fn budget_carry_over() {
        let mut wheel = TimerWheel::new(1, 0);
        for i in 0..10 {
            wheel.insert(100, i);
        }
        wheel.insert(101, 10);
        assert!(collect(&mut wheel, 99, 3).is_empty());
        let mut seen = BTreeSet::new();
        for expected in [3, 3, 3, 1, 0] {
            let fired = collect(&mut wheel, 100, 3);
            assert_eq!(fired.len(), expected);
            seen.extend(fired.into_iter().map(|f| f.1));
            if seen.len() < 10 {
                assert_eq!(wheel.next_expiration(), Some(100));
            }
        }
        assert_eq!(seen, (0..10).collect());
        assert_eq!(wheel.next_expiration(), Some(101));
        // Budget 0 does nothing at all.
        assert_eq!(wheel.poll(1_000, 0, |_, _| unreachable!()), 0);
        assert_eq!(collect(&mut wheel, 1_000, 1)[0].1, 10);
    }

    #[test]
    fn cascade_moves_are_budgeted() {
        // 10_000 entries in one top-level slot, only one of them due early.
        let n = 10_000u64;
        let mut wheel = TimerWheel::new(1, 0);
        let base = 3u64 << 30;
        for i in 0..n {
            wheel.insert(base + 1 + i * 1_000, i);
        }
        wheel.insert(base, n);
        let mut polls = 0;
        let mut fired = Vec::new();
        while fired.is_empty() {
            polls += 1;
            let n = wheel.poll(base, 2, |_, v| fired.push(v));
            assert!(n <= 2);
            wheel.check_invariants();
        }
        assert_eq!(fired, [n]);
        // Each poll moved at most 12 entries, and all 10_001 had to be moved once.
        assert!(polls >= 10_001 / 12, "{polls} polls");
        assert!(polls <= 10_001 / 12 + 2, "{polls} polls");
        assert!(!wheel.has_due_work(base));
        assert_eq!(wheel.next_expiration(), Some(base + 1));
    }

    #[test]
    fn time_going_backwards_is_a_noop() {
        let mut wheel = TimerWheel::new(10, 1_000);
        wheel.insert(1_500, 'a');
        wheel.insert(2_000, 'b');
        assert_eq!(collect(&mut wheel, 0, usize::MAX), []);
        assert_eq!(collect(&mut wheel, 1_600, 1).len(), 1);
        let before = wheel.next_expiration();
        assert_eq!(collect(&mut wheel, 1_599, usize::MAX), []);
        assert_eq!(collect(&mut wheel, 0, usize::MAX), []);
        assert_eq!(wheel.next_expiration(), before);
        assert_eq!(wheel.len(), 1);
        // An entry due at 1_550 was inserted after the poll at 1_600: fires at the next poll, but
        // not at a poll with an earlier time.
        wheel.insert(1_550, 'c');
        assert_eq!(collect(&mut wheel, 1_540, usize::MAX), []);
        assert_eq!(collect(&mut wheel, 1_600, usize::MAX)[0].1, 'c');
        assert_eq!(collect(&mut wheel, 2_000, usize::MAX)[0].1, 'b');
        wheel.check_invariants();
    }

    #[test]
    fn extreme_values_do_not_panic() {
        for tick in [0u64, 1, 7, 1 << 40, u64::MAX] {
            for start in [0u64, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
                let mut wheel = TimerWheel::with_capacity(tick, start, usize::MAX);
                let k1 = wheel.insert(u64::MAX, 1);
                let k2 = wheel.insert(u64::MAX - 1, 2);
                let _ = wheel.insert(0, 3);
                let _ = wheel.insert(start.saturating_add(1), 4);
                wheel.check_invariants();
                let _ = wheel.next_expiration();
                let mut all = collect(&mut wheel, start, usize::MAX);
                all.extend(collect(&mut wheel, u64::MAX, usize::MAX));
                all.extend(collect(&mut wheel, u64::MAX, usize::MAX));
                wheel.check_invariants();
                // u64::MAX rounded up to a tick is only reachable if the tick divides it.
                if all.iter().any(|&(_, v)| v == 1) {
                    assert!(start == u64::MAX || u64::MAX % tick.max(1) == 0);
                }
                let _ = wheel.cancel(k1);
                let _ = wheel.cancel(k2);
                let _ = wheel.next_expiration();
                wheel.check_invariants();
            }
        }
    }

    #[test]
    fn far_future_is_clamped_and_fires_on_time() {
        let mut wheel = TimerWheel::new(1, 0);
        let range = 1u64 << 36;
        let far = [
            range,
            range + 12_345,
            3 * range + (17 << 30) + 5,
            40 * range - 1,
            (1 << 50) + 3,
        ];
        for (i, &d) in far.iter().enumerate() {
            wheel.insert(d, i);
        }
        let mut done = 0;
        for (i, &d) in far.iter().enumerate() {
            // Walk up to just before the deadline in big uneven strides; nothing may fire.
            let mut now = wheel.now_ms;
            while now < d - 1 {
                now = (now + (range / 3).max((d - now) / 4) + 977).min(d - 1);
                assert_eq!(
                    collect(&mut wheel, now, usize::MAX),
                    [],
                    "{i} early at {now}"
                );
                assert!(wheel.next_expiration().is_some_and(|t| t <= d));
                wheel.check_invariants();
            }
            let fired = collect(&mut wheel, d, usize::MAX);
            assert_eq!(fired.len(), 1, "{i} did not fire at {d}");
            assert_eq!(fired[0].1, i);
            done += 1;
            assert_eq!(wheel.len(), far.len() - done);
        }
        // A huge jump costs one move per clamped entry, not one per 2^36-tick rotation.
        let mut wheel = TimerWheel::new(1, 0);
        wheel.insert(u64::MAX, ());
        wheel.insert((1 << 62) + 1, ());
        wheel.insert((1 << 61) + 7, ());
        // 2 moves for the entry due at 2^61 + 7: top level -> level 0 -> ready.
        assert_eq!(wheel.poll(1 << 62, 1, |_, ()| {}), 1);
        // 1 move for the entry due at 2^62 + 1: top level -> level 0.
        assert_eq!(wheel.poll(1 << 62, 1, |_, ()| panic!("early")), 0);
        assert!(!wheel.has_due_work(1 << 62));
        wheel.check_invariants();
        assert_eq!(wheel.next_expiration(), Some((1 << 62) + 1));
        assert_eq!(wheel.poll((1 << 62) + 1, 1, |_, ()| {}), 1);
    }

    // ---- model-based property test ---------------------------------------------------------

    #[derive(Clone, Debug)]
    enum Op {
        /// Inserts `count` entries with deadlines of the given kind.
        Insert {
            count: u64,
            kind: u8,
            amount: u64,
        },
        Cancel(usize),
        CancelStale(usize),
        Poll {
            advance: u64,
            budget: usize,
        },
        PollBackwards(u64),
        Drain(usize),
        /// Moves a live entry (picked like `Cancel`) to a deadline of the given kind; and a
        /// stale key, which must change nothing.
        Reschedule {
            pick: usize,
            kind: u8,
            amount: u64,
        },
    }

    fn budget() -> impl Strategy<Value = usize> {
        prop_oneof![3 => 0usize..4, 3 => 1usize..40, 1 => Just(usize::MAX)]
    }

    fn op() -> impl Strategy<Value = Op> {
        let advance = prop_oneof![
            3 => 0u64..4,
            3 => 0u64..300,
            2 => 0u64..200_000,
            1 => 0u64..(1 << 38),
            1 => 0u64..(1 << 44),
        ];
        prop_oneof![
            10 => (prop_oneof![6 => Just(1u64), 1 => 2u64..40], 0u8..7, any::<u64>())
                .prop_map(|(count, kind, amount)| Op::Insert { count, kind, amount }),
            3 => any::<usize>().prop_map(Op::Cancel),
            1 => any::<usize>().prop_map(Op::CancelStale),
            8 => (advance, budget()).prop_map(|(advance, budget)| Op::Poll { advance, budget }),
            1 => (1u64..1_000).prop_map(Op::PollBackwards),
            1 => budget().prop_map(Op::Drain),
        ]
    }

    /// [`op`] plus [`Op::Reschedule`].
    fn op_with_reschedule() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => op(),
            1 => (any::<usize>(), 0u8..7, any::<u64>())
                .prop_map(|(pick, kind, amount)| Op::Reschedule { pick, kind, amount }),
        ]
    }

    /// Reference model: a `BTreeMap` of (deadline, id) → key plus the set of entries that were
    /// due when inserted.
    struct Model {
        tick: u64,
        now: u64,
        by_deadline: BTreeMap<(u64, u64), TimerKey>,
        live: BTreeMap<u64, (TimerKey, u64)>,
        due_at_insert: BTreeSet<u64>,
        dead: Vec<TimerKey>,
        next_id: u64,
    }

    impl Model {
        /// Latest deadline (ms) that counts as due at `now`: the deadline rounded up to a tick
        /// must be <= now.
        fn due_limit(&self) -> u64 {
            self.now / self.tick * self.tick
        }

        fn any_due(&self) -> bool {
            !self.due_at_insert.is_empty()
                || self
                    .by_deadline
                    .range(..=(self.due_limit(), u64::MAX))
                    .next()
                    .is_some()
        }

        fn fired(&mut self, key: TimerKey, id: u64) {
            let (live_key, deadline) = self.live.remove(&id).expect("fired twice / cancelled");
            assert_eq!(live_key, key);
            assert!(
                deadline <= self.now,
                "early: deadline {deadline} at {}",
                self.now
            );
            assert!(self.due_at_insert.contains(&id) || deadline <= self.due_limit());
            self.due_at_insert.remove(&id);
            assert!(self.by_deadline.remove(&(deadline, id)).is_some());
            self.dead.push(key);
        }
    }

    fn run_poll(wheel: &mut TimerWheel<u64>, model: &mut Model, now: u64, budget: usize) -> usize {
        let mut fired = Vec::new();
        let n = wheel.poll(now, budget, |key, id| fired.push((key, id)));
        assert_eq!(n, fired.len());
        assert!(n <= budget);
        if now < model.now || budget == 0 {
            // Time going backwards and a zero budget are no-ops; the time is not recorded.
            assert_eq!(n, 0, "fired while time went backwards or with no budget");
            return n;
        }
        model.now = now;
        for (key, id) in fired {
            model.fired(key, id);
        }
        if budget == usize::MAX {
            assert!(
                !wheel.has_due_work(now / model.tick),
                "unbounded poll left work"
            );
        }
        n
    }

    fn check(wheel: &TimerWheel<u64>, model: &Model) {
        wheel.check_invariants();
        assert_eq!(wheel.len(), model.live.len());
        assert_eq!(wheel.is_empty(), model.live.is_empty());
        let now_tick = model.now / model.tick;
        let due_work = wheel.has_due_work(now_tick);
        match wheel.next_expiration() {
            None => assert!(model.live.is_empty()),
            Some(next) => {
                // Never later than the earliest deadline (rounded up), nor earlier than now.
                let earliest = model
                    .by_deadline
                    .iter()
                    .map(|(&(deadline, id), _)| {
                        if model.due_at_insert.contains(&id) {
                            model.now
                        } else {
                            round_up(deadline, model.tick)
                                .max(u128::from(model.now))
                                .min(u128::from(u64::MAX)) as u64
                        }
                    })
                    .min()
                    .expect("next_expiration on an empty wheel");
                assert!(
                    next <= earliest,
                    "next_expiration {next} > earliest {earliest}"
                );
                assert!(next >= model.now);
                if next <= model.now && next < u64::MAX {
                    assert!(due_work);
                }
                if due_work {
                    assert_eq!(next, model.now);
                }
            }
        }
        if !due_work {
            assert!(!model.any_due(), "due entries left with no work scheduled");
        }
        for (key, deadline) in model.live.values() {
            assert_eq!(wheel.deadline(*key), Some(*deadline));
        }
        for key in model.dead.iter().rev().take(16) {
            assert_eq!(wheel.deadline(*key), None);
        }
    }

    fn run_ops(tick: u64, start: u64, ops: &[Op]) {
        let mut wheel = TimerWheel::new(tick, start);
        let mut model = Model {
            tick: tick.max(1),
            now: start,
            by_deadline: BTreeMap::new(),
            live: BTreeMap::new(),
            due_at_insert: BTreeSet::new(),
            dead: Vec::new(),
            next_id: 0,
        };
        for op in ops {
            match *op {
                Op::Insert {
                    count,
                    kind,
                    amount,
                } => {
                    for i in 0..count {
                        let amount = amount.wrapping_add(i.wrapping_mul(0x9e37_79b9));
                        insert(&mut wheel, &mut model, kind, amount);
                    }
                }
                Op::Cancel(pick) => {
                    if model.live.is_empty() {
                        continue;
                    }
                    let (&id, &(key, deadline)) = model
                        .live
                        .iter()
                        .nth(pick % model.live.len())
                        .expect("pick");
                    assert_eq!(wheel.cancel(key), Some(id));
                    assert_eq!(wheel.cancel(key), None);
                    model.live.remove(&id);
                    model.by_deadline.remove(&(deadline, id));
                    model.due_at_insert.remove(&id);
                    model.dead.push(key);
                }
                Op::CancelStale(pick) => {
                    if !model.dead.is_empty() {
                        let key = model.dead[pick % model.dead.len()];
                        assert_eq!(wheel.cancel(key), None);
                    }
                }
                Op::Poll { advance, budget } => {
                    let now = model.now.saturating_add(advance);
                    run_poll(&mut wheel, &mut model, now, budget);
                }
                Op::PollBackwards(back) => {
                    let before = (wheel.len(), wheel.next_expiration());
                    let now = model.now.saturating_sub(back);
                    if now < model.now {
                        assert_eq!(run_poll(&mut wheel, &mut model, now, usize::MAX), 0);
                        assert_eq!((wheel.len(), wheel.next_expiration()), before);
                    }
                }
                Op::Drain(budget) => drain(&mut wheel, &mut model, budget.max(1)),
                Op::Reschedule { pick, kind, amount } => {
                    if let Some(&key) = model.dead.get(pick % model.dead.len().max(1)) {
                        assert!(!wheel.reschedule(key, amount));
                    }
                    if model.live.is_empty() {
                        continue;
                    }
                    let (&id, &(key, old)) = model
                        .live
                        .iter()
                        .nth(pick % model.live.len())
                        .expect("pick");
                    let deadline = deadline_for(&model, kind, amount);
                    assert!(wheel.reschedule(key, deadline));
                    model.live.insert(id, (key, deadline));
                    model.by_deadline.remove(&(old, id));
                    model.by_deadline.insert((deadline, id), key);
                    // Moving to the same deadline changes nothing; otherwise the entry is
                    // placed as an insert would place it.
                    if deadline != old {
                        if deadline <= model.now {
                            model.due_at_insert.insert(id);
                        } else {
                            model.due_at_insert.remove(&id);
                        }
                    }
                }
            }
            check(&wheel, &model);
        }
        drain(&mut wheel, &mut model, 1);
        check(&wheel, &model);
        assert!(!model.any_due());
    }

    fn insert(wheel: &mut TimerWheel<u64>, model: &mut Model, kind: u8, amount: u64) {
        let deadline = deadline_for(model, kind, amount);
        let id = model.next_id;
        model.next_id += 1;
        let key = wheel.insert(deadline, id);
        model.live.insert(id, (key, deadline));
        model.by_deadline.insert((deadline, id), key);
        if deadline <= model.now {
            model.due_at_insert.insert(id);
        }
    }

    /// A deadline of kind `kind` (0 to 6) relative to the model's time.
    fn deadline_for(model: &Model, kind: u8, amount: u64) -> u64 {
        let now = model.now;
        match kind {
            0 => now.saturating_sub(amount % 5_000),
            1 => now.saturating_add(amount % 2_000),
            2 => now.saturating_add(amount % (1 << 24)),
            3 => now.saturating_add(amount % (1 << 42)),
            4 => u64::MAX - amount % 1_000,
            // Clustered: many entries share one high-level slot, so cascading that slot takes
            // several polls when budgets are small.
            5 => (now >> 20).saturating_add(1).saturating_mul(1 << 20) | (amount % 512),
            // Around a level boundary (a multiple of 64^k ticks).
            _ => {
                let level_span = 64u64.pow((amount % 7) as u32) * model.tick;
                let base = (now / level_span).saturating_add(1 + (amount >> 8) % 3);
                base.saturating_mul(level_span)
                    .saturating_add((amount >> 16) % 3)
                    .saturating_sub(1)
            }
        }
    }

    /// Polls at the current time until no work is due; every poll must make progress.
    fn drain(wheel: &mut TimerWheel<u64>, model: &mut Model, budget: usize) {
        let now = model.now;
        let mut polls = 0;
        while wheel.has_due_work(now / model.tick) {
            polls += 1;
            assert!(polls <= 100_000, "no progress");
            run_poll(wheel, model, now, budget);
            check(wheel, model);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn model_based(
            tick in prop_oneof![Just(1u64), Just(10), Just(1_000), 1u64..50],
            start in prop_oneof![
                2 => 0u64..1_000,
                2 => 0u64..(1 << 50),
                1 => (u64::MAX - (1 << 41))..=u64::MAX,
            ],
            ops in prop::collection::vec(op(), 1..300),
        ) {
            run_ops(tick, start, &ops);
        }

        /// The same with entries moved by `reschedule`.
        #[test]
        fn model_based_with_reschedule(
            tick in prop_oneof![Just(1u64), Just(10), Just(1_000), 1u64..50],
            start in prop_oneof![
                2 => 0u64..1_000,
                2 => 0u64..(1 << 50),
                1 => (u64::MAX - (1 << 41))..=u64::MAX,
            ],
            ops in prop::collection::vec(op_with_reschedule(), 1..300),
        ) {
            run_ops(tick, start, &ops);
        }
    }
}
