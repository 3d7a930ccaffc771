#!/usr/bin/env bash
# LuaRocks (issue 17, point 2): Debian's luarocks runs `luarocks make
# lua/lacuna-*.rockspec` (build.type cmake) in a copy of the checkout into a
# local tree; the tree then holds lacuna.so on its Lua path and the lacuna
# executable in its bin/, both working: lua5.4 with `luarocks path` loads the
# module, the executable runs the README's main job; `luarocks remove` takes
# them away again.
source "$(dirname "$0")/../e2e/lib.sh"
SRC=${LACUNA_SRC:?}
if [ -n "${LACUNA_PRELOAD:-}" ]; then
  echo "skipped: a sanitizer build is not what gets packaged (tests/package run in the release build)"
  exit 77
fi
command -v luarocks >/dev/null || { bad "luarocks not found (.ci/deps installs it)"; finish; exit 1; }
rockspec=$(cd "$SRC" && ls lua/lacuna-*.rockspec)
expect_eq "$(wc -w <<<"$rockspec" | tr -d ' ')" 1 "one rockspec under lua/"
# a copy of the sources (luarocks make builds inside the checkout it runs in)
mkdir -p "$TMP/src"
cp -r "$SRC/CMakeLists.txt" "$SRC/core" "$SRC/include" "$SRC/lua" "$SRC/recipes" "$TMP/src/"
T=$TMP/tree
rocks() { luarocks --lua-version=5.4 --tree="$T" "$@"; }
(cd "$TMP/src" && CMAKE_BUILD_PARALLEL_LEVEL=2 rocks make "$rockspec" >"$TMP/make.log" 2>&1)
expect_eq "$?" 0 "luarocks make $rockspec ($(tail -5 "$TMP/make.log"))"
expect_in "$(rocks list 2>&1)" "lacuna" "the tree lists the rock"
VERSION=$(sed -n 's/^version = "\(.*\)-[0-9]*"$/\1/p' "$SRC/$rockspec")
out=$(eval "$(rocks path)" && cd "$TMP" && lua5.4 -e '
  local lc = require "lacuna"
  print(lc.version, (package.searchpath("lacuna", package.cpath)))' 2>&1)
expect_eq "$out" "$VERSION	$T/lib/lua/5.4/lacuna.so" "lua5.4 loads lacuna.so from the tree"
# only the module reaches Lua's path (the C library stays in the rock's sdk/)
expect_eq "$(cd "$T/lib/lua/5.4" && ls | tr '\n' ' ')" "lacuna.so " "nothing else on the C path"
expect_eq "$("$T/bin/lacuna" version | head -1)" "lacuna $VERSION" "the tree's executable"
(cd "$TMP" && "$T/bin/lacuna" run in2 -i "$SRC/recipes/samples/corpus.jsonl" -o out/in2.jsonl -p qa=extractive \
  -p max_tokens=16384 >"$TMP/main.out" 2>&1)
expect_eq "$?" 0 "the README's main job with the tree's executable ($(tail -3 "$TMP/main.out"))"
rocks remove lacuna >"$TMP/remove.log" 2>&1
expect_eq "$?" 0 "luarocks remove ($(tail -3 "$TMP/remove.log"))"
[ ! -e "$T/lib/lua/5.4/lacuna.so" ] && [ ! -e "$T/bin/lacuna" ] && ok || bad "remove left lacuna.so or bin/lacuna"
finish
