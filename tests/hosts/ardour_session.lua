-- Run by tests/hosts/test_ardour_live.py under ardour7-lua: load a session with the dummy backend, print READY,
-- keep it running (OSC surface, transport) for SECS seconds, then close it.
AudioEngine:set_backend("None (Dummy)", "", "")
local dir, name, secs = arg[1], arg[2], tonumber(arg[3] or "30")
local s = load_session(dir, name)
if not s then print("LOADFAIL"); io.stdout:flush(); os.exit(1) end
print("READY"); io.stdout:flush()
for _ = 1, secs * 10 do ARDOUR.LuaAPI.usleep(100000) end
close_session()
print("CLOSED"); io.stdout:flush()
