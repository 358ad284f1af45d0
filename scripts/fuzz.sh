#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS, all at once (one process each), starting from the seed
# corpora in tests/fuzz/corpus (new inputs go to a scratch folder, the repository's corpora stay as
# they are). A crash, a leak,
# a timeout (10 s per input) or running out of memory (2 GiB) fails the run; the input that did it
# is kept under BUILD/fuzz/artifacts/ — add it to the target's test suite as a regression case.
# Prints each target's executions and coverage.
#   scripts/fuzz.sh BUILD SECONDS [TARGET...]
set -euo pipefail
build=${1:?build folder}
seconds=${2:?seconds per target}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(script_parser graph_parser kernel_parser npy checkpoint png)
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/fuzz/artifacts"
# The targets run side by side (each fuzzer is one process), then each one's result is shown.
pids=()
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  echo "fuzz: $t for ${seconds}s"
  ( "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz/artifacts/$t-" "$work" \
      "$root/tests/fuzz/corpus/$t" > "$build/fuzz/$t.log" 2>&1
    status=$?
    rm -rf "$work"
    exit $status ) &
  pids+=($!)
done
status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  log="$build/fuzz/$t.log"
  if wait "${pids[$i]}"; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    echo "fuzz: $t: ok, ${runs:-?} executions, coverage ${cov:-?} edges"
  else
    echo "fuzz: $t FAILED (log: $log); its last lines:"
    tail -40 "$log"
    status=1
  fi
done
exit $status
