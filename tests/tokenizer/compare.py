#!/usr/bin/env python3
"""Compares lacuna's token dumps with the HF reference dumps, record by record.

Usage: compare.py MODEL MODEL_DIR CORPUS_DIR HF_DIR LC_DIR MISMATCH_DIR CORPUS...

For each CORPUS name reads CORPUS_DIR/<corpus>.txt (NUL-separated records),
HF_DIR/<model>_<corpus>.jsonl and LC_DIR/<model>_<corpus>.jsonl (one JSON line
per record, hf_dump.mjs / tok_dump format) and prints one tab-separated row:
    model corpus lines tokens identical_lines identical_%
where tokens counts the reference's tokens. A record is identical when ids and
offsets are (both writers emit the same bytes for the same encoding, so equal
lines are compared as text; only differing lines are parsed). The first 20
differing records go to MISMATCH_DIR/<model>_<corpus>.txt: the record number,
a text excerpt, and both outputs from the first differing token on, with the
token strings. Exit status: 0 all identical, 1 some record differs, 2 usage.
"""

import json
import os
import sys

MAX_REPORTS = 20
SHOW_TOKENS = 12


REFUSED = "but assigned by a newer Unicode"


def read_lines(path):
    try:
        with open(path, "r", encoding="utf-8", newline="\n") as f:
            return f.read().split("\n")[:-1]
    except OSError as e:
        return e


class Vocab:
    """id -> token string, loaded on the first mismatch only (Gemma's file is 33 MB)."""

    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.table = None

    def __getitem__(self, i):
        if self.table is None:
            self.table = {}
            try:
                with open(os.path.join(self.model_dir, "tokenizer.json"), encoding="utf-8") as f:
                    tj = json.load(f)
                vocab = tj.get("model", {}).get("vocab", {})
                if isinstance(vocab, dict):
                    self.table = {v: k for k, v in vocab.items()}
                for t in tj.get("added_tokens", []):
                    self.table[t["id"]] = t["content"]
            except (OSError, ValueError):
                pass
        return self.table.get(i, "?")


def show(s):
    return json.dumps(s, ensure_ascii=False)


def describe(enc, k, vocab, text):
    if "error" in enc:
        return "  error: %s\n" % enc["error"]
    ids, offs = enc.get("ids", []), enc.get("offsets", [])
    out = "  %d tokens" % len(ids)
    if "bad_byte_offsets" in enc:
        out += "; byte offsets disagree with char offsets at [token,bs,be,cs,ce] = %s" % \
            enc["bad_byte_offsets"]
    out += "\n"
    for j in range(k, min(len(ids), k + SHOW_TOKENS)):
        o = offs[j] if j < len(offs) else None
        piece = text[o[0]:o[1]] if o and 0 <= o[0] <= o[1] <= len(text) else "?"
        out += "  [%d] id=%d %s offsets=%s text=%s\n" % (j, ids[j], show(vocab[ids[j]]), o, show(piece))
    if len(ids) > k + SHOW_TOKENS:
        out += "  ...\n"
    return out


def first_diff(a, b):
    ia, ib = a.get("ids", []), b.get("ids", [])
    oa, ob = a.get("offsets", []), b.get("offsets", [])
    n = min(len(ia), len(ib))
    for k in range(n):
        if ia[k] != ib[k] or (k < len(oa) and k < len(ob) and oa[k] != ob[k]):
            return k
    return n


def compare(model, model_dir, corpus_dir, hf_dir, lc_dir, mm_dir, corpus, vocab):
    name = "%s_%s" % (model, corpus)
    hf = read_lines(os.path.join(hf_dir, name + ".jsonl"))
    lc = read_lines(os.path.join(lc_dir, name + ".jsonl"))
    if isinstance(hf, Exception):
        print("%s\t%s\tHF reference missing: %s" % (model, corpus, hf))
        return False
    tokens = sum(l.count("[") - 2 for l in hf)
    if isinstance(lc, Exception):
        print("%s\t%s\t%d\t%d\t0\t0.00\t(lacuna dump missing)" % (model, corpus, len(hf), tokens))
        return False
    same = sum(1 for a, b in zip(hf, lc) if a == b)
    # lacuna refuses text holding code points its Unicode tables leave
    # unassigned and a newer Unicode assigns: loud, never wrong ids
    refused = sum(1 for a, b in zip(hf, lc) if a != b and REFUSED in b)
    ok = same + refused == len(hf) == len(lc)
    pct = 100.0 * same / len(hf) if hf else 100.0
    if same != len(hf) and pct > 99.99:
        pct = 99.99  # never print 100.00 for a run that is not identical
    note = "" if len(hf) == len(lc) else "\t(lacuna wrote %d lines)" % len(lc)
    print("%s\t%s\t%d\t%d\t%d\t%.2f\t%d\t%s%s" % (model, corpus, len(hf), tokens, same, pct, refused,
                                                  "ok" if ok else "DIFFER", note))
    path = os.path.join(mm_dir, name + ".txt")
    if ok:
        if os.path.exists(path):
            os.remove(path)
        return True
    with open(os.path.join(corpus_dir, corpus + ".txt"), "rb") as f:
        records = f.read().split(b"\0")
    reports = []
    for r in range(max(len(hf), len(lc))):
        a = hf[r] if r < len(hf) else None
        b = lc[r] if r < len(lc) else None
        if a == b or (b is not None and REFUSED in b):
            continue
        text = records[r].decode("utf-8", "replace") if r < len(records) else ""
        ea = json.loads(a) if a is not None else {"error": "(no reference line)"}
        eb = json.loads(b) if b is not None else {"error": "(no lacuna line)"}
        k = first_diff(ea, eb)
        at = ea.get("offsets", [])[k][0] if k < len(ea.get("offsets", [])) else len(text)
        lo = max(0, at - 40)
        rep = "== record %d (line %d of the dumps), %d chars; first difference at token %d\n" % (
            r + 1, r + 1, len(text), k)
        rep += "text[%d:%d]: %s\n" % (lo, at + 80, show(text[lo:at + 80]))
        rep += "HF tokenizers:\n" + describe(ea, k, vocab, text)
        rep += "lacuna:\n" + describe(eb, k, vocab, text)
        reports.append(rep)
        if len(reports) >= MAX_REPORTS:
            break
    os.makedirs(mm_dir, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# %s on %s: %d of %d records differ (first %d shown)\n"
                "# corpus: %s (NUL-separated records; record N = line N of the dumps)\n"
                "# offsets are code points of the UTF-8-repaired text\n\n" % (
                    model, corpus, max(len(hf), len(lc)) - same, max(len(hf), len(lc)),
                    len(reports), os.path.join(corpus_dir, corpus + ".txt")))
        f.write("\n".join(reports))
    return False


def main(argv):
    if len(argv) < 7:
        sys.stderr.write(__doc__)
        return 2
    model, model_dir, corpus_dir, hf_dir, lc_dir, mm_dir = argv[:6]
    vocab = Vocab(model_dir)
    ok = True
    for corpus in argv[6:]:
        ok = compare(model, model_dir, corpus_dir, hf_dir, lc_dir, mm_dir, corpus, vocab) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
