"""Quality gate: ruff (pyflakes, pycodestyle at 120 columns, bugbear; ruff.toml) over
the package, its tests, benches and scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed: scripts/setup.sh installs it from requirements.txt"
    proc = subprocess.run([ruff, "check", "--no-cache", "graspnet_ros", "test", "bench", "scripts", "launch"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ruff found problems (fix with `ruff check --fix`):\n{proc.stdout[-6000:]}"
