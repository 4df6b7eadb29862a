std = "max"
max_line_length = 110
include_files = { "lua/**/*.lua", "spec/**/*.lua", "examples/*.lua", "bench/*.lua", "bin/*", ".luacheckrc",
                  "examples/openresty/*.lua" }
exclude_files = { ".tools", "build", "lua_modules" }
files["spec"] = { std = "+busted", max_line_length = 140 }
files["bin"] = { std = "max" }
