//! Parses a request (strict, then lenient); when it parses, writes a 200 response with
//! `writer::status_line` + `writer::echo_headers` (ViaAmend from fixed addresses) +
//! `writer::finish_empty` and re-parses it with the strict parser: it must frame as that
//! response. See `registrar_fuzz::check_write_response`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    registrar_fuzz::check_write_response(data);
});
