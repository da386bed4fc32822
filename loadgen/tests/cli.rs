//! Runs the real `loadgen` binary against `loadgen responder`, a silent socket and the real
//! registrar binary on 127.0.0.1 ephemeral ports. Every run is bounded (--requests/--duration,
//! short timeouts) and every child is killed on drop.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd`, waits (up to 60 s) for a stderr line containing `listening udp:ADDR`, returns
/// the child and the address.
fn start_listening(mut cmd: Command) -> (Proc, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(i) = line.find("listening udp:") {
                let addr: String = line[i + 14..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != ',')
                    .collect();
                let _ = tx.send(addr);
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server did not report its listening address");
    (Proc(child), addr)
}

fn responder(extra: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(LOADGEN);
    cmd.args(["responder", "--listen", "127.0.0.1:0", "--duration", "120"])
        .args(extra);
    start_listening(cmd)
}

fn tmp_json(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("loadgen-test-{}-{tag}.json", std::process::id()))
}

/// Runs `loadgen run` with `args`, bounded at 90 s; returns the JSON result.
fn run(tag: &str, target: &str, args: &[&str]) -> Value {
    let json = tmp_json(tag);
    let out = Command::new("timeout")
        .arg("90")
        .arg(LOADGEN)
        .args(["run", "--target", target, "--quiet", "--timeout-ms", "5000"])
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run loadgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen {args:?} failed: {stderr}");
    let text = std::fs::read_to_string(&json).expect("json file");
    let _ = std::fs::remove_file(&json);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON {e}: {text}"))
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("field {k} missing or not a count in {v}"))
}

fn assert_all_ok(v: &Value, expect_sent: Option<u64>) {
    assert_eq!(n(v, "failed"), 0, "{v}");
    assert_eq!(n(v, "ok"), n(v, "sent"), "{v}");
    assert!(n(v, "sent") > 0, "{v}");
    if let Some(e) = expect_sent {
        assert_eq!(n(v, "sent"), e, "{v}");
    }
}

#[test]
fn udp_against_responder_and_json_fields() {
    let (_r, addr) = responder(&[]);
    let v = run(
        "udp",
        &addr,
        &[
            "--scenario",
            "register",
            "--max",
            "--requests",
            "5000",
            "--users",
            "700",
        ],
    );
    assert_all_ok(&v, Some(5000));
    for k in [
        "scenario",
        "transport",
        "target",
        "rate",
        "threads",
        "users",
        "duration_s",
        "sent",
        "ok",
        "failed",
        "retransmissions",
        "ok_per_sec",
        "latency_us",
        "loadgen_cpu_s",
        "saturated",
    ] {
        assert!(v.get(k).is_some(), "JSON lacks {k}: {v}");
    }
    for k in ["p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_us"][k].is_u64(), "latency_us lacks {k}: {v}");
    }
    assert_eq!(v["scenario"], "register");
    assert_eq!(v["transport"], "udp");
    assert!(v["ok_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["loadgen_cpu_s"].as_f64().unwrap() >= 0.0);
    assert!(v["saturated"].is_boolean());
}

#[test]
fn server_pid_reports_the_servers_cpu_over_the_measured_phase() {
    let (r, addr) = responder(&[]);
    let pid = r.0.id().to_string();
    let v = run(
        "server-pid",
        &addr,
        &[
            "--scenario",
            "refresh",
            "--users",
            "500",
            "--max",
            "--requests",
            "20000",
            "--server-pid",
            &pid,
        ],
    );
    assert_all_ok(&v, Some(20000));
    let cpu = v["server_cpu_s"].as_f64().expect("server_cpu_s");
    assert!(
        cpu > 0.0,
        "the responder answered 20000 requests in no CPU time: {v}"
    );
    let per = v["ok_per_server_cpu_s"]
        .as_f64()
        .expect("ok_per_server_cpu_s");
    assert!((per * cpu - 20000.0).abs() < 1.0, "{v}");
    // Without --server-pid the fields are null.
    let v = run(
        "no-server-pid",
        &addr,
        &["--scenario", "register", "--max", "--requests", "10"],
    );
    assert!(
        v["server_cpu_s"].is_null() && v["ok_per_server_cpu_s"].is_null(),
        "{v}"
    );
    // A process that does not exist is an error that names the option.
    let out = Command::new(LOADGEN)
        .args([
            "run",
            "--target",
            &addr,
            "--quiet",
            "--max",
            "--requests",
            "10",
        ])
        .args(["--server-pid", "999999999"])
        .output()
        .expect("run loadgen");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--server-pid 999999999"), "{err}");
}

#[test]
fn tcp_against_responder() {
    let (_r, addr) = responder(&[]);
    let v = run(
        "tcp",
        &addr,
        &[
            "--transport",
            "tcp",
            "--scenario",
            "refresh",
            "--max",
            "--requests",
            "5000",
            "--users",
            "500",
            "--threads",
            "2",
            "--sockets",
            "2",
        ],
    );
    assert_all_ok(&v, Some(5000));
    assert_eq!(v["transport"], "tcp");
    assert_eq!(n(&v["prepare"], "ok"), 500);
}

#[test]
fn open_loop_rate_is_paced() {
    let (_r, addr) = responder(&[]);
    let v = run(
        "rate",
        &addr,
        &[
            "--scenario",
            "mix",
            "--rate",
            "4000",
            "--duration",
            "1",
            "--users",
            "300",
            "--no-gso",
        ],
    );
    assert_all_ok(&v, None);
    let sent = n(&v, "sent");
    assert!(
        (3600..=4400).contains(&sent),
        "sent {sent} at 4000/s for 1 s"
    );
}

#[test]
fn auth_md5_and_sha256_against_challenging_responder() {
    for (alg, offer) in [("md5", "md5"), ("sha-256", "sha-256"), ("sha-256", "both")] {
        let (_r, addr) = responder(&["--challenge", "--password", "pw1", "--algorithm", offer]);
        let v = run(
            &format!("auth-{alg}"),
            &addr,
            &[
                "--scenario",
                "auth",
                "--max",
                "--requests",
                "1000",
                "--users",
                "100",
                "--password",
                "pw1",
                "--algorithm",
                alg,
            ],
        );
        // Each operation is a challenged REGISTER (401, expected) and an authorised one (200).
        assert_all_ok(&v, Some(2000));
        assert_eq!(n(&v, "challenges"), 1000, "{v}");
        assert_eq!(n(&v["status_classes"], "2xx"), 1000, "{v}");
        // A wrong password: the second legs get 403.
        let bad = run(
            &format!("auth-bad-{alg}"),
            &addr,
            &[
                "--scenario",
                "auth",
                "--max",
                "--requests",
                "200",
                "--users",
                "50",
                "--password",
                "nope",
                "--algorithm",
                alg,
            ],
        );
        assert!(n(&bad, "failed") > 0, "{bad}");
        assert_eq!(n(&bad, "failed"), 200, "{bad}");
    }
    // Asking for SHA-256 from a server that only offers MD5 fails too.
    let (_r, addr) = responder(&["--challenge", "--password", "pw1", "--algorithm", "md5"]);
    let v = run(
        "auth-mismatch",
        &addr,
        &[
            "--scenario",
            "auth",
            "--max",
            "--requests",
            "10",
            "--users",
            "10",
            "--password",
            "pw1",
            "--algorithm",
            "sha-256",
        ],
    );
    assert_eq!(n(&v, "failed"), 10, "{v}");
}

#[test]
fn retransmits_after_a_drop() {
    let (_r, addr) = responder(&["--drop-first", "1"]);
    let v = run(
        "drop",
        &addr,
        &[
            "--scenario",
            "register",
            "--max",
            "--window",
            "1",
            "--requests",
            "3",
            "--users",
            "3",
        ],
    );
    assert_all_ok(&v, Some(3));
    assert!(n(&v, "retransmissions") >= 1, "{v}");
    // The retransmission came 500 ms (T1) after the first send.
    assert!(v["latency_us"]["max"].as_u64().unwrap() >= 500_000, "{v}");
}

#[test]
fn silent_target_retransmits_then_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let json = tmp_json("silent");
    let out = Command::new("timeout")
        .arg("30")
        .arg(LOADGEN)
        .args([
            "run",
            "--target",
            &addr,
            "--quiet",
            "--max",
            "--requests",
            "2",
            "--users",
            "2",
        ])
        .args(["--timeout-ms", "1600", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    // Timer E: at 500 ms and 1500 ms; Timer F (here 1600 ms) ends each transaction.
    assert_eq!(n(&v, "retransmissions"), 4, "{v}");
    assert_eq!(n(&v, "failed"), 2, "{v}");
    assert_eq!(n(&v, "failed_timeout"), 2, "{v}");
    assert_eq!(n(&v, "ok"), 0, "{v}");
    // The target got each request three times.
    let mut buf = [0u8; 2048];
    silent.set_nonblocking(true).unwrap();
    let mut got = 0;
    while silent.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    assert_eq!(got, 6);
}

/// The registrar binary of this workspace: target/{release,debug}/registrar next to this test's
/// target dir or the workspace's; built with `cargo build -p registrar` if none exists.
fn registrar_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/cli-HASH
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap();
    let ws_target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    for dir in [target, ws_target.as_path()] {
        for profile in ["release", "debug"] {
            let p = dir.join(profile).join("registrar");
            if p.is_file() {
                return p;
            }
        }
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "registrar", "--bin", "registrar"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .status()
        .expect("cargo build -p registrar");
    assert!(status.success());
    target.join("debug").join("registrar")
}

fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn registrar() -> (Proc, String) {
    let bin = registrar_bin();
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--listen",
        &format!("udp:127.0.0.1:{port}"),
        "--listen",
        &format!("tcp:127.0.0.1:{port}"),
        "--shards",
        "1",
        "--cores",
        "0",
    ]);
    let (p, _) = start_listening(cmd);
    (p, format!("127.0.0.1:{port}"))
}

#[test]
fn every_scenario_against_the_registrar() {
    let (_reg, addr) = registrar();
    let mut offset = 0u64;
    for (scenario, transport) in [
        ("register", "udp"),
        ("refresh", "udp"),
        ("unregister", "udp"),
        ("wildcard", "udp"),
        ("query", "udp"),
        ("auth", "udp"),
        ("mix", "udp"),
        ("register", "tcp"),
        ("refresh", "tcp"),
        ("mix", "tcp"),
    ] {
        // Fresh users per run, so that inserts are inserts.
        let off = offset.to_string();
        offset += 10_000;
        let v = run(
            &format!("reg-{scenario}-{transport}"),
            &addr,
            &[
                "--scenario",
                scenario,
                "--transport",
                transport,
                "--max",
                "--requests",
                "3000",
                "--users",
                "1000",
                "--user-offset",
                &off,
                "--window",
                "64",
                "--mix",
                "register=1,refresh=4,query=2,unregister=1,wildcard=1,auth=1",
            ],
        );
        assert_all_ok(&v, None);
        assert_eq!(v["scenario"], scenario);
        if v["prepare"].is_object() {
            assert_eq!(n(&v["prepare"], "ok"), 1000, "{v}");
            assert_eq!(n(&v["prepare"], "failed"), 0, "{v}");
        }
    }
}

#[test]
fn udp_gso_trains_against_gso_responder() {
    let (_r, addr) = responder(&["--gso"]);
    let v = run(
        "gso",
        &addr,
        &[
            "--scenario",
            "refresh",
            "--max",
            "--requests",
            "20000",
            "--users",
            "2000",
        ],
    );
    assert_all_ok(&v, Some(20000));
    assert_eq!(n(&v["prepare"], "ok"), 2000);
    // And ordinary datagrams (no GSO) are answered too.
    let v = run(
        "gso-plain",
        &addr,
        &[
            "--scenario",
            "query",
            "--max",
            "--requests",
            "3000",
            "--users",
            "300",
            "--no-gso",
        ],
    );
    assert_all_ok(&v, Some(3000));
}

#[test]
fn echo_scenario_counts_echoed_requests() {
    let mut cmd = Command::new(LOADGEN);
    cmd.args(["echo", "--listen", "127.0.0.1:0", "--duration", "120"]);
    let (_e, addr) = start_listening(cmd);
    let v = run(
        "echo",
        &addr,
        &[
            "--scenario",
            "echo",
            "--max",
            "--requests",
            "3000",
            "--users",
            "300",
        ],
    );
    assert_all_ok(&v, Some(3000));
    assert_eq!(v["scenario"], "echo");
    // A REGISTER scenario against the same echo gets no SIP answers: all time out (5 s).
    let v = run(
        "echo-not-sip",
        &addr,
        &[
            "--scenario",
            "register",
            "--max",
            "--requests",
            "5",
            "--users",
            "5",
        ],
    );
    assert_eq!(n(&v, "ok"), 0);
    assert_eq!(n(&v, "failed"), 5);
}
