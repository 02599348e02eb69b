"""Spatial rendering, pure DSP on numpy arrays: pan laws, distance, air absorption, diffuse field, ITD and Doppler
(`dsp`); the bus, shared diffuse field and limiter (`mix`); trajectories (`trajectory`) and host automation curves
(`automation`). Nothing here knows of video, timelines or OSC."""
