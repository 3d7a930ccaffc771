-- PAM-shaped examples for the inspect tests: a masked first attempt and a
-- trained correction in one assistant turn, with metadata to filter on.
local lc = require "lacuna"
return lc.recipe {
  name = "partial", version = "1.0.0",
  input = { n = "number" },
  map = function(rec)
    local n = math.tointeger(rec.n)
    local ex = lc.example { meta = { case = n % 2 == 0 and "good" or "bad", n = n } }
      :system("Answer with a number.")
      :user("What is " .. n .. " + " .. n .. "? <b>&</b>")
      :assistant { lc.part("It is " .. (2 * n + 1) .. ".", false), lc.part(" Wait, " .. n .. " + " .. n .. " = " .. 2 * n .. ".", true) }
    return ex
  end,
}
