//! The real binary on 127.0.0.1, spoken to over UDP and TCP (RFC 3261 §10.3 through the
//! runtime: sharding, handoff, transports, limits, configuration errors).

mod support;

use std::process::Command;
use std::time::Duration;

use support::server::{Server, TcpUa, UdpUa, binary, tcp_text, total, udp_text};
use support::{register, request};

const AORS: usize = 24;

fn contact(i: usize) -> String {
    format!("<sip:user{i}@127.0.0.1:6{:03}>", i)
}

/// Many AoRs registered from several sockets: with two shards and a random per-process key,
/// about half land on a shard that does not own them, so every step below crosses shards.
fn udp_register_refresh_query_redirect_remove_across_two_shards(backend: &str) {
    let server = Server::start(2, &["--backend", backend]);
    let uas: Vec<UdpUa> = (0..4).map(|_| UdpUa::new(server.udp)).collect();
    for i in 0..AORS {
        let user = format!("user{i}");
        let r = uas[i % 4].send(&register(&user).contact(&contact(i)).expires(600));
        assert_eq!(r.code, 200, "{}", r.raw);
        assert_eq!(
            r.expires_of(&contact(i)[1..contact(i).len() - 1]),
            Some(600)
        );
        assert!(r.header("Date").is_some());
    }
    for i in 0..AORS {
        let user = format!("user{i}");
        // Query from another socket (likely another shard): same binding.
        let q = uas[(i + 1) % 4].send(&register(&user).cseq(2));
        assert_eq!(q.code, 200);
        assert_eq!(q.contacts().len(), 1, "{}", q.raw);
        // Refresh from a third socket.
        let r = uas[(i + 2) % 4].send(&register(&user).contact(&contact(i)).expires(300).cseq(3));
        assert_eq!(r.code, 200);
        assert_eq!(r.contacts().len(), 1);
        // Redirect lookup.
        let inv = uas[(i + 3) % 4].send(&request("INVITE", &format!("sip:{user}@example.com")));
        assert_eq!(inv.code, 302, "{}", inv.raw);
        assert!(inv.contacts()[0].starts_with(&contact(i)), "{}", inv.raw);
    }
    // Remove half with Expires: 0, the rest with the wildcard.
    for i in 0..AORS {
        let user = format!("user{i}");
        let req = if i % 2 == 0 {
            register(&user).contact(&contact(i)).expires(0).cseq(4)
        } else {
            register(&user).contact("*").expires(0).cseq(4)
        };
        let r = uas[i % 4].send(&req);
        assert_eq!(r.code, 200, "{}", r.raw);
        assert!(r.contacts().is_empty());
        let inv = uas[(i + 1) % 4].send(&request("INVITE", &format!("sip:{user}@example.com")));
        assert_eq!(inv.code, 404, "{}", inv.raw);
    }
    let (shards, log) = server.stop();
    assert_eq!(shards.len(), 2, "{log:#?}");
    let handed = total(&shards, "handed_off");
    assert!(handed > 0, "no request crossed shards: {log:#?}");
    assert_eq!(handed, total(&shards, "from_peers"), "{log:#?}");
    assert_eq!(total(&shards, "handoff_dropped"), 0);
    assert_eq!(total(&shards, "bindings"), 0);
    // Every AoR was owned by exactly one shard: accepted REGISTERs sum to what was sent.
    assert_eq!(total(&shards, "accepted"), (AORS * 3) as u64);
}

fn redirect_orders_contacts_by_q_and_answers_options_404_405(backend: &str) {
    let server = Server::start(2, &["--backend", backend]);
    let ua = UdpUa::new(server.udp);
    let r = ua.send(
        &register("carol")
            .contact("<sip:carol@127.0.0.1:7001>;q=0.5")
            .contact("<sip:carol@127.0.0.1:7002>;q=0.9;methods=\"INVITE\""),
    );
    assert_eq!(r.code, 200, "{}", r.raw);
    let inv = ua.send(&request("INVITE", "sip:carol@example.com"));
    assert_eq!(inv.code, 302);
    let c = inv.contacts();
    assert!(
        c[0].starts_with("<sip:carol@127.0.0.1:7002>"),
        "{}",
        inv.raw
    );
    assert!(
        c[1].starts_with("<sip:carol@127.0.0.1:7001>"),
        "{}",
        inv.raw
    );
    let unknown = ua.send(&request("INVITE", "sip:nobody@example.com"));
    assert_eq!(unknown.code, 404);
    let opt = ua.send(&request("OPTIONS", "sip:example.com"));
    assert_eq!(opt.code, 200, "{}", opt.raw);
    assert!(opt.header("Allow").is_some_and(|a| a.contains("REGISTER")));
    // ACK is absorbed: nothing comes back; the next request is answered normally.
    ua.send_raw(udp_text(&request("ACK", "sip:carol@example.com")).as_bytes());
    let again = ua.send(&request("INVITE", "sip:carol@example.com").cseq(2));
    assert_eq!(again.code, 302);
    // CANCEL for a transaction the redirect server does not have: 481 (RFC 3261 §9.2).
    let cancel = ua.send(&request("CANCEL", "sip:carol@example.com").cseq(2));
    assert_eq!(cancel.code, 481, "{}", cancel.raw);
    let (shards, _) = server.stop();
    assert_eq!(total(&shards, "redirects"), 2);
    assert_eq!(total(&shards, "not_found"), 1);
}

fn bindings_expire_on_the_owner_shards_timer(backend: &str) {
    let server = Server::start(
        2,
        &[
            "--backend",
            backend,
            "--min-expires",
            "1",
            "--default-expires",
            "60",
        ],
    );
    let ua = UdpUa::new(server.udp);
    for i in 0..6 {
        let r = ua.send(
            &register(&format!("short{i}"))
                .contact(&contact(i))
                .expires(1),
        );
        assert_eq!(r.code, 200, "{}", r.raw);
    }
    // One second of expiry plus at most one tick (1 s) of lateness.
    std::thread::sleep(Duration::from_millis(2600));
    for i in 0..6 {
        let inv = ua.send(&request("INVITE", &format!("sip:short{i}@example.com")));
        assert_eq!(inv.code, 404);
    }
    let (shards, log) = server.stop();
    assert_eq!(total(&shards, "expired"), 6, "{log:#?}");
    assert_eq!(total(&shards, "bindings"), 0);
}

fn tcp_frames_several_messages_per_read_and_one_across_reads(backend: &str) {
    let server = Server::start(2, &["--backend", backend]);
    let mut ua = TcpUa::connect(server.tcp);
    // Eight REGISTERs in one write: several messages in one read.
    let mut batch = String::new();
    for i in 0..8 {
        batch += &tcp_text(&register(&format!("tcp{i}")).contact(&contact(i)));
    }
    ua.write(batch.as_bytes());
    let mut got: Vec<String> = (0..8)
        .map(|_| {
            let r = ua.recv().expect("response on the same connection");
            assert_eq!(r.code, 200, "{}", r.raw);
            r.header("To").unwrap().to_string()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..8)
        .map(|i| format!("<sip:tcp{i}@example.com>"))
        .collect();
    want.sort();
    for (g, w) in got.iter().zip(&want) {
        assert!(g.starts_with(w.as_str()), "{g} vs {w}");
    }
    // Far more than one read buffer and the message size limit in one write (about 60 KB):
    // every message is answered, none is left unread in the socket.
    let mut burst = String::new();
    for i in 0..150 {
        burst += &tcp_text(&register(&format!("burst{i}")).contact(&contact(i)));
    }
    assert!(burst.len() > 16384 + 16 * 1024, "{}", burst.len());
    ua.write(burst.as_bytes());
    for _ in 0..150 {
        let r = ua.recv().expect("every pipelined request answered");
        assert_eq!(r.code, 200, "{}", r.raw);
    }
    // One message dribbled over many writes.
    let msg = tcp_text(&request("INVITE", "sip:tcp3@example.com"));
    for piece in msg.as_bytes().chunks(7) {
        ua.write(piece);
        std::thread::sleep(Duration::from_millis(2));
    }
    let r = ua.recv().unwrap();
    assert_eq!(r.code, 302, "{}", r.raw);
    // RFC 5626 keep-alive: CRLFCRLF gets CRLF, and the connection stays usable.
    ua.write(b"\r\n\r\n");
    let q = tcp_text(&register("tcp3").cseq(2));
    ua.write(q.as_bytes());
    let r = ua.recv().unwrap();
    assert_eq!(r.code, 200);
    assert_eq!(r.contacts().len(), 1);
    drop(ua);
    let (shards, log) = server.stop();
    assert_eq!(total(&shards, "tcp_messages"), 160, "{log:#?}");
    assert_eq!(total(&shards, "tcp_keepalives"), 1);
    // Responses for AoRs owned by the other shard came back through this connection's shard.
    assert_eq!(
        total(&shards, "replies_forwarded"),
        total(&shards, "from_peers"),
        "{log:#?}"
    );
}

fn garbage_half_messages_and_oversized_messages_do_not_disturb_valid_ones(backend: &str) {
    let server = Server::start(2, &["--backend", backend]);
    let ua = UdpUa::new(server.udp);
    let ok = |ua: &UdpUa, user: &str| {
        let r = ua.send(&register(user).contact("<sip:x@127.0.0.1:7000>"));
        assert_eq!(r.code, 200, "{}", r.raw);
    };
    ok(&ua, "before");
    // Garbage datagrams: no Via to answer to, so dropped and counted.
    for g in [
        &b"\x00\x01\x02garbage"[..],
        b"REGISTER",
        b"\r\n\r\n",
        &[0xff; 300],
    ] {
        ua.send_raw(g);
    }
    ok(&ua, "between1");
    // A malformed request with a Via: 400 naming the problem.
    let bad = udp_text(&register("bad")).replacen("CSeq: 1 REGISTER", "CSeq: x REGISTER", 1);
    ua.send_raw(bad.as_bytes());
    let r = ua
        .recv()
        .expect("an answer to a malformed request with a Via");
    assert_eq!(r.code, 400);
    assert!(r.reason.contains("CSeq"), "{}", r.reason);
    // Oversized: over the 16 KiB default.
    let big = udp_text(&register("big").header(&format!("X-Pad: {}", "a".repeat(20_000))));
    ua.send_raw(big.as_bytes());
    let r = ua.recv().expect("an answer to an oversized request");
    assert_eq!(r.code, 513, "{}", r.raw);
    ok(&ua, "between2");

    // TCP: half a message then close; garbage on another; then a clean connection works.
    let mut half = TcpUa::connect(server.tcp);
    let msg = tcp_text(&register("half"));
    half.write(&msg.as_bytes()[..msg.len() / 2]);
    drop(half);
    let mut junk = TcpUa::connect(server.tcp);
    junk.write(b"HELLO\r\n\r\n");
    assert!(
        junk.closed_within(Duration::from_secs(3)),
        "garbage stream closed"
    );
    let mut big = TcpUa::connect(server.tcp);
    let _ = std::io::Write::write_all(&mut big.stream, &[b'a'; 20_000]);
    assert!(
        big.closed_within(Duration::from_secs(3)),
        "oversized stream closed"
    );
    let mut good = TcpUa::connect(server.tcp);
    good.write(tcp_text(&register("after").contact("<sip:y@127.0.0.1:7000>")).as_bytes());
    assert_eq!(good.recv().unwrap().code, 200);
    ok(&ua, "after-udp");
    // A stray response is dropped and counted.
    ua.send_raw(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n");
    ok(&ua, "after-response");
    let (shards, log) = server.stop();
    assert!(total(&shards, "tcp_framing_closed") >= 2, "{log:#?}");
    assert_eq!(total(&shards, "dropped_responses"), 1, "{log:#?}");
    assert!(total(&shards, "dropped_malformed") >= 3, "{log:#?}");
    assert_eq!(total(&shards, "accepted"), 6);
}

fn tcp_idle_partial_and_per_source_limits_close_connections(backend: &str) {
    let dir = std::env::temp_dir().join(format!("registrar-test-{}-{backend}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("limits.toml");
    std::fs::write(
        &conf,
        "[tcp]\nidle_timeout_s = 1\npartial_message_timeout_ms = 500\nmax_connections_per_source = 2\n",
    )
    .unwrap();
    // One shard: the per-source limit is per shard.
    let server = Server::start(
        1,
        &["--backend", backend, "--config", conf.to_str().unwrap()],
    );
    let mut idle = TcpUa::connect(server.tcp);
    let mut partial = TcpUa::connect(server.tcp);
    partial.write(b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1");
    // A third connection from the same address is refused (closed at once).
    let mut third = TcpUa::connect(server.tcp);
    assert!(third.closed_within(Duration::from_secs(2)));
    assert!(partial.closed_within(Duration::from_secs(3)));
    assert!(idle.closed_within(Duration::from_secs(4)));
    let (shards, log) = server.stop();
    assert_eq!(total(&shards, "tcp_refused"), 1, "{log:#?}");
    assert_eq!(total(&shards, "tcp_partial_closed"), 1);
    assert_eq!(total(&shards, "tcp_idle_closed"), 1);
    let _ = std::fs::remove_dir_all(dir);
}

fn start_error(args: &[&str]) -> String {
    let out = Command::new(binary())
        .args(args)
        .output()
        .expect("run registrar");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn bad_settings_stop_start_up_with_one_line_naming_the_key() {
    assert!(start_error(&["--shards", "0"]).contains("server.shards"));
    assert!(start_error(&["--cores", "4095"]).contains("server.cores"));
    assert!(
        start_error(&["--min-expires", "900", "--max-expires", "600"])
            .contains("registrar.min_expires")
    );
    assert!(start_error(&["--listen", "udp:127.0.0.1"]).contains("--listen"));
    assert!(start_error(&["--config", "/nonexistent/registrar.toml"]).contains("--config"));
}

/// `tuning.lock_memory`: the server starts, says whether it could lock its memory, and when
/// it could, the kernel shows the pages locked.
#[test]
fn lock_memory_locks_the_process_pages_or_warns_and_runs() {
    let path = std::env::temp_dir().join(format!("registrar-lock-{}.toml", std::process::id()));
    std::fs::write(&path, "[tuning]\nlock_memory = true\n").unwrap();
    let server = Server::start(1, &["--config", path.to_str().unwrap()]);
    let ua = UdpUa::new(server.udp);
    let r = ua.send(&register("alice").contact("<sip:alice@127.0.0.1:7000>"));
    assert_eq!(r.code, 200, "{}", r.raw);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let locked_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmLck in /proc/PID/status");
    let (_, log) = server.stop();
    let _ = std::fs::remove_file(&path);
    let said = |what: &str| log.iter().any(|l| l.contains(what));
    if said("every page is locked in memory") {
        assert!(locked_kib > 0, "locked, yet VmLck is 0: {log:#?}");
    } else {
        assert!(said("cannot lock the process's memory"), "{log:#?}");
    }
}

#[test]
fn help_documents_every_option_and_its_default() {
    let out = Command::new(binary()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--config",
        "--listen",
        "--shards",
        "--cores",
        "--domain",
        "--min-expires",
        "--max-expires",
        "--default-expires",
        "--max-contacts",
        "--data-dir",
    ] {
        assert!(help.contains(opt), "{opt} missing from --help");
    }
    assert!(help.contains("Default"), "{help}");
}

#[test]
fn udp_register_refresh_query_redirect_remove_across_two_shards_batched() {
    udp_register_refresh_query_redirect_remove_across_two_shards("batched");
}

#[test]
fn udp_register_refresh_query_redirect_remove_across_two_shards_glommio() {
    udp_register_refresh_query_redirect_remove_across_two_shards("glommio");
}

#[test]
fn redirect_orders_contacts_by_q_and_answers_options_404_405_batched() {
    redirect_orders_contacts_by_q_and_answers_options_404_405("batched");
}

#[test]
fn redirect_orders_contacts_by_q_and_answers_options_404_405_glommio() {
    redirect_orders_contacts_by_q_and_answers_options_404_405("glommio");
}

#[test]
fn bindings_expire_on_the_owner_shards_timer_batched() {
    bindings_expire_on_the_owner_shards_timer("batched");
}

#[test]
fn bindings_expire_on_the_owner_shards_timer_glommio() {
    bindings_expire_on_the_owner_shards_timer("glommio");
}

#[test]
fn tcp_frames_several_messages_per_read_and_one_across_reads_batched() {
    tcp_frames_several_messages_per_read_and_one_across_reads("batched");
}

#[test]
fn tcp_frames_several_messages_per_read_and_one_across_reads_glommio() {
    tcp_frames_several_messages_per_read_and_one_across_reads("glommio");
}

#[test]
fn garbage_half_messages_and_oversized_messages_do_not_disturb_valid_ones_batched() {
    garbage_half_messages_and_oversized_messages_do_not_disturb_valid_ones("batched");
}

#[test]
fn garbage_half_messages_and_oversized_messages_do_not_disturb_valid_ones_glommio() {
    garbage_half_messages_and_oversized_messages_do_not_disturb_valid_ones("glommio");
}

#[test]
fn tcp_idle_partial_and_per_source_limits_close_connections_batched() {
    tcp_idle_partial_and_per_source_limits_close_connections("batched");
}

#[test]
fn tcp_idle_partial_and_per_source_limits_close_connections_glommio() {
    tcp_idle_partial_and_per_source_limits_close_connections("glommio");
}
