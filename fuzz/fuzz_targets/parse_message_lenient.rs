//! `parse_message` with every `Leniency` flag on (bare LF line ends, several spaces in the
//! request line). See `registrar_fuzz::check_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_message(data, &registrar_fuzz::lenient());
});
