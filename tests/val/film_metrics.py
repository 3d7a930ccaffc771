#!/usr/bin/env python3
"""FILM's VAL probing metrics, written again from FILM's description
(microsoft/FILM, VaLProbing/plot.py and the paper's §4): the reference that
tests/val/test_film_agreement.lua compares lacuna's scorer with.

  document  recall of the gold sentence's words: the gold and the prediction
            are stripped, lowercased and split on white space (Python's
            str.lower and str.split), and the score is
            len(set(gold) & set(pred)) / len(set(gold));
  code      1 if the gold function name, with dots stripped at both ends, is a
            substring of the prediction (case-sensitive), else 0;
  database  1 if the label or the description, dots stripped and lowercased,
            is a substring of the lowercased prediction, else 0.

Per kind and set, the scores are averaged per span of 50 positions, taking
positions start .. start + 48 (FILM's range(start, start + 50 - 1)); each
span's value is the mean over the sets; avg is the mean over spans, gap is
max - min. A span or set with no scored probe is left out (FILM would divide
by zero there).

Usage: film_metrics.py PREDICTIONS.jsonl  (lines: kind, completion | label +
description, prediction, set_id, position_id, positions) -> JSON on stdout.
"""
import json
import sys


def score(rec):
    kind, pred = rec["kind"], rec["prediction"]
    if kind == "document":
        gold = set(rec["completion"].strip().lower().split())
        words = set(pred.strip().lower().split())
        return len(gold & words) / len(gold)
    if kind == "code":
        return 1 if rec["completion"].strip(".") in pred else 0
    if kind == "database":
        p = pred.lower()
        hit = rec["label"].strip(".").lower() in p or rec["description"].strip(".").lower() in p
        return 1 if hit else 0
    raise ValueError("unknown kind " + kind)


def mean(xs):
    return sum(xs) / len(xs)


def curves(recs, scores, span=50):
    out = {}
    kinds = sorted({r["kind"] for r in recs})
    for kind in kinds:
        total = max(r["positions"] for r in recs if r["kind"] == kind)
        sets = sorted({r["set_id"] for r in recs if r["kind"] == kind})
        by = {s: {p: [] for p in range(total)} for s in sets}
        for r, sc in zip(recs, scores):
            if r["kind"] == kind:
                by[r["set_id"]][r["position_id"]].append(sc)
        spans = []
        for i in range(-(-total // span)):
            start = span * i
            end = min(span * i + span - 1, total)
            per_set = []
            for s in sets:
                accs = []
                for p in range(start, end):
                    accs += by[s][p]
                if accs:
                    per_set.append(mean(accs))
            spans.append(mean(per_set) if per_set else None)
        have = [x for x in spans if x is not None]
        out[kind] = {"spans": spans, "avg": mean(have), "gap": max(have) - min(have)}
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    scores = [score(r) for r in recs]
    json.dump({"scores": scores, "curves": curves(recs, scores)}, sys.stdout)
    sys.stdout.write("\n")


main()
