#!/usr/bin/env bash
# One call on the GPU machine: the whole unit suite and the GPU tests from a bundled build (the CPU
# engine then runs on 16 cores instead of 2), the reference goldens regenerated with transformers and
# compared with the committed ones, and the tokenizer benchmark beside HF tokenizers on the same core.
#   here:  ../shared/tools/gpu-bundle build && mkdir -p build-ref && tar -cJf build-ref/tokenizers.tar.xz -C build/test-data tokenizers
#   there: bash tests/gpu/run_on_gpu_machine.sh   (device tool: carry [".gpu", "build-ref"])
set -uo pipefail
source .gpu/env.sh
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/llmctl-data
tar -xJf build-ref/tokenizers.tar.xz -C /tmp/llmctl-data
export LLMCTL_SOURCE_DIR=$PWD LLMCTL_TOKENIZER_DIR=/tmp/llmctl-data/tokenizers
status=0
step() { echo "== $*"; "$@" || { echo "FAILED: $*"; status=1; }; }

step nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
step unit_tests
step gpu_runtime_test
step gpu_attention_test
step gpu_skinny_gemm_test
step gpu_sampling_test
step gpu_engine_test
step bash tests/integration/test_inspect_tokenizer.sh .gpu/bin . "$LLMCTL_TOKENIZER_DIR"
step bash tests/integration/test_generate.sh .gpu/bin .

echo "== goldens, regenerated with the reference implementations"
python3 -c "import tokenizers, transformers, jinja2; print('tokenizers', tokenizers.__version__, 'transformers', transformers.__version__, 'jinja2', jinja2.__version__)"
step python3 tests/reference/make_tokenizer_goldens.py "$LLMCTL_TOKENIZER_DIR" /tmp/goldens
for file in tests/fixtures/tokenizers/*.json; do  # every committed golden must come out again, identical
  cmp -s "$file" "/tmp/goldens/${file##*/}" && echo "same: ${file##*/}" || { echo "DIFFERS: ${file##*/}"; status=1; }
done
cp tests/fixtures/jinja/expected.json /tmp/jinja-committed.json
step python3 tests/reference/render_jinja_cases.py
cmp -s tests/fixtures/jinja/expected.json /tmp/jinja-committed.json && echo "same: jinja/expected.json" \
  || { echo "DIFFERS: jinja/expected.json"; cp tests/fixtures/jinja/expected.json "$out/jinja-expected.json"; status=1; }

# The tiny generation models must come out byte-identical; transformers' continuations the same, with
# logprobs equal to within 1e-6 (another CPU may sum in another order).
step python3 tests/reference/make_generation_goldens.py /tmp/generation
step python3 - <<'PY'
import filecmp, json, os, sys
ok = True
for model in sorted(os.listdir("tests/fixtures/generation")):
    ours, theirs = f"tests/fixtures/generation/{model}", f"/tmp/generation/{model}"
    for name in sorted(os.listdir(ours)):
        if name != "expected.json" and not filecmp.cmp(f"{ours}/{name}", f"{theirs}/{name}", shallow=False):
            print("DIFFERS:", model, name); ok = False
    a, b = json.load(open(f"{ours}/expected.json")), json.load(open(f"{theirs}/expected.json"))
    for x, y in zip(a["cases"], b["cases"]):
        same = x["prompt_token_ids"] == y["prompt_token_ids"] and all(
            s["token"] == t["token"] and all(p[0] == q[0] and abs(p[1] - q[1]) < 1e-6 for p, q in zip(s["top"], t["top"]))
            for s, t in zip(x["greedy"], y["greedy"]))
        if not same: print("DIFFERS:", model, x["name"]); ok = False
    print("same:" if ok else "checked:", model)
sys.exit(0 if ok else 1)
PY

echo "== tokenizer encode throughput, one thread on core 2, same text"
corpus=(docs/*.md man/*.1 libengine/*/*.cpp libengine/*/*.hpp tests/fixtures/tokenizers/qwen2_5.json)
lscpu | grep -E 'Model name|^CPU\(s\)'
step taskset -c 2 bench_tokenizer "$LLMCTL_TOKENIZER_DIR/qwen2_5/tokenizer.json" "${corpus[@]}"
step env RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false taskset -c 2 python3 tests/benchmarks/bench_tokenizer_hf.py "$LLMCTL_TOKENIZER_DIR/qwen2_5/tokenizer.json" "${corpus[@]}"
echo "== status $status"
exit $status
