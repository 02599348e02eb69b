-- @description StereoFoley: Send selected items
-- @author StereoFoley
-- @version 0.2.0
-- @provides
--   [main] StereoFoley_Live_preview_toggle.lua
--   [main] StereoFoley_Import_result.lua
--   [nomain] StereoFoley_lib.lua
-- @about
--   Sends the selected media items (video or audio) to the StereoFoley engine and places the spatialized
--   48 kHz stereo Foley under them on a "StereoFoley" track. With the ExtState option
--   StereoFoley/placement = "objects", also adds one track per object with its mono stem and editable
--   Volume/Pan envelopes. Needs the engine installed (`stereofoley install reaper`).

local sf = dofile(({ reaper.get_action_context() })[2]:match("^(.*[/\\])") .. "StereoFoley_lib.lua")

local function log(msg) reaper.ShowConsoleMsg(msg) end

local function main()
  local items, skipped = sf.selected_items()
  for _, why in ipairs(skipped) do log("StereoFoley: skipped " .. why .. "\n") end
  if #items == 0 then
    reaper.ShowMessageBox("Select one or more media items with video or audio first.", "StereoFoley", 0)
    return
  end
  local placement = sf.option("placement", "stereo")
  local work_dir, sep = sf.work_dir()
  local out_dir = work_dir .. sep .. "render-" .. os.date("%Y%m%d-%H%M%S")
  sf.send_job(sf.build_job(items, out_dir, placement), items, placement, work_dir, sep, log)
end

main()
