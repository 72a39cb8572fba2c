-- Self-test of json.lua (run by run-health-tests.sh before the health cases). Quiet on success.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local json = require("json")

local v = json.decode([[ {"a":[1,2.5,-3e2,{"b":null}],"s":"x\"\\\/\n\u00e9\ud83d\ude00","t":true,"f":false,"e":{},"z":[]} ]])
assert(v.a[1] == 1 and v.a[2] == 2.5 and v.a[3] == -300 and v.a[4].b == nil, "numbers and null")
assert(v.s == "x\"\\/\n\195\169\240\159\152\128", "escapes and UTF-8: " .. v.s)
assert(v.t == true and v.f == false and next(v.e) == nil and #v.z == 0, "literals and empty containers")
for _, bad in ipairs({ "{", "[1,]", '{"a" 1}', '"abc', "1 2", "tru", "" }) do
  assert(not pcall(json.decode, bad), "accepted bad JSON: " .. bad)
end
