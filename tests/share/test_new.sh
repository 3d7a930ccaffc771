# lacuna new NAME: the scaffold is a documented recipe that passes lacuna
# check and lacuna info as it is, and new never overwrites by accident.
source "$(dirname "$0")/../e2e/lib.sh"
cd "$TMP" || exit 1

lc new demo
expect_code 0 "new demo"
expect_in "$ERR" "wrote demo.lua" "says what it wrote"
expect_true "demo.lua exists" test -s demo.lua
lc check demo.lua
expect_code 0 "the scaffold passes check: $OUT $ERR"
expect_in "$OUT" "# demo 0.1.0: 3 checked = 2 ok (2 examples) + 1 skipped + 0 failed" "check runs its sample records"
lc info demo.lua
expect_code 0 "the scaffold passes info"
for p in system use_teacher max_tokens; do expect_in "$OUT" "$p" "info lists param $p"; done
# Documented: every part of the declaration has a comment, and it names the commands.
for word in "Params:" "Input fields" "Sample records" "map runs once per record" "lacuna check demo.lua" "requires ="; do
  expect_in "$(cat demo.lua)" "$word" "the scaffold explains: $word"
done
version=$("$LACUNA" version | grep -o '[0-9][0-9.]*' | head -1)
expect_in "$(cat demo.lua)" "requires = \">=${version%.*}\"" "it requires this lacuna's major.minor"

echo "-- mine" >>demo.lua
lc new demo
expect_code 2 "new refuses to overwrite"
expect_in "$ERR" "demo.lua exists (--force overwrites it)" "and says how"
expect_in "$(tail -1 demo.lua)" "-- mine" "the file is untouched"
lc new demo --force
expect_code 0 "--force overwrites"
expect_not_in "$(cat demo.lua)" "-- mine" "with a fresh scaffold"

mkdir -p sub
lc new sub/other-recipe.lua
expect_code 0 "new with a path"
lc check sub/other-recipe.lua
expect_code 0 "which passes check"
expect_in "$OUT" "# other-recipe 0.1.0" "named after the file"
lc new "bad name"
expect_code 2 "a name with a space is refused"
expect_in "$ERR" "'bad name' is not a recipe name" "says why"
lc new
expect_code 2 "new without a name"
expect_in "$(ls)" "demo.lua" "nothing else written"

finish
