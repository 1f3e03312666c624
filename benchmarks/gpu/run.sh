#!/usr/bin/env bash
# The GPU run, ready to fire: on a machine that already has CuPy (12.x or 13.x) and a CUDA build
# of PyTorch, install tinygdl without dependencies, run the gpu-marked tests, profile a step, and
# time the zoo's training steps (tinygdl on CuPy vs PyTorch on CUDA).  Everything goes into one
# folder, each result written as soon as it exists, so a run cut short still returns what it
# measured; the whole run keeps within BUDGET_S seconds (default 460, under 8 minutes).
#
#   bash benchmarks/gpu/run.sh [OUT_DIR]          (default: $OUT or gpu-results/)
#   DRY_RUN=1 bash benchmarks/gpu/run.sh /tmp/x   (a CPU machine: the same steps, CPU-sized)
#
# Files: run.log (each step's start, end and exit code), env.txt, install.txt, gpu-tests.txt and
# gpu-tests.xml (JUnit), profile-cnn.txt, models.md (the table, row by row) and models.txt.
set -u
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-gpu-results}}
mkdir -p "$out"
budget=${BUDGET_S:-460}
dry=${DRY_RUN:-0}
device=cuda
[ "$dry" = 1 ] && device=cpu

log() { echo "[$(date +%H:%M:%S) +${SECONDS}s] $*" | tee -a "$out/run.log"; }

# step NAME SECONDS COMMAND...: run COMMAND into $out/NAME.txt within SECONDS and the time left.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$((budget - SECONDS - 5))
    if [ "$left" -lt 15 ]; then
        log "skip $name: out of time"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    log "start $name (limit ${limit}s): $*"
    timeout --signal=INT --kill-after=10 "$limit" "$@" > "$out/$name.txt" 2>&1
    log "end $name: exit code $?"
}

log "tinygdl GPU run; dry run: $dry; device: $device; budget ${budget}s"
step env 60 bash -c 'nvidia-smi 2>&1 || echo "no nvidia-smi"; git log -1 --oneline; python -c "
import numpy, sys; print(\"python\", sys.version.split()[0], \"numpy\", numpy.__version__)
try:
    import cupy; print(\"cupy\", cupy.__version__, \"devices\", cupy.cuda.runtime.getDeviceCount())
except Exception as e: print(\"cupy: unavailable:\", e)
try:
    import torch; print(\"torch\", torch.__version__, \"cuda\", torch.cuda.is_available())
except Exception as e: print(\"torch: unavailable:\", e)
"'
if [ "$dry" = 1 ]; then
    log "dry run: the project is used as installed here"
else
    step install 120 python -m pip install --no-deps --no-build-isolation -e .
fi
tests_limit=200
[ "$dry" = 1 ] && tests_limit=120
step gpu-tests "$tests_limit" python -m pytest -m "gpu and not slow" -q -p no:cacheprovider \
    --junitxml="$out/gpu-tests.xml" tests
step profile-cnn 60 python -c "
import tinygdl as tg
from tinygdl import zoo
from benchmarks.profile_step import one_batch
recipe = zoo.recipe('cnn', 'digits')
models = {k: m.to('$device') for k, m in recipe.build().items()}
step = recipe.train_step(models, recipe.optimizers(models))
batch = one_batch(recipe, 32)
batch = tuple(tg.tensor(b).to('$device') if not isinstance(b, tg.Tensor) else b.to('$device') for b in batch)
for _ in range(2):
    step(batch)
with tg.profile() as prof:
    step(batch)
print(prof.table())
"
models_args=(--device "$device" --threads 1 --repeat 5)
[ "$dry" = 1 ] && models_args=(--device cpu --threads 1 --repeat 1 --no-memory)
step models 240 python benchmarks/models.py "${models_args[@]}" --out "$out/models.md"
log "done; results in $out"
