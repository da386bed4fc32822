//! Stock SIP clients from Debian's packages against the real binary: SIPp (`sip-tester`)
//! registers and is found by a redirect lookup over UDP and TCP; sipsak registers a contact
//! that a lookup then finds. `./test.sh` installs both.

mod support;

use std::path::Path;
use std::process::Command;

use support::request;
use support::server::{Server, UdpUa, total};

fn tool(name: &str) -> &str {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: ./test.sh installs it (Debian packages sip-tester, sipsak)"
    );
    name
}

fn sipp(server: &Server, transport: &str, calls: u32) {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/sipp/register-lookup.xml");
    let target = match transport {
        "t1" => server.tcp,
        _ => server.udp,
    };
    let dir = std::env::temp_dir();
    let out = Command::new(tool("sipp"))
        .current_dir(&dir)
        .arg("-sf")
        .arg(&scenario)
        .args(["-t", transport, "-m", &calls.to_string(), "-r", "200"])
        .args(["-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "30s"])
        .args(["-recv_timeout", "5s"])
        .arg(target.to_string())
        .output()
        .expect("run sipp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sipp {transport} failed ({}):\n{}\n{}",
        out.status,
        stdout.lines().rev().take(40).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sipp_registers_and_is_found_by_a_redirect_lookup_over_udp_and_tcp() {
    let server = Server::start(2, &[]);
    sipp(&server, "u1", 200);
    sipp(&server, "t1", 100);
    let (shards, log) = server.stop();
    // Every REGISTER accepted and every INVITE redirected, whichever shard owned the AoR.
    assert_eq!(total(&shards, "accepted"), 300, "{log:#?}");
    assert_eq!(total(&shards, "redirects"), 300);
    assert!(total(&shards, "handed_off") > 0);
}

#[test]
fn sipsak_registers_a_contact_that_a_lookup_finds() {
    let server = Server::start(2, &[]);
    let out = Command::new(tool("sipsak"))
        .args(["-U", "-C", "sip:dave@127.0.0.1:5099", "-x", "300", "-s"])
        .arg(format!("sip:dave@127.0.0.1:{}", server.udp.port()))
        .output()
        .expect("run sipsak");
    assert!(
        out.status.success(),
        "sipsak: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ua = UdpUa::new(server.udp);
    let r = ua.send(&request("INVITE", "sip:dave@127.0.0.1"));
    assert_eq!(r.code, 302, "{}", r.raw);
    assert!(
        r.contacts()[0].starts_with("<sip:dave@127.0.0.1:5099>"),
        "{}",
        r.raw
    );
}
