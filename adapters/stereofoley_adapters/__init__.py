"""OpenTimelineIO adapter plug-ins shipped with StereoFoley (registered under `opentimelineio.plugins`).

- `rpp`: REAPER projects. `otio.adapters.write_to_file(timeline, "x.rpp")` writes one, and
  `otio.adapters.read_from_file("x.rpp")` reads items back as clips.
"""
