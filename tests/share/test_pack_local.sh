# lacuna pack / reproduce without a teacher: a shipped recipe, a recipe whose
# module fails some items (tracebacks in the failure records must come out
# the same), a pinned-URL bundle, and what cannot be packed.
source "$(dirname "$0")/../e2e/lib.sh"
FAILS=$(cd "$(dirname "$0")/fixtures/fails" && pwd)
FOUR=$(cd "$(dirname "$0")/../fixtures/e2e" && pwd)/four.jsonl
in_dir() { local d=$1; shift; (cd "$d" && "$LACUNA" "$@") >"$TMP/stdout" 2>"$TMP/stderr"; CODE=$?; ERR=$(cat "$TMP/stderr"); }
same_set() { # dirA dirB out description
  local f base=${3%.jsonl}
  for f in "$3" "$base.skipped.jsonl" "$base.failed.jsonl"; do
    if cmp -s "$1/$f" "$2/$f"; then ok; else bad "$4: $f differs"; diff "$1/$f" "$2/$f" | head -5 >&2; fi
  done
}

# A shipped recipe (its manifest path is recipes/chat_mask.lua, no such file here).
mkdir -p "$TMP/a/in" "$TMP/a2"
cp "$FOUR" "$TMP/a/in/four.jsonl"
in_dir "$TMP/a" run chat_mask -i in/four.jsonl -o out/cm.jsonl -q
expect_code 0 "chat_mask run"
in_dir "$TMP/a" pack out/cm.jsonl
expect_code 0 "pack of a shipped recipe's run"
expect_in "$ERR" "0 cache entries" "no teacher, no entries"
in_dir "$TMP/a2" reproduce ../a/out/cm.pack.jsonl.gz
expect_code 0 "reproduce of a shipped recipe's run"
same_set "$TMP/a2" "$TMP/a" out/cm.jsonl "chat_mask reproduced"

# A gzip input (bytes that are not UTF-8) is carried and restored bit for bit.
mkdir -p "$TMP/g/in" "$TMP/g2"
gzip -c "$FOUR" >"$TMP/g/in/four.jsonl.gz"
in_dir "$TMP/g" run chat_mask -i in/four.jsonl.gz -o out/cm.jsonl -q
expect_code 0 "chat_mask over a .gz input"
in_dir "$TMP/g" pack out/cm.jsonl
expect_code 0 "pack with a .gz input"
in_dir "$TMP/g2" reproduce ../g/out/cm.pack.jsonl.gz
expect_code 0 "reproduce with a .gz input: $ERR"
expect_same_file "$TMP/g2/in/four.jsonl.gz" "$TMP/g/in/four.jsonl.gz" "the .gz input restored byte for byte"
same_set "$TMP/g2" "$TMP/g" out/cm.jsonl "reproduced from a .gz input"

# Failures inside a module, skips, int and float params.
mkdir -p "$TMP/b/data" "$TMP/b2"
cp -r "$FAILS" "$TMP/b/recipe"
for i in $(seq 1 12); do echo "{\"n\":$i}"; done >"$TMP/b/data/n.jsonl"
echo '{"n":"x"}' >>"$TMP/b/data/n.jsonl"
in_dir "$TMP/b" run recipe/main.lua -i data/n.jsonl -o out/f.jsonl -p bad=7 -p ratio=1.5 --seed 3 --limit 11 -q
expect_code 1 "the run fails one item"
expect_in "$(cat "$TMP/b/out/f.failed.jsonl")" "recipe/lib/check.lua:3: the bad value 7" "the failure names the module's line"
in_dir "$TMP/b" pack out/f.jsonl
expect_code 0 "pack"
in_dir "$TMP/b2" reproduce ../b/out/f.pack.jsonl.gz
expect_code 0 "reproduce: $ERR"
same_set "$TMP/b2" "$TMP/b" out/f.jsonl "failures, skips and --limit reproduced"
expect_eq "$(jq -r .reproduce.limit "$TMP/b2/out/f.manifest.json")" 11 "the reproduction ran with --limit 11"

# The recipe changed since the run: pack refuses.
echo "-- edited" >>"$TMP/b/recipe/main.lua"
in_dir "$TMP/b" pack out/f.jsonl -o "$TMP/changed.pack.jsonl.gz"
expect_code 2 "an edited recipe is not packed"
expect_in "$ERR" "recipe/main.lua changed since the run" "says which file changed"
expect_true "no pack written" test ! -e "$TMP/changed.pack.jsonl.gz"

# A pack whose recipe was swapped is refused by reproduce.
zcat "$TMP/b/out/f.pack.jsonl.gz" >"$TMP/p.jsonl"
{ head -1 "$TMP/p.jsonl" | jq -c '.recipe.files["main.lua"] += "\n-- swapped"'; sed 1d "$TMP/p.jsonl"; } | gzip >"$TMP/swapped.pack.jsonl.gz"
mkdir -p "$TMP/b3"
in_dir "$TMP/b3" reproduce ../swapped.pack.jsonl.gz
expect_code 2 "a swapped recipe is refused"
expect_in "$ERR" "is not the one its manifest names" "says so"

# A --trust run: packing and reproducing it need --trust too.
in_dir "$TMP/a" run chat_mask -i in/four.jsonl -o out/trusted.jsonl -q --trust
expect_code 0 "a --trust run"
in_dir "$TMP/a" pack out/trusted.jsonl
expect_code 2 "pack of a --trust run without --trust"
expect_in "$ERR" "was made with --trust" "says why"
in_dir "$TMP/a" pack out/trusted.jsonl --trust
expect_code 0 "pack --trust"
mkdir -p "$TMP/t2"
in_dir "$TMP/t2" reproduce ../a/out/trusted.pack.jsonl.gz
expect_code 2 "reproduce of a --trust pack without --trust"
expect_in "$ERR" "ran with --trust (no sandbox); read it, then pass --trust" "says why"
expect_true "nothing restored or run" test ! -e "$TMP/t2/out"
in_dir "$TMP/t2" reproduce ../a/out/trusted.pack.jsonl.gz --trust
expect_code 0 "reproduce --trust"
same_set "$TMP/t2" "$TMP/a" out/trusted.jsonl "a --trust run reproduced"

# A run under a small --max-instructions: the same items run out of budget again.
mkdir -p "$TMP/m/in" "$TMP/m2"
cat >"$TMP/m/spin.lua" <<'LUA'
local lc = require "lacuna"
return lc.recipe {
  name = "spin", version = "1", input = { n = "integer" },
  map = function(rec)
    local x = 0
    for i = 1, rec.n * 20000 do x = x + i end
    return lc.example():user(tostring(rec.n)):assistant(tostring(x))
  end,
}
LUA
for n in 1 2 50 3 60; do echo "{\"n\":$n}"; done >"$TMP/m/in/n.jsonl"
in_dir "$TMP/m" run spin.lua -i in/n.jsonl -o out/s.jsonl -q --max-instructions 500000
expect_code 1 "two items run out of budget"
in_dir "$TMP/m" pack out/s.jsonl
expect_code 0 "pack of a budgeted run"
in_dir "$TMP/m2" reproduce ../m/out/s.pack.jsonl.gz
expect_code 0 "reproduce of a budgeted run: $ERR"
same_set "$TMP/m2" "$TMP/m" out/s.jsonl "the same items fail on their budget"

# A run stopped early by --max-failures: the rerun takes the items it read.
for n in 1 50 2 60 70 3 80 4 90 5; do echo "{\"n\":$n}"; done >"$TMP/m/in/many.jsonl"
in_dir "$TMP/m" run spin.lua -i in/many.jsonl -o out/stop.jsonl -q --max-instructions 500000 --max-failures 1 --window 1
expect_code 1 "the run stops early"
expect_true "it says so in the manifest" test "$(jq -r '.stopped_early // empty' "$TMP/m/out/stop.manifest.json")" != ""
in_dir "$TMP/m" pack out/stop.jsonl
expect_code 0 "pack of a run stopped early: $ERR"
mkdir -p "$TMP/m3"
in_dir "$TMP/m3" reproduce ../m/out/stop.pack.jsonl.gz
expect_code 0 "reproduce of a run stopped early: $ERR"
same_set "$TMP/m3" "$TMP/m" out/stop.jsonl "a run stopped early reproduced"

# A run written to an absolute path: reproduce asks where to write.
in_dir "$TMP/a" run chat_mask -i in/four.jsonl -o "$TMP/a/abs/cm.jsonl" -q
in_dir "$TMP/a" pack "$TMP/a/abs/cm.jsonl"
expect_code 0 "pack of a run with an absolute -o"
mkdir -p "$TMP/a3"
in_dir "$TMP/a3" reproduce "$TMP/a/abs/cm.pack.jsonl.gz"
expect_code 2 "reproduce does not write to an absolute path by itself"
expect_in "$ERR" "is not a path inside this folder; say where with -o OUT" "and asks for -o"
in_dir "$TMP/a3" reproduce "$TMP/a/abs/cm.pack.jsonl.gz" -o here.jsonl
expect_code 0 "with -o it reproduces"
expect_same_file "$TMP/a3/here.jsonl" "$TMP/a/abs/cm.jsonl" "byte-identical"

# Standard input cannot be packed.
in_dir "$TMP/a" run chat_mask -i - -o out/stdin.jsonl -q <"$FOUR"
expect_code 0 "a run from stdin"
in_dir "$TMP/a" pack out/stdin.jsonl
expect_code 2 "pack of a stdin run"
expect_in "$ERR" "made from standard input" "says why"

finish
