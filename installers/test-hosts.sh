#!/usr/bin/env bash
# The real programs `make test` runs against: Debian's Ardour 7 (ardour7-lua, ardour7-export) for the Ardour
# round-trip and live-preview tests (docs/hosts.md). Installed when missing; idempotent; quiet unless it fails.
set -euo pipefail
if command -v ardour7-export >/dev/null 2>&1 && command -v ardour7-lua >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "installers/test-hosts.sh: ardour7 is missing and apt-get is not available; the Ardour tests will skip" >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
log="$(mktemp)"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ardour; } >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; echo "installers/test-hosts.sh: could not install ardour" >&2; exit 1
fi
rm -f "$log"
