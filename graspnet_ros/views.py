"""Approach-view templates: points spread evenly on a sphere."""

from __future__ import annotations

import numpy as np


def fibonacci_views(n: int = 300, radius: float = 1.0) -> np.ndarray:
    """(n, 3) view vectors on a Fibonacci sphere lattice (the reference's V views).

    z_i = (2i + 1) / n - 1 and azimuth 2 pi i phi with phi = (sqrt(5) - 1) / 2.
    """
    if n <= 0:
        raise ValueError(f"number of views must be positive, got {n}")
    i = np.arange(n, dtype=np.float64)
    phi = (np.sqrt(5.0) - 1.0) / 2.0
    z = (2.0 * i + 1.0) / n - 1.0
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    return radius * np.stack([r * np.cos(2 * np.pi * i * phi), r * np.sin(2 * np.pi * i * phi), z], axis=1)
