-- LuaRocks package of lacuna (issue 17, point 2): the Lua module lacuna.so
-- (its Lua half and the shipped recipes are compiled into it) and the
-- `lacuna` executable, built with CMake from a checkout:
--   luarocks --lua-version=5.4 make lua/lacuna-0.1.0-1.rockspec
-- The C library, header, pkg-config and CMake files stay inside the rock's
-- own directory (sdk/), out of Lua's module path.
rockspec_format = "3.0"
package = "lacuna"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/lacuna-data/lacuna.git",
  tag = "v0.1.0",
}
description = {
  summary = "Lua 5.4 runtime for recipes that design LLM fine-tuning data",
  detailed = [[
lacuna runs recipes: short Lua files that turn a JSONL corpus into fine-tuning
data for axolotl, TRL, LLaMA-Factory and OpenAI fine-tuning, with span-level
loss masks, teacher calls with a cache, and C primitives for long contexts.]],
  license = "MIT",
  labels = { "llm", "fine-tuning", "dataset" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
-- Debian 12: libcjson-dev zlib1g-dev libcurl4-openssl-dev libsqlite3-dev
-- libpcre2-dev libutf8proc-dev (found by CMake through pkg-config).
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CMAKE_INSTALL_BINDIR = "bin",
    LACUNA_INSTALL_CMODDIR = "lib",
    CMAKE_INSTALL_LIBDIR = "sdk/lib",
    CMAKE_INSTALL_INCLUDEDIR = "sdk/include",
    CMAKE_INSTALL_DATADIR = "share",
    BUILD_TESTING = "OFF",
  },
}
