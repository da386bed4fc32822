#!/usr/bin/env bash
# Runs the cargo-fuzz targets of the registrar for a bounded time each.
#
#   fuzz/run.sh                       # every target, FUZZ_SECONDS (default 60) each
#   fuzz/run.sh parse_uri write_response
#   FUZZ_SECONDS=600 fuzz/run.sh parse_message
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 60)
#   FUZZ_TOOLCHAIN   rustup toolchain for cargo-fuzz (default nightly; "" = the default cargo)
#   FUZZ_SANITIZER   address (default), leak, memory, thread or none
#   FUZZ_KEEP_GOING  1 = libFuzzer fork mode with -ignore_crashes/-ignore_timeouts/-ignore_ooms:
#                    keep fuzzing after a finding to collect several distinct crashes
#   FUZZ_EXTRA_ARGS  extra libFuzzer flags, appended last
#
# Each target fuzzes a working corpus fuzz/corpus/<target>/ (ignored by git), seeded from
# fuzz/corpus/seed-<kind>/ folders (and tests/data/rfc4475/*.dat for the message targets,
# when that folder exists). Crashes land in fuzz/artifacts/<target>/, logs in fuzz/artifacts/logs/.
# Prints one summary line per target; exits 1 if any target found a crash, timeout or OOM,
# 2 if the targets do not build.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ALL_TARGETS=(parse_message parse_message_lenient parse_uri parse_digest_credentials write_response
    registrar_handle decode_journal)
seconds="${FUZZ_SECONDS:-60}"
toolchain="${FUZZ_TOOLCHAIN-nightly}"
sanitizer="${FUZZ_SANITIZER:-address}"
keep_going="${FUZZ_KEEP_GOING:-0}"

seed_dir_for() {
    case "$1" in
        parse_message | parse_message_lenient | write_response) echo fuzz/corpus/seed-message ;;
        parse_uri) echo fuzz/corpus/seed-uri ;;
        parse_digest_credentials) echo fuzz/corpus/seed-credentials ;;
        registrar_handle) echo fuzz/corpus/seed-registrar fuzz/corpus/seed-message ;;
        decode_journal) echo fuzz/corpus/seed-journal ;;
        *) return 1 ;;
    esac
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${ALL_TARGETS[@]}")
fi
for t in "${targets[@]}"; do
    if ! seed_dir_for "$t" >/dev/null; then
        echo "run.sh: unknown target '$t' (known: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

cargo_cmd=(cargo)
if [ -n "$toolchain" ]; then
    if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
        echo "run.sh: toolchain '$toolchain' not installed (rustup toolchain install $toolchain)," \
            "or set FUZZ_TOOLCHAIN= to use the default cargo" >&2
        exit 2
    fi
    cargo_cmd=(cargo "+$toolchain")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || {
        echo "run.sh: cargo install cargo-fuzz failed" >&2
        exit 2
    }
fi

# Same flags for build and run, so `run` does not rebuild. -a: debug assertions and overflow
# checks on (cargo-fuzz builds --release).
build_flags=(--fuzz-dir fuzz -a -s "$sanitizer")

echo "run.sh: building fuzz targets (${cargo_cmd[*]} fuzz build ${build_flags[*]})" >&2
if ! "${cargo_cmd[@]}" fuzz build "${build_flags[@]}" >&2; then
    echo "run.sh: BUILD FAILED" >&2
    exit 2
fi

mkdir -p fuzz/artifacts/logs
libfuzzer_flags=(
    -max_total_time="$seconds"
    -rss_limit_mb=512
    -timeout=1
    -max_len=16384
    -dict=fuzz/sip.dict
    -print_final_stats=1
)
if [ "$keep_going" = 1 ]; then
    jobs="$(nproc 2>/dev/null || echo 1)"
    libfuzzer_flags+=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
# shellcheck disable=SC2206 # word splitting of the extra flags is intended
extra=(${FUZZ_EXTRA_ARGS:-})

failed=0
summaries=()
for t in "${targets[@]}"; do
    seeds="$(seed_dir_for "$t")"
    corpus="fuzz/corpus/$t"
    artifacts="fuzz/artifacts/$t"
    log="fuzz/artifacts/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    for seed in $seeds; do
        for f in "$seed"/*; do
            [ -e "$corpus/$(basename "$f")" ] || cp "$f" "$corpus/"
        done
    done
    case "$seeds" in
        *seed-message*)
            if compgen -G "tests/data/rfc4475/*.dat" >/dev/null; then
                for f in tests/data/rfc4475/*.dat; do
                    dst="$corpus/rfc4475-$(basename "$f")"
                    [ -e "$dst" ] || cp "$f" "$dst"
                done
            fi
            ;;
    esac
    before="$(ls "$artifacts" | sort)"

    echo "run.sh: fuzzing $t for ${seconds}s (log: $log)" >&2
    start=$(date +%s)
    "${cargo_cmd[@]}" fuzz run "${build_flags[@]}" "$t" "$corpus" -- \
        "${libfuzzer_flags[@]}" "${extra[@]}" >"$log" 2>&1
    rc=$?
    elapsed=$(($(date +%s) - start))

    new_artifacts="$(comm -13 <(echo "$before") <(ls "$artifacts" | sort) | sed '/^$/d')"
    execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
    rate="$(grep -o 'stat::average_exec_per_sec: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
    last_stat="$(grep -E '^#[0-9]+' "$log" | tail -1)"
    if [ -z "$execs" ]; then
        execs="$(echo "$last_stat" | grep -oE '^#[0-9]+' | tr -d '#')"
    fi
    if [ -z "$rate" ]; then
        rate="$(echo "$last_stat" | grep -oE 'exec/s: [0-9]+' | grep -oE '[0-9]+')"
    fi
    if [ "${rate:-0}" = 0 ] && [ -n "$execs" ] && [ "$elapsed" -gt 0 ]; then
        rate="~$((execs / elapsed))" # libFuzzer reports 0 for runs under a second
    fi
    cov="$(echo "$last_stat" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')"
    corpus_size="$(find "$corpus" -type f | wc -l)"

    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
        result=TIMEOUT
    elif grep -qE 'out-of-memory|ERROR: libFuzzer: (out-of-memory|malloc)' "$log"; then
        result=OOM
    elif grep -qE 'panicked at|deadly signal|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log"; then
        result=CRASH
    elif [ $rc -ne 0 ]; then
        result="ERROR(rc=$rc)"
    else
        result=ok
    fi
    if [ -n "$new_artifacts" ] && [ "$result" = ok ]; then
        result=CRASH
    fi
    [ "$result" = ok ] || failed=1

    line="$(printf '%-26s %-8s execs=%s exec/s=%s cov=%s corpus=%s time=%ss' \
        "$t" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corpus_size" "$elapsed")"
    if [ "$result" != ok ]; then
        n_art="$(echo "$new_artifacts" | sed '/^$/d' | wc -l)"
        first="$(echo "$new_artifacts" | head -1)"
        [ -n "$first" ] && line+=" artifacts=$n_art first=$artifacts/$first"
        line+=" log=$log"
    fi
    summaries+=("$line")
    echo "$line"
    if [ "$result" != ok ]; then
        # The distinct panic messages (the line after "panicked at").
        grep -A1 'panicked at' "$log" | grep -vE 'panicked at|^--$' | sort | uniq -c |
            sort -rn | head -5 | sed 's/^/    panic: /'
        grep -m1 -E 'ERROR: (libFuzzer|AddressSanitizer): [a-z-]+' "$log" | sed 's/^/    /'
    fi
done

echo
echo "== fuzz summary (${seconds}s per target, sanitizer=$sanitizer) =="
printf '%s\n' "${summaries[@]}"
if [ $failed -ne 0 ]; then
    echo "Reproduce: cargo +nightly fuzz run --fuzz-dir fuzz -a <target> <artifact>;" \
        "minimize: cargo +nightly fuzz tmin --fuzz-dir fuzz -a <target> <artifact>"
fi
exit $failed
