-- @noindex (a file of the package StereoFoley_Send_selected_items.lua; installed with it)
-- @description StereoFoley: Import result
-- @author StereoFoley
-- @version 0.2.0
-- @about
--   Imports a StereoFoley result into the current project at its timeline positions: an OTIO timeline
--   (`*.stereofoley.otio`: the audio tracks named "StereoFoley...", or every audio track when none is) or a
--   REAPER project (`.rpp`: each of its tracks, items and envelopes included, appended as new tracks).
--   Positions are timeline-relative (the timeline's global start time, e.g. 01:00:00:00, maps to 0 s).

local sf = dofile(({ reaper.get_action_context() })[2]:match("^(.*[/\\])") .. "StereoFoley_lib.lua")

local M = {}

local function seconds(rt) return rt.value / rt.rate end

-- file:// URLs (file:///a/b, file://localhost/D%3a/x.wav) and plain paths to a local path.
function M.path_from_url(url)
  local path = url
  if path:match("^file:") then
    path = path:gsub("^file://localhost/", "/"):gsub("^file://", "")
    path = path:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    if path:match("^/%a:") then path = path:sub(2) end -- /D:/media -> D:/media
  end
  return path
end

local function media_reference(clip)
  if clip.media_references then
    return clip.media_references[clip.active_media_reference_key or "DEFAULT_MEDIA"]
  end
  return clip.media_reference
end

-- Clips of the audio tracks to import: {track = name, path, position_s, length_s, offset_s, name}.
function M.otio_items(timeline)
  local tracks = (timeline.tracks or {}).children or {}
  local audio, ours = {}, {}
  for _, track in ipairs(tracks) do
    if track.kind == "Audio" then
      audio[#audio + 1] = track
      if tostring(track.name or ""):match("^StereoFoley") then ours[#ours + 1] = track end
    end
  end
  local items, skipped = {}, {}
  for _, track in ipairs(#ours > 0 and ours or audio) do
    local t = 0.0
    for _, child in ipairs(track.children or {}) do
      local schema = tostring(child.OTIO_SCHEMA or "")
      if not schema:match("^Transition") then -- transitions overlap their neighbours and take no time
        local ref = schema:match("^Clip") and media_reference(child) or nil
        local range = child.source_range or (ref and ref.available_range)
        if not range then
          skipped[#skipped + 1] = tostring(child.name) .. ": no range"
        else
          local length_s = seconds(range.duration)
          if ref and ref.target_url then
            local media_start = ref.available_range and seconds(ref.available_range.start_time) or 0.0
            items[#items + 1] = {
              track = track.name or "StereoFoley", path = M.path_from_url(ref.target_url), name = child.name or "",
              position_s = t, length_s = length_s, offset_s = seconds(range.start_time) - media_start,
            }
          elseif schema:match("^Clip") then
            skipped[#skipped + 1] = tostring(child.name) .. ": no media file"
          end
          t = t + length_s
        end
      end
    end
  end
  return items, skipped
end

function M.import_otio(path)
  local timeline = sf.json_decode(assert(sf.read_file(path), "cannot read " .. path))
  local items, skipped = M.otio_items(timeline)
  for _, it in ipairs(items) do
    local item = sf.add_item(sf.find_or_add_track(it.track), it.path, it.position_s, it.length_s, 1, it.name)
    reaper.SetMediaItemTakeInfo_Value(reaper.GetActiveTake(item), "D_STARTOFFS", it.offset_s)
  end
  return #items, skipped
end

-- Each top-level <TRACK ...> block of an .rpp, as text.
function M.rpp_track_chunks(text)
  local chunks, current, depth = {}, nil, 0
  for line in text:gmatch("[^\r\n]+") do
    local trimmed = line:match("^%s*(.-)%s*$")
    if current then current[#current + 1] = trimmed end
    if trimmed:sub(1, 1) == "<" then
      depth = depth + 1
      if depth == 2 and trimmed:match("^<TRACK") then current = { trimmed } end
    elseif trimmed == ">" then
      depth = depth - 1
      if depth == 1 and current then
        chunks[#chunks + 1] = table.concat(current, "\n")
        current = nil
      end
    end
  end
  return chunks
end

function M.import_rpp(path)
  local chunks = M.rpp_track_chunks(assert(sf.read_file(path), "cannot read " .. path))
  for _, chunk in ipairs(chunks) do
    local index = reaper.CountTracks(0)
    reaper.InsertTrackAtIndex(index, true)
    reaper.SetTrackStateChunk(reaper.GetTrack(0, index), chunk, false)
  end
  return #chunks, {}
end

function M.main(path)
  if not path then
    local ok, chosen = reaper.GetUserFileNameForRead("", "Import StereoFoley result (.otio or .rpp)", "otio")
    if not ok then return end
    path = chosen
  end
  reaper.Undo_BeginBlock()
  local n, skipped
  if path:lower():match("%.rpp$") then n, skipped = M.import_rpp(path) else n, skipped = M.import_otio(path) end
  reaper.UpdateArrange()
  reaper.Undo_EndBlock("StereoFoley: import result", -1)
  for _, why in ipairs(skipped) do reaper.ShowConsoleMsg("StereoFoley: skipped " .. why .. "\n") end
  reaper.ShowConsoleMsg(string.format("StereoFoley: imported %d %s from %s\n", n, path:lower():match("%.rpp$") and "track(s)" or "item(s)", path))
end

if STEREOFOLEY_IMPORT_NO_MAIN then return M end -- tests load the module without running it
M.main(STEREOFOLEY_IMPORT_PATH)
return M
