//! `Uri::parse` on the input and on its two halves (split at the first LF, else in the
//! middle): views borrow from the input, `rfc_eq` is reflexive, and symmetric between the
//! halves. See `registrar_fuzz::check_uri`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_uri(data);
});
