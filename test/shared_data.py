"""Real data from ``../shared`` (next to the project root): found, or a clear skip / failure.

A user's clone has no ``../shared``: tests that need it are skipped with that
reason. CI sets ``GRASPNET_REQUIRE_SHARED_DATA=1`` (``.ci/run``), where a
missing file fails the test instead, so real-data checks cannot silently
vanish.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
KINECT_RECORDING = SHARED / "data" / "kinect" / "recording.mkv"


def require_shared(path: Path) -> Path:
    """``path`` when it exists; else fail (GRASPNET_REQUIRE_SHARED_DATA=1) or skip, saying which file."""
    if path.is_file():
        return path
    message = (f"{path} is missing: real-sensor tests need the project's shared data next to the "
               "repository (../shared)")
    if os.environ.get("GRASPNET_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message + " and GRASPNET_REQUIRE_SHARED_DATA=1 requires it")
    pytest.skip(message)
