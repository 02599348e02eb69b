#!/bin/sh
# Install the StereoFoley host scripts on macOS or Linux:  installers/install.sh reaper|resolve|ardour [--dry-run] [--uninstall] [--prefix DIR]
# Uses the Python that has the engine installed ($STEREOFOLEY_PYTHON, else the repository's .venv, else python3).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
python=${STEREOFOLEY_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3; fi
fi
exec "$python" -m stereofoley.cli install "$@"
