"""Test AP against training steps (issue 16): the curve of a run next to the baseline.

Reads the ``results.json`` of ``bench_network_ap.py`` runs named ``ap_step<STEP>_<camera>``
under ``--runs`` (what ``scripts/train_realistic.sh`` writes) and the run's
``train_log.jsonl``; prints one row per step, camera and split (network with GAF, without,
the model-free baseline measured in the same run) and draws the curves with the training
loss to ``--out``.

Run: scripts/run.sh bench plot_training_curve [--runs ~/graspnet_data/runs]
     [--log ~/graspnet_data/runs/realistic_ft/train_log.jsonl] [--out docs/images/training_curve.png]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SPLITS = ("seen", "similar", "novel")


def load_points(runs: Path) -> dict[str, list[tuple[int, dict]]]:
    """camera -> [(step, results.json), ...] sorted by step."""
    out: dict[str, list[tuple[int, dict]]] = {}
    for path in runs.glob("ap_step*_*/results.json"):
        m = re.fullmatch(r"ap_step(\d+)_(\w+)", path.parent.name)
        if m:
            out.setdefault(m.group(2), []).append((int(m.group(1)), json.loads(path.read_text())))
    return {cam: sorted(v, key=lambda p: p[0]) for cam, v in sorted(out.items())}


def ap(result: dict, method: str, split: str) -> float:
    return 100.0 * result["methods"][method]["splits"][split]["ap"]


def main() -> None:
    home = Path.home() / "graspnet_data" / "runs"
    ap_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap_.add_argument("--runs", type=Path, default=home)
    ap_.add_argument("--log", type=Path, default=home / "realistic_ft" / "train_log.jsonl")
    ap_.add_argument("--out", type=Path, default=Path("output/training_curve.png"))
    args = ap_.parse_args()
    points = load_points(args.runs)
    if not points:
        raise SystemExit(f"no ap_step<STEP>_<camera>/results.json under {args.runs}")
    print(f"{'camera':<10}{'step':>6}  " + "  ".join(f"{s + ' net/noGAF/base':>24}" for s in SPLITS))
    for cam, rows in points.items():
        for step, r in rows:
            cells = [f"{ap(r, 'model', s):6.1f} /{ap(r, 'model-noGAF', s):5.1f} /{ap(r, 'baseline', s):5.1f}"
                     for s in SPLITS]
            print(f"{cam:<10}{step:>6}  " + "  ".join(f"{c:>24}" for c in cells))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(points) + 1, figsize=(5 * (len(points) + 1), 4))
    for ax, (cam, rows) in zip(axes, points.items()):
        steps = [s for s, _ in rows]
        for split, colour in zip(SPLITS, ("tab:blue", "tab:orange", "tab:green")):
            ax.plot(steps, [ap(r, "model", split) for _, r in rows], "o-", color=colour, label=f"network {split}")
            ax.plot(steps, [ap(r, "baseline", split) for _, r in rows], "--", color=colour,
                    label=f"baseline {split}")
        ax.set(title=f"test AP, {cam}", xlabel="training step", ylabel="AP (%)")
        ax.legend(fontsize=7)
    if args.log.is_file():
        log = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
        axes[-1].plot([e["step"] for e in log], [e["total"] for e in log], lw=0.8)
        axes[-1].set(title="training loss", xlabel="training step", ylabel="total loss")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"picture: {args.out}")


if __name__ == "__main__":
    main()
