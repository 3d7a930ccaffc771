#!/usr/bin/env bash
# The bash completion and man page (issue 17, point 4) are in step with the
# command table: the build's files equal what core/tools/cli_docs.lua makes
# from the current lua/lacuna/cli.lua and cmd/*.lua; and, read back against
# what the CLI itself prints (`lacuna help`, `lacuna CMD --help`), bash
# completes every command, every flag of every command, the shipped recipe
# names and the --format values, and the man page documents every command and
# flag.
source "$(dirname "$0")/../e2e/lib.sh"
SRC=${LACUNA_SRC:?}
BUILD=${LACUNA_BUILD:?}
COMPLETION=$BUILD/lacuna.bash
MAN=$BUILD/lacuna.1

# ---- up to date with the table
for kind in bash man; do
  LUA_CPATH="$BUILD/?.so;;" LD_PRELOAD=${LACUNA_PRELOAD:-} ASAN_OPTIONS=detect_leaks=0 lua5.4 "$SRC/core/tools/cli_docs.lua" "$kind" "$TMP/$kind" \
    || bad "cli_docs.lua $kind failed"
done
expect_same_file "$COMPLETION" "$TMP/bash" "the built completion is the table's"
expect_same_file "$MAN" "$TMP/man" "the built man page is the table's"

# complete WORDS...: what the completion offers for the command line WORDS
# (the last word is the one being completed), one per line.
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lacuna; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$COMPLETION" "$@"
}
offers() { # description want words...: want is among the offers
  local desc=$1 want=$2
  shift 2
  local got
  got=$(complete_words "$@")
  if grep -qxF -- "$want" <<<"$got"; then ok; else bad "$desc: '$want' not offered for: $*"; fi
}

# ---- commands, as `lacuna help` lists them
lc help
commands=$(awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}' <<<"$OUT")
[ -n "$commands" ] && ok || bad "no commands in lacuna help"
roff_man=$(groff -man -Tascii -P-cbou "$MAN" 2>/dev/null)
for c in $commands; do
  offers "command" "$c" lacuna ""
  expect_in "$roff_man" "   $c" "the man page has a section for $c"
  # ---- every flag that `lacuna $c --help` prints
  lc "$c" --help
  flags=$(grep -oE '^ {2,6}(-[A-Za-z], )?--[a-z][a-z0-9-]*' <<<"$OUT" | grep -oE -- '-[A-Za-z]\b|--[a-z][a-z0-9-]*')
  for f in $flags; do
    offers "lacuna $c" "$f" lacuna "$c" "${f:0:2}"
    expect_in "$roff_man" "$f" "the man page documents $c's $f"
  done
done

# ---- shipped recipes, and the recipe operand after options
for r in "$SRC"/recipes/*.lua; do
  name=$(basename "$r" .lua)
  offers "recipe names" "$name" lacuna run ""
  offers "recipe after an option" "$name" lacuna run -p qa=extractive ""
  expect_in "$roff_man" "$name" "the man page names the recipe $name"
done
# ---- --format values, as `lacuna run --help` lists them
lc run --help
values=$(sed -n 's/.*output format: \([a-z, ]*\) (default.*/\1/p' <<<"$(tr '\n' ' ' <<<"$OUT" | tr -s ' ')" | tr -d ',')
[ -n "$values" ] && ok || bad "no format values in lacuna run --help"
for v in $values; do offers "--format values" "$v" lacuna run --format ""; done
# a flag's value is a file, not a flag or a recipe
expect_eq "$(cd "$TMP" && : >in.jsonl && complete_words lacuna run -i "in" | tr '\n' ' ')" "in.jsonl " "a file after -i"
expect_eq "$(complete_words lacuna cache "" | tr '\n' ' ')" "stats export import import-batch " "cache subcommands"
finish
