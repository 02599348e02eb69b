ardour {
	["type"] = "EditorAction",
	name = "StereoFoley: Import result",
	license = "MIT",
	author = "StereoFoley",
	description = [[Import a StereoFoley render result at its timecode: the stereo mix on a "StereoFoley mix"
track, and one track per object with its mono source and the engine's pan and gain as automation (Play).
Pick a render report / job status (.json; the engine turns it into an import plan) or a plan written by
`stereofoley ardour-session RESULT --plan FILE` (.lua).]]
}

-- The engine command (argv as one shell string). Override with $STEREOFOLEY_ENGINE.
local ENGINE = "stereofoley"

local M = {}

-- Quote one argument for the POSIX shell.
function M.shell_quote (s)
	return "'" .. tostring (s):gsub ("'", "'\\''") .. "'"
end

-- The plan file is data only: run it in an empty environment, so it cannot call anything.
function M.load_plan (path)
	local f = io.open (path, "r")
	if not f then return nil, "cannot read " .. path end
	local text = f:read ("*a")
	f:close ()
	local chunk, err = load (text, "=plan", "t", {})
	if not chunk then return nil, "the plan " .. path .. " does not parse: " .. tostring (err) end
	local ok, plan = pcall (chunk)
	if not ok or type (plan) ~= "table" or plan.version ~= 1 or type (plan.clips) ~= "table" then
		return nil, "the plan " .. path .. " is not a StereoFoley import plan (version 1)"
	end
	return plan, nil
end

-- A result JSON -> a plan file beside it, by the engine. Returns the plan path or nil, message.
function M.plan_for_result (path, at_s, objects)
	local engine = (os.getenv and os.getenv ("STEREOFOLEY_ENGINE")) or ENGINE
	local plan = path .. ".ardour-plan.lua"
	local cmd = engine .. " ardour-session " .. M.shell_quote (path) .. " --plan " .. M.shell_quote (plan) .. " --overwrite"
	if at_s then cmd = cmd .. " --at " .. string.format ("%.6f", at_s) end
	if not objects then cmd = cmd .. " --mix-only" end
	if not os.execute then return nil, "this Ardour's Lua has no os.execute; run: " .. cmd end
	local ok = os.execute (cmd)
	if ok ~= true and ok ~= 0 then return nil, "the engine failed: " .. cmd end
	return plan
end

-- Routes that exist now, by id, to find the track an import adds.
local function route_ids ()
	local ids = {}
	for r in Session:get_routes ():iter () do ids[r:to_stateful ():id ():to_s ()] = true end
	return ids
end

local function new_track (before)
	for r in Session:get_routes ():iter () do
		if not before[r:to_stateful ():id ():to_s ()] and not r:to_track ():isnil () then return r:to_track () end
	end
	return nil
end

-- Import one WAV at a timeline sample: as a new track (track nil) or onto an existing one.
function M.import (wav, position, track)
	local files = C.StringVector ()
	files:push_back (wav)
	local before = route_ids ()
	local mode = track and Editing.ImportToTrack or Editing.ImportAsTrack
	Editor:do_import (files, Editing.ImportDistinctFiles, mode, ARDOUR.SrcQuality.SrcBest,
		ARDOUR.MidiTrackNameSource.SMFTrackName, ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,
		Temporal.timepos_t (position), ARDOUR.PluginInfo (), track or ARDOUR.Track (), false)
	return track or new_track (before)
end

-- Automation points {sample from the clip start, value} on a control, in Play mode.
function M.automate (control, points, offset)
	local list = control:alist ()
	for _, p in ipairs (points) do
		list:add (Temporal.timepos_t (offset + p[1]), p[2], false, false)
	end
	control:set_automation_state (ARDOUR.AutoState.Play)
	return #points
end

-- Carry out a plan; returns the number of clips and object tracks placed.
function M.apply (plan, options)
	local mix, placed = nil, 0
	for _, clip in ipairs (plan.clips) do
		local t = M.import (clip.wav, clip.position, mix)
		if not mix and t then
			mix = t
			mix:set_name ("StereoFoley mix")
		end
		for _, obj in ipairs (clip.objects or {}) do
			local track = M.import (obj.wav, clip.position, nil)
			if track then
				track:set_name (clip.name .. " " .. obj.name)
				M.automate (track:amp ():gain_control (), obj.gain, clip.position)
				M.automate (track:pan_azimuth_control (), obj.pan, clip.position)
				placed = placed + 1
			end
		end
	end
	if mix and placed > 0 and options.mute_mix then
		mix:mute_control ():set_value (1, PBD.GroupControlDisposition.NoGroup)
	end
	return #plan.clips, placed
end

function factory (unused_params)
	return function ()
		local dialog = LuaDialog.Dialog ("StereoFoley: Import result", {
			{ type = "file", key = "file", title = "Result (.json) or import plan (.lua)", path = "" },
			{ type = "checkbox", key = "objects", default = true, title = "Object tracks with pan and gain automation" },
			{ type = "checkbox", key = "mute_mix", default = true, title = "Mute the mix when object tracks are placed" },
			{ type = "checkbox", key = "at_playhead", default = false, title = "Place results without a timecode at the playhead" },
		})
		local rv = dialog:run ()
		if not rv or not rv.file or rv.file == "" then return end -- cancelled
		local path, err = rv.file, nil
		if not path:match ("%.lua$") then
			local at = rv.at_playhead and Session:transport_sample () / Session:nominal_sample_rate () or nil
			path, err = M.plan_for_result (rv.file, at, rv.objects)
		end
		local plan
		if path then plan, err = M.load_plan (path) end
		if not plan then
			LuaDialog.Message ("StereoFoley", err, LuaDialog.MessageType.Error, LuaDialog.ButtonType.Close):run ()
			return
		end
		local clips, objects = M.apply (plan, rv)
		print (string.format ("StereoFoley: placed %d clip(s), %d object track(s)", clips, objects))
	end
end

return M
