//! A fixed workload for instruction-count profiling (callgrind): registers `AORS` AoRs, then
//! refreshes them `ROUNDS` times. `valgrind --tool=callgrind target/release/examples/refresh_loop`
//! gives instructions per refresh = (total - setup) / refreshes; counts, unlike times, do not
//! depend on what else the machine is doing.

use registrar::registrar::{Config, Millis, Registrar, Source, Transport, UnixTime};

const AORS: u32 = 10_000;
const ROUNDS: u32 = 10;

fn main() {
    let src = Source {
        addr: "10.0.0.1:5060".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut reg = Registrar::new(Config::default(), Millis(0)).unwrap();
    let mut out = Vec::with_capacity(2048);
    let mut n = 0u64;
    for round in 0..=ROUNDS {
        for user in 0..AORS {
            let msg = format!(
                "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
From: \"User\" <sip:u{user:07}@example.com>;tag=a73kszlfl\r\n\
To: \"User\" <sip:u{user:07}@example.com>\r\n\
Call-ID: c{user:07}-1j9FpLxk3uxtm8tn@10.0.0.1\r\n\
CSeq: {cseq} REGISTER\r\n\
Contact: <sip:u{user:07}@10.0.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1;expires=3600\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY, REFER, INFO\r\n\
Supported: path, gruu, replaces\r\n\
User-Agent: Bench softphone 1.0\r\n\
Content-Length: 0\r\n\r\n",
                cseq = round + 1
            );
            reg.handle(
                Millis(u64::from(round) * 1000),
                UnixTime(1_795_564_800),
                src,
                msg.as_bytes(),
                &mut out,
            );
            n += 1;
        }
    }
    println!(
        "{n} requests, {} accepted, {} rejected",
        reg.stats().accepted,
        reg.stats().rejected
    );
}
