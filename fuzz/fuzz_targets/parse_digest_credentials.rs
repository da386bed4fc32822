//! `header::parse_credentials` (Authorization / Proxy-Authorization values): every returned
//! value is a subslice of the input. See `registrar_fuzz::check_credentials`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_credentials(data);
});
