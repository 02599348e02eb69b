"""The Lua Resolve script under a real LuaJIT (lupa), against the same fake `DaVinciResolveScript` objects as the
Python script, behind the Python script's own interface, so one set of tests runs both.

Resolve's Lua bridge hands out objects whose methods are called with `:`; lists and dictionaries arrive as
tables. Here each fake object reaches Lua as a proxy table whose methods call the Python fake (with `:` only:
a `.` call is an error), Lua tables passed in become Python lists/dicts (proxies become their objects again),
and Python lists/dicts returned become Lua tables. Every conversion is checked, as the fakes check types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa import luajit21 as lupa_runtime

SCRIPT = Path(__file__).resolve().parents[2] / "plugin" / "resolve" / "StereoFoley_Send_selected_clips.lua"

PRELUDE = r"""
local index_py, call_py = ...
local Proxy = {}
Proxy.__index = function(p, name)
  local is_method, value = index_py(rawget(p, "__py"), name)
  if not is_method then return value end
  return function(self, ...)
    if self ~= p then error("Resolve API: call " .. tostring(name) .. " with ':'", 2) end
    return call_py(rawget(p, "__py"), name, ...)
  end
end
function make_proxy(obj) return setmetatable({ __py = obj }, Proxy) end
function proxy_object(t) if type(t) == "table" and getmetatable(t) == Proxy then return rawget(t, "__py") end return nil end
"""


class SendError(Exception):
    pass


class LuaScript:
    """The Lua script's functions with the Python script's signatures."""

    CONFIG_NAME = "stereofoley_config.json"

    def __init__(self, script: Path = SCRIPT):
        self.lua = lupa_runtime.LuaRuntime(unpack_returned_tuples=True)
        assert self.lua.eval("jit and jit.version or ''").startswith("LuaJIT"), "Resolve runs LuaJIT; so must the test"
        self.lua.execute(PRELUDE, self._index, self._call)
        self.make_proxy = self.lua.eval("make_proxy")
        self.proxy_object = self.lua.eval("proxy_object")
        self.lua.globals().STEREOFOLEY_RESOLVE_NO_MAIN = True
        self.M = self.lua.eval(f"dofile({str(script)!r})")
        self.protected = self.lua.eval("function(f, ...) local r = { pcall(f, ...) } return r end")
        self.lua.globals().STEREOFOLEY_RESOLVE_NO_MAIN = None
        self.DEFAULTS = self.to_py(self.M.DEFAULTS)
        self.SendError = SendError

    # ------------------------------------------------------------------------------------------ conversion
    def to_lua(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return self.lua.table_from([self.to_lua(x) for x in v])
        if isinstance(v, dict):
            return self.lua.table_from({k: self.to_lua(x) for k, x in v.items()})
        return self.make_proxy(v)  # an API object (fake)

    def to_py(self, v: Any) -> Any:
        if lupa_runtime.lua_type(v) != "table":
            return v
        obj = self.proxy_object(v)
        if obj is not None:
            return obj
        n = int(self.M.len(v))
        keys = list(v.keys())
        if len(keys) == n and all(isinstance(k, int) for k in keys):  # an array (an empty table counts as one)
            return [self.to_py(v[i]) for i in range(1, n + 1)]
        return {(int(k) if isinstance(k, float) and k.is_integer() else k): self.to_py(x) for k, x in v.items()}

    def _index(self, obj, name):
        value = getattr(obj, name, None)
        if value is None:
            return (False, None)
        return (True, None) if callable(value) else (False, self.to_lua(value))

    def _call(self, obj, name, *args):
        return self.to_lua(getattr(obj, name)(*[self.to_py(a) for a in args]))

    def _run(self, fn, *args):
        result = self.protected(fn, *args)
        ok = result[1]
        if ok:
            return result[2] if len(result) > 1 else None
        err = result[2]
        if self.M.is_send_error(err):
            raise SendError(err.message)
        raise RuntimeError(f"Lua error: {err}")

    # ------------------------------------------------------------------------------- the Python interface
    def find_selection(self, timeline, *, clip_color: str, marker_name: str, flag_color: str | None = None):
        result = self.protected(self.M.find_selection, self.to_lua(timeline), clip_color, marker_name, flag_color)
        if not result[1]:
            raise RuntimeError(f"Lua error: {result[2]}")
        return result[2], self.to_py(result[3])

    def timeline_rate(self, timeline) -> float:
        return self._run(self.M.timeline_rate, self.to_lua(timeline))

    def placements(self, status: dict, rate: float, start_frame: int) -> list[dict]:
        return self.to_py(self._run(self.M.placements, self._json(status), rate, start_frame))

    def _json(self, data):
        import json

        return self.M.json_decode(json.dumps(data))  # as the script gets it: decoded from the status file

    def load_config(self, script_dir: Path) -> dict:
        return self.to_py(self._run(self.M.load_config, str(script_dir)))

    def _opts(self, **kw):
        opts = self.lua.table()
        for key, fn in kw.items():
            if fn is not None:
                opts[key] = fn
        return opts

    def _start(self, start):
        if start is None:
            return None
        return lambda argv, work_dir: self.make_proxy(start(self.to_py(argv)))

    def send_selected(self, resolve, *, config: dict, work_dir: Path, log=print, start=None, sleep=None, clock=None,
                      beat=None, cancel_requested=None) -> dict:
        opts = self._opts(log=log, start=self._start(start), sleep=sleep, clock=clock, beat=beat, cancel_requested=cancel_requested)
        return self.to_py(self._run(self.M.send_selected, self.to_lua(resolve), self.to_lua(config), str(work_dir), opts))

    def main(self, *, script_dir: Path, log=print, start=None, sleep=None, clock=None) -> int:
        opts = self._opts(script_dir=str(script_dir), log=log, start=self._start(start), sleep=sleep, clock=clock)
        return int(self._run(self.M.main, opts))

    def set_resolve(self, resolve, *, via: str = "Resolve") -> None:
        """How the script gets the app: the global Resolve() of a Scripts-menu script, or (via="fusionscript") the
        scripting module an external script requires: the Lua counterpart of the fake DaVinciResolveScript."""
        proxy = self.to_lua(resolve)
        if via == "Resolve":
            self.lua.globals().Resolve = lambda: proxy
            return

        def scriptapp(name):
            if name != "Resolve":
                raise TypeError(f"scriptapp({name!r})")
            return proxy

        module = self.lua.table_from({"scriptapp": scriptapp})
        self.lua.eval("function(m) package.preload.fusionscript = function() return m end end")(module)
