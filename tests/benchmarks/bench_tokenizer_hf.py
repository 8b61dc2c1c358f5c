#!/usr/bin/env python3
"""The peer of bench_tokenizer: Hugging Face `tokenizers` encoding the same files on one thread, with
the same passes, so that both figures come from one machine and one run.
    RAYON_NUM_THREADS=1 python3 tests/benchmarks/bench_tokenizer_hf.py TOKENIZER_JSON FILE... [--passes N]
"""
import json
import sys
import time

import tokenizers


def file_text(path):
    if path.endswith(".json"):
        return "".join(entry["text"] + "\n" for entry in json.load(open(path, encoding="utf-8"))["encode"])
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def main():
    args = sys.argv[1:]
    passes = 5
    if "--passes" in args:
        at = args.index("--passes")
        passes = max(1, int(args[at + 1]))
        del args[at:at + 2]
    documents = [t for t in (file_text(p) for p in args[1:]) if t is not None]
    size = sum(len(d.encode("utf-8")) for d in documents)
    start = time.perf_counter()
    tokenizer = tokenizers.Tokenizer.from_file(args[0])
    load = time.perf_counter() - start
    seconds = []
    for _ in range(passes):
        start = time.perf_counter()
        count = sum(len(tokenizer.encode(d, add_special_tokens=False).ids) for d in documents)
        seconds.append(time.perf_counter() - start)
    warm = sum(seconds[1:]) / max(1, len(seconds) - 1)
    mb = size / 1e6
    print(f"HF tokenizers {tokenizers.__version__}: load {load:.2f} s")
    print(f"text: {mb:.2f} MB in {len(documents)} documents, {count} tokens")
    print(f"first pass (cold word cache): {mb / seconds[0]:.2f} MB/s, {count / seconds[0]:.0f} tokens/s")
    print(f"later passes (mean of {len(seconds) - 1}): {mb / warm:.2f} MB/s, {count / warm:.0f} tokens/s")


if __name__ == "__main__":
    main()
