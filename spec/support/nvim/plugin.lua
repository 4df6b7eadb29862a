-- Run inside `nvim --headless` by spec/neovim_spec.lua, with the example
-- plugin on 'runtimepath': runs its commands, waits for their results on
-- the event loop (vim.wait), prints what they showed, and quits.
local function out(...) io.stdout:write(string.format(...), "\n") end

vim.cmd "runtime! plugin/paperspace.lua"
local messages = {}
vim.notify = function(msg) messages[#messages + 1] = msg end

vim.cmd "PaperspaceSession"
out("RETURNED session=%d", #messages) -- the command does not wait for the call
vim.wait(10000, function() return #messages > 0 end, 10)
out("SESSION %s", messages[1] or "none")

vim.cmd "PaperspaceSecrets"
vim.wait(10000, function() return vim.api.nvim_buf_get_name(0):match("paperspace://") ~= nil end, 10)
out("BUFFER %s", vim.api.nvim_buf_get_name(0):match("paperspace://.*") or "none")
for _, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do out("LINE %s", line) end

vim.cmd "PaperspaceSecrets no-such-team"
vim.wait(10000, function() return #messages > 1 end, 10)
out("ERROR %s", messages[2] or "none")
vim.cmd "qa!"
