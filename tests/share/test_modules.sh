# Recipes split into modules (require beside the recipe, sandboxed, cycles,
# names that could leave the folder) and `requires = ">=X.Y"`.
source "$(dirname "$0")/../e2e/lib.sh"
MODS=$(cd "$(dirname "$0")/fixtures/mods" && pwd)

lc check "$MODS/main.lua"
expect_code 0 "a recipe with modules beside it passes check"
expect_in "$OUT" '"content":"verdict on Q: hi (1 load)"' "both modules loaded, prompts.lua once"

# Every name that could reach outside the recipe's folder is refused.
cp "$MODS/prompts.lua" "$TMP/prompts.lua"
echo 'return "outside"' >"$TMP/secret.lua"
mkdir -p "$TMP/r"
for name in '../secret' '/etc/passwd' 'a..b' '.hidden' 'lib/judge' 'x.' '' 'ä'; do
  printf 'local lc = require "lacuna"\nlocal m = require "%s"\nreturn lc.recipe { name = "e", version = "1", map = function() end }\n' \
    "$name" >"$TMP/r/escape.lua"
  lc check "$TMP/r/escape.lua"
  expect_code 2 "require '$name' is refused"
  expect_in "$ERR" "escape.lua:2: module name '$name' is not allowed" "require '$name' names the line and the rule"
done
printf 'local lc = require "lacuna"\nlocal m = require(42)\nreturn lc.recipe { name = "e", version = "1", map = function() end }\n' >"$TMP/r/escape.lua"
lc check "$TMP/r/escape.lua"
expect_code 2 "require(42) is refused"

lc check "$MODS/cycle.lua"
expect_code 2 "a module cycle is an error"
expect_in "$ERR" "module cycle: cyc_a -> cyc_b -> cyc_a" "the cycle is named"

printf 'local lc = require "lacuna"\nlocal m = require "nothere"\nreturn lc.recipe { name = "e", version = "1", map = function() end }\n' >"$TMP/r/missing.lua"
lc check "$TMP/r/missing.lua"
expect_code 2 "a missing module is an error"
expect_in "$ERR" "missing.lua:2: module 'nothere' is not available to sandboxed recipes: it is not lacuna and there is no $TMP/r/nothere.lua beside the recipe" "the missing file is named"

# Modules run in the recipe's sandbox.
lc check "$MODS/uses_io.lua"
expect_code 2 "a module cannot use io"
expect_in "$ERR" "opens_files.lua:1: 'io' is not available to sandboxed recipes" "io refused in a module"
lc check "$MODS/uses_os.lua"
expect_code 2 "a module cannot use os.execute"
expect_in "$ERR" "os.execute is not available to sandboxed recipes" "os.execute refused in a module"
lc check "$MODS/reads_package.lua"
expect_code 2 "a module cannot reach package"
expect_in "$ERR" "'package' is not available to sandboxed recipes" "package refused in a module"
# --trust lifts it, and modules beside the recipe still come first.
lc check --trust "$MODS/main.lua"
expect_code 0 "--trust: modules beside the recipe load"
expect_in "$OUT" 'verdict on Q: hi' "--trust: the same modules"

# requires = ">=X.Y"
lc check "$MODS/needs_future.lua"
expect_code 2 "a recipe needing a newer lacuna stops"
version=$("$LACUNA" version | head -1 | grep -o '[0-9][0-9.]*' | head -1)
expect_in "$ERR" "needs_future.lua:2: recipe 'needs_future' requires lacuna >=99.2, but this is lacuna $version" \
  "the error names both versions and the recipe's line"
lc check "$MODS/bad_requires.lua"
expect_code 2 "a malformed requires is an error"
expect_in "$ERR" "recipe field 'requires' must look like '>=0.4'" "the expected form is shown"
lc info "$MODS/main.lua"
expect_code 0 "info of a recipe with requires"

# A bundle carries the recipe and its modules; it runs as the recipe does.
lc bundle "$MODS/main.lua" -o "$TMP/mods.bundle.json"
expect_code 0 "bundle"
expect_eq "$OUT" "#sha256=$(sha256sum "$TMP/mods.bundle.json" | cut -d' ' -f1)" "bundle prints the pin of its file"
expect_eq "$(jq -r '.files | keys | join(",")' "$TMP/mods.bundle.json")" "lib/judge.lua,main.lua,prompts.lua" \
  "the bundle holds the recipe and the modules it required"
lc check "$TMP/mods.bundle.json"
expect_code 0 "a bundle file passes check"
expect_in "$OUT" 'verdict on Q: hi (1 load)' "the bundle's modules load"
jq '.files["../x.lua"] = "return 1"' "$TMP/mods.bundle.json" >"$TMP/evil.bundle.json"
lc check "$TMP/evil.bundle.json"
expect_code 2 "a bundle with a path outside its folder is refused"
expect_in "$ERR" "'../x.lua' is not a relative .lua path" "the bad path is named"

finish
