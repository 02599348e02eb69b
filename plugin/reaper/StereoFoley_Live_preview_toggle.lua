-- @description StereoFoley: Live preview on/off
-- @author StereoFoley
-- @version 0.1.0
-- @about
--   Toggles the engine's live OSC preview (pan/volume of the Foley tracks follow the automation curves at
--   the playhead, through REAPER's OSC control surface and StereoFoley.ReaperOSC). The toolbar button shows
--   the state. Starts `stereofoley preview on|off` without waiting.

local sf = dofile(({ reaper.get_action_context() })[2]:match("^(.*[/\\])") .. "StereoFoley_lib.lua")

local _, _, section_id, command_id = reaper.get_action_context()
local turning_on = reaper.GetExtState(sf.SECTION, "preview") ~= "1"
local state = turning_on and "on" or "off"

reaper.ExecProcess(sf.engine_prefix() .. " preview " .. state, -1)
reaper.SetExtState(sf.SECTION, "preview", turning_on and "1" or "0", false)
reaper.SetToggleCommandState(section_id, command_id, turning_on and 1 or 0)
reaper.RefreshToolbar2(section_id, command_id)
reaper.ShowConsoleMsg("StereoFoley: live preview " .. state .. "\n")
