#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each, starting from the seed corpora in tests/fuzz/corpus
# (new inputs go to a scratch folder, the repository's corpora stay as they are). A crash, a leak,
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
  targets=(script_parser graph_parser npy checkpoint)
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build/fuzz/artifacts"
status=0
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  work=$(mktemp -d)
  log="$build/fuzz/$t.log"
  echo "fuzz: $t for ${seconds}s"
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz/artifacts/$t-" "$work" "$root/tests/fuzz/corpus/$t" \
      > "$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    echo "fuzz: $t: ok, ${runs:-?} executions, coverage ${cov:-?} edges"
  else
    echo "fuzz: $t FAILED (log: $log); its last lines:"
    tail -40 "$log"
    status=1
  fi
  rm -rf "$work"
done
exit $status
