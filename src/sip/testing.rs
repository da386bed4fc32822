//! Helpers for the parsers' randomised tests: a seeded generator and byte-level mutation, so
//! each test states only its seeds, alphabet and the property it checks.

/// A xorshift64 generator: `rnd(n)` gives a number below `n`. Deterministic per seed, so a
/// failing case reproduces.
pub(crate) fn rnd(seed: u64) -> impl FnMut(usize) -> usize {
    let mut x = seed;
    move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    }
}

/// One random edit of `v` with a byte of `alphabet`: insert, remove, replace, or append.
pub(crate) fn mutate(v: &mut Vec<u8>, alphabet: &[u8], rnd: &mut impl FnMut(usize) -> usize) {
    let at = rnd(v.len() + 1);
    let b = alphabet[rnd(alphabet.len())];
    match rnd(3) {
        0 => v.insert(at, b),
        1 if at < v.len() => {
            v.remove(at);
        }
        _ if at < v.len() => v[at] = b,
        _ => v.push(b),
    }
}

/// Calls `check` with `base` changed in one byte, for every position below `upto` and every
/// byte value: the exhaustive neighbourhood a fast path is compared with the general one on.
pub(crate) fn each_one_byte_change(base: &[u8], upto: usize, mut check: impl FnMut(&[u8])) {
    let mut l = base.to_vec();
    for i in 0..upto.min(base.len()) {
        for b in 0..=255u8 {
            l[i] = b;
            check(&l);
        }
        l[i] = base[i];
    }
}
