//! Frames arbitrary bytes as a datagram and as a stream with the strict (default) parser
//! configuration and checks the framing properties, then types the message as a request and
//! runs `check_all_headers`. See `registrar_fuzz::check_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_message(data, &registrar_fuzz::strict());
});
