//! `registrar::journal::decode` (the persistence records) on arbitrary bytes. See
//! `registrar_fuzz::check_journal`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_journal(data);
});
