"""Fault-injection summary: runs the fault suites and prints one table.

Runs ``test/test_faults_executor.py`` and ``test/test_faults_detector.py``
(real DDS on loopback, the MuJoCo arm; malformed messages of every type the
nodes take, bad goals, driver exceptions at each step, a link lost
mid-motion, cancel at each phase, concurrent goals, cameras killed and
restarted, a 10-client service burst) with ``GRASPNET_FAULTS_REPORT`` set, so
that each case writes one row: the case, its outcome, whether the node was
still up, how many commands left the workspace or entered a no-go zone
(checked by an independent monitor inside the simulated arm, gripper body
included) and the reason the goal ended with. Then prints the table and the
totals: cases run, nodes alive, unsafe commands (must be 0), empty reasons
(must be 0).

Run: scripts/run.sh bench faults [--markdown] [-- extra pytest args]
(about 40 s on 2 cores). Exit status 1 when any case failed, a node died, a
command was unsafe or a reason was empty.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUITES = ("test/test_faults_executor.py", "test/test_faults_detector.py")


def run_suites(extra: list[str]) -> tuple[int, list[dict]]:
    """(pytest exit status, rows) of the fault suites."""
    with tempfile.TemporaryDirectory(prefix="bench_faults_") as tmp:
        report = Path(tmp) / "rows.jsonl"
        env = dict(os.environ, GRASPNET_FAULTS_REPORT=str(report))
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES, *extra]
        rc = subprocess.run(cmd, cwd=REPO, env=env).returncode
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.is_file() else []
    return rc, rows


def table(rows: list[dict], markdown: bool) -> str:
    head = ("suite", "case", "outcome", "node up", "unsafe", "reason")
    body = [(r["suite"], r["case"], r["outcome"], "yes" if r["node_alive"] else "NO", str(r["unsafe_commands"]),
             (r["reason"] or "(EMPTY)")[:90]) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*row) for row in body])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    rc, rows = run_suites(args.pytest_args)
    print(table(rows, args.markdown))
    alive = sum(r["node_alive"] for r in rows)
    unsafe = sum(r["unsafe_commands"] for r in rows)
    empty = sum(not r["reason"].strip() for r in rows)
    print(f"\ncases run: {len(rows)}, nodes alive: {alive}/{len(rows)}, unsafe commands: {unsafe}, "
          f"empty reasons: {empty}, pytest: {'passed' if rc == 0 else f'FAILED (exit {rc})'}")
    return 0 if (rc == 0 and rows and alive == len(rows) and unsafe == 0 and empty == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
