#!/usr/bin/env bash
# soma against PyTorch on one machine, in one go: the same Fashion-MNIST models (an MLP
# 784-256-128-10 and a small CNN), the same data, batch 128, Adam 1e-3, the same number of
# threads. For each model it trains soma (bench/<model>_epoch.soma through `soma run`) and then
# PyTorch (bench/torch_fashion_mnist.py with Debian's python3-torch), and prints per framework the
# first epoch (which includes compiling), the median of the other epochs, the test accuracy, and
# the ratio torch/soma of the median epochs (above 1: soma is faster). With PyTorch it also
# prints the peer numbers of the LLVM backend's issue: torch.softmax on 4096x4096 and sgemm 1024
# through numpy and PyTorch.
#
#   bash bench/compare_torch.sh [--epochs N] [--models mlp,cnn] [--soma-backend llvm|vulkan]
#                               [--threads 2] [--soma PATH] [--python PATH] [--no-peers]
#
# Needs a built soma (build/soma, or --soma PATH, or $SOMA) and the Debian package
# dataset-fashion-mnist. PyTorch is optional (apt install python3-torch; without it only soma is
# timed). --python picks the interpreter (default /usr/bin/python3, Debian's, which sees
# python3-torch). See bench/README.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
epochs=5
models=mlp,cnn
backend=llvm
threads=2
soma=${SOMA:-$root/build/soma}
peers=1
python=/usr/bin/python3  # Debian's: it sees python3-torch and python3-numpy

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --epochs=*) epochs=${1#*=}; shift ;;
    --models) models=$2; shift 2 ;;
    --models=*) models=${1#*=}; shift ;;
    --soma-backend) backend=$2; shift 2 ;;
    --soma-backend=*) backend=${1#*=}; shift ;;
    --threads) threads=$2; shift 2 ;;
    --threads=*) threads=${1#*=}; shift ;;
    --soma) soma=$2; shift 2 ;;
    --soma=*) soma=${1#*=}; shift ;;
    --python) python=$2; shift 2 ;;
    --python=*) python=${1#*=}; shift ;;
    --no-peers) peers=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare_torch.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $epochs =~ ^[0-9]+$ && $epochs -ge 2 ]] ||
  { echo "compare_torch.sh: --epochs needs an integer >= 2 (the first epoch is reported apart)" >&2; exit 2; }
[[ $threads =~ ^[0-9]+$ && $threads -ge 1 ]] ||
  { echo "compare_torch.sh: --threads needs a positive integer" >&2; exit 2; }
case $backend in llvm|vulkan) ;; *)
  echo "compare_torch.sh: --soma-backend must be llvm or vulkan, got '$backend'" >&2; exit 2 ;;
esac
IFS=, read -r -a model_list <<< "$models"
for m in "${model_list[@]}"; do
  [[ $m == mlp || $m == cnn ]] ||
    { echo "compare_torch.sh: unknown model '$m' (mlp, cnn)" >&2; exit 2; }
done
if [[ ! -x $soma ]]; then
  echo "compare_torch.sh: no soma binary at $soma; build it (make build) or pass --soma PATH" >&2
  exit 2
fi
soma=$(cd "$(dirname "$soma")" && pwd)/$(basename "$soma")  # it runs from a scratch folder

# Both frameworks get the same number of threads. soma runs with no tunable at all (SOMA_THREADS
# only when --threads asks for other than this machine's cores, its default). The peer gets its
# best environment on this machine, in its own process only: glibc's huge-page malloc (PyTorch's
# CNN epoch here halves with it), passive OpenMP waiting (libgomp's default spin-waiting collapses
# when the cores are shared), and OpenBLAS's CPU-type and L2 overrides removed.
soma_env=(env -u GLIBC_TUNABLES)
if [[ $threads != "$(nproc)" ]]; then soma_env+=(SOMA_THREADS="$threads"); fi
peer_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
  GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}"
  OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" OMP_NUM_THREADS="$threads"
  OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads")

has_torch=0
if [[ -x $python ]] && "$python" -c 'import torch' 2>/dev/null; then has_torch=1; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/soma-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== soma vs PyTorch: Fashion-MNIST, batch 128, Adam 1e-3, $threads threads, $epochs epochs"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "soma: $("$soma" --version 2>/dev/null | head -1) ($soma, backend $backend)," \
  "environment: no tunables (${soma_env[*]:1})"
if [[ $has_torch == 1 ]]; then
  echo "torch: $("$python" -c 'import torch; print(torch.__version__)') ($python)," \
    "environment: ${peer_env[*]:1}"
else
  echo "PyTorch not installed: apt install python3-torch (timing soma only)"
fi
echo

# The statistics of a list of epoch seconds (one per line): "first median" (median of epochs 2..N).
stats() {
  sort_rest=$(tail -n +2 | sort -g)
  awk -v first="$1" 'NF { v[n++] = $1 }
    END {
      if (n == 0) { print first, "nan"; exit }
      m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
      printf "%.4f %.4f\n", first, m
    }' <<< "$sort_rest"
}

declare -A soma_first soma_median soma_acc torch_first torch_median torch_acc
for m in "${model_list[@]}"; do
  echo "-- $m: soma ($backend)"
  script=$work/${m}_epoch.soma
  sed "s/epochs=[0-9][0-9]*/epochs=$epochs/" "$root/bench/${m}_epoch.soma" > "$script"
  log=$work/soma_$m.log
  if (cd "$work" && "${soma_env[@]}" "$soma" run --backend "$backend" "$script") 2>&1 |
      tee "$log"; then
    csv=$work/${m}_history.csv
    # The History CSV's last column "time" holds each epoch's seconds.
    times=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "time") c = i; next }
                     c { print $c }' "$csv")
    read -r first median <<< "$(stats "$(head -1 <<< "$times")" <<< "$times")"
    soma_first[$m]=$first soma_median[$m]=$median
    soma_acc[$m]=$(sed -n 's/^test_accuracy: *//p' "$log" | tail -1)
  else
    echo "soma failed on $m (see above)"
  fi
  echo
  if [[ $has_torch == 1 ]]; then
    echo "-- $m: PyTorch"
    tlog=$work/torch_$m.log
    if "${peer_env[@]}" "$python" "$root/bench/torch_fashion_mnist.py" --models "$m" \
        --epochs "$epochs" --threads "$threads" 2>&1 | tee "$tlog"; then
      line=$(grep '^RESULT ' "$tlog" | tail -1)
      times=$(sed -n 's/.* times=\([^ ]*\).*/\1/p' <<< "$line" | tr , '\n')
      read -r first median <<< "$(stats "$(head -1 <<< "$times")" <<< "$times")"
      torch_first[$m]=$first torch_median[$m]=$median
      torch_acc[$m]=$(sed -n 's/.* test_accuracy=\([^ ]*\).*/\1/p' <<< "$line")
    else
      echo "PyTorch failed on $m (see above)"
    fi
    echo
  fi
done

peer_log=$work/peers.log
families=(elementwise softmax_rows conv1_forward conv1_train conv2_forward conv2_train)
if [[ $peers == 1 && -x $python ]]; then
  echo "-- operations of bench/peers.soma (run ms, median): soma bench ($backend; Compiled::run" \
    "end to end, 20 runs) against PyTorch's eager call (median of 20 runs)"
  "${peer_env[@]}" "$python" "$root/bench/torch_fashion_mnist.py" --models "" \
    --threads "$threads" --peers > "$peer_log" 2>&1 || true
  printf '%-15s %10s %10s %12s\n' operation soma torch torch/soma
  for f in "${families[@]}"; do
    s_ms=$(cd "$work" && "${soma_env[@]}" "$soma" bench "$root/bench/peers.soma" "$f" \
      --backends "$backend" --runs 20 --json 2>/dev/null |
      sed -n 's/.*"run_ms_median": \([^,]*\),.*/\1/p')
    t_ms=$(sed -n "s/^PEER name=torch_$f median_ms=//p" "$peer_log")
    awk -v f="$f" -v s="${s_ms:-nan}" -v t="${t_ms:-nan}" 'BEGIN {
      r = (s + 0 > 0 && t + 0 > 0) ? sprintf("%.2f", t / s) : "n/a"
      printf "%-15s %10s %10s %12s\n", f, s, t, r }'
  done
  grep -E '^PEER (name=numpy|name=torch_sgemm|blas)|not installed' "$peer_log" |
    sed 's/^PEER //' || true
  echo
fi

echo "== summary (seconds per epoch; first = epoch 1, compile included; median = epochs 2..$epochs)"
printf '%-5s %-7s %10s %10s %9s\n' model side first median test_acc
for m in "${model_list[@]}"; do
  printf '%-5s %-7s %10s %10s %9s\n' "$m" soma "${soma_first[$m]:-n/a}" \
    "${soma_median[$m]:-n/a}" "${soma_acc[$m]:-n/a}"
  if [[ $has_torch == 1 ]]; then
    printf '%-5s %-7s %10s %10s %9s\n' "$m" torch "${torch_first[$m]:-n/a}" \
      "${torch_median[$m]:-n/a}" "${torch_acc[$m]:-n/a}"
  fi
done
if [[ $has_torch == 1 ]]; then
  for m in "${model_list[@]}"; do
    if [[ -n ${soma_median[$m]:-} && -n ${torch_median[$m]:-} ]]; then
      awk -v m="$m" -v s="${soma_median[$m]}" -v t="${torch_median[$m]}" 'BEGIN {
        printf "RATIO %s torch/soma = %.2f (median epoch %.3fs torch, %.3fs soma; above 1: soma faster)\n",
               m, t / s, t, s }'
    fi
  done
else
  echo "PyTorch not installed: apt install python3-torch (no ratio)"
fi
