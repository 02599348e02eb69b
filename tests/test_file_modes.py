"""Outputs get the mode a new file would get under the process umask (mkstemp alone makes them 0600)."""

import os
import stat

import pytest

from stereofoley.files import current_umask, write_text_atomic


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        path = write_text_atomic(tmp_path / "out.txt", "x")
        write_text_atomic(tmp_path / "out.txt", "y", overwrite=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
