# Install the StereoFoley host scripts on Windows:  installers\install.ps1 reaper|resolve|ardour [--dry-run] [--uninstall] [--prefix DIR]
# Uses the Python that has the engine installed ($env:STEREOFOLEY_PYTHON, else the repository's .venv, else py -3).
$ErrorActionPreference = "Stop"
$root = Split-Path -Parent $PSScriptRoot
$python = $env:STEREOFOLEY_PYTHON
if (-not $python) {
  $venv = Join-Path $root ".venv\Scripts\python.exe"
  if (Test-Path $venv) { $python = $venv } else { $python = "py" ; $args = @("-3") + $args }
}
& $python -m stereofoley.cli install @args
exit $LASTEXITCODE
