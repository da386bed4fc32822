#!/usr/bin/env bash
# Checks (default) or applies (--apply) the kernel settings a registrar host needs, and says
# what it found and what it changed.
#
#   tuning/kernel.sh                      check only; exit 1 if something is below target
#   tuning/kernel.sh --apply              raise what is below target (root), now
#   tuning/kernel.sh --apply --persist    also write /etc/sysctl.d/90-registrar.conf
#   tuning/kernel.sh --buffer 16777216    target socket buffer size (default 8 MiB; match the
#                                         profile's tuning.socket_recv_buffer)
#   tuning/kernel.sh --shards 14          shards that will run (for the locked-memory check)
#
# Settings:
#   net.core.rmem_max / wmem_max   cap on SO_RCVBUF/SO_SNDBUF; below the profile's buffer the
#                                  kernel silently caps it and bursts are dropped at the socket
#   net.core.netdev_max_backlog    packets queued per CPU before the stack drops them
#   net.core.somaxconn             cap on the TCP listen backlog (tuning.tcp_backlog)
#   net.ipv4.tcp_max_syn_backlog   half-open TCP connections queued
#   net.ipv4.udp_rmem_min          smallest UDP receive buffer under memory pressure
#   ulimit -n (open files)         one descriptor per TCP connection (tcp.max_connections)
#   ulimit -l (locked memory)      glommio locks tuning.io_memory_kib per shard (plus rings)
set -euo pipefail

apply=0
persist=0
buffer=8388608
shards=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --apply) apply=1 ;;
    --persist) persist=1 ;;
    --buffer) buffer="$2"; shift ;;
    --shards) shards="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "kernel.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$buffer" in ''|*[!0-9]*) echo "kernel.sh: --buffer: $buffer is not a number of bytes" >&2; exit 2 ;; esac
case "$shards" in ''|*[!0-9]*) echo "kernel.sh: --shards: $shards is not a number" >&2; exit 2 ;; esac

low=0
changed=()
persist_lines=()

# key wanted
check_sysctl() {
  local key="$1" want="$2" path cur
  path="/proc/sys/${key//.//}"
  if [ ! -r "$path" ]; then
    printf '%-32s %12s  wanted >= %-10s MISSING\n' "$key" "-" "$want"
    return
  fi
  cur=$(cat "$path")
  if [ "$cur" -ge "$want" ]; then
    printf '%-32s %12s  wanted >= %-10s ok\n' "$key" "$cur" "$want"
    persist_lines+=("$key = $cur")
    return
  fi
  if [ "$apply" = 1 ]; then
    if echo "$want" > "$path" 2>/dev/null; then
      printf '%-32s %12s  wanted >= %-10s CHANGED to %s\n' "$key" "$cur" "$want" "$want"
      changed+=("$key: $cur -> $want")
      persist_lines+=("$key = $want")
      return
    fi
    printf '%-32s %12s  wanted >= %-10s LOW (cannot write %s: not root, or read-only in a container)\n' "$key" "$cur" "$want" "$path"
  else
    printf '%-32s %12s  wanted >= %-10s LOW\n' "$key" "$cur" "$want"
  fi
  persist_lines+=("$key = $want")
  low=1
}

echo "registrar kernel settings (socket buffer target $buffer bytes, $shards shards)"
check_sysctl net.core.rmem_max "$buffer"
check_sysctl net.core.wmem_max "$buffer"
check_sysctl net.core.netdev_max_backlog 250000
check_sysctl net.core.somaxconn 8192
check_sysctl net.ipv4.tcp_max_syn_backlog 8192
check_sysctl net.ipv4.udp_rmem_min 16384

nofile=$(ulimit -n)
if [ "$nofile" = unlimited ] || [ "$nofile" -ge 65536 ]; then
  printf '%-32s %12s  wanted >= %-10s ok\n' "ulimit -n (open files)" "$nofile" 65536
else
  printf '%-32s %12s  wanted >= %-10s LOW (raise LimitNOFILE= in the unit, or ulimit -n)\n' "ulimit -n (open files)" "$nofile" 65536
  low=1
fi
memlock=$(ulimit -l)
want_lock=$(( shards * 1024 ))   # KiB: io_memory (256-512 KiB) plus the io_uring rings
if [ "$memlock" = unlimited ] || [ "$memlock" -ge "$want_lock" ]; then
  printf '%-32s %12s  wanted >= %-10s ok\n' "ulimit -l (locked KiB)" "$memlock" "$want_lock"
else
  printf '%-32s %12s  wanted >= %-10s LOW (raise LimitMEMLOCK= in the unit, or ulimit -l)\n' "ulimit -l (locked KiB)" "$memlock" "$want_lock"
  low=1
fi

if [ "$apply" = 1 ]; then
  if [ ${#changed[@]} -eq 0 ]; then
    echo "changed: nothing"
  else
    echo "changed:"
    printf '  %s\n' "${changed[@]}"
  fi
  if [ "$persist" = 1 ]; then
    conf=/etc/sysctl.d/90-registrar.conf
    if { echo "# written by registrar tuning/kernel.sh"; printf '%s\n' "${persist_lines[@]}"; } > "$conf" 2>/dev/null; then
      echo "persisted: $conf"
    else
      echo "persist: cannot write $conf" >&2
      low=1
    fi
  fi
fi
if [ "$low" = 1 ]; then
  echo "result: some settings are below target"
  exit 1
fi
echo "result: all settings meet the targets"
