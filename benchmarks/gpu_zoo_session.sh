#!/usr/bin/env bash
# One GPU lease, used whole (issue 15's zoo v5 and issue 16's GPU rows): the engine's GPU
# speed rows first, then every zoo model's bundled recipe trained side by side on the one GPU
# for MINUTES of training each (these models are small: one run leaves the GPU mostly idle
# between kernel launches, so several share it).
#
#   bash benchmarks/gpu_zoo_session.sh [MINUTES] [OUT]
#
# Each run folder (checkpoint, exported model, best point by clean fg-ARI, JSON-line curve,
# stdout) lands in runs/gpu and is packed into OUT (default $OUT or runs/gpu-out) as
# runs-gpu.tgz.part-* (<= 15 MB each). Continue any run on any machine with --resume.
set -u
MINUTES=${1:-7}
PACK=${2:-${OUT:-runs/gpu-out}}
HARD=$(python3 -c "print(int($MINUTES * 60 + 150))")   # render + evals + export on top of training
mkdir -p runs/gpu "$PACK"
DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc --all; python3 -c "import torch; print(torch.__version__, torch.cuda.is_available())"; } \
  | tee runs/gpu/machine.txt
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . >runs/gpu/install.log 2>&1 \
  || { echo "install failed"; tail -5 runs/gpu/install.log; }

# Issue 16's GPU rows, before anything else shares the GPU: the paper's shape and the zoo's.
python3 benchmarks/train_step.py --device "$DEVICE" --cases paper64,small32 --variants base,cl --steps 5 \
  >runs/gpu/train_step.jsonl 2>runs/gpu/train_step.err

zoo() {  # NAME RECIPE FROM [--keep-best METRIC] [--set ...]; FROM: a zoo-runs folder whose checkpoint the run continues, or ""
  local name=$1 recipe=$2 from=${3:-}; shift 3
  local resume=() keep=(--keep-best fg_ari_clean)
  if [ "${1:-}" = --keep-best ]; then keep=(--keep-best "$2"); shift 2; fi
  if [ -n "$from" ]; then
    mkdir -p "runs/gpu/$name" && cp "zoo-runs/$from/checkpoint.safetensors" "runs/gpu/$name/" && resume=(--resume)
  fi
  timeout -s INT -k 40 "$HARD" python3 benchmarks/time_to_quality.py --recipe "$recipe" "${resume[@]}" \
    --minutes "$MINUTES" --name "$name" --out runs/gpu --device "$DEVICE" --eval-every 60 \
    "${keep[@]}" "$@" >"runs/gpu/$name.out" 2>&1 &
}

# Fresh runs of today's recipes (slot encoder, pool stem, object-count curriculum).
zoo clevr64-w64 comet_zoo/recipes/clevr64.json "" --set model.width=64   # the recipe's width on a CPU is 32
zoo clevr comet_zoo/recipes/clevr.json ""
zoo clevr-toy comet_zoo/recipes/clevr-toy.json ""
zoo clevr-lighting comet_zoo/recipes/clevr-lighting.json ""
zoo clevr-b64 comet_zoo/recipes/clevr.json "" --set train.batch_size=64
# Continued lineages (their recipe.json is the one their checkpoint was written with).
zoo clevr-lighting-cont zoo-runs/clevr-lighting-v5/recipe.json clevr-lighting-v5
# tetrominoes: the slot candidate's components are quadrants (fg-ARI = the 2x2 grid's); its
# black background needs the smooth read-out. Continue it, and try it without CoordConv, so that
# position alone cannot define a component.
zoo tetrominoes-slot-cont zoo-runs/tetrominoes-slot-candidate/recipe.json tetrominoes-slot-candidate --keep-best fg_ari_smooth
zoo tetrominoes-nopos comet_zoo/recipes/tetrominoes.json "" --keep-best fg_ari_smooth --set 'model.pos_embed=[false]'
# clevr64's checkpoint is step 11500, before any decay: go on at the constant 1e-3 (a checkpoint
# after a decay must not be restarted at 1e-3: docs/time_to_quality.md).
zoo clevr64-cont zoo-runs/clevr64/recipe.json clevr64 --set train.total_steps=40000 --set train.decay_steps=0
# falcor has factors, no masks: kept by MCC (the harness logs MIG/MCC/BetaVAE/DCI-D on data with
# factors). Table 3 (COMET against the beta-VAEs at one budget) is `benchmarks/paper_tables.py`,
# run after this on the same GPU.
zoo falcor comet_zoo/recipes/falcor.json "" --keep-best mcc
zoo falcor-cont zoo-runs/falcor/recipe.json falcor --keep-best mcc

sleep 30; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >runs/gpu/gpu_util.txt
wait
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >>runs/gpu/gpu_util.txt

cat runs/gpu/train_step.jsonl
for f in runs/gpu/*.jsonl; do echo "== $f"; tail -n 2 "$f" | cut -c1-400; done
for f in runs/gpu/*/best/score.json; do echo "== $f"; cut -c1-400 "$f"; done
tar czf - runs/gpu | split -b 15m - "$PACK/runs-gpu.tgz.part-"
ls -la "$PACK"
