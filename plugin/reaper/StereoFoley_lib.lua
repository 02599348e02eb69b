-- @noindex (a file of the package StereoFoley_Send_selected_items.lua; installed with it)
-- @version 0.2.0
-- StereoFoley shared library for the REAPER ReaScripts (loaded with dofile by each script).
--
-- The scripts talk to the engine through files (REAPER scripts have no sockets): they write a job file,
-- start `stereofoley send JOB --status-file STATUS` with reaper.ExecProcess(cmd, -1) (no waiting), poll the
-- status file in a reaper.defer loop, and place the results. Job and status formats: docs/hosts.md.

local M = {}

M.SECTION = "StereoFoley" -- ExtState section for user options
M.TRACK_NAME = "StereoFoley" -- the track that receives the baked stereo results
M.POLL_INTERVAL_S = 0.25
M.STALL_TIMEOUT_S = 600 -- give up when the status file has not changed for this long
-- REAPER's Pan envelope lane has 100 % L at the top (+1), the engine's pan has +1 = right:
-- envelope value = PAN_ENVELOPE_SIGN * engine pan. Checked against REAPER's documentation only (docs/hosts.md).
M.PAN_ENVELOPE_SIGN = -1
M.MAX_VOLUME_ENVELOPE_GAIN = 2.0 -- +6 dB, the top of REAPER's volume envelope
M.MAX_GAIN_STEP_DB = 1.0 -- largest dB change between two volume envelope points (see write_envelope)

M.PEAK_BUILD_MAX_STEPS = 100000 -- PCM_Source_BuildPeaks(src, 1) calls before giving up on one file's peaks

-- ------------------------------------------------------------------------------------------ JSON
local function json_escape(s)
  return (s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or string.format("\\u%04x", c:byte())
  end))
end

M.ARRAY = {} -- metatable marking a (possibly empty) table as a JSON array
function M.array(t) return setmetatable(t or {}, M.ARRAY) end

-- A decoded JSON array keeps its length here, so nulls (nil: holes in the table) inside it are not lost.
local array_length = setmetatable({}, { __mode = "k" })

-- Length of an array, holes included (`#` is undefined for tables with holes).
function M.len(t)
  return array_length[t] or #t
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
    if math.type(v) == "integer" then return string.format("%d", v) end
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
  table.sort(keys) -- stable output
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
          out[#out + 1] = utf8.char(code)
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
        arr[n] = value(); skip() -- a null leaves a hole; its length is kept in array_length
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

-- ------------------------------------------------------------------------------------- files, paths
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- Write beside the target, then rename over it: a reader sees the old file or the new one, never half of one,
-- and the target is never removed first. Where rename cannot replace an existing file (Windows' C library),
-- this fails and leaves the target as it was: callers write to fresh names (stamped job, status and preview
-- files), so that does not arise.
function M.write_file_atomic(path, text)
  local tmp = path .. ".part"
  local f = assert(io.open(tmp, "wb"))
  local ok, err = f:write(text)
  f:close()
  if ok then ok, err = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp) -- our own temporary file only
    error("StereoFoley: cannot write " .. path .. ": " .. tostring(err), 0)
  end
end

function M.script_dir()
  local _, filename = reaper.get_action_context()
  return filename:match("^(.*[/\\])") or "./"
end

function M.is_windows()
  return reaper.GetOS():match("^Win") ~= nil
end

-- One argument in double quotes: understood alike by Windows' command-line parsing, by sh, and by a plain
-- quote-aware splitter (how ExecProcess splits on macOS/Linux is not documented). Characters that any of
-- them would treat specially inside double quotes are refused rather than escaped differently per OS.
function M.quote(arg)
  arg = tostring(arg)
  local bad = arg:match('["`$]') or (not M.is_windows() and arg:match("\\"))
  if bad then error("StereoFoley: cannot pass " .. arg .. " to the engine: it contains " .. bad, 0) end
  return '"' .. arg .. '"'
end

function M.command_line(argv)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = M.quote(a) end
  return table.concat(parts, " ")
end

-- ------------------------------------------------------------------------------------------ settings
-- The engine command: ExtState "engine" (a command line) wins, then StereoFoley_config.lua written by
-- `stereofoley install reaper` (argv of the engine), then `stereofoley` on the PATH.
function M.engine_prefix()
  local custom = reaper.GetExtState(M.SECTION, "engine")
  if custom ~= nil and custom ~= "" then return custom end
  local chunk = loadfile(M.script_dir() .. "StereoFoley_config.lua")
  local config = chunk and chunk() or {}
  return M.command_line(config.engine or { "stereofoley" })
end

function M.option(key, default)
  local v = reaper.GetExtState(M.SECTION, key)
  if v == nil or v == "" then return default end
  return v
end

function M.work_dir()
  local sep = M.is_windows() and "\\" or "/"
  local dir = reaper.GetProjectPath() .. sep .. "StereoFoley"
  reaper.RecursiveCreateDirectory(dir, 0)
  return dir, sep
end

-- ------------------------------------------------------------------------------------------ jobs
-- What the engine needs from one selected item: the media it plays and the media range it shows.
-- Media time runs playrate times faster than project time, so the item shows length * playrate of media.
--
-- A take whose source is a section (Item properties > Section, or a glued/trimmed source) wraps its file: the
-- take offset counts from the section start, so the file range is the section offset plus the take's range, and
-- so on for each level (PCM_Source_GetSectionInfo). A reversed section plays its file backwards, which the
-- engine cannot follow (it analyses and synthesises forwards): such items are skipped with that reason.
function M.media_range(source, start_s, end_s)
  local parent = reaper.GetMediaSourceParent(source)
  while parent do
    local ok, section_offset_s, _, reversed = reaper.PCM_Source_GetSectionInfo(source)
    if ok then
      if reversed then return nil, "its take is reversed (the engine renders forwards only)" end
      start_s, end_s = start_s + section_offset_s, end_s + section_offset_s
    end
    source, parent = parent, reaper.GetMediaSourceParent(parent)
  end
  return source, start_s, end_s
end

function M.describe_item(item, index)
  local take = reaper.GetActiveTake(item)
  if not take or reaper.TakeIsMIDI(take) then return nil, "no audio/video take" end
  local offset_s = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  local playrate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
  local length_s = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  local file_source, start_s, end_s = M.media_range(reaper.GetMediaItemTake_Source(take), offset_s, offset_s + length_s * playrate)
  if not file_source then return nil, start_s end
  local media = reaper.GetMediaSourceFileName(file_source)
  if media == nil or media == "" then return nil, "take has no media file" end
  local _, guid = reaper.GetSetMediaItemInfo_String(item, "GUID", "", false)
  local position_s = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  local _, take_name = reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "", false)
  local track = reaper.GetMediaItem_Track(item)
  local _, track_name = reaper.GetTrackName(track)
  return {
    id = (guid ~= nil and guid ~= "") and guid or ("item-" .. index),
    name = (take_name ~= nil and take_name ~= "") and take_name or ("item " .. index),
    media = media,
    start_s = start_s,
    end_s = end_s,
    position_s = position_s,
    length_s = length_s,
    playrate = playrate,
    track_name = track_name,
  }
end

function M.selected_items()
  local described, skipped = M.array(), M.array()
  for i = 0, reaper.CountSelectedMediaItems(0) - 1 do
    local info, why = M.describe_item(reaper.GetSelectedMediaItem(0, i), i + 1)
    if info then described[#described + 1] = info else skipped[#skipped + 1] = "item " .. (i + 1) .. ": " .. why end
  end
  return described, skipped
end

function M.build_job(items, out_dir, placement)
  local clips = M.array()
  for i, it in ipairs(items) do
    clips[i] = { id = it.id, media = it.media, start_s = it.start_s, end_s = it.end_s, name = it.name }
  end
  return {
    version = 1,
    kind = "clips",
    out_dir = out_dir,
    clips = clips,
    options = {
      sources = M.option("sources", "synth"),
      detector = M.option("detector", "auto"),
      preset = M.option("preset", "natural"),
      stems = placement == "objects" or placement == "live",
    },
  }
end

-- Write the job, start the engine without blocking REAPER, return the paths to poll.
function M.stamp()
  return string.format("%d-%04d", os.time(), math.floor((reaper.time_precise() % 1) * 10000))
end

function M.submit(job, work_dir, sep)
  local stamp = M.stamp()
  local job_path = work_dir .. sep .. "job-" .. stamp .. ".json"
  local status_path = work_dir .. sep .. "status-" .. stamp .. ".json"
  M.write_file_atomic(job_path, M.json_encode(job))
  local cmd = M.engine_prefix() .. " send " .. M.quote(job_path) .. " --status-file " .. M.quote(status_path)
  reaper.ExecProcess(cmd, -1)
  return job_path, status_path
end

-- The status file's text as a table, or nil when it does not parse (the engine writes it atomically, so
-- that is a file not written yet; the next change is read again).
function M.decode_status(text)
  local ok, status = pcall(M.json_decode, text)
  return ok and status or nil
end

-- Poll `status_path` in a defer loop; call on_progress(status) on change and on_done(status) when finished.
function M.poll(status_path, on_progress, on_done)
  local last_text, last_change, next_poll = nil, reaper.time_precise(), 0
  local function tick()
    local now = reaper.time_precise()
    if now >= next_poll then
      next_poll = now + M.POLL_INTERVAL_S
      local text = M.read_file(status_path)
      if text and text ~= last_text then
        last_text, last_change = text, now
        local status = M.decode_status(text)
        if status then
          on_progress(status)
          local s = status.state
          if s == "done" or s == "partial" or s == "failed" or s == "cancelled" then
            on_done(status)
            return
          end
        end
      elseif now - last_change > M.STALL_TIMEOUT_S then
        on_done({ state = "failed", message = "no news from the engine for " .. M.STALL_TIMEOUT_S .. " s", results = M.array() })
        return
      end
    end
    reaper.defer(tick)
  end
  reaper.defer(tick)
end

-- ------------------------------------------------------------------------------------- placement
function M.find_or_add_track(name)
  for i = 0, reaper.CountTracks(0) - 1 do
    local track = reaper.GetTrack(0, i)
    local _, track_name = reaper.GetTrackName(track)
    if track_name == name then return track end
  end
  local index = reaper.CountTracks(0)
  reaper.InsertTrackAtIndex(index, true)
  local track = reaper.GetTrack(0, index)
  reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
  return track
end

-- An item playing `wav` from its start at `position_s` for `length_s` of project time, at `playrate`
-- (the picture item's rate, so sound events stay under their picture).
function M.add_item(track, wav, position_s, length_s, playrate, name)
  local item = reaper.AddMediaItemToTrack(track)
  local take = reaper.AddTakeToMediaItem(item)
  local source = reaper.PCM_Source_CreateFromFile(wav)
  reaper.SetMediaItemTake_Source(take, source)
  reaper.SetMediaItemInfo_Value(item, "D_POSITION", position_s)
  reaper.SetMediaItemInfo_Value(item, "D_LENGTH", length_s)
  reaper.SetMediaItemTakeInfo_Value(take, "D_STARTOFFS", 0)
  reaper.SetMediaItemTakeInfo_Value(take, "D_PLAYRATE", playrate)
  if playrate ~= 1 then reaper.SetMediaItemTakeInfo_Value(take, "B_PPITCH", 1) end
  reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", name, true)
  M.build_peaks(source)
  return item, source
end

-- Build the new source's peaks now (REAPER otherwise draws the item empty until it builds them itself):
-- PCM_Source_BuildPeaks(src, 0) begins and says whether anything is to do, (src, 1) runs until 0 remains,
-- (src, 2) finishes. The results are short files, so this takes a moment.
function M.build_peaks(source)
  if reaper.PCM_Source_BuildPeaks(source, 0) ~= 0 then
    local steps = 0
    while reaper.PCM_Source_BuildPeaks(source, 1) ~= 0 and steps < M.PEAK_BUILD_MAX_STEPS do steps = steps + 1 end
    reaper.PCM_Source_BuildPeaks(source, 2)
  end
end

-- Track envelopes by their chunk names, which do not depend on REAPER's language ("Volume"/"Pan" are the
-- English display names). A missing one is added to the track's state chunk: no action is run and the user's
-- track selection is left alone (the "show envelope" actions work on the selected tracks and toggle).
M.ENVELOPE_CHUNKS = {
  volume = { name = "<VOLENV2", block = "<VOLENV2\nACT 1 -1\nVIS 1 1 1\nLANEHEIGHT 0 0\nARM 0\nDEFSHAPE 0 -1 -1\n>" },
  pan = { name = "<PANENV2", block = "<PANENV2\nACT 1 -1\nVIS 1 1 1\nLANEHEIGHT 0 0\nARM 0\nDEFSHAPE 0 -1 -1\n>" },
}

function M.track_envelope(track, kind)
  local spec = M.ENVELOPE_CHUNKS[kind]
  local env = reaper.GetTrackEnvelopeByChunkName(track, spec.name)
  if env then return env end
  local ok, chunk = reaper.GetTrackStateChunk(track, "", false)
  if not ok then error("StereoFoley: cannot read the state of a track to add its " .. kind .. " envelope", 0) end
  -- Envelopes go before the track's items (or its closing ">"), where REAPER writes them itself.
  local at = chunk:find("\n<ITEM", 1, true) or chunk:match("^.*()\n>%s*$")
  if not at then error("StereoFoley: unexpected track state chunk", 0) end
  chunk = chunk:sub(1, at) .. spec.block .. chunk:sub(at)
  reaper.SetTrackStateChunk(track, chunk, false)
  env = reaper.GetTrackEnvelopeByChunkName(track, spec.name)
  if not env then error("StereoFoley: REAPER did not add the " .. kind .. " envelope", 0) end
  return env
end

-- Curve points [[t, v], ...] (seconds from the clip start) to envelope points in project time.
-- Segments whose values differ by more than max_step get evenly spaced extra points on the curve: a gain
-- curve is linear in dB while REAPER's volume envelope is linear in its own (amplitude) domain, and 1 dB
-- steps keep the difference under 0.02 dB.
function M.write_envelope(env, points, item, convert, max_step)
  local t0, t1 = item.position_s, item.position_s + item.length_s
  reaper.DeleteEnvelopePointRange(env, t0, t1 + 1e-9)
  local function insert(t_clip, v)
    local t = t0 + t_clip / item.playrate
    if t <= t1 + 1e-9 then reaper.InsertEnvelopePoint(env, t, convert(v), 0, 0, false, true) end
  end
  for i, p in ipairs(points) do
    local prev = points[i - 1]
    if prev and max_step then
      local steps = math.ceil(math.abs(p[2] - prev[2]) / max_step)
      for k = 1, steps - 1 do
        local f = k / steps
        insert(prev[1] + f * (p[1] - prev[1]), prev[2] + f * (p[2] - prev[2]))
      end
    end
    insert(p[1], p[2])
  end
  reaper.Envelope_SortPoints(env)
end

-- Placement modes: "stereo" (the baked mix only), "objects" (plus one track per object with its stem and
-- Volume/Pan envelopes), "live" (object tracks without envelopes: the live OSC preview moves their faders).
function M.place_objects(result, item, placement, log)
  local preview_tracks = M.array()
  for _, obj in ipairs(result.objects or {}) do
    -- The object's mono source (`source_wav`, as the timeline report names it) takes the envelopes; a
    -- `stem_wav` is used when it is all there is.
    local wav = obj.source_wav or obj.stem_wav
    if not wav then
      log("StereoFoley: " .. item.name .. ": object " .. tostring(obj.name) .. " has no stem; baked stereo only\n")
    else
      local track = M.find_or_add_track(M.TRACK_NAME .. ": " .. obj.name)
      local _, source = M.add_item(track, wav, item.position_s, result.duration_s / item.playrate, item.playrate, obj.name)
      local curves = obj.curves or {}
      if reaper.GetMediaSourceNumChannels(source) ~= 1 then
        -- A stereo stem already carries its placement: automating it again would pan it twice.
        log("StereoFoley: " .. item.name .. ": stem of " .. tostring(obj.name) .. " is not mono; no envelopes written\n")
      elseif placement == "objects" then
        if curves.gain_db then
          local env = M.track_envelope(track, "volume")
          local mode = reaper.GetEnvelopeScalingMode(env)
          M.write_envelope(env, curves.gain_db, item, function(db)
            return reaper.ScaleToEnvelopeMode(mode, math.min(10 ^ (db / 20), M.MAX_VOLUME_ENVELOPE_GAIN))
          end, M.MAX_GAIN_STEP_DB)
        end
        if curves.pan then
          local env = M.track_envelope(track, "pan")
          M.write_envelope(env, curves.pan, item, function(pan) return M.PAN_ENVELOPE_SIGN * pan end)
        end
      end
      if curves.pan and curves.gain_db then
        preview_tracks[#preview_tracks + 1] = {
          track = math.floor(reaper.GetMediaTrackInfo_Value(track, "IP_TRACKNUMBER")),
          name = obj.name,
          curves = { pan = M.scale_times(curves.pan, item.playrate), gain_db = M.scale_times(curves.gain_db, item.playrate) },
        }
      end
    end
  end
  return preview_tracks
end

-- Curve times are seconds of clip (media) time; in project time they run playrate times faster.
function M.scale_times(points, playrate)
  local out = M.array()
  for i, p in ipairs(points) do out[i] = M.array({ p[1] / playrate, p[2] }) end
  return out
end

-- Place every result under the item it came from. Returns the number placed, a list of problems, and the
-- live-preview data ({"clips": [...]}, the engine's `preview/load_file` format) for object placements.
function M.place_results(status, items, placement, log)
  local by_id = {}
  for _, it in ipairs(items) do by_id[it.id] = it end
  reaper.Undo_BeginBlock()
  reaper.PreventUIRefresh(1)
  local placed, problems, preview = 0, {}, { clips = M.array() }
  local stereo_track = nil
  for _, result in ipairs(status.results or {}) do
    local item = by_id[result.id]
    if not item then
      problems[#problems + 1] = "result for unknown clip " .. tostring(result.id)
    else
      stereo_track = stereo_track or M.find_or_add_track(M.TRACK_NAME)
      M.add_item(stereo_track, result.wav, item.position_s, result.duration_s / item.playrate, item.playrate, item.name .. " (StereoFoley)")
      if placement == "objects" or placement == "live" then
        local tracks = M.place_objects(result, item, placement, log)
        if #tracks > 0 then
          preview.clips[#preview.clips + 1] = { id = result.id, record_start_s = item.position_s, duration_s = item.length_s, tracks = tracks }
        end
      end
      placed = placed + 1
    end
  end
  if stereo_track and (placement == "objects" or placement == "live") then
    reaper.SetMediaTrackInfo_Value(stereo_track, "B_MUTE", 1) -- the object tracks play instead; unmute to compare
  end
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  reaper.Undo_EndBlock("StereoFoley: place results", -1)
  return placed, problems, preview
end

-- The whole round trip: write the job, start the engine, show progress, place the results when done.
function M.send_job(job, items, placement, work_dir, sep, log)
  local _, status_path = M.submit(job, work_dir, sep)
  log(string.format("StereoFoley: sent %d item(s); status in %s\n", #items, status_path))
  local last_pct = -1
  M.poll(status_path, function(status)
    local pct = math.floor((tonumber(status.progress) or 0) * 100 + 0.5)
    if pct ~= last_pct then
      last_pct = pct
      log(string.format("StereoFoley: %s %d%% %s\n", tostring(status.state), pct, status.message or ""))
    end
  end, function(status)
    if status.state == "failed" or status.state == "cancelled" then
      reaper.ShowMessageBox("The engine stopped: " .. tostring(status.error or status.message or status.state), "StereoFoley", 0)
      return
    end
    local placed, problems, preview = M.place_results(status, items, placement, log)
    if #preview.clips > 0 then -- for "StereoFoley: Live preview on/off"
      local preview_path = work_dir .. sep .. "preview-" .. M.stamp() .. ".json" -- a fresh name: never replaced
      M.write_file_atomic(preview_path, M.json_encode(preview))
      reaper.SetExtState(M.SECTION, "preview_file", preview_path, false)
    end
    for _, p in ipairs(problems) do log("StereoFoley: " .. p .. "\n") end
    for _, s in ipairs(status.skipped or {}) do log("StereoFoley: engine skipped " .. tostring(s.name or s.id) .. ": " .. tostring(s.reason) .. "\n") end
    log(string.format("StereoFoley: placed %d of %d result(s) (%s)\n", placed, #items, status.state))
  end)
end

return M
