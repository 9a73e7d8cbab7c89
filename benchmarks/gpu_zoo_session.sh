#!/usr/bin/env bash
# One GPU lease, used whole (issue 15's zoo v5): the zoo's lineages trained side by side on
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
# Today's lineup (2026-11-28; what each one is for is in docs/time_to_quality.md):
# - continue published lineages with a decay phase, the lever that lifted clevr v3 -> v4;
# - keep every scored point where two metrics decide (fg-ARI and covering), else the best one;
# - fp32 and NCHW on the GPU (resumable changes; the CPU lineages were bf16 + channels_last):
#   the configuration the last lease ran.
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

# clevr-toy v4 (step 9263, constant 1e-3): decay to 1e-4 over 2400 steps, from now.
zoo clevr-toy-decay zoo-runs/clevr-toy/recipe.json clevr-toy --keep-every --keep-best fg_ari_clean \
  --set train.total_steps=11700 --set train.decay_steps=2400 --set train.min_lr=0.0001
# clevr v4 (step 19200, decayed): on at its final rate 1e-4, never a warm restart.
zoo clevr-lowlr zoo-runs/clevr/recipe.json clevr --keep-every --keep-best fg_ari_clean
# clevr64 (step 11500, before any decay): on at 1e-3, every point kept (fg-ARI >= 0.8 and MSC >= 0.5 at once).
zoo clevr64-cont zoo-runs/clevr64/recipe.json clevr64 --keep-every --keep-best fg_ari_clean \
  --set train.total_steps=40000 --set train.decay_steps=0
# clevr-lighting v5's run (step 9461, constant 1e-3, objects plateaued at 0.40-0.44): a decay phase.
zoo clevr-lighting-decay zoo-runs/clevr-lighting-v5/recipe.json clevr-lighting-v5 --keep-best fg_ari_clean \
  --set train.total_steps=12000 --set train.decay_steps=2500 --set train.min_lr=0.0001
# tetrominoes: the slot candidate's components are quadrants (fg-ARI = the 2x2 grid's); its
# black background needs the smooth read-out. Continue it, and train it without CoordConv, so
# that position alone cannot define a component.
zoo tetrominoes-slot-cont zoo-runs/tetrominoes-slot-candidate/recipe.json tetrominoes-slot-candidate --keep-best fg_ari_smooth
zoo tetrominoes-nopos comet_zoo/recipes/tetrominoes.json "" --keep-best fg_ari_smooth --set 'model.pos_embed=[false]'
# falcor (step 4260, MCC still rising at 1e-3): kept by MCC.
zoo falcor-cont zoo-runs/falcor/recipe.json falcor --keep-best mcc

sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >runs/gpu/gpu_util.txt 2>&1
wait
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >>runs/gpu/gpu_util.txt 2>&1

for f in runs/gpu/*.jsonl; do echo "== $f"; tail -n 2 "$f" | cut -c1-300; done
for f in runs/gpu/*.out; do grep -l -i "error\|traceback" "$f" && tail -3 "$f"; done
tar czf - runs/gpu | split -b 15m - "$PACK/runs-gpu.tgz.part-"
ls -la "$PACK"
