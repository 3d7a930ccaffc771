#!/usr/bin/env bash
# lacuna pack / reproduce end to end against the loopback test server: a
# teacher run (modules, params, skips, failures, fan-out) packed into one file
# that regenerates every output file byte for byte with no teacher and no
# key; the pack holds no key, exactly the entries the run read, and refuses
# what it could not reproduce; a missing entry fails loudly, never calls out.
source "$(dirname "$0")/lib.sh"
LACUNA=${LACUNA_BIN:?set LACUNA_BIN}
RECIPE_SRC=$TEACHER_DIR/recipes/pack_ask
SECRET=sk-test-SECRET-5f1d2e9a
export TEST_SERVER_API_KEY=$SECRET
start_server --latency-ms 2
unset TEST_SERVER_API_KEY

in_dir() { # dir command...: runs it in dir; sets CODE, ERR
  local d=$1; shift
  (cd "$d" && "$@") >"$TMP/stdout" 2>"$TMP/stderr"
  CODE=$?
  ERR=$(cat "$TMP/stderr")
}
run() { local d=$1; shift; in_dir "$d" "$LACUNA" "$@"; } # dir args...: lacuna in dir
expect_same_file() { # got want description
  if cmp -s "$1" "$2"; then ok; else bad "$3: $1 differs from $2"; fi
}
same_set() { # dirA dirB description: OUT, skipped and failed files are identical
  local f
  for f in ds.jsonl ds.skipped.jsonl ds.failed.jsonl; do
    if cmp -s "$1/out/$f" "$2/out/$f"; then ok; else bad "$3: out/$f differs"; fi
  done
}

# The run: in its own folder, relative paths, as a user would.
W=$TMP/work
mkdir -p "$W/data" "$W/recipe"
cp "$RECIPE_SRC"/*.lua "$W/recipe/"
for i in $(seq 1 40); do echo "{\"question\":\"Question $i: what is $i cubed?\"}"; done >"$W/data/q.jsonl"
{ echo '{"question":"please skip me"}'; echo '{"question":"boom now"}'; echo '{"nope":1}'; echo 'not json'; } >>"$W/data/q.jsonl"
# Another dataset in the same cache first: its entries must not go into the pack.
echo '{"question":"unrelated"}' >"$W/data/other.jsonl"
COMMON=(--model m1 --base-url "$BASE_URL" --cache cache/teacher.db --no-progress -q)
OPENAI_API_KEY=$SECRET run "$W" run recipe/main.lua -i data/other.jsonl -o other/ds.jsonl "${COMMON[@]}"
expect_eq "$CODE" 0 "the unrelated run"
OPENAI_API_KEY=$SECRET run "$W" run recipe/main.lua -i data/q.jsonl -o out/ds.jsonl "${COMMON[@]}" \
  -p samples=2 -p temperature=0.25 -p tags=x,y,z -p "style=very terse" --seed 7
expect_eq "$CODE" 1 "the run (2 items fail on purpose)"
expect_eq "$(jq -r '.counts | "\(.ok) \(.skipped) \(.failed)"' "$W/out/ds.manifest.json")" "40 1 3" "its counts"
requests=$(stat_get .requests)

run "$W" pack out/ds.jsonl
expect_eq "$CODE" 0 "pack: $ERR"
PACK=$W/out/ds.pack.jsonl.gz
expect_true "pack writes one file" test -s "$PACK"
expect_in "$ERR" "80 cache entries" "exactly the 80 requests of the run (not the unrelated run's)"
expect_eq "$(stat_get .requests)" "$requests" "pack calls no teacher"
zcat "$PACK" >"$TMP/pack.jsonl"
expect_eq "$(grep -c "$SECRET" "$TMP/pack.jsonl")" 0 "the API key is not in the pack"
expect_eq "$(grep -ci 'authorization\|bearer' "$TMP/pack.jsonl")" 0 "nor any auth header"
expect_eq "$(head -1 "$TMP/pack.jsonl" | jq -r '.recipe.files | keys | join(",")')" "main.lua,prompts.lua" \
  "the recipe and its module"
expect_eq "$(head -1 "$TMP/pack.jsonl" | jq -c '.manifest.params')" \
  '{"samples":2,"style":"very terse","tags":["x","y","z"],"temperature":0.25}' "the params"
expect_eq "$(grep -c '"key":' "$TMP/pack.jsonl")" 80 "80 entry lines"

# Reproduce in an empty folder, with no key and nothing reachable.
R=$TMP/repro
mkdir -p "$R"
in_dir "$R" env -u OPENAI_API_KEY -u OPENAI_BASE_URL "$LACUNA" reproduce "$PACK"
expect_eq "$CODE" 0 "reproduce: $ERR"
expect_in "$ERR" "byte-identical to the packed dataset" "reproduce says so"
same_set "$R" "$W" "reproduced"
expect_same_file "$R/data/q.jsonl" "$W/data/q.jsonl" "the input was restored at its path"
expect_eq "$(stat_get .requests)" "$requests" "reproduce calls no teacher"
# Again over the restored input: it is recognised by its hash.
run "$R" reproduce "$PACK" -o again/ds.jsonl
expect_eq "$CODE" 0 "reproduce again, elsewhere"
expect_same_file "$R/again/ds.jsonl" "$W/out/ds.jsonl" "the same bytes"
# An input file that differs is never overwritten.
R2=$TMP/repro2
mkdir -p "$R2/data"
echo '{"question":"mine"}' >"$R2/data/q.jsonl"
run "$R2" reproduce "$PACK"
expect_eq "$CODE" 2 "a different file at the input's path stops reproduce"
expect_in "$ERR" "data/q.jsonl exists and is not the input the dataset was made from" "the file is named"
expect_eq "$(cat "$R2/data/q.jsonl")" '{"question":"mine"}' "and left alone"

# A missing entry: the item fails (no call out), and reproduce says the set differs.
{ head -2 "$TMP/pack.jsonl" | head -1 | jq -c '.cache_entries = 79'; sed -n '2,$p' "$TMP/pack.jsonl" | grep -v '"key":' ;
  grep '"key":' "$TMP/pack.jsonl" | sed 1d; } | gzip >"$TMP/short.pack.jsonl.gz"
R3=$TMP/repro3
mkdir -p "$R3"
OPENAI_API_KEY=$SECRET OPENAI_BASE_URL=$BASE_URL run "$R3" reproduce "$TMP/short.pack.jsonl.gz"
expect_eq "$CODE" 1 "a pack missing an entry does not reproduce"
expect_in "$ERR" "cache miss for request" "the miss is reported"
expect_in "$ERR" "examples differs from the packed dataset's" "the difference is reported"
expect_eq "$(stat_get .requests)" "$requests" "a missing entry never calls the teacher, even with a key and a server"
# A pack whose count disagrees with its entries is truncated.
zcat "$PACK" | head -n -1 | gzip >"$TMP/cut.pack.jsonl.gz"
R4=$TMP/repro4
mkdir -p "$R4"
run "$R4" reproduce "$TMP/cut.pack.jsonl.gz"
expect_eq "$CODE" 2 "a truncated pack is refused"
expect_in "$ERR" "the pack is truncated: 79 of its 80 cache entries" "truncation is named"
run "$R4" reproduce "$W/data/q.jsonl"
expect_eq "$CODE" 2 "not a pack"
expect_in "$ERR" "is not a lacuna pack" "says so"

# --no-inputs: the pack names the input by hash; reproduce needs the file.
run "$W" pack out/ds.jsonl --no-inputs -o "$TMP/noin.pack.jsonl.gz"
expect_eq "$CODE" 0 "pack --no-inputs"
expect_true "--no-inputs is smaller" test "$(stat -c %s "$TMP/noin.pack.jsonl.gz")" -lt "$(stat -c %s "$PACK")"
R5=$TMP/repro5
mkdir -p "$R5"
run "$R5" reproduce "$TMP/noin.pack.jsonl.gz"
expect_eq "$CODE" 2 "without the input, reproduce stops"
expect_in "$ERR" "does not carry its input data/q.jsonl (packed with --no-inputs): put that file" "and says which"
mkdir -p "$R5/data" && cp "$W/data/q.jsonl" "$R5/data/"
run "$R5" reproduce "$TMP/noin.pack.jsonl.gz"
expect_eq "$CODE" 0 "with the input in place, it reproduces"
same_set "$R5" "$W" "reproduced from --no-inputs"

# Named teachers (--teacher NAME=MODEL@URL): the models are recorded, never the URL.
cp "$TEACHER_DIR/recipes/two_step.lua" "$W/recipe/"
OPENAI_API_KEY=$SECRET run "$W" run recipe/two_step.lua -i data/other.jsonl -o two/ds.jsonl --cache cache/teacher.db \
  --teacher "attempt=small@$BASE_URL" --teacher "judge=big@$BASE_URL" --no-progress -q
expect_eq "$CODE" 0 "a run with named teachers: $ERR"
expect_eq "$(jq -c .reproduce.teachers "$W/two/ds.manifest.json")" '{"attempt":"small","judge":"big"}' \
  "the manifest records the named teachers' models"
run "$W" pack two/ds.jsonl
expect_eq "$CODE" 0 "pack with named teachers: $ERR"
expect_in "$ERR" "2 cache entries" "both steps' entries"
expect_eq "$(zcat "$W/two/ds.pack.jsonl.gz" | grep -c "127.0.0.1")" 0 "no base URL in the pack"
R6=$TMP/repro6
mkdir -p "$R6"
run "$R6" reproduce "$W/two/ds.pack.jsonl.gz"
expect_eq "$CODE" 0 "reproduce with named teachers: $ERR"
expect_same_file "$R6/two/ds.jsonl" "$W/two/ds.jsonl" "byte-identical"

# pack refuses what would not reproduce.
run "$W" pack nothere.jsonl
expect_eq "$CODE" 2 "no such set"
expect_in "$ERR" "has no manifest" "says so"
cp "$W/recipe/prompts.lua" "$TMP/prompts.keep"
echo '-- edited after the run' >>"$W/recipe/prompts.lua"
sed -i 's/"Answer in a "/"Reply in a "/' "$W/recipe/prompts.lua"
rm -f "$W/out/ds.pack.jsonl.gz"
run "$W" pack out/ds.jsonl
expect_eq "$CODE" 2 "a module edited since the run: pack refuses"
expect_in "$ERR" "does not give the same" "and says the rerun differs"
expect_true "no pack is written" test ! -e "$W/out/ds.pack.jsonl.gz"
cp "$TMP/prompts.keep" "$W/recipe/prompts.lua"
run "$W" run recipe/main.lua -i data/q.jsonl -o nocache/ds.jsonl --model m1 --base-url "$BASE_URL" --no-cache -q --no-progress
OPENAI_API_KEY=$SECRET run "$W" run recipe/main.lua -i data/other.jsonl -o nocache/ds.jsonl --model m1 --base-url "$BASE_URL" --no-cache -q --no-progress
run "$W" pack nocache/ds.jsonl
expect_eq "$CODE" 2 "a --no-cache run cannot be packed"
expect_in "$ERR" "was made with --no-cache" "says why"

finish
