//! Cache prefetch hints (no effect on program state).

/// Asks the CPU to start loading the cache line holding `at` (and, for values that span
/// several lines, the following ones up to `size_of::<T>()`). A hint only: nothing is read
/// as far as the program can tell, and any address is allowed.
#[inline(always)]
pub fn read<T>(at: &T) {
    let p = (at as *const T).cast::<u8>();
    let size = std::mem::size_of::<T>().max(1);
    let mut off = 0;
    while off < size {
        line(p.wrapping_add(off));
        off += 64;
    }
    // The last byte's line, when the value straddles one more line than its size implies.
    line(p.wrapping_add(size - 1));
}

/// Prefetches the cache line holding the first byte of `bytes` (nothing for an empty slice)
/// and, for longer slices, the next one.
#[inline(always)]
pub fn bytes(bytes: &[u8]) {
    if let Some(first) = bytes.first() {
        line(first as *const u8);
        if bytes.len() > 64 {
            line(bytes[64..].as_ptr());
        }
    }
}

#[inline(always)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it never faults, whatever the address, and has no
    // effect the program can observe besides timing. SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
