#!/usr/bin/env python3
"""Deterministic synthetic chat corpus for the lacuna benchmarks.

Writes JSONL records shaped like real SFT chat data:
  {"id": "chat-000001", "messages": [{"role": "system", "content": ...},
   {"role": "user", "content": ...}, {"role": "assistant", "content": ...}, ...]}
with 1-4 user/assistant exchanges, realistic text lengths (short questions,
paragraph-long answers, the odd very long one) and some non-ASCII text
(accents, CJK, Cyrillic, emoji). The same --seed and --size-mb give the same
bytes on every run (Python's random.Random is seeded explicitly).

Usage: gen_chat.py --size-mb 20 -o FILE [--seed 1]
"""
import argparse
import json
import random
import sys

WORDS = (
    "the model data training loss token context answer question step reason "
    "check verify because therefore result value function list table number "
    "first second next then finally example method paper strategy sample "
    "correct error attempt explain consider carefully each which where when "
    "document segment needle depth length corpus teacher student prompt mask "
    "gradient batch epoch learning rate schedule warmup evaluation metric "
    "accuracy recall precision benchmark baseline ablation variance mean"
).split()
FOREIGN = [
    "café", "naïve", "über", "façade", "déjà vu", "señor", "Größe", "crème brûlée",
    "数据", "模型", "训练", "上下文", "推理", "答案", "问题", "自我纠正",
    "データ", "学習", "文脈", "данные", "обучение", "контекст", "ответ",
    "χαρά", "λόγος", "🙂", "🚀", "✓", "→", "≈", "€",
]
SYSTEMS = [
    "You are a helpful assistant.",
    "You are a cautious assistant. You carefully follow instructions. You are "
    "helpful and harmless and you follow ethical guidelines and promote "
    "positive behavior.",
    "You are an expert tutor. Explain your reasoning step by step before giving "
    "the final answer.",
    "Below is a context and an instruction. Based on the information provided "
    "in the context, write a response for the instruction.",
    "Tu es un assistant utile. Réponds de façon précise et concise.",
    "你是一个乐于助人的助手。请逐步推理,然后给出最终答案。",
]


def sentence(rng, lo, hi):
    n = rng.randint(lo, hi)
    words = []
    for _ in range(n):
        if rng.random() < 0.04:
            words.append(rng.choice(FOREIGN))
        else:
            words.append(rng.choice(WORDS))
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!", ":"])


def text(rng, sentences_lo, sentences_hi, words_lo=6, words_hi=22):
    parts = []
    for i in range(rng.randint(sentences_lo, sentences_hi)):
        parts.append(sentence(rng, words_lo, words_hi))
        if i and rng.random() < 0.12:
            parts.append("\n\n")
    body = " ".join(parts).replace(" \n\n ", "\n\n")
    if rng.random() < 0.05:  # the odd code block / quote characters
        body += '\n\n```python\nprint("x = %d" % x)\t# "quoted" \\ path\n```'
    return body


def record(rng, i):
    msgs = [{"role": "system", "content": rng.choice(SYSTEMS)}]
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        msgs.append({"role": "user", "content": text(rng, 1, 4)})
        # Answers: mostly a paragraph or three, sometimes long.
        hi = 40 if rng.random() < 0.08 else 12
        msgs.append({"role": "assistant", "content": text(rng, 2, hi)})
    return {"id": "chat-%07d" % i, "messages": msgs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, required=True,
                    help="stop after this many MiB (whole records)")
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    target = int(args.size_mb * 1024 * 1024)
    rng = random.Random(args.seed)
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    written, i = 0, 0
    while written < target:
        i += 1
        line = json.dumps(record(rng, i), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8") + b"\n"
        out.write(line)
        written += len(line)
    out.flush()
    if out is not sys.stdout.buffer:
        out.close()
    print("%d records, %d bytes" % (i, written), file=sys.stderr)


if __name__ == "__main__":
    main()
