//! A fixed workload for instruction-count profiling (callgrind): registers `AORS` AoRs, then
//! refreshes them `ROUNDS` times, building each request by patching fixed-width digits into a
//! template (as bench/handle.rs does) so that request building costs next to nothing.
//! `valgrind --tool=callgrind target/release/examples/refresh_loop`, then
//! `callgrind_annotate --inclusive=yes`: instructions per request = count / requests.
//! `refresh_loop AORS ROUNDS` changes the defaults (10000, 10); `refresh_loop 10000 0` only
//! inserts, which profiles new registrations.

use registrar::registrar::{Config, Millis, Registrar, Source, Transport, UnixTime};

const AORS: u32 = 10_000;
const ROUNDS: u32 = 10;

fn arg(i: usize, default: u32) -> u32 {
    std::env::args()
        .nth(i)
        .map_or(default, |a| a.parse().expect("a number"))
}

const TEMPLATE: &[u8] = include_bytes!("../tests/data/refresh-template.sip");

fn digits<const N: usize>(mut n: u32) -> [u8; N] {
    let mut d = [b'0'; N];
    for i in (0..N).rev() {
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    d
}

fn main() {
    let (aors, rounds) = (arg(1, AORS), arg(2, ROUNDS));
    let src = Source {
        addr: "10.0.0.1:5060".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut reg = Registrar::new(Config::default(), Millis(0)).unwrap();
    let mut out = Vec::with_capacity(2048);
    // The persistence journal is drained after every request, as the handle bench and the
    // shell do.
    let mut journal = Vec::with_capacity(4096);
    let mut msg = TEMPLATE.to_vec();
    let find = |pat: &[u8]| -> Vec<usize> {
        TEMPLATE
            .windows(pat.len())
            .enumerate()
            .filter(|(_, w)| *w == pat)
            .map(|(i, _)| i)
            .collect()
    };
    let users: Vec<usize> = find(b"u0000000")
        .into_iter()
        .chain(find(b"c0000000"))
        .map(|i| i + 1)
        .collect();
    let cseq_at = find(b"0000000001")[0];
    let mut n = 0u64;
    for round in 0..=rounds {
        msg[cseq_at..cseq_at + 10].copy_from_slice(&digits::<10>(round + 1));
        for user in 0..aors {
            let u = digits::<7>(user);
            for &at in &users {
                msg[at..at + 7].copy_from_slice(&u);
            }
            reg.handle(
                Millis(u64::from(round) * 1000),
                UnixTime(1_795_564_800),
                src,
                &msg,
                &mut out,
            );
            reg.take_journal(&mut journal);
            n += 1;
        }
    }
    println!(
        "{n} requests, {} accepted, {} rejected",
        reg.stats().accepted,
        reg.stats().rejected
    );
}
