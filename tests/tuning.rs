//! The tuning profiles shipped in `tuning/` are valid configurations for the machines they
//! name, and the kernel-settings script checks every setting it documents.

use std::path::Path;
use std::process::Command;

use registrar::config::AppConfig;

fn profile(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tuning")
            .join(name),
    )
    .unwrap()
}

#[test]
fn every_profile_is_valid_on_the_machine_it_is_for() {
    let machines: &[(&str, usize, usize)] = &[
        ("2-core.toml", 2, 2),
        ("bench-2-core.toml", 2, 1),
        ("16-core.toml", 16, 14),
        ("64-core.toml", 64, 60),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning");
    let shipped = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert_eq!(shipped, machines.len(), "a profile without a check here");
    for &(name, cpus, shards) in machines {
        let all: Vec<usize> = (0..cpus).collect();
        let c = AppConfig::from_toml_for_cpus(&profile(name), &all)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.server.shards, shards, "{name}");
        assert_eq!(c.server.cores.len(), shards, "{name}: every shard pinned");
        // On a smaller machine the profile is refused, naming the key.
        if cpus > 2 {
            let e = AppConfig::from_toml_for_cpus(&profile(name), &[0, 1]).unwrap_err();
            assert_eq!(e.key, "server.cores", "{name}");
        }
    }
}

#[test]
fn kernel_script_checks_every_setting_and_refuses_bad_options() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/kernel.sh");
    let out = Command::new("bash").arg(&script).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Check mode changes nothing: exit 0 (all ok) or 1 (something low), never anything else.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    for key in [
        "net.core.rmem_max",
        "net.core.wmem_max",
        "net.core.netdev_max_backlog",
        "net.core.somaxconn",
        "net.ipv4.tcp_max_syn_backlog",
        "ulimit -n",
        "ulimit -l",
    ] {
        assert!(text.contains(key), "{key} not checked:\n{text}");
    }
    assert!(
        !text.contains("CHANGED"),
        "check mode must not change anything"
    );
    let bad = Command::new("bash")
        .arg(&script)
        .args(["--buffer", "lots"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--buffer"));
}
