"""Transport: the OSC bridge (osc), audio over OSC (stream) and live preview in REAPER (preview)."""
