#!/usr/bin/env bash
# lacuna.text benchmark (issue 11), side by side in one run:
#   - a pool of 1,000,000 segments (<= 128 tokens, approximate counter):
#     build time (segmenting + reservoir), bytes per segment beyond the text,
#     peak RSS (/usr/bin/time -v); the same segments as plain Lua tables;
#   - assembling 32,768-token contexts (one needle, its document excluded),
#     each side making the same bytes (checked equal) and writing them to the
#     same destination (/dev/null in the timed runs, so that no side pays for
#     storing them; the cat rows are that cost):
#       lacuna C into a buffer: pool:context(rng, opts, buf) builds the text in
#         a reused lc.text.buffer (C memory), buf:write(f) writes it from there;
#       lacuna C as a string: c = pool:context(rng, opts) (the default call,
#         what recipes/in2.lua uses) returns c.text as a Lua string, f:write(c.text);
#       plain Lua tables: the same algorithm in Lua over the pool copied into
#         Lua tables (tests/bench/text_ref.lua: same draws, same bytes),
#         table.concat into a string, f:write(c.text); counting with lacuna's
#         counter and with the counter written in Lua;
#     against `cat` of the same output bytes (to a file: the I/O limit of
#     writing them; to /dev/null: reading only), and against the memory floor:
#     the same bytes gathered at random from a pool of the same size with no
#     assembly work (tests/bench/text_floor.c, built with cc);
#   - exact contexts under the Llama 3 tokenizer, when its files are cached;
#   - recipes/in2.lua (qa=extractive, 350 items) on 4,400 documents built
#     from the VAL sentences, beside the IN2 draft's figures for its run
#     (skipped on the generated corpus).
# Input: ../shared/data/valprobing/document_sentences.jsonl (FILM's arXiv
# sentences, 10 to a document, reused with rotated sentences under new ids)
# when present, else a generated corpus. Times are CPU seconds (user + sys),
# medians of REPS runs. Goals: >= 20x plain Lua, within 3x of the I/O limit.
#
# Usage: tests/bench/run_text.sh [--quick]
#   BUILD=path/to/build (default: build)   SEGMENTS (default 1000000)
#   CONTEXTS (default 1000)  LUA_CONTEXTS (default 100)  REPS (default 3)
#   --quick   200,000 segments, 300 contexts, 1 repetition
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
BUILD=${BUILD:-build}
[[ -d $BUILD || ! -d $ROOT/$BUILD ]] || BUILD=$ROOT/$BUILD
SEGMENTS=${SEGMENTS:-1000000} CONTEXTS=${CONTEXTS:-1000} LUA_CONTEXTS=${LUA_CONTEXTS:-100} REPS=${REPS:-3}
case "${1:-}" in
  "") ;;
  --quick) SEGMENTS=200000 CONTEXTS=300 LUA_CONTEXTS=30 REPS=1 ;;
  -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
[[ -f $BUILD/lacuna.so ]] || { echo "run_text: $BUILD/lacuna.so not found (build first, or set BUILD=)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "run_text: /usr/bin/time not found (Debian: apt-get install time)" >&2; exit 2; }
export LUA_CPATH="$BUILD/?.so;;" LUA_PATH="$HERE/?.lua;;"
CORPUS=$ROOT/../shared/data/valprobing/document_sentences.jsonl
[[ -f $CORPUS ]] || CORPUS=/work/shared/data/valprobing/document_sentences.jsonl
if [[ -f $CORPUS ]]; then corpus_name="FILM valprobing document_sentences"; else CORPUS=generated; corpus_name="generated"; fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2"; }

# 1. the pool, in its own process for the peak RSS
pool=$(/usr/bin/time -v -o "$TMP/time.txt" lua5.4 "$HERE/text_bench.lua" pool "$SEGMENTS" "$CORPUS") || { echo "pool build failed" >&2; exit 1; }
rss_kb=$(awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' "$TMP/time.txt")

# 2. contexts: C (buffer, string), plain Lua (two counters), the same bytes
ctx=$(lua5.4 "$HERE/text_bench.lua" contexts "$SEGMENTS" "$CORPUS" "$CONTEXTS" "$LUA_CONTEXTS" "$TMP/out.txt" "$REPS") \
  || { echo "context run failed" >&2; exit 1; }

# 3. cat of the same bytes, 10 copies per run so that the times are measurable
files=(); for _ in 1 2 3 4 5 6 7 8 9 10; do files+=("$TMP/out.txt"); done
cat_cpu() { # median CPU seconds of REPS runs of: cat OUT x10 > $1
  for _ in $(seq "$REPS"); do
    /usr/bin/time -f "%U %S" -o "$TMP/t" cat "${files[@]}" > "$1"
    awk '{print $1 + $2}' "$TMP/t"
  done | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
cat_file=$(cat_cpu "$TMP/copy.txt"); rm -f "$TMP/copy.txt"
cat_null=$(cat_cpu /dev/null)

# 3b. the memory floor: the same bytes gathered from random places of a pool
# of the same size, with none of the assembly's work (tests/bench/text_floor.c)
floor=""
if cc -O2 -o "$TMP/text_floor" "$HERE/text_floor.c" 2> "$TMP/cc.txt"; then
  avg=$(json "$ctx" bytes); avg=$((avg / $(json "$ctx" contexts)))
  floor=$(for _ in $(seq "$REPS"); do "$TMP/text_floor" "$(json "$pool" segments)" "$(json "$pool" text_bytes)" "$avg" 20000; done \
    | python3 -c 'import json,sys; v=sorted(json.loads(l)["secs"] / json.loads(l)["contexts"] for l in sys.stdin); print(v[len(v) // 2])')
else
  cat "$TMP/cc.txt" >&2
fi

# 4. exact contexts (Llama 3), when the model files are cached
exact=""
if [[ -f $CACHE/models/llama3/tokenizer.json ]]; then
  exact=$(lua5.4 "$HERE/text_bench.lua" exact "$CACHE/models/llama3" "$CORPUS" 30) || exact=""
fi

# 5. the whole recipe, beside the IN2 draft's run on VAL pieces (350 examples
# from 4,400 records in 3.0 s, 84 MB RSS): recipes/in2.lua, qa=extractive, 350
# items, on 4,400 documents of 20 consecutive VAL sentences
# (tests/bench/val_docs.py). Wall seconds, median of REPS; the largest peak RSS.
in2=""
if [[ $CORPUS != generated && -x $BUILD/lacuna ]]; then
  python3 "$HERE/val_docs.py" "$CORPUS" 4400 "$TMP/val_docs.jsonl" 20
  for _ in $(seq "$REPS"); do
    /usr/bin/time -v -o "$TMP/in2time.txt" "$BUILD/lacuna" run in2 -i "$TMP/val_docs.jsonl" -o "$TMP/in2.jsonl" \
      -p qa=extractive -p items=350 --no-cache 2> "$TMP/in2err.txt" || { cat "$TMP/in2err.txt" >&2; exit 1; }
    awk -F': ' '/Elapsed/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%s ", s}
                /Maximum resident/ {print $2}' "$TMP/in2time.txt"
  done > "$TMP/in2runs.txt"
  in2=$(sort -n "$TMP/in2runs.txt" | awk -v ex="$(wc -l < "$TMP/in2.jsonl")" \
    '{w[NR] = $1; if ($2 > r) r = $2} END {printf "%s %d %d", (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2, r, ex}')
fi

python3 - "$pool" "$rss_kb" "$ctx" "$cat_file" "$cat_null" "$exact" "$corpus_name" "$in2" "$floor" <<'PY'
import json, sys
pool, rss_kb, ctx = json.loads(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
cat_file, cat_null, exact, corpus = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
seg = pool["segments"]
print(f"lacuna.text benchmark - corpus: {corpus}; segments <= 128 tokens, approximate counter")
print()
print(f"{'pool':34} {'segments':>10} {'build s':>8} {'text MB':>8} {'B/seg beyond text':>18} {'peak RSS MB':>12}")
print(f"{'lacuna C pool':34} {seg:>10,} {pool['build_s']:>8.2f} {pool['text_bytes'] / 1e6:>8.1f} "
      f"{pool['record_bytes'] / seg:>18.1f} {rss_kb / 1024:>12.1f}")
lua_extra = ctx["lua_pool_bytes"] / ctx["segments"] - ctx["text_bytes"] / ctx["segments"]
print(f"{'  same segments as Lua tables':34} {ctx['segments']:>10,} {'':>8} {ctx['text_bytes'] / 1e6:>8.1f} {lua_extra:>18.1f} {'':>12}")
print(f"  (C: {pool['arena_bytes'] / 1e6:.0f} MB arena reserved, {rss_kb * 1024 / seg:.0f} B/segment of peak RSS in all)")
print()
n, avg = ctx["contexts"], ctx["bytes"] / ctx["contexts"]
c_rate = n / ctx["c_s"]
s_rate = n / ctx["string_s"]
rows = [("lacuna C into a buffer", c_rate, c_rate * avg / 1e6),
        ("lacuna C as a string (default call)", s_rate, s_rate * avg / 1e6),
        ("plain Lua tables, lacuna counter", ctx["lua_contexts"] / ctx["lua_s"], ctx["lua_bytes_out"] / ctx["lua_s"] / 1e6),
        ("plain Lua tables, counter in Lua", ctx["lua_contexts"] / ctx["pure_s"], ctx["pure_bytes_out"] / ctx["pure_s"] / 1e6),
        ("cat OUT > file (I/O limit)", 10 * n / cat_file if cat_file else float("inf"), 10 * ctx["bytes"] / cat_file / 1e6 if cat_file else float("inf")),
        ("cat OUT > /dev/null (read only)", 10 * n / cat_null if cat_null else float("inf"), 10 * ctx["bytes"] / cat_null / 1e6 if cat_null else float("inf"))]
print(f"{'32,768-token contexts':34} {'contexts/s':>10} {'MB/s':>8} {'C vs row':>10}")
if sys.argv[9]:
    rows.append(("memory floor (gather only, C)", 1 / float(sys.argv[9]), avg / float(sys.argv[9]) / 1e6))
for name, rate, mbs in rows:
    print(f"{name:34} {rate:>10,.0f} {mbs:>8,.0f} {c_rate / rate:>9.2f}x")
if exact:
    e = json.loads(exact)
    rate = e["contexts"] / e["secs"]
    print(f"{'exact, Llama 3 (counts the text)':34} {rate:>10,.1f} {rate * e['bytes'] / e['contexts'] / 1e6:>8,.1f} {c_rate / rate:>9.2f}x"
          f"   ({e['segments']:,} segments, segmented in {e['build_s']:.2f} s)")
print()
if sys.argv[8]:
    secs, rss, examples = sys.argv[8].split()
    print(f"{'IN2 run, 4,400 VAL records':34} {'examples':>10} {'wall s':>8} {'peak RSS MB':>12}")
    print(f"{'lacuna recipes/in2.lua (extractive)':34} {int(examples):>10,} {float(secs):>8.2f} {int(rss) / 1024:>12.1f}"
          "   (350 items, 4K-32K tokens)")
    print(f"{'IN2 draft (its own figures)':34} {350:>10,} {3.0:>8.2f} {84.0:>12.1f}")
else:
    print("IN2 run on 4,400 VAL records: skipped (needs ../shared/data/valprobing/document_sentences.jsonl)")
print()
same = ctx["same"] and ctx["pure_same"]
print(f"same bytes, C and both Lua references ({ctx['lua_contexts']} contexts, {avg / 1e3:.0f} kB each): {'yes' if same else 'NO'}")
vs_lua = c_rate / (ctx["lua_contexts"] / ctx["lua_s"])
vs_io = (10 * n / cat_file) / c_rate if cat_file else 0
vs_lua_s = s_rate / (ctx["lua_contexts"] / ctx["lua_s"])
print(f"goal >= 20x plain Lua: {vs_lua:.1f}x into a buffer ({'met' if vs_lua >= 20 else 'not met'}), "
      f"{vs_lua_s:.1f}x as a string ({'met' if vs_lua_s >= 20 else 'not met'}); "
      f"goal within 3x of the I/O limit: {vs_io:.2f}x ({'met' if vs_io <= 3 else 'not met'})")
if sys.argv[9]:
    need = 1e6 / (20 * ctx["lua_contexts"] / ctx["lua_s"])
    print(f"per context: lacuna C {1e6 / c_rate:.1f} us into a buffer, {1e6 / s_rate:.1f} us as a string, memory floor {float(sys.argv[9]) * 1e6:.1f} us "
          f"(C takes {1 / (float(sys.argv[9]) * c_rate):.2f}x the floor), plain Lua {1e6 * ctx['lua_s'] / ctx['lua_contexts']:.0f} us; "
          f"20x plain Lua needs <= {need:.1f} us")
sys.exit(0 if same else 1)
PY
