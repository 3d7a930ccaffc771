#!/usr/bin/env python3
"""Groups FILM's VAL probing sentences (document_sentences.jsonl: one
{"sentence", "piece"} a line) into N documents {id, title, text} of S
consecutive sentences, for the IN2 run of tests/bench/run_text.sh. The file
holds ~13,500 sentences; when N * S needs more, later passes start 7
sentences further on, so that no two documents are the same text.
usage: val_docs.py SENTENCES.jsonl N OUT.jsonl [S=20]"""
import json
import sys

src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
per = int(sys.argv[4]) if len(sys.argv) > 4 else 20
with open(src) as f:
    sentences = [json.loads(line)["sentence"] for line in f if line.strip()]
total = len(sentences)
with open(out, "w") as f:
    for i in range(n):
        first = i * per
        start = (first + 7 * (first // total)) % total
        text = " ".join(sentences[(start + k) % total] for k in range(per))
        f.write(json.dumps({"id": "val-%d" % (i + 1), "title": "VAL document %d" % (i + 1), "text": text}) + "\n")
