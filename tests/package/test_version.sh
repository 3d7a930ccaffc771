#!/usr/bin/env bash
# `lacuna version` (issue 17, point 5) prints lacuna's version and the versions
# of Lua, libcurl, SQLite, PCRE2, utf8proc, cJSON, zlib and readline it runs with, and a
# run's manifest records the same under "runtime". Checked against what
# pkg-config says of the libraries installed here (the build links those).
source "$(dirname "$0")/../e2e/lib.sh"
lc version
expect_code 0 "lacuna version"
expect_eq "$(head -1 <<<"$OUT")" "lacuna $(awk -F'"' '/^project\(lacuna VERSION/ {print}' "${LACUNA_SRC:?}/CMakeLists.txt" |
  sed 's/.*VERSION \([0-9.]*\).*/\1/')" "the first line is lacuna and the project's version"
row() { awk -v n="$1" '$1 == n {$1 = ""; sub(/^ +/, ""); print}' <<<"$OUT"; }
expect_eq "$(row Lua)" "Lua $(pkg-config --modversion lua5.4)" "Lua's release"
expect_eq "$(row libcurl)" "$(pkg-config --modversion libcurl)" "libcurl"
expect_eq "$(row SQLite)" "$(pkg-config --modversion sqlite3)" "SQLite"
expect_eq "$(row PCRE2 | awk '{print $1}')" "$(pkg-config --modversion libpcre2-8)" "PCRE2"
# (Debian 12's libutf8proc.pc says 2.6.0 for 2.8.0: the header is the reference)
h=$(pkg-config --variable=includedir libutf8proc)/utf8proc.h
expect_eq "$(row utf8proc)" "$(awk '/#define UTF8PROC_VERSION_(MAJOR|MINOR|PATCH)/ {print $3}' "$h" | paste -sd.)" "utf8proc"
expect_eq "$(row cJSON)" "$(pkg-config --modversion libcjson)" "cJSON"
expect_eq "$(row zlib)" "$(pkg-config --modversion zlib)" "zlib"
expect_eq "$(row readline)" "$(pkg-config --modversion readline)" "readline"
printed=$OUT

# the manifest records them
lc run in2 -i "$FIX/in2/corpus.jsonl" -o "$TMP/out.jsonl" -p qa=extractive -p min_tokens=1024 -p max_tokens=2048
expect_code 0 "a run"
expect_eq "$(jq -r '.runtime | to_entries | map(.key) | join(" ")' "$TMP/out.manifest.json")" \
  "lua curl sqlite pcre2 utf8proc cjson zlib readline" "the manifest's runtime names the libraries in order"
expect_eq "$(jq -r '.runtime | [.lua, .curl, .sqlite, .pcre2, .utf8proc, .cjson, .zlib, .readline] | join("|")' "$TMP/out.manifest.json")" \
  "$(awk 'NR > 1 {$1 = ""; sub(/^ +/, ""); print}' <<<"$printed" | paste -sd'|')" "the manifest says what lacuna version says"
finish
