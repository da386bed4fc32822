#!/usr/bin/env python3
"""Draws docs/bench/chart.png from bench/vs-kamailio's results.json.

    bench/.venv/bin/python3 bench/chart.py docs/bench/results.json docs/bench/chart.png

Left: REGISTERs per server CPU-second under the same SIPp load (higher is better), per
workload, for the stateless responder (the kernel's limit), Kamailio and the appliance.
Right: the highest sustained refresh rate with loadgen --max, and p99 latency at 70% of it.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"responder": "#9e9e9e", "kamailio-qm": "#ff9896", "kamailio": "#d62728",
          "registrar-glommio": "#aec7e8", "registrar": "#1f77b4"}
LABELS = {"responder": "stateless responder (kernel limit)",
          "kamailio-qm": "Kamailio 5.6, Debian default allocator (qm)",
          "kamailio": "Kamailio 5.6, fast allocator (fm)",
          "registrar-glommio": "registrar, glommio backend (1 shard)",
          "registrar": "registrar, batched backend = default (1 shard)"}


def main(src, dst):
    r = json.load(open(src))
    servers = ["responder", "kamailio-qm", "kamailio", "registrar-glommio", "registrar"]
    rows = [x for x in r["fixed_rate"] if x.get("tool") == "sipp"] + \
        [x for x in r["auth"] if "per_cpu_s" in x]
    workloads = []
    for x in rows:
        w = f"{x['workload']}\n@{x['rate']}/s"
        if w not in workloads:
            workloads.append(w)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5),
                                   gridspec_kw={"width_ratios": [2.2, 1]})
    width = 0.8 / len(servers)
    for i, s in enumerate(servers):
        vals = []
        for w in workloads:
            v = next((x.get("per_cpu_s") or 0 for x in rows if x["server"] == s and
                      f"{x['workload']}\n@{x['rate']}/s" == w), 0)
            vals.append(v / 1000)
        xs = [k + (i - (len(servers) - 1) / 2) * width for k in range(len(workloads))]
        bars = ax1.bar(xs, vals, width, color=COLORS[s], label=LABELS[s])
        for b, v in zip(bars, vals):
            if v:
                ax1.text(b.get_x() + b.get_width() / 2, v, f"{v:.0f}k", ha="center",
                         va="bottom", fontsize=7)
    ax1.set_xticks(range(len(workloads)))
    ax1.set_xticklabels(workloads, fontsize=8)
    ax1.set_ylabel("REGISTERs per server CPU-second (thousands)")
    ax1.set_title("Same SIPp load, server pinned to one core")
    ax1.legend(fontsize=8)

    mx = {x["server"]: x for x in r["max"] if x["workload"] == "refresh-max"}
    p70 = {x["server"]: x for x in r["max"] if x["workload"] == "refresh-70pct"}
    names = [s for s in servers if s in mx]
    rates = [mx[s]["ok_per_sec"] / 1000 for s in names]
    bars = ax2.bar(range(len(names)), rates, color=[COLORS[s] for s in names])
    for k, (b, s) in enumerate(zip(bars, names)):
        p99 = p70.get(s, {}).get("latency_us", {}).get("p99")
        txt = f"{rates[k]:.0f}k/s" + (f"\np99 {p99}us @70%" if p99 is not None else "")
        ax2.text(b.get_x() + b.get_width() / 2, b.get_height(), txt, ha="center",
                 va="bottom", fontsize=8)
    if r.get("echo"):
        ax2.axhline(r["echo"]["ok_per_sec"] / 1000, color="black", linestyle="--",
                    linewidth=1, label=f"raw UDP echo {r['echo']['ok_per_sec'] / 1000:.0f}k/s")
        ax2.legend(fontsize=8)
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels([s.replace("registrar-", "registrar\n") for s in names], fontsize=8)
    ax2.set_ylabel("refresh REGISTER/s sustained (thousands)")
    ax2.set_title("loadgen --max (closed loop)")
    m = r.get("machine", {})
    fig.suptitle(f"registrar vs Kamailio — {m.get('cpus', '?')} vCPU, {m.get('cpu_model', '')}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
