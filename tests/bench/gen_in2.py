#!/usr/bin/env python3
"""Writes N IN2-shaped axolotl lines (meta.in2 with 1-2 needles at uniform
depths, lengths 4K-32K tokens) for tests/bench/run_stats.sh.
usage: gen_in2.py N OUT.jsonl [SEED]"""
import json
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
with open(out, "w") as f:
    for i in range(n):
        ctx = rng.randint(4000, 32000)
        kind = rng.choice(["I", "I", "II", "short"])
        needles = [{"depth": round(rng.random(), 4), "token_offset": rng.randint(0, ctx - 1),
                    "byte_span": [10, 50]} for _ in range(2 if kind == "II" else 1)]
        in2 = {"kind": kind, "context_tokens": ctx, "target_tokens": ctx, "needles": needles}
        if kind == "II":
            in2["gap"] = rng.randint(0, ctx)
        f.write(json.dumps({"messages": [
            {"role": "user", "content": "Context %d: lorem ipsum dolor sit amet. Question?" % i, "train": False},
            {"role": "assistant", "content": "The answer.", "train": True}], "meta": {"in2": in2}}) + "\n")
