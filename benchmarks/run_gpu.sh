#!/usr/bin/env bash
# Everything docs/performance.md reports, in one go on a GPU machine:
#   bash benchmarks/run_gpu.sh OUTDIR
# Writes OUTDIR/{env.txt, pytest_cupy.log, bench_{grad,sweep,scaling}.json, bench.log, suite.log,
# suite_report.json} (8 files). Each step runs even if an earlier one failed; the exit status is the
# number of failed steps.
set -u
out=${1:?usage: bash benchmarks/run_gpu.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
failed=0
step() { echo "== $*" | tee -a "$out/bench.log"; timeout "${STEP_TIMEOUT:-150}" "$@" 2>&1 | tee -a "$out/bench.log"; [ "${PIPESTATUS[0]}" = 0 ] || failed=$((failed+1)); }
{ nvidia-smi -L; $py -c "import numpy, cupy, sys; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())"; $py -c "import torch; print('torch', torch.__version__)"; } >"$out/env.txt" 2>&1
timeout 240 $py -m pytest -m cupy -q -p no:cacheprovider 2>&1 | tee "$out/pytest_cupy.log"; [ "${PIPESTATUS[0]}" = 0 ] || failed=$((failed+1))
step $py benchmarks/bench_logistic_grad.py --backend cupy --out "$out/bench_grad.json"
step $py benchmarks/bench_logistic_grad.py --backend cupy --dtype float64 --n 500000
step $py benchmarks/bench_sweep.py --backend cupy --out "$out/bench_sweep.json"
step $py benchmarks/bench_scaling.py --backend cupy --out "$out/bench_scaling.json"
suite=$(mktemp -d)/suite
timeout 200 $py -m proofs_check --backend cupy --no-figures --out "$suite" 2>&1 | tee "$out/suite.log"
cp "$suite/report.json" "$out/suite_report.json" 2>/dev/null
exit $failed
