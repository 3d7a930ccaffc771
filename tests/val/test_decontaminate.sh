#!/usr/bin/env bash
# val_probe's decontamination check against a real training output: an IN2 run
# (recipes/in2.lua, qa=extractive, on the bundled sample corpus) and document
# probes built from the same corpus's sentences. report.decontamination counts
# the probes whose gold sentence occurs in the run's text, and each such probe
# says so (meta.probe.contaminated); the test counts them independently.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/../..
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0
expect_eq() { if [ "$1" = "$2" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $3: got '$1', want '$2'" >&2; fi; }

# Document pieces from the sample corpus: each sentence of 10+ words, its words 4-8 as the piece.
python3 - "$SRC/recipes/samples/corpus.jsonl" "$TMP/pieces.jsonl" <<'PY'
import json, re, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
            w = s.split()
            if len(w) >= 10 and " ".join(w[3:8]) in s:
                out.write(json.dumps({"sentence": s, "piece": " ".join(w[3:8])}) + "\n")
PY
n=$(wc -l <"$TMP/pieces.jsonl")
"$LACUNA" run in2 -i "$SRC/recipes/samples/corpus.jsonl" -o "$TMP/in2.jsonl" -p qa=extractive -p min_tokens=1024 \
  -p max_tokens=4096 -p items=20 -q || { echo "FAIL: in2 run" >&2; exit 1; }
# Every piece in one context (positions = all of them), so every sentence is checked.
"$LACUNA" run "$SRC/recipes/val_probe.lua" -i "$TMP/pieces.jsonl" -o "$TMP/probes.jsonl" -p kinds=document \
  -p positions_document="$n" -p sets=1 -p tokens=40000 -p tolerance=1 -p decontaminate="$TMP/in2.jsonl" -q ||
  { echo "FAIL: val_probe run" >&2; exit 1; }
want=$(python3 - "$TMP/pieces.jsonl" "$TMP/in2.jsonl" <<'PY'
import json, sys
text = []
for line in open(sys.argv[2]):
    for m in json.loads(line)["messages"]:
        text.append(m["content"])
text = "\n".join(text)
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["sentence"] in text))
PY
)
rep=$(jq -c .report.decontamination.document "$TMP/probes.manifest.json")
expect_eq "$(jq .checked <<<"$rep")" "$n" "every probe checked"
expect_eq "$(jq .found <<<"$rep")" "$want" "probes whose gold sentence is in the IN2 run"
[ "$want" -gt 0 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: the IN2 run holds no probe sentence" >&2; }
skipped=$(wc -l <"$TMP/probes.skipped.jsonl")
flagged=$(jq -r 'select(.meta.probe.contaminated) | .meta.probe.completion' "$TMP/probes.jsonl" | wc -l)
in_run=$(python3 - "$TMP/probes.jsonl" "$TMP/in2.jsonl" <<'PY'
import json, sys
text = "\n".join(m["content"] for l in open(sys.argv[2]) for m in json.loads(l)["messages"])
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["meta"]["probe"]["completion"] in text))
PY
)
expect_eq "$flagged" "$in_run" "written probes flagged contaminated"
echo "$passed passed, $failed failed ($n probes, $want contaminated, $skipped ambiguous)"
[ "$failed" -eq 0 ]
