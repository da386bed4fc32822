//! `registrar`: the appliance binary.
//!
//! The network runtime (shards, sockets, configuration file) lands with issue 3. Until then
//! the binary runs a self-check of the sans-IO core with its embedded defaults: it registers a
//! contact, looks it up through a redirect, and prints the exchange.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use registrar::registrar::{Config, Millis, Outcome, Registrar, Source, Transport, UnixTime};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK-selfcheck-1\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=selfcheck\r\n\
To: <sip:alice@example.com>\r\n\
Call-ID: selfcheck-1@127.0.0.1\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:alice@127.0.0.1:5070>;expires=300\r\n\
Content-Length: 0\r\n\r\n";

const INVITE: &str = "INVITE sip:alice@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-selfcheck-2\r\n\
Max-Forwards: 70\r\n\
From: <sip:bob@example.com>;tag=caller\r\n\
To: <sip:alice@example.com>\r\n\
Call-ID: selfcheck-2@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";

fn main() {
    let start = Instant::now();
    let wall = || {
        UnixTime(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
    };
    let now = || Millis(start.elapsed().as_millis() as u64);
    let mut core = match Registrar::new(Config::default(), now()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("registrar: bad configuration: {e}");
            std::process::exit(2);
        }
    };
    let src = Source {
        addr: "127.0.0.1:5070".parse().expect("literal"),
        transport: Transport::Udp,
    };
    let mut out = Vec::new();
    println!(
        "registrar {}: self-check of the RFC 3261 core (the network runtime comes with issue 3)",
        env!("CARGO_PKG_VERSION")
    );
    let mut ok = true;
    for (msg, want) in [(REGISTER, 200), (INVITE, 302)] {
        let outcome = core.handle(now(), wall(), src, msg.as_bytes(), &mut out);
        println!(
            "\n>>> {}\n<<< {}",
            msg.lines().next().unwrap_or(""),
            String::from_utf8_lossy(&out).trim_end()
        );
        ok &= matches!(outcome, Outcome::Respond { code, .. } if code == want);
    }
    println!("\nstats: {:?}", core.stats());
    if !ok {
        eprintln!("registrar: self-check FAILED");
        std::process::exit(1);
    }
    println!("self-check passed");
}
