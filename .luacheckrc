std = "max"
max_line_length = 110
include_files = { "lua/**/*.lua", "spec/**/*.lua", "examples/*.lua", "bench/*.lua", "bin/*", ".luacheckrc",
                  "examples/nvim/**/*.lua", "examples/openresty/*.lua", "emulator/lua/**/*.lua",
                  "emulator/bin/*" }
exclude_files = { ".tools", "build", "lua_modules" }
files["spec"] = { std = "+busted", max_line_length = 140 }
files["bin"] = { std = "max" }
files["emulator/bin"] = { std = "max" }
-- Code that runs inside Neovim may write to the `vim` table (options, vim.g).
files["examples/nvim"] = { globals = { "vim" } }
files["spec/support/nvim"] = { globals = { "vim" } }
