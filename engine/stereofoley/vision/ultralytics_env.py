"""ultralytics, imported the engine's way: settings in the engine's own config folder, analytics and network off,
and nothing on stdout (`--json` prints exactly one JSON document, even on the first run ever).

ultralytics creates a settings file on first import and announces it on stdout through its logger, whose
handler is bound to `sys.stdout` at import time; importing under `redirect_stdout(sys.stderr)` binds it to
stderr instead, and the handlers are pointed at stderr explicitly afterwards in case ultralytics was imported
earlier by someone else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from ..config import user_config_dir


def import_ultralytics():
    """The `ultralytics` module, configured: YOLO_CONFIG_DIR = the engine's config folder (unless the user set
    one), YOLO_OFFLINE=1, settings `sync` (usage analytics) off, log output on stderr."""
    if "ultralytics" not in sys.modules:
        # ultralytics adds its own "Ultralytics" folder: the settings land in <config>/stereofoley/Ultralytics/.
        os.environ.setdefault("YOLO_CONFIG_DIR", str(user_config_dir()))
        os.environ.setdefault("YOLO_OFFLINE", "1")  # no update checks or asset downloads
        with contextlib.redirect_stdout(sys.stderr):
            import ultralytics  # noqa: F401
    import ultralytics
    from ultralytics.utils import LOGGER, SETTINGS

    for handler in LOGGER.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stdout__:
            handler.setStream(sys.stderr)
    if SETTINGS.get("sync"):
        with contextlib.redirect_stdout(sys.stderr):
            SETTINGS.update(sync=False)
    return ultralytics
