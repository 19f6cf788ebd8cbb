"""Reports of a benchmark run: results.json, accuracy.npz, the AP table, a plot.

* ``results.json``: configuration, overall / per-split / per-scene AP,
  AP0.8, AP0.4 and AP per mu, and per frame the same plus grasp counts.
* ``accuracy.npz``: one (frames, 50, 6) Precision@k array per scene
  (``scene_%04d``) and its frame ids (``scene_%04d_ann_ids``), the
  reference's ``eval_scene`` output, for exact comparisons.
* ``precision_at_k.png``: mean Precision@k against k, one curve per mu.

Every file is written to a temporary name and renamed, so an interrupted
run never leaves a complete-looking partial file. Numbers are fractions in
the files and percentages in the printed table (as the paper reports them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .frame import EvalConfig
from .scene import SceneResult, Summary


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def config_dict(config: EvalConfig) -> dict:
    out = dataclasses.asdict(config)
    out["mus"] = [float(m) for m in config.mus]
    return out


def results_dict(summary: Summary, results: Sequence[SceneResult], config: EvalConfig,
                 extra: dict | None = None) -> dict:
    """The JSON document (see the module docstring)."""
    frames = {str(r.scene_id): r.frames for r in sorted(results, key=lambda r: r.scene_id)}
    return {
        "benchmark": "GraspNet-1Billion (graspnetAPI 1.2.11 semantics)",
        "config": config_dict(config),
        **(extra or {}),
        "overall": summary.overall,
        "splits": summary.splits,
        "scenes": {str(k): v for k, v in summary.scenes.items()},
        "precision_at_k": {f"{m:.1f}": [float(v) for v in summary.precision[:, j]]
                           for j, m in enumerate(summary.mus)},
        "frames": frames,
    }


def write_results(out_dir: str | Path, summary: Summary, results: Sequence[SceneResult],
                  config: EvalConfig, extra: dict | None = None, plot: bool = True) -> dict[str, Path]:
    """Write results.json, accuracy.npz and (optionally) the plot; returns their paths."""
    out = Path(out_dir)
    paths = {"json": out / "results.json", "npz": out / "accuracy.npz"}
    doc = results_dict(summary, results, config, extra)
    _atomic_write(paths["json"], lambda p: p.write_text(json.dumps(doc, indent=1) + "\n"))
    arrays = {}
    for r in results:
        arrays[f"scene_{r.scene_id:04d}"] = r.accuracy
        arrays[f"scene_{r.scene_id:04d}_ann_ids"] = np.asarray(r.ann_ids)

    def save_npz(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, mus=summary.mus, **arrays)

    _atomic_write(paths["npz"], save_npz)
    if plot:
        paths["plot"] = out / "precision_at_k.png"
        plot_precision(summary, paths["plot"])
    return paths


_SPLIT_ORDER = ("seen", "similar", "novel", "train", "other")


def ap_table(summary: Summary, camera: str = "") -> str:
    """Text table of AP / AP0.8 / AP0.4 (percent) per split and overall."""
    rows = [(name.capitalize(), summary.splits[name]) for name in _SPLIT_ORDER if name in summary.splits]
    if len(rows) != 1:
        rows.append(("All", summary.overall))
    head = f"{'split' + (f' ({camera})' if camera else ''):<22}{'AP':>8}{'AP0.8':>8}{'AP0.4':>8}{'frames':>8}"
    lines = [head, "-" * len(head)]
    for name, s in rows:
        lines.append(f"{name:<22}{100 * s['ap']:8.2f}{100 * s['ap_0.8']:8.2f}"
                     f"{100 * s['ap_0.4']:8.2f}{s['frames']:8d}")
    return "\n".join(lines)


def plot_precision(summary: Summary, path: str | Path, title: str = "") -> Path:
    """PNG of mean Precision@k against k, one curve per mu."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = np.arange(1, summary.precision.shape[0] + 1)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for j, mu in enumerate(summary.mus):
        ax.plot(k, 100 * summary.precision[:, j], label=f"mu = {mu:.1f}")
    ax.set_xlabel("k (top-k grasps by predicted score)")
    ax.set_ylabel("Precision@k (%)")
    ax.set_xlim(1, k[-1])
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or f"GraspNet benchmark: AP = {100 * summary.overall['ap']:.2f}")
    fig.tight_layout()
    path = Path(path)
    _atomic_write(path, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)
    return path
