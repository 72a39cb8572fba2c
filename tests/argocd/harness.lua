-- Runs Argo CD health checks the way Argo CD does: each case loads the script's source as a
-- chunk with the global `obj` bound to the live object and compares the returned table's
-- status and message with the expected ones.
--
-- usage: lua5.1 harness.lua CASES.json
-- CASES.json (written by run-health-tests.sh): [{"name", "script", "obj", "status", "message"}]
-- Prints one line per failure and a final "lua health: N passed, M failed"; exit 1 on failure.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local json = require("json")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- A fresh environment per case holding what Argo CD's health VM has with useOpenLibs off
-- (util/lua/lua.go: lua.NewState with SkipOpenLibs, then package, base, table and a "safe" os
-- library): the base functions, table, os.time/os.date/os.clock, require, and `obj`. No string,
-- math, io or debug library.
local BASE = { "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print",
  "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
  "unpack", "xpcall", "_VERSION", "require", "module" }

local function copy(t)
  local out = {}
  for k, v in pairs(t) do
    out[k] = v
  end
  return out
end

local function sandbox(obj)
  local env = { obj = obj }
  for _, name in ipairs(BASE) do
    env[name] = _G[name]
  end
  env.table = copy(table)
  env.os = { time = os.time, date = os.date, clock = os.clock }
  env._G = env
  return env
end

local VALID = { Healthy = true, Progressing = true, Degraded = true, Suspended = true, Missing = true, Unknown = true }

local cases = json.decode(read(arg[1]))
local passed, failed = 0, 0
local compiled = {}

local function run(case)
  if case.spelling ~= nil then -- a check made by run-health-tests.sh, reported here
    if case.spelling then
      return nil
    end
    return "not found"
  end
  local chunk, err = compiled[case.script], nil
  if chunk == nil then
    chunk, err = loadstring(read(case.script), "@" .. case.script)
    compiled[case.script] = chunk
  end
  local ok, result
  if chunk == nil then
    ok, result = false, err
  else
    setfenv(chunk, sandbox(case.obj))
    -- Argo CD does not open the string library, so strings have no methods either.
    local string_meta = getmetatable("")
    local string_index = string_meta.__index
    string_meta.__index = nil
    ok, result = pcall(chunk)
    string_meta.__index = string_index
  end
  local problem
  if not ok then
    problem = "error: " .. tostring(result)
  elseif type(result) ~= "table" then
    problem = "returned " .. type(result) .. ", want a table"
  elseif not VALID[result.status] then
    problem = string.format("status %q is not one Argo CD knows (it would show Unknown)", tostring(result.status))
  elseif type(result.message) ~= "string" or result.message == "" or string.find(result.message, "\n") then
    problem = string.format("message %q is not one non-empty line", tostring(result.message))
  elseif result.status ~= case.status then
    problem = string.format("status %s, want %s (message %q)", tostring(result.status), case.status, tostring(result.message))
  elseif case.message ~= nil and result.message ~= case.message then
    problem = string.format("message %q, want %q", tostring(result.message), case.message)
  end
  return problem
end

for _, case in ipairs(cases) do
  local problem = run(case)
  if problem then
    failed = failed + 1
    print(string.format("FAIL %s: %s", case.name, problem))
  else
    passed = passed + 1
  end
end

print(string.format("lua health: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
