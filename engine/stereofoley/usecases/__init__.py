"""The use cases, one function a job kind, called alike by the CLI, OSC jobs and the Python API:

- `clip.render_clip_files`: one clip request -> mix, stems, tracks.json and the clip result;
- `timeline.render_timeline`: an edit -> one clip at a time through the above, then OTIO, FCP XML, RPP, report;
- `spatialize.spatialize_file`: one source along one trajectory -> a stereo WAV.

Options come from one schema, `stereofoley.options.RenderOptions`.
"""
