-- StereoFoley – Send selected clips (DaVinci Resolve: Workspace > Scripts > Utility). Lua version.
--
-- The same behaviour as StereoFoley_Send_selected_clips.py, for the free edition of Resolve (from Resolve 21.1
-- its Python scripting needs Resolve Studio; Lua scripts still run). Both read one config file,
-- stereofoley_config.json next to them (written by `stereofoley install resolve`).
--
-- Exports the current timeline as OTIO, finds the clips to sonify, runs the StereoFoley engine on them
-- (`stereofoley send JOB --status-file STATUS --cancel-file CANCEL`), waits with progress in the Console, then
-- places the baked stereo WAVs on a new stereo audio track at the clips' record frames (Resolve has no
-- automation API, so the placement is baked into the audio). "mode": "timeline" imports the engine's result
-- timeline instead.
--
-- Selection, first that finds something: Timeline:GetSelectedClips() (Resolve 21.0.4+); video clips of the
-- configured colour (default Orange); video clips with a flag of the configured colour (default Orange); video
-- clips under a timeline marker named "foley"; the clip at the playhead. Clips are told apart by GetUniqueId().
--
-- Cancel: run the script again while it waits (or create the file CANCEL it names in the Console). The engine
-- stops, nothing is placed.
--
-- Written for Resolve's LuaJIT (Lua 5.1): no utf8 library, no integer subtype, no goto.

local M = {}

M.CONFIG_NAME = "stereofoley_config.json"
M.LOCK_NAME = "send.lock" -- in the work folder's root while a send waits: a second run cancels that send
M.LOCK_STALE_S = 30 -- a lock whose heartbeat is older than this is left over from a send that died
M.CANCEL_GRACE_S = 20 -- after a cancel, how long to wait for the engine to say "cancelled"
-- The defaults, the same as the Python script's DEFAULTS (the test suite compares them).
M.DEFAULTS = {
  engine = { "stereofoley" },
  clip_color = "Orange",
  flag_color = "Orange",
  marker_name = "foley",
  mode = "tracks", -- "tracks": WAVs on a new stereo track; "timeline": import the result timeline
  sources = "synth",
  detector = "auto",
  preset = "natural",
  poll_interval_s = 0.5,
  timeout_s = 3600.0,
}
M.TERMINAL = { done = true, partial = true, failed = true, cancelled = true }
M.AUDIO = 2 -- AppendToTimeline mediaType: audio only

-- A problem the user must fix: shown as one line in the Console.
local SendError = {}
SendError.__index = SendError
SendError.__tostring = function(e) return e.message end
function M.fail(message) error(setmetatable({ message = message }, SendError), 0) end
function M.is_send_error(e) return getmetatable(e) == SendError end

M.IS_WINDOWS = package.config:sub(1, 1) == "\\"

-- ------------------------------------------------------------------------------------------------ JSON
M.ARRAY = {}
function M.array(t) return setmetatable(t or {}, M.ARRAY) end
local array_length = setmetatable({}, { __mode = "k" }) -- decoded arrays keep their length (nulls are holes)
function M.len(t) return array_length[t] or #t end

local function utf8_char(code)
  if code < 0x80 then return string.char(code) end
  if code < 0x800 then return string.char(0xC0 + math.floor(code / 0x40), 0x80 + code % 0x40) end
  if code < 0x10000 then
    return string.char(0xE0 + math.floor(code / 0x1000), 0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return string.char(0xF0 + math.floor(code / 0x40000), 0x80 + math.floor(code / 0x1000) % 0x40,
    0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local function json_escape(s)
  return (s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end))
end

local function is_array(t)
  if getmetatable(t) == M.ARRAY or array_length[t] then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

function M.json_encode(v)
  local kind = type(v)
  if kind == "nil" then return "null" end
  if kind == "boolean" then return v and "true" or "false" end
  if kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("JSON cannot hold " .. tostring(v)) end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
    return string.format("%.17g", v)
  end
  if kind == "string" then return '"' .. json_escape(v) .. '"' end
  if kind ~= "table" then error("JSON cannot hold a " .. kind) end
  local parts = {}
  if is_array(v) then
    for i = 1, M.len(v) do parts[i] = M.json_encode(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do parts[i] = '"' .. json_escape(k) .. '":' .. M.json_encode(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function M.json_decode(text)
  local pos = 1
  local function fail(what) error(string.format("bad JSON at character %d: %s", pos, what), 0) end
  local function skip() pos = text:find("[^ \t\r\n]", pos) or (#text + 1) end
  local value
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = text:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local e = text:sub(pos + 1, pos + 1)
        local simple = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if simple[e] then
          out[#out + 1] = simple[e]; pos = pos + 2
        elseif e == "u" then
          local code = tonumber(text:sub(pos + 2, pos + 5), 16) or fail("bad \\u escape")
          pos = pos + 6
          if code >= 0xD800 and code <= 0xDBFF and text:sub(pos, pos + 1) == "\\u" then
            local low = tonumber(text:sub(pos + 2, pos + 5), 16) or fail("bad \\u escape")
            code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
            pos = pos + 6
          end
          out[#out + 1] = utf8_char(code)
        else
          fail("bad escape")
        end
      else
        local stop = text:find('["\\]', pos) or (#text + 1)
        out[#out + 1] = text:sub(pos, stop - 1)
        pos = stop
      end
    end
  end
  function value()
    skip()
    local c = text:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1; skip()
      if text:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        skip()
        if text:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str(); skip()
        if text:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value(); skip()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr, n = M.array(), 0
      pos = pos + 1; skip()
      if text:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        n = n + 1
        arr[n] = value(); skip()
        array_length[arr] = n
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif text:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif text:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif text:sub(pos, pos + 3) == "null" then pos = pos + 4; return nil
    else
      local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then fail("unexpected character") end
      pos = pos + #num
      return tonumber(num) or fail("bad number")
    end
  end
  local result = value(); skip()
  if pos <= #text then fail("trailing characters") end
  return result
end

-- --------------------------------------------------------------------------------------------- files
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

function M.join(a, b)
  local sep = M.IS_WINDOWS and "\\" or "/"
  if a:sub(-1) == "/" or a:sub(-1) == "\\" then return a .. b end
  return a .. sep .. b
end

function M.mkdir(path)
  if M.IS_WINDOWS then os.execute("mkdir " .. M.quote(path) .. " 2>NUL") else os.execute("mkdir -p " .. M.quote(path)) end
end

-- Temp file then rename over the target: never half a file, and the target is never removed first (where
-- rename cannot replace, on Windows, it fails and the target stays; the names written here are fresh).
function M.write_file_atomic(path, text)
  local tmp = path .. ".part"
  local f = io.open(tmp, "wb")
  if not f then M.fail("cannot write " .. tmp) end
  local ok, err = f:write(text)
  f:close()
  if ok then ok, err = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp)
    M.fail("cannot write " .. path .. ": " .. tostring(err))
  end
end

-- ---------------------------------------------------------------------------------------------- config
-- A command line split as a POSIX shell would for plain words and quoted ones (no expansions).
function M.split_command(text)
  local out, word, quote, have = {}, {}, nil, false
  for i = 1, #text do
    local c = text:sub(i, i)
    if quote then
      if c == quote then quote = nil else word[#word + 1] = c end
    elseif c == '"' or c == "'" then
      quote, have = c, true
    elseif c:match("%s") then
      if have or #word > 0 then out[#out + 1] = table.concat(word); word, have = {}, false end
    else
      word[#word + 1] = c
    end
  end
  if quote then M.fail("unbalanced quote in " .. text) end
  if have or #word > 0 then out[#out + 1] = table.concat(word) end
  return out
end

function M.load_config(script_dir)
  local config = {}
  for k, v in pairs(M.DEFAULTS) do config[k] = v end
  local path = M.join(script_dir, M.CONFIG_NAME)
  local text = M.read_file(path)
  if text then
    local ok, data = pcall(M.json_decode, text)
    if not ok or type(data) ~= "table" or is_array(data) then
      M.fail(path .. " is not a JSON object of settings (" .. tostring(ok and "not an object" or data) .. "); fix or remove it")
    end
    for k, v in pairs(data) do config[k] = v end
  end
  local engine = os.getenv("STEREOFOLEY_ENGINE")
  if engine and engine ~= "" then config.engine = M.split_command(engine) end
  return config
end

-- ------------------------------------------------------------------------------------------- selection
local function uid(item) return item:GetUniqueId() end

-- (1-based video track number, item) for every clip on the video tracks.
function M.video_items_with_tracks(timeline)
  local out = {}
  for index = 1, tonumber(timeline:GetTrackCount("video")) do
    for _, item in ipairs(timeline:GetItemListInTrack("video", index) or {}) do out[#out + 1] = { index, item } end
  end
  return out
end

local function values(t)
  local out = {}
  if t == nil then return out end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  if #t == #keys then for i = 1, #t do out[i] = t[i] end return out end -- a list
  for _, k in ipairs(keys) do out[#out + 1] = t[k] end
  return out
end

-- (how, timeline items): the first rule of the documented order that finds any video clip.
function M.find_selection(timeline, clip_color, marker_name, flag_color)
  flag_color = flag_color or M.DEFAULTS.flag_color
  local all_video = {}
  local video_ids = {}
  for _, pair in ipairs(M.video_items_with_tracks(timeline)) do
    all_video[#all_video + 1] = pair[2]
    video_ids[uid(pair[2])] = true
  end
  if timeline.GetSelectedClips then
    local selected = {}
    for _, item in ipairs(values(timeline:GetSelectedClips())) do
      if video_ids[uid(item)] then selected[#selected + 1] = item end -- audio clips have no picture to analyse
    end
    if #selected > 0 then return "selected", selected end
  end
  local coloured = {}
  for _, item in ipairs(all_video) do
    if item:GetClipColor() == clip_color then coloured[#coloured + 1] = item end
  end
  if #coloured > 0 then return "colour", coloured end
  local flagged = {}
  for _, item in ipairs(all_video) do
    for _, flag in ipairs(values(item:GetFlagList())) do
      if flag == flag_color then flagged[#flagged + 1] = item; break end
    end
  end
  if #flagged > 0 then return "flag", flagged end
  local start = tonumber(timeline:GetStartFrame())
  local spans = {}
  for frame, info in pairs(timeline:GetMarkers() or {}) do
    local name = tostring(info.name or ""):match("^%s*(.-)%s*$"):lower()
    if name == marker_name:lower() then
      local s = start + math.floor(tonumber(frame))
      spans[#spans + 1] = { s, s + math.max(1, math.floor(tonumber(info.duration or 1))) }
    end
  end
  local under = {}
  for _, item in ipairs(all_video) do
    local a, b = item:GetStart(), item:GetStart() + item:GetDuration()
    for _, span in ipairs(spans) do
      if a < span[2] and span[1] < b then under[#under + 1] = item; break end
    end
  end
  if #under > 0 then return "marker", under end
  local current = timeline:GetCurrentVideoItem()
  if current then return "playhead", { current } end
  return "none", {}
end

-- ------------------------------------------------------------------------------------------------- job
-- Frames per second. Resolve states NTSC rates rounded ("29.97", "23.976"); they are n*1000/1001 exactly, as
-- the engine reads them from the exported OTIO (stereofoley.timeline.timemap.rate_fraction: the same rule,
-- and the test suite checks both scripts against it).
function M.timeline_rate(timeline)
  local text = tostring(timeline:GetSetting("timelineFrameRate")):match("^%s*(.-)%s*$")
  local rate = tonumber(text:match("^(%S+)") or "") -- the number, should a suffix such as " DF" follow it
  if not rate or rate <= 0 then M.fail("cannot read the timeline frame rate '" .. text .. "'") end
  local ntsc = math.floor(rate * 1.001 + 0.5) * 1000 / 1001
  if rate ~= math.floor(rate) and ntsc > 0 and math.abs(rate - ntsc) <= 0.005 then return ntsc end
  return rate
end

local function sorted_unique(list)
  local seen, out = {}, M.array()
  for _, v in ipairs(list) do if not seen[v] then seen[v] = true; out[#out + 1] = v end end
  table.sort(out)
  return out
end

-- A `timeline` job: the exported OTIO plus a selection in the engine's terms (every criterion must match):
-- the chosen clips' names, their video tracks, and the record range they span (seconds from the timeline
-- start, [start, end)). Placement later keeps only results that start where a chosen clip starts.
function M.build_job(timeline, items, otio_path, out_dir, config)
  local start, rate = tonumber(timeline:GetStartFrame()), M.timeline_rate(timeline)
  local track_of = {}
  for _, pair in ipairs(M.video_items_with_tracks(timeline)) do track_of[uid(pair[2])] = pair[1] end
  local first, last, names, tracks = math.huge, -math.huge, {}, {}
  for _, item in ipairs(items) do
    first = math.min(first, item:GetStart())
    last = math.max(last, item:GetStart() + item:GetDuration())
    names[#names + 1] = item:GetName()
    if track_of[uid(item)] then tracks[#tracks + 1] = "V" .. track_of[uid(item)] end
  end
  return {
    version = 1,
    kind = "timeline",
    timeline = otio_path,
    out_dir = out_dir,
    select = {
      clips = sorted_unique(names),
      tracks = sorted_unique(tracks),
      range_s = M.array({ (first - start) / rate, (last - start) / rate }),
    },
    options = { sources = config.sources, detector = config.detector, preset = config.preset, stems = false },
  }
end

-- ----------------------------------------------------------------------------------------------- engine
-- One argument in double quotes, refused where a shell would still treat something in it specially.
function M.quote(arg)
  arg = tostring(arg)
  local bad = arg:match('["`$%%]') or (not M.IS_WINDOWS and arg:match("\\"))
  if bad then M.fail("cannot pass " .. arg .. " to the engine: it contains " .. bad) end
  return '"' .. arg .. '"'
end

-- Start the engine without waiting (Lua has no process API): a small shell (or batch) file in the work folder
-- runs it, keeps its stderr, and writes its exit code last, so poll() can tell a crash from a slow job.
function M.start_engine(argv, work_dir)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = M.quote(a) end
  local err_path, exit_path = M.join(work_dir, "engine.err"), M.join(work_dir, "engine.exit")
  local runner
  if M.IS_WINDOWS then
    runner = M.join(work_dir, "engine.cmd")
    M.write_file_atomic(runner, "@echo off\r\n" .. table.concat(parts, " ") .. " 2> " .. M.quote(err_path) .. "\r\n"
      .. "echo %ERRORLEVEL% > " .. M.quote(exit_path .. ".part") .. "\r\nmove /Y " .. M.quote(exit_path .. ".part") .. " "
      .. M.quote(exit_path) .. " >NUL\r\n")
    os.execute('start "" /B ' .. M.quote(runner))
  else
    runner = M.join(work_dir, "engine.sh")
    M.write_file_atomic(runner, table.concat(parts, " ") .. " 2> " .. M.quote(err_path) .. "\n"
      .. "echo $? > " .. M.quote(exit_path .. ".part") .. " && mv " .. M.quote(exit_path .. ".part") .. " " .. M.quote(exit_path) .. "\n")
    os.execute("sh " .. M.quote(runner) .. " >/dev/null 2>&1 &")
  end
  return {
    poll = function() local t = M.read_file(exit_path); return t and tonumber(t:match("%-?%d+")) or nil end,
    error_text = function() return M.read_file(err_path) or "" end,
  }
end

-- The status file's content, or nil while it is not written yet (the engine writes it atomically).
function M.read_status(status_path)
  local text = M.read_file(status_path)
  if not text then return nil end
  local ok, status = pcall(M.json_decode, text)
  if ok and type(status) == "table" then return status end
  return nil
end

function M.sleep(seconds)
  if bmd and bmd.wait then bmd.wait(seconds) return end
  if M.IS_WINDOWS then os.execute("ping -n " .. math.max(2, math.floor(seconds + 1.5)) .. " 127.0.0.1 >NUL")
  else os.execute("sleep " .. seconds) end
end

-- Poll the status file until a terminal state; fail clearly if the engine exits without one. While waiting,
-- `beat()` runs once a poll (the lock's heartbeat) and `cancel_requested()` is checked: on a cancel the
-- engine is told through the cancel file and the wait goes on (for at most CANCEL_GRACE_S) until it stops.
function M.wait_for_status(status_path, process, opts)
  local clock, sleep, log = opts.clock or os.time, opts.sleep or M.sleep, opts.log or print
  local deadline = clock() + opts.timeout_s
  local last_shown, cancelled_at = nil, nil
  while true do
    local status = M.read_status(status_path)
    if status then
      local shown = tostring(status.state) .. " " .. string.format("%.0f", (tonumber(status.progress) or 0) * 100)
      if shown ~= last_shown then
        last_shown = shown
        log("StereoFoley: " .. shown .. "% " .. tostring(status.message or ""))
      end
      if M.TERMINAL[status.state] then return status end
    end
    local code = process:poll()
    if code ~= nil then
      status = M.read_status(status_path) -- the last status may have landed just before the exit
      if status and M.TERMINAL[status.state] then return status end
      local err = process.error_text and tostring(process:error_text()):match("^%s*(.-)%s*$") or ""
      M.fail("the engine exited with code " .. tostring(code) .. " before finishing: " .. (err ~= "" and err or "no message"))
    end
    if opts.beat then opts.beat() end
    if not cancelled_at and opts.cancel_requested and opts.cancel_requested() then
      cancelled_at = clock()
      log("StereoFoley: cancelling...")
    end
    if cancelled_at and clock() - cancelled_at > M.CANCEL_GRACE_S then
      M.fail("cancelled; the engine did not confirm within " .. M.CANCEL_GRACE_S .. " s (nothing placed)")
    end
    if clock() > deadline then
      if opts.on_timeout then opts.on_timeout() end
      M.fail(string.format("no result after %.0f s; status file %s", opts.timeout_s, status_path))
    end
    sleep(opts.poll_interval_s)
  end
end

-- -------------------------------------------------------------------------------------------- placement
local function round(x) return math.floor(x + 0.5) end

-- {wav, record_frame (absolute, as AppendToTimeline wants), record_duration_frames} from a status file: the
-- timeline report's clips when present (record_start_s is from the timeline start), else the results'
-- record_start_frame (absolute, global start included).
function M.placements(status, rate, start_frame)
  local report_clips = (status.report or {}).clips or {}
  local out = {}
  for _, c in ipairs(report_clips) do
    local frame
    if c.record_start_s ~= nil then frame = start_frame + round(tonumber(c.record_start_s) * rate)
    else frame = round(tonumber(c.record_start_frame)) end
    out[#out + 1] = { wav = c.wav, record_frame = frame, record_duration_frames = round(tonumber(c.record_duration_frames)) }
  end
  if #report_clips > 0 then return out end
  for _, r in ipairs(status.results or {}) do
    if r.record_start_frame == nil then M.fail("result " .. tostring(r.id) .. " has no record_start_frame; cannot place it") end
    out[#out + 1] = { wav = r.wav, record_frame = round(tonumber(r.record_start_frame)),
      record_duration_frames = round(tonumber(r.duration_s) * rate) }
  end
  return out
end

local function norm(path)
  if M.IS_WINDOWS then return (path:gsub("/", "\\"):lower()) end
  return path
end

-- Import the WAVs and append each on a new stereo audio track at its absolute record frame.
function M.place_on_new_track(project, timeline, places, log)
  if #places == 0 then M.fail("the engine returned nothing to place") end
  local media_pool = project:GetMediaPool()
  if not timeline:AddTrack("audio", "stereo") then M.fail("Resolve refused to add a stereo audio track") end
  local track_index = tonumber(timeline:GetTrackCount("audio"))
  local paths, seen = {}, {}
  for _, p in ipairs(places) do
    if not seen[p.wav] then seen[p.wav] = true; paths[#paths + 1] = p.wav end
  end
  local by_path = {}
  for _, item in ipairs(media_pool:ImportMedia(paths) or {}) do by_path[norm(item:GetClipProperty("File Path"))] = item end
  local infos = {}
  for _, p in ipairs(places) do
    local item = by_path[norm(p.wav)]
    if not item then M.fail("Resolve did not import " .. p.wav) end
    infos[#infos + 1] = {
      mediaPoolItem = item,
      startFrame = 0,
      endFrame = p.record_duration_frames - 1, -- inclusive, as Resolve's own scripts use it
      mediaType = M.AUDIO,
      trackIndex = track_index,
      recordFrame = p.record_frame, -- absolute: includes the timeline's start frame
    }
  end
  local appended = media_pool:AppendToTimeline(infos) or {}
  if #values(appended) ~= #infos then M.fail(string.format("Resolve placed %d of %d clips", #values(appended), #infos)) end
  log(string.format("StereoFoley: placed %d clip(s) on audio track %d", #infos, track_index))
  return appended
end

-- ------------------------------------------------------------------------------------------------- main
-- opts: log, start (argv, work_dir) -> process with :poll(), sleep, clock, cancel_requested, beat.
function M.send_selected(resolve, config, work_dir, opts)
  opts = opts or {}
  local log = opts.log or print
  local project = resolve:GetProjectManager():GetCurrentProject()
  local timeline = project and project:GetCurrentTimeline() or nil
  if not timeline then M.fail("open a timeline first") end
  local how, items = M.find_selection(timeline, config.clip_color, config.marker_name, config.flag_color)
  if #items == 0 then
    M.fail("no clips to send: select clips (Resolve 21.0.4+), colour them " .. config.clip_color
      .. ", flag them " .. config.flag_color .. ", put a marker named '" .. config.marker_name .. "' over them, or park the playhead on one")
  end
  log(string.format("StereoFoley: %d clip(s) (%s)", #items, how))
  M.mkdir(work_dir)
  local otio_path = M.join(work_dir, "timeline.otio")
  if not timeline:Export(otio_path, resolve.EXPORT_OTIO, resolve.EXPORT_NONE) then
    M.fail("Resolve could not export the timeline to " .. otio_path .. " (OTIO export needs Resolve 18.5+)")
  end
  local job = M.build_job(timeline, items, otio_path, M.join(work_dir, "render"), config)
  local job_path, status_path, cancel_path = M.join(work_dir, "job.json"), M.join(work_dir, "status.json"), M.join(work_dir, "cancel")
  M.write_file_atomic(job_path, M.json_encode(job))
  os.remove(status_path) -- a stale status from an earlier run must not be mistaken for this one
  local argv = {}
  for _, a in ipairs(config.engine) do argv[#argv + 1] = a end
  for _, a in ipairs({ "send", job_path, "--status-file", status_path, "--cancel-file", cancel_path }) do argv[#argv + 1] = a end
  local process = (opts.start or M.start_engine)(argv, work_dir)
  log("StereoFoley: rendering; to cancel, run this script again (or create " .. cancel_path .. ")")
  local status = M.wait_for_status(status_path, process, {
    poll_interval_s = tonumber(config.poll_interval_s), timeout_s = tonumber(config.timeout_s), log = log,
    sleep = opts.sleep, clock = opts.clock, beat = opts.beat,
    cancel_requested = function() return M.exists(cancel_path) or (opts.cancel_requested and opts.cancel_requested()) end,
    on_timeout = function() M.write_file_atomic(cancel_path, "timeout\n") end, -- do not leave the engine running
  })
  if status.state == "cancelled" then M.fail("cancelled; nothing placed") end
  if status.state == "failed" then
    M.fail("the engine stopped (failed): " .. tostring(status.error or status.message or ""))
  end
  if config.mode == "timeline" then
    local out = (status.report or {}).timeline_out
    if not out then M.fail("the engine returned no timeline to import") end
    local name = timeline:GetName() .. " StereoFoley"
    if not project:GetMediaPool():ImportTimelineFromFile(out, { timelineName = name, importSourceClips = true }) then
      M.fail("Resolve could not import " .. out)
    end
    log("StereoFoley: imported timeline '" .. name .. "'")
  else
    local places = M.placements(status, M.timeline_rate(timeline), tonumber(timeline:GetStartFrame()))
    local chosen = {}
    for _, item in ipairs(items) do chosen[item:GetStart()] = true end
    local keep = {}
    for _, p in ipairs(places) do
      if chosen[p.record_frame] then keep[#keep + 1] = p
      else log("StereoFoley: not placing " .. p.wav .. ": it starts at frame " .. p.record_frame .. ", where no chosen clip starts") end
    end
    M.place_on_new_track(project, timeline, keep, log)
  end
  return status
end

-- -------------------------------------------------------------------------------------- lock and cancel
-- While a send waits, WORK_ROOT/send.lock names its work folder and a heartbeat. Running the script again then
-- asks that send to cancel (writes its cancel file) instead of starting another.
function M.read_lock(lock_path, now)
  local text = M.read_file(lock_path)
  if not text then return nil end
  local ok, lock = pcall(M.json_decode, text)
  if not ok or type(lock) ~= "table" or type(lock.work_dir) ~= "string" then return nil end
  if now - (tonumber(lock.beat) or 0) > M.LOCK_STALE_S then return nil end -- left over from a send that died
  return lock
end

function M.write_lock(lock_path, work_dir, now)
  M.write_file_atomic(lock_path, M.json_encode({ work_dir = work_dir, beat = now }))
end

function M.script_dir()
  local source = debug.getinfo(1, "S").source
  local path = source:sub(1, 1) == "@" and source:sub(2) or ""
  return path:match("^(.*)[/\\]") or "."
end

function M.home()
  return os.getenv("HOME") or os.getenv("USERPROFILE") or "."
end

function M.get_resolve()
  local r = rawget(_G, "resolve")
  if r then return r end
  if Resolve then return Resolve() end
  if bmd and bmd.scriptapp then return bmd.scriptapp("Resolve") end
  local ok, dvr = pcall(require, "fusionscript") -- outside Resolve: its scripting module (RESOLVE_SCRIPT_LIB)
  if ok and dvr and dvr.scriptapp then return dvr.scriptapp("Resolve") end
  M.fail("no Resolve scripting API here: run this from Workspace > Scripts")
end

-- Returns 0 (done, or a cancel request delivered) or 1 (a problem, shown as one line).
function M.main(opts)
  opts = opts or {}
  local log = opts.log or print
  local ok, err = pcall(function()
    local config = M.load_config(opts.script_dir or M.script_dir())
    local root = config.work_dir or M.join(M.home(), "StereoFoley")
    M.mkdir(root)
    local lock_path = M.join(root, M.LOCK_NAME)
    local clock = opts.clock or os.time
    local running = M.read_lock(lock_path, clock())
    if running then
      M.mkdir(running.work_dir) -- (it may not have got that far yet)
      M.write_file_atomic(M.join(running.work_dir, "cancel"), "cancelled from a second run\n")
      log("StereoFoley: asked the send in " .. running.work_dir .. " to cancel")
      return
    end
    local work_dir = M.join(root, os.date("send-%Y%m%d-%H%M%S"))
    M.write_lock(lock_path, work_dir, clock())
    local sent, failure = pcall(M.send_selected, M.get_resolve(), config, work_dir, {
      log = log, start = opts.start, sleep = opts.sleep, clock = clock,
      beat = function() M.write_lock(lock_path, work_dir, clock()) end,
    })
    local lock = M.read_lock(lock_path, clock())
    if lock and lock.work_dir == work_dir then os.remove(lock_path) end -- ours: this send is over
    if not sent then error(failure, 0) end
  end)
  if ok then return 0 end
  if M.is_send_error(err) then
    log("StereoFoley: " .. err.message)
    return 1
  end
  error(err, 0)
end

if STEREOFOLEY_RESOLVE_NO_MAIN then return M end -- tests load the module without running it
M.main()
return M
