#!/usr/bin/env bash
# `cmake --install` into a temporary prefix (issue 17, point 1): the files land
# where their users look; only include/lacuna.h is installed; liblacuna.so has
# a versioned soname and exports only lacuna.h's entry points; a C host builds
# and runs against the prefix once with pkg-config and once with
# find_package(lacuna) (shared and static); a stock lua5.4, with no
# environment variables at all, loads the installed lacuna.so from Lua's C
# module path and finds the embedded Lua modules and recipes; the installed
# executable runs the README's main job on the installed sample corpus.
source "$(dirname "$0")/../e2e/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${LACUNA_BUILD:?set LACUNA_BUILD to the build directory}
if [ -n "${LACUNA_PRELOAD:-}" ]; then
  echo "skipped: a sanitizer build is not what gets installed (tests/package run in the release build)"
  exit 77
fi
P=$TMP/prefix
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; bad "cmake --install"; finish; exit 1; }
ok

# ---- the layout
VERSION=$("$BUILD/lacuna" version | awk 'NR == 1 {print $2}')
SOV=$(echo "$VERSION" | awk -F. '$1 == 0 {print $1 "." $2; next} {print $1}')
for f in bin/lacuna include/lacuna.h lib/liblacuna.a "lib/liblacuna.so.$VERSION" lib/lua/5.4/lacuna.so \
         share/lacuna/recipes/in2.lua share/lacuna/recipes/chat_mask.lua share/lacuna/recipes/samples/corpus.jsonl \
         lib/pkgconfig/lacuna.pc lib/cmake/lacuna/lacunaConfig.cmake lib/cmake/lacuna/lacunaConfigVersion.cmake \
         share/bash-completion/completions/lacuna share/man/man1/lacuna.1; do
  [ -f "$P/$f" ] && ok || bad "not installed: $f"
done
expect_eq "$(readlink "$P/lib/liblacuna.so.$SOV")" "liblacuna.so.$VERSION" "liblacuna.so.$SOV -> the library"
expect_eq "$(readlink "$P/lib/liblacuna.so")" "liblacuna.so.$SOV" "the development link -> the soname"
expect_eq "$(readelf -d "$P/lib/liblacuna.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" "liblacuna.so.$SOV" \
  "versioned soname"
expect_eq "$(cd "$P/include" && find . -type f | sort | tr '\n' ' ')" "./lacuna.h " "only the public header"
expect_eq "$(nm -D --defined-only "$P/lib/liblacuna.so.$VERSION" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')" \
  "lacuna_main lacuna_run lacuna_version luaopen_lacuna " "liblacuna.so exports lacuna.h's entry points only"
expect_eq "$(nm -D --defined-only "$P/lib/lua/5.4/lacuna.so" | awk '$2 == "T" {print $3}' | tr '\n' ' ')" \
  "luaopen_lacuna " "lacuna.so exports its loader only"
expect_eq "$(ldd "$P/lib/lua/5.4/lacuna.so" | grep -c 'liblua')" 0 "lacuna.so leaves Lua to the interpreter"

CORPUS=$P/share/lacuna/recipes/samples/corpus.jsonl
host_ok() { # exe description: runs the host on the installed corpus
  "$1" "$CORPUS" "$TMP/host.jsonl" >"$TMP/host.out" 2>&1
  local code=$?
  if [ $code -eq 0 ] && grep -q "^lacuna $VERSION: [0-9]* read = [0-9]* ok" "$TMP/host.out" && [ -s "$TMP/host.jsonl" ]; then
    ok
  else
    bad "$2: exit $code: $(cat "$TMP/host.out")"
  fi
}

# ---- a C host with pkg-config
export PKG_CONFIG_PATH=$P/lib/pkgconfig
expect_eq "$(pkg-config --modversion lacuna)" "$VERSION" "pkg-config knows lacuna"
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Werror -o "$TMP/host_pc" "$HERE/host.c" $(pkg-config --cflags --libs lacuna) \
     -Wl,-rpath,"$P/lib" 2>"$TMP/cc.log"; then
  ok
  expect_in "$(ldd "$TMP/host_pc")" "liblacuna.so.$SOV => $P/lib/" "the pkg-config host links the installed library"
  host_ok "$TMP/host_pc" "pkg-config host"
else
  bad "cc with pkg-config --cflags --libs lacuna: $(cat "$TMP/cc.log")"
fi
unset PKG_CONFIG_PATH

# ---- the same host with find_package(lacuna): lacuna::lacuna and lacuna::lacuna_static
if cmake -S "$HERE/find_package" -B "$TMP/fp" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release >"$TMP/fp.log" 2>&1 &&
   cmake --build "$TMP/fp" >>"$TMP/fp.log" 2>&1; then
  ok
  host_ok "$TMP/fp/host" "find_package host (lacuna::lacuna)"
  host_ok "$TMP/fp/host_static" "find_package host (lacuna::lacuna_static)"
  expect_eq "$(ldd "$TMP/fp/host_static" | grep -c liblacuna)" 0 "the static host carries lacuna itself"
else
  bad "find_package(lacuna): $(tail -20 "$TMP/fp.log")"
fi

# ---- a stock lua5.4 with no environment: Lua's default C path (./?.so here)
out=$(cd "$P/lib/lua/5.4" && env -i "$(command -v lua5.4)" -e '
  local lc = require "lacuna"
  local core = require "lacuna.core"
  assert(package.searchpath("lacuna", package.cpath) == "./lacuna.so", "not the installed module")
  assert(core.shipped_recipes.in2 and core.shipped_recipes.chat_mask, "shipped recipes missing")
  assert(lc.text.count("three small words") > 0)
  print("lacuna " .. lc.version .. " " .. lc.json.encode({ ok = true }))' 2>&1)
expect_eq "$out" "lacuna $VERSION {\"ok\":true}" "require \"lacuna\" from the installed module, no env"

# ---- the README's main job with the installed executable and sample corpus
(cd "$TMP" && env -i PATH=/usr/bin:/bin "$P/bin/lacuna" run in2 -i "$CORPUS" -o out/in2.jsonl -p qa=extractive \
  -p max_tokens=16384 >"$TMP/main.out" 2>&1)
code=$?
expect_eq "$code" 0 "the README's main job from the installed binary ($(tail -3 "$TMP/main.out"))"
expect_in "$(cat "$TMP/main.out")" "planned = " "it prints its counts"
[ "$(lines "$TMP/out/in2.jsonl")" -gt 100 ] 2>/dev/null && ok || bad "the main job wrote $(lines "$TMP/out/in2.jsonl") examples"

# ---- the README's Embedding example is this host, in under 30 lines
sed -n '/^## Embedding/,/^## /p' "${LACUNA_SRC:?}/README.md" | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' >"$TMP/readme_host.c"
sed -n '/^#include/,$p' "$HERE/host.c" >"$TMP/host_body.c"
expect_same_file "$TMP/readme_host.c" "$TMP/host_body.c" "README's Embedding host is tests/package/host.c"
[ "$(wc -l <"$TMP/readme_host.c")" -lt 30 ] && ok || bad "the README's C host has $(wc -l <"$TMP/readme_host.c") lines"

# ---- the man page renders cleanly
warn=$(groff -man -Tutf8 -ww "$P/share/man/man1/lacuna.1" 2>&1 >/dev/null)
expect_eq "$warn" "" "groff renders lacuna.1 without warnings"
finish
