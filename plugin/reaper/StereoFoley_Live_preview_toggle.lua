-- @noindex (a file of the package StereoFoley_Send_selected_items.lua; installed with it)
-- @description StereoFoley: Live preview on/off
-- @author StereoFoley
-- @version 0.2.0
-- @about
--   Toggles the engine's live OSC preview: while REAPER plays, the engine moves the pan and volume of the
--   object tracks of the clip under the playhead along their automation curves (REAPER's OSC control surface
--   with StereoFoley.ReaperOSC must be set up; see docs/hosts.md). Uses the preview data the last
--   "Send selected items" wrote with placement "live" or "objects". Runs `stereofoley preview on FILE`
--   (starting `stereofoley serve` if none is running) or `stereofoley preview off`, without waiting.
--   The toolbar button shows the state.

local sf = dofile(({ reaper.get_action_context() })[2]:match("^(.*[/\\])") .. "StereoFoley_lib.lua")

local _, _, section_id, command_id = reaper.get_action_context()
local turning_on = reaper.GetExtState(sf.SECTION, "preview") ~= "1"
local preview_file = reaper.GetExtState(sf.SECTION, "preview_file")

if turning_on and (preview_file == nil or preview_file == "") then
  reaper.ShowMessageBox('Nothing to preview yet: set the placement to "live" (or "objects") and run '
    .. '"StereoFoley: Send selected items" first.', "StereoFoley", 0)
  return
end

local args = turning_on and (" preview on " .. sf.quote(preview_file)) or " preview off"
reaper.ExecProcess(sf.engine_prefix() .. args, -1)
reaper.SetExtState(sf.SECTION, "preview", turning_on and "1" or "0", false)
reaper.SetToggleCommandState(section_id, command_id, turning_on and 1 or 0)
reaper.RefreshToolbar2(section_id, command_id)
reaper.ShowConsoleMsg("StereoFoley: live preview " .. (turning_on and "on" or "off") .. "\n")
