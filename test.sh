#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first.
#
#   ./test.sh            all tests (unit, integration, property, RFC 4475 corpus)
#   FUZZ_SECONDS=30 ./test.sh   also runs every fuzz target for that long (needs nightly)
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
# Stock SIP clients the integration tests drive the binary with (tests/stock_clients.rs).
command -v sipp >/dev/null || need_apt+=(sip-tester)
command -v sipsak >/dev/null || need_apt+=(sipsak)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

if [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
  fuzz/run.sh
fi
