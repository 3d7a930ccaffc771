local M = {}
function M.messages(question, style)
  return { { role = "system", content = "Answer in a " .. style .. " style." }, { role = "user", content = question } }
end
return M
