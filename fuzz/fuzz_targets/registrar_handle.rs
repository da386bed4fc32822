//! Drives the whole registrar (`Registrar::handle`, default configuration) with up to four
//! messages split at "\0\0": every response it sends, including the 400 it salvages from a
//! request that does not parse, must frame under the strict parser as one response with the
//! outcome's status code. See `registrar_fuzz::check_registrar`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_registrar(data);
});
