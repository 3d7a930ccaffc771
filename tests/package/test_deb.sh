#!/usr/bin/env bash
# `cpack -G DEB` (issue 17, point 3): an installable .deb whose dependencies
# are Debian runtime packages (read off the binaries by dpkg-shlibdeps), all
# installed here; installed into a fresh root with `dpkg --root` (as root: its
# postinst's ldconfig is a stub on PATH, so the host is untouched; otherwise
# the files are unpacked with dpkg-deb -x, which the output says); then the
# README's main job runs from the installed binary on the installed sample
# corpus, and a stock lua5.4 loads the installed module.
source "$(dirname "$0")/../e2e/lib.sh"
BUILD=${LACUNA_BUILD:?set LACUNA_BUILD to the build directory}
if [ -n "${LACUNA_PRELOAD:-}" ]; then
  echo "skipped: a sanitizer build is not what gets packaged (tests/package run in the release build)"
  exit 77
fi
for t in cpack dpkg-deb dpkg-shlibdeps; do
  command -v $t >/dev/null || { bad "$t not found (.ci/deps installs dpkg-dev)"; finish; exit 1; }
done
(cd "$TMP" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/deb" >"$TMP/cpack.log" 2>&1) ||
  { bad "cpack -G DEB: $(tail -20 "$TMP/cpack.log")"; finish; exit 1; }
DEB=$(ls "$TMP"/deb/lacuna_*.deb 2>/dev/null | head -1)
[ -f "$DEB" ] && ok || { bad "no .deb made"; finish; exit 1; }
VERSION=$("$BUILD/lacuna" version | awk 'NR == 1 {print $2}')
expect_eq "$(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Version)" "lacuna $VERSION" "package name and version"

# ---- dependencies: the runtime packages of what lacuna links, each installed here
depends=$(dpkg-deb -f "$DEB" Depends)
for p in liblua5.4-0 libcjson1 'libcurl4|libcurl4t64' libsqlite3-0 libpcre2-8-0 libutf8proc2 zlib1g 'libreadline8|libreadline8t64'; do
  grep -qE "(^|, )($p) " <<<"$depends" && ok || bad "Depends lacks $p: $depends"
done
for p in $(tr ',' '\n' <<<"$depends" | awk '{print $1}'); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && ok || bad "dependency $p is not installed here"
done
expect_eq "$(dpkg-deb -c "$DEB" | awk '{print $6}' | grep -c '^\./usr/include/.*\.h$')" 1 "one public header"

# ---- install into a fresh root
R=$TMP/root
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$TMP/stub" && : >"$R/var/lib/dpkg/status"
  printf '#!/bin/sh\necho ran >> "%s"\n' "$TMP/ldconfig.ran" >"$TMP/stub/ldconfig" && chmod +x "$TMP/stub/ldconfig"
  PATH="$TMP/stub:$PATH" dpkg --root="$R" --force-depends --force-script-chrootless -i "$DEB" >"$TMP/dpkg.log" 2>&1
  expect_eq "$?" 0 "dpkg --root -i ($(tail -3 "$TMP/dpkg.log"))"
  expect_eq "$(dpkg --root="$R" -s lacuna 2>/dev/null | sed -n 's/^Status: //p')" "install ok installed" "dpkg knows it installed"
  [ -s "$TMP/ldconfig.ran" ] && ok || bad "the postinst did not run ldconfig"
  # what dpkg -i would say on this machine (nothing is installed: --dry-run)
  dpkg --dry-run -i "$DEB" >"$TMP/dry.log" 2>&1
  expect_eq "$?" 0 "dpkg --dry-run -i on this machine ($(tail -3 "$TMP/dry.log"))"
  echo "installed with dpkg --root into a fresh root"
else
  dpkg-deb -x "$DEB" "$R" && ok || bad "dpkg-deb -x"
  echo "not root: unpacked with dpkg-deb -x into a fresh root (dpkg --root needs root)"
fi

# ---- the README's main job from the installed binary
(cd "$TMP" && env -i PATH=/usr/bin:/bin "$R/usr/bin/lacuna" run in2 -i "$R/usr/share/lacuna/recipes/samples/corpus.jsonl" \
  -o out/in2.jsonl -p qa=extractive -p max_tokens=16384 >"$TMP/main.out" 2>&1)
expect_eq "$?" 0 "the README's main job from the installed binary ($(tail -3 "$TMP/main.out"))"
[ "$(lines "$TMP/out/in2.jsonl")" -gt 100 ] 2>/dev/null && ok || bad "the main job wrote $(lines "$TMP/out/in2.jsonl") examples"
expect_eq "$(jq -r .runtime.lua "$TMP/out/in2.manifest.json")" "$("$R/usr/bin/lacuna" version | awk '$1 == "Lua" {print $2, $3}')" \
  "the manifest names the Lua it ran with"
# ---- the installed Lua module (in Debian's /usr/lib/lua/5.4, on lua5.4's default path under /usr)
mod=$(dpkg-deb -c "$DEB" | awk '{print $6}' | grep '/lua/5\.4/lacuna\.so$')
expect_in "$(env -i "$(command -v lua5.4)" -e 'print(package.cpath)')" "$(dirname "/${mod#./}")/?.so" "the module's directory is on lua5.4's default C path"
out=$(cd "$R/$(dirname "${mod#./}")" && env -i "$(command -v lua5.4)" -e 'print((require "lacuna").version)' 2>&1)
expect_eq "$out" "$VERSION" "stock lua5.4 loads the installed module"
finish
