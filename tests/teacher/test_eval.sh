#!/usr/bin/env bash
# recipes/val_probe.lua and `lacuna eval` end to end against the test server,
# scripted (scripts/val_thirds.mjs) to answer correctly only when the gold item
# sits in the first or the last third of its context: a U curve whose FILM
# numbers are worked out by hand below. Also: each probe kind's construction on
# hand-made pieces, ambiguity skips, one failed request failing only its probe,
# a rerun from the cache, FILM's own probe format, grid probes and the SVG.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
SRC=${LACUNA_SRC:-$TEACHER_DIR/../..}
FIX=$SRC/tests/val/fixtures
RECIPE=$SRC/recipes/val_probe.lua

lc() { # runs lacuna; sets CODE, OUT, ERR
  "$LACUNA" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  OUT=$(cat "$TMP/stdout")
  ERR=$(cat "$TMP/stderr")
}
near() { # got A/B: |got - A/B| < 1e-9
  awk -v g="$1" -v w="$2" 'BEGIN { split(w, f, "/"); d = g - f[1] / f[2]; if (d < 0) d = -d; exit !(d < 1e-9) }'
}

# ---- construction: 120 positions, one set per kind (the pieces' lengths differ by kind) ----
for spec in document:2700 code:4500 database:2700; do
  kind=${spec%%:*} tokens=${spec##*:}
  lc run "$RECIPE" -i "$FIX/pieces_$kind.jsonl" -o "$TMP/p_$kind.jsonl" -p kinds=$kind -p tokens=$tokens \
    -p positions_$kind=120 -p sets=1 --no-progress
  expect_eq "$CODE" 0 "$kind probes ($ERR)"
  expect_in "$ERR" "120 planned = 120 ok (120 examples) + 0 skipped + 0 failed" "$kind: one probe per position"
  expect_eq "$(jq -r "[.meta.probe.position_id] | @csv" "$TMP/p_$kind.jsonl" | paste -sd, | tr -d '"')" \
    "$(seq -s, 0 119)" "$kind: positions 0..119 in order"
  expect_eq "$(jq -r '.meta.probe.kind' "$TMP/p_$kind.jsonl" | sort -u)" "$kind" "$kind: kind in meta.probe"
  ctx=$(jq -c ".report.sets[0]" "$TMP/p_$kind.manifest.json")
  expect_eq "$(jq .items <<<"$ctx")" 120 "$kind: one context of 120 items"
  expect_eq "$(jq -r '.meta.probe | select(.prompt_tokens > .target_tokens or .prompt_tokens < .target_tokens - 16)
    | .position_id' "$TMP/p_$kind.jsonl" | wc -l)" 0 "$kind: prompts within 16 tokens of the target"
  # every prompt holds its key
  bad=$(jq -r 'select((.prompt[0].content | contains(.meta.probe.key)) | not) | .meta.probe.position_id' \
    "$TMP/p_$kind.jsonl" 2>/dev/null | wc -l)
  expect_eq "$bad" 0 "$kind: every prompt holds its key"
done
# the gold of each kind: document the sentence, code the name, database label and description
expect_eq "$(jq -r 'select(.meta.probe.position_id == 0) | .meta.probe.completion == .completion[0].content' \
  "$TMP/p_document.jsonl")" true "document: the completion is the sentence"
expect_in "$(jq -r 'select(.meta.probe.position_id == 0) | .prompt[0].content' "$TMP/p_code.jsonl")" \
  "def $(jq -r 'select(.meta.probe.position_id == 0) | .meta.probe.completion' "$TMP/p_code.jsonl")():" \
  "code: the gold function is in the context"
db0=$(jq -c 'select(.meta.probe.position_id == 5) | .meta.probe' "$TMP/p_database.jsonl")
expect_in "$(jq -r 'select(.meta.probe.position_id == 5) | .prompt[0].content' "$TMP/p_database.jsonl")" \
  "id: $(jq -r .key <<<"$db0"), label: $(jq -r .label <<<"$db0"), description: $(jq -r .description <<<"$db0")" \
  "database: the entity line is in the context"
expect_in "$(jq -r 'select(.meta.probe.position_id == 5) | .prompt[0].content' "$TMP/p_database.jsonl")" \
  "there is one entity whose id is $(jq -r .key <<<"$db0")." "database: forward retrieval by id"

# ---- ambiguity: piece 0's line also in piece 1's body: 1 of 160 probes (all pieces) skipped ----
jq -c -s '.[0].piece as $p | .[] | if .function_name | endswith("_001") then .function_define += "\n    " + $p else . end' \
  "$FIX/pieces_code.jsonl" >"$TMP/amb.jsonl"
lc run "$RECIPE" -i "$TMP/amb.jsonl" -o "$TMP/amb_out.jsonl" -p kinds=code -p tokens=6000 -p positions_code=160 \
  -p sets=1 -p tolerance=0.5 --no-progress
expect_eq "$CODE" 0 "ambiguous run ($ERR)"
expect_in "$ERR" "160 planned = 159 ok (159 examples) + 1 skipped + 0 failed" "the ambiguous probe is a skip"
expect_eq "$(jq .report.probes.code.ambiguous "$TMP/amb_out.manifest.json")" 1 "ambiguity skips reported as a count"
expect_in "$(cat "$TMP/amb_out.skipped.jsonl")" "ambiguous: 2 items of the context of code set 0 hold the key" "the skip says why"

# ---- eval: the U curve ----
start_server --script "$TEACHER_DIR/scripts/val_thirds.mjs" --latency-ms 2
cat "$TMP"/p_document.jsonl "$TMP"/p_code.jsonl "$TMP"/p_database.jsonl >"$TMP/probes.jsonl"
EV=(--model m --base-url "$BASE_URL" --cache "$TMP/cache.db" --concurrency 32)
lc eval "$TMP/probes.jsonl" -o "$TMP/pred.jsonl" "${EV[@]}" --svg "$TMP/u.svg"
expect_eq "$CODE" 0 "eval ($ERR)"
expect_in "$ERR" "360 probes = 360 scored + 0 failed" "every probe scored"
# By hand: 120 positions, thirds at 40 and 80. FILM's spans take positions
# 0-48, 50-98, 100-119: 40/49 correct, 19/49 (80-98), 20/20. avg = (40/49 +
# 19/49 + 1) / 3 = 36/49, gap = 1 - 19/49 = 30/49.
for kind in document code database; do
  expect_true "$kind avg = 36/49" near "$(jq ".curves.$kind.avg" "$TMP/pred.summary.json")" 36/49
  expect_true "$kind gap = 30/49" near "$(jq ".curves.$kind.gap" "$TMP/pred.summary.json")" 30/49
  expect_in "$OUT" "avg 0.7347, max-min gap 0.6122" "$kind summary line"
done
expect_eq "$(wc -l <"$TMP/pred.jsonl")" 360 "one prediction line per probe"
expect_eq "$(jq -c 'select(.kind == "database" and .position_id == 60) | [.score, .samples[0]]' "$TMP/pred.jsonl")" \
  '[0,"I do not know."]' "a middle probe scores 0"
expect_eq "$(jq -c 'select(.kind == "code" and .position_id == 119) | .score' "$TMP/pred.jsonl")" 1 "a last-third probe scores 1"
expect_in "$(cat "$TMP/u.svg")" "<polyline" "the SVG draws the curves"
# --spans all: 40/50, 20/50, 20/20 -> avg 11/15, gap 3/5
lc eval "$TMP/probes.jsonl" -o "$TMP/pred_all.jsonl" "${EV[@]}" --spans all --json
expect_true "spans=all avg = 11/15" near "$(jq .curves.code.avg <<<"$OUT")" 11/15
expect_true "spans=all gap = 3/5" near "$(jq .curves.code.gap <<<"$OUT")" 3/5
expect_in "$ERR" "0 requests (0 retries), 360 cache hits" "a rerun answers from the cache"
expect_eq "$(jq -c 'del(.cached)' "$TMP/pred_all.jsonl" | md5sum)" "$(jq -c 'del(.cached)' "$TMP/pred.jsonl" | md5sum)" \
  "the same predictions from the cache"

# ---- one failed request fails only its probe ----
lc eval "$TMP/probes.jsonl" -o "$TMP/pred_fail.jsonl" --model fail --base-url "$BASE_URL" --no-cache
expect_eq "$CODE" 1 "a failed probe makes exit 1"
expect_in "$ERR" "360 probes = 359 scored + 1 failed" "only that probe failed"
expect_eq "$(jq -c 'select(.error) | [.kind, (.score == null), (.error | test("scripted failure"))]' "$TMP/pred_fail.jsonl")" \
  '["document",true,true]' "its line has the error and no score"

# ---- interrupted, then resumed from the cache: nothing written, then nothing paid twice ----
server_config '{"latency_ms": 40}'
reset_stats
"$LACUNA" eval "$TMP/probes.jsonl" -o "$TMP/pred_int.jsonl" --model m --base-url "$BASE_URL" \
  --cache "$TMP/int.db" --concurrency 8 --no-progress >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
for ((i = 0; i < 400; i++)); do # until some 40 probes are answered
  [ "$(stat_get '.by_status["200"] // 0')" -ge 40 ] && break
  sleep 0.05
done
kill -INT "$pid"
wait "$pid"
expect_eq "$?" 130 "Ctrl-C stops eval with 130"
expect_eq "$([ -e "$TMP/pred_int.jsonl" ] && echo written || echo none)" none "an interrupted eval writes nothing"
server_config '{"latency_ms": 0}'
lc eval "$TMP/probes.jsonl" -o "$TMP/pred_int.jsonl" --model m --base-url "$BASE_URL" --cache "$TMP/int.db"
expect_eq "$CODE" 0 "the rerun finishes ($ERR)"
hits=$(sed -n 's/.*teacher: \([0-9]*\) requests (0 retries), \([0-9]*\) cache hits.*/\1 \2/p' <<<"$ERR")
expect_ne "${hits#* }" 0 "the rerun answers the probes done before the interrupt from the cache"
expect_eq "$(( ${hits% *} + ${hits#* } ))" 360 "requests + cache hits = the probes"
expect_eq "$(jq -c 'del(.cached)' "$TMP/pred_int.jsonl" | md5sum)" "$(jq -c 'del(.cached)' "$TMP/pred.jsonl" | md5sum)" \
  "the resumed predictions equal the uninterrupted ones"

# ---- FILM's own probe format: {prompt, completion, position_id, set_id} ----
jq -c '{prompt: .prompt[0].content, completion: .meta.probe.completion, position_id: .meta.probe.position_id,
        set_id: .meta.probe.set_id}' "$TMP/p_code.jsonl" >"$TMP/code_backward_film.jsonl"
lc eval "$TMP/code_backward_film.jsonl" -o "$TMP/pred_film.jsonl" "${EV[@]}" --json
expect_eq "$CODE" 0 "FILM-format eval ($ERR)"
expect_true "FILM format: the same code avg" near "$(jq .curves.code.avg <<<"$OUT")" 36/49
# a malformed probe line fails that probe only, named by file:line
{ cat "$TMP/code_backward_film.jsonl"; echo '{"prompt": 5}'; } >"$TMP/code_bad.jsonl"
lc eval "$TMP/code_bad.jsonl" -o "$TMP/pred_bad.jsonl" "${EV[@]}" --kind code
expect_eq "$CODE" 1 "a bad probe line makes exit 1"
expect_in "$ERR" "121 probes = 120 scored + 1 failed" "only the bad line failed"
expect_in "$(jq -r 'select(.error) | .error' "$TMP/pred_bad.jsonl")" "code_bad.jsonl:121: no prompt" \
  "its line names the file and line"
# FILM's skip list (0-based line indices): leaving out positions 0-39 leaves span 1 with 40-48,
# all in the middle third: avg (0 + 19/49 + 1) / 3 = 68/147, gap 1.
jq -nc '[range(0; 40)]' >"$TMP/skip.json"
lc eval "$TMP/code_backward_film.jsonl" -o "$TMP/pred_skip.jsonl" "${EV[@]}" --skip-list "$TMP/skip.json" --json
expect_in "$ERR" "120 probes = 80 scored + 40 skipped (--skip-list) + 0 failed" "skip-listed probes are not sent"
expect_true "skip list: avg 68/147" near "$(jq .curves.code.avg <<<"$OUT")" 68/147
expect_true "skip list: gap 1" near "$(jq .curves.code.gap <<<"$OUT")" 1/1
expect_eq "$(jq -c 'select(.position_id == 3) | [.skipped, .score]' "$TMP/pred_skip.jsonl")" '[true,null]' \
  "a skipped probe's line says so"

# ---- grid: 2 lengths x 3 depths x 3 needle kinds ----
lc run "$RECIPE" -i "$FIX/pieces_database.jsonl" -o "$TMP/grid.jsonl" -p kinds=database -p sets=0 \
  -p grid_lengths=600,1200 -p grid_depths=3 -p grid_needles=single,multikey,multivalue --no-progress
expect_in "$ERR" "18 planned = 18 ok" "grid probes planned"
"$LACUNA" run "$RECIPE" -i "$FIX/pieces_database.jsonl" -o "$TMP/grid_w1.jsonl" -p kinds=database -p sets=0 \
  -p grid_lengths=600,1200 -p grid_depths=3 -p grid_needles=single,multikey,multivalue --window 1 -q
expect_eq "$(md5sum <"$TMP/grid_w1.jsonl")" "$(md5sum <"$TMP/grid.jsonl")" "the same probes whatever --window"
expect_eq "$(jq -r '.meta.probe | select(.prompt_tokens > .target_tokens or .prompt_tokens < .target_tokens - 16) | .key' \
  "$TMP/grid.jsonl" | wc -l)" 0 "grid prompts within 16 tokens of their length"
# multikey: each hard negative's key is in the context, differs from the key by one character, and
# the key itself is held by the needle alone
mk_bad=$(jq -r 'select(.meta.probe.grid.needle == "multikey") | .meta.probe as $p | .prompt[0].content as $c
  | $p.distractor_keys[] | select(($c | contains(.) | not) or . == $p.key or (length != ($p.key | length))
    or ([$c | scan("id: " + $p.key + ",")] | length) != 1)' "$TMP/grid.jsonl" | wc -l)
expect_eq "$mk_bad" 0 "multikey: hard negatives one character away from the key, the key unique"
expect_eq "$(jq -r 'select(.meta.probe.grid.needle == "multikey") | .meta.probe.distractor_keys | length' \
  "$TMP/grid.jsonl" | sort -u)" 3 "multikey: 3 distractors by default"
expect_eq "$(jq -r 'select(.meta.probe.grid.needle == "multivalue") | .meta.probe.answers | length' "$TMP/grid.jsonl" | sort -u)" \
  2 "multivalue probes carry their answers"
lc eval "$TMP/grid.jsonl" -o "$TMP/pred_grid.jsonl" "${EV[@]}" --json --svg "$TMP/grid.svg"
expect_eq "$CODE" 0 "grid eval ($ERR)"
expect_eq "$(jq -c '.grids.database.single | [.lengths, .depths, (.scores | length), (.scores[0] | length)]' <<<"$OUT")" \
  '[[600,1200],[0,0.5,1],2,3]' "the length x depth grid"
expect_in "$(cat "$TMP/grid.svg")" "depth (down) x prompt tokens (across)" "the SVG draws the heat map"

finish
