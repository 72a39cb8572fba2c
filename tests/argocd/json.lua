-- A small JSON decoder in pure Lua 5.1, for the Argo CD health-check tests: objects become
-- tables with string keys, arrays become 1-based tables, null becomes nil (as a missing field,
-- which is how Argo CD hands an object to a health script), numbers become Lua numbers.
local M = {}

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function utf8(code)
  if code < 0x80 then
    return string.char(code)
  elseif code < 0x800 then
    return string.char(0xC0 + math.floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return string.char(0xE0 + math.floor(code / 0x1000), 0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return string.char(0xF0 + math.floor(code / 0x40000), 0x80 + math.floor(code / 0x1000) % 0x40,
    0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local function fail(text, pos, what)
  error(string.format("JSON: %s at byte %d", what, pos), 0)
end

local function skip(text, pos)
  return (string.find(text, "[^ \t\r\n]", pos)) or (#text + 1)
end

local value -- forward

local function string_at(text, pos) -- pos at the opening quote
  local parts, i = {}, pos + 1
  while true do
    local c = string.sub(text, i, i)
    if c == "" then
      fail(text, i, "unterminated string")
    elseif c == '"' then
      return table.concat(parts), i + 1
    elseif c == "\\" then
      local e = string.sub(text, i + 1, i + 1)
      if e == "u" then
        local hex = string.sub(text, i + 2, i + 5)
        if not string.find(hex, "^%x%x%x%x$") then
          fail(text, i, "bad \\u escape")
        end
        local code = tonumber(hex, 16)
        i = i + 6
        if code >= 0xD800 and code <= 0xDBFF and string.sub(text, i, i + 1) == "\\u" then
          local low = tonumber(string.sub(text, i + 2, i + 5), 16)
          if low and low >= 0xDC00 and low <= 0xDFFF then
            code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
            i = i + 6
          end
        end
        parts[#parts + 1] = utf8(code)
      elseif escapes[e] then
        parts[#parts + 1] = escapes[e]
        i = i + 2
      else
        fail(text, i, "bad escape")
      end
    else
      local j = string.find(text, '["\\]', i) or (#text + 1)
      parts[#parts + 1] = string.sub(text, i, j - 1)
      i = j
    end
  end
end

local function array_at(text, pos)
  local out, n = {}, 0
  pos = skip(text, pos + 1)
  if string.sub(text, pos, pos) == "]" then
    return out, pos + 1
  end
  while true do
    local v
    v, pos = value(text, pos)
    n = n + 1
    out[n] = v
    pos = skip(text, pos)
    local c = string.sub(text, pos, pos)
    if c == "]" then
      return out, pos + 1
    elseif c ~= "," then
      fail(text, pos, "expected , or ]")
    end
    pos = skip(text, pos + 1)
  end
end

local function object_at(text, pos)
  local out = {}
  pos = skip(text, pos + 1)
  if string.sub(text, pos, pos) == "}" then
    return out, pos + 1
  end
  while true do
    if string.sub(text, pos, pos) ~= '"' then
      fail(text, pos, "expected a key")
    end
    local k
    k, pos = string_at(text, pos)
    pos = skip(text, pos)
    if string.sub(text, pos, pos) ~= ":" then
      fail(text, pos, "expected :")
    end
    local v
    v, pos = value(text, skip(text, pos + 1))
    out[k] = v
    pos = skip(text, pos)
    local c = string.sub(text, pos, pos)
    if c == "}" then
      return out, pos + 1
    elseif c ~= "," then
      fail(text, pos, "expected , or }")
    end
    pos = skip(text, pos + 1)
  end
end

value = function(text, pos)
  pos = skip(text, pos)
  local c = string.sub(text, pos, pos)
  if c == "{" then
    return object_at(text, pos)
  elseif c == "[" then
    return array_at(text, pos)
  elseif c == '"' then
    return string_at(text, pos)
  elseif string.sub(text, pos, pos + 3) == "true" then
    return true, pos + 4
  elseif string.sub(text, pos, pos + 4) == "false" then
    return false, pos + 5
  elseif string.sub(text, pos, pos + 3) == "null" then
    return nil, pos + 4
  end
  local num = string.match(text, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num == nil or num == "" or tonumber(num) == nil then
    fail(text, pos, "unexpected character")
  end
  return tonumber(num), pos + #num
end

function M.decode(text)
  local v, pos = value(text, 1)
  pos = skip(text, pos)
  if pos <= #text then
    fail(text, pos, "trailing data")
  end
  return v
end

return M
