#!/usr/bin/env bash
# One GPU, used whole: the zoo's lineages trained side by side on
# the one GPU until a wall-clock deadline (these models are small: one run leaves the GPU
# mostly idle between kernel launches, so several share it).
#
#   bash benchmarks/gpu_zoo_session.sh [DEADLINE_S] [OUT]
#
# Every run ends DEADLINE_S seconds after it starts (SIGINT: scored, checkpointed, exported),
# so the whole call ends inside one device command's limit. Each run folder (checkpoint,
# exported model, best point or every scored point, JSON-line curve, stdout) lands in runs/gpu
# and is packed into OUT (default $OUT or runs/gpu-out) as runs-gpu.tgz.part-* (<= 15 MB each).
# Continue any run on any machine with --resume.
#
# The lineup (what each run is for is in docs/time_to_quality.md):
# - continue the published lineages (a decay phase where a run's rate never fell: it lifted clevr v3 -> v4);
# - keep every scored point where two metrics decide (fg-ARI and covering), else the best one;
# - fp32 and NCHW on the GPU (resumable changes; the CPU lineages were bf16 + channels_last):
#   the configuration of the GPU runs of 2026-11-26 and -28.
set -u
DEADLINE=${1:-450}
PACK=${2:-${OUT:-runs/gpu-out}}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
mkdir -p runs/gpu "$PACK"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc --all
  "$PY" -c "import torch; print(torch.__version__, torch.cuda.is_available())"; } 2>&1 | tee runs/gpu/machine.txt
"$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e . >runs/gpu/install.log 2>&1 \
  || { echo "install failed"; tail -5 runs/gpu/install.log; }

# The composer's GPU path against its CPU path (the README's main job; one x_0 from a CPU generator).
for dev in cuda cpu; do
  timeout 40 "$PY" -m comet_zoo.cli.main compose clevr:obj2 clevr-lighting:light0 -o "runs/gpu/compose-$dev.png" --device "$dev" \
    >"runs/gpu/compose-$dev.out" 2>&1; echo "compose $dev: exit $?"
done
"$PY" -c "import numpy as np, PIL.Image as I; a, b = (np.asarray(I.open(f'runs/gpu/compose-{d}.png'), float) for d in ('cuda', 'cpu')); print('compose cuda vs cpu: max |diff|', np.abs(a - b).max(), 'of 255')" 2>&1

zoo() {  # NAME RECIPE FROM [harness options...]; FROM: a zoo-runs folder whose checkpoint (and curve) the run continues, or ""
  local name=$1 recipe=$2 from=${3:-}; shift 3
  local resume=()
  if [ -n "$from" ]; then
    mkdir -p "runs/gpu/$name" && cp "zoo-runs/$from/checkpoint.safetensors" "runs/gpu/$name/" && resume=(--resume)
    [ -f "zoo-runs/$from/curve.jsonl" ] && cp "zoo-runs/$from/curve.jsonl" "runs/gpu/$name.jsonl"
  fi
  timeout -s INT -k 45 "$DEADLINE" "$PY" benchmarks/time_to_quality.py --recipe "$recipe" "${resume[@]}" \
    --minutes 1000 --name "$name" --out runs/gpu --device "$DEVICE" --eval-every 50 \
    --set train.precision=fp32 --set train.channels_last=false "$@" >"runs/gpu/$name.out" 2>&1 &
}

# Lineages as zoo-runs/ holds them after the CPU runs of 2026-12-02 (docs/time_to_quality.md).
# clevr-lighting and clevr-toy v6 were fine-tuned from clevr v5 (train.init_from); the bundled
# *-finetune recipes start from the newest clevr (v6): the same fine-tunes from the better base,
# every point kept (clevr-lighting's bars are two: object fg-ARI and the light0 swap).
zoo clevr-lighting-ft comet_zoo/recipes/clevr-lighting-finetune.json "" --keep-every --keep-best fg_ari_clean
zoo clevr-toy-ft comet_zoo/recipes/clevr-toy-finetune.json "" --keep-every --keep-best fg_ari_smooth
# clevr64 (step 14572, before any decay): on at 1e-3, and a branch that decays, every point kept
# (the targets are fg-ARI >= 0.8 and MSC >= 0.5 at once).
zoo clevr64-cont zoo-runs/clevr64/recipe.json clevr64 --keep-every --keep-best fg_ari_clean
zoo clevr64-decay zoo-runs/clevr64/recipe.json clevr64 --keep-every --keep-best fg_ari_clean \
  --set train.total_steps=16572 --set train.decay_steps=2000 --set train.min_lr=0.0001
# tetrominoes (v5's run, past its decay phase: on at 1e-4), kept by the smooth read-out (black
# background: docs/segmentation_readout.md).
zoo tetrominoes-slot-cont zoo-runs/tetrominoes-slot-candidate/recipe.json tetrominoes-slot-candidate --keep-best fg_ari_smooth
# falcor (v6's run, constant 1e-3): on, kept by MCC. (A decay phase on clevr-lighting's run and
# tetrominoes without CoordConv gained nothing on 2026-11-28.)
zoo falcor-cont zoo-runs/falcor/recipe.json falcor --keep-best mcc

sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >runs/gpu/gpu_util.txt 2>&1
wait
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >>runs/gpu/gpu_util.txt 2>&1

for f in runs/gpu/*.jsonl; do echo "== $f"; tail -n 2 "$f" | cut -c1-300; done
for f in runs/gpu/*.out; do grep -l -i "error\|traceback" "$f" && tail -3 "$f"; done
tar czf - runs/gpu | split -b 15m - "$PACK/runs-gpu.tgz.part-"
ls -la "$PACK"
