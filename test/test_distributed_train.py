"""``graspnet-ros train`` under torchrun: two CPU processes (gloo on loopback)
train like one process with the same global batch, and a killed run resumes
with another number of processes.

Every run is the real command on the hand-made dataset root of
``dataset_fixture`` (V = 20 views), started as a subprocess: ``python -m
torch.distributed.run --nproc_per_node 2 -m graspnet_ros train ...`` for two
processes, ``python -m graspnet_ros train ...`` for one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from graspnet_ros.model.checkpoint import read_checkpoint
from graspnet_ros.model.config import get_config
from graspnet_ros.model.graspnet import GraspNet

pytestmark = pytest.mark.slow

STEPS = 6
#: 2 frames per step, 1 per forward pass (so 1 pass in each of 2 processes, or 2 passes in 1 process)
ARGS = ["--scenes", "100", "--num-view", "20", "--steps", str(STEPS), "--batch-size", "2", "--micro-batch", "1",
        "--match-radius", "0.02", "--log-every", "1", "--no-progress", "--device", "cpu", "--seed", "3"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(root: Path, out: Path, processes: int, *extra: str) -> list[str]:
    train = ["-m", "graspnet_ros", "train", "--root", str(root), "--out", str(out), *ARGS, *extra]
    if processes == 1:
        return [sys.executable, *train, "--threads", "1"]
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(processes),
            "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *train]


def _env() -> dict[str, str]:
    # gloo on the loopback interface only; one BLAS/torch thread per process
    return {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(root: Path, out: Path, processes: int, *extra: str) -> None:
    done = subprocess.run(_command(root, out, processes, *extra), env=_env(), capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _parameters(path: Path) -> dict[str, torch.Tensor]:
    """Trained parameters of a checkpoint (batch-norm running statistics left out: under
    DistributedDataParallel they follow rank 0's passes)."""
    state = read_checkpoint(path)["model_state_dict"]
    return {k: v for k, v in state.items() if "running_" not in k and "num_batches_tracked" not in k}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst < 1e-5, worst


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory) -> Path:
    from dataset_fixture import build_fixture_dataset

    root = tmp_path_factory.mktemp("ddp_root")
    build_fixture_dataset(root)
    return root


@pytest.fixture(scope="module")
def one_process(fixture_root, tmp_path_factory) -> Path:
    """The reference: one process, the whole run."""
    out = tmp_path_factory.mktemp("one")
    _run(fixture_root, out, 1)
    return out


def test_two_gloo_processes_reach_the_parameters_of_one_process(fixture_root, one_process, tmp_path):
    _run(fixture_root, tmp_path, 2)
    two, one = _parameters(tmp_path / "last.pt"), _parameters(one_process / "last.pt")
    _assert_same(two, one)
    torch.manual_seed(3)  # the run's initial weights (--seed 3): training moved them
    init = GraspNet(dataclasses.replace(get_config("cpu"), num_view=20, name="cpu-v20")).state_dict()
    assert max(float((two[k] - init[k]).abs().max()) for k in two) > 1e-3
    meta = json.loads((tmp_path / "train_config.json").read_text())
    assert meta["processes"] == 2 and meta["micro_batch"] == 1 and meta["device"] == "cpu"
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    ref = [json.loads(line) for line in (one_process / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == list(range(1, STEPS + 1))  # rank 0 alone writes the log
    assert [e["total"] for e in log] == pytest.approx([e["total"] for e in ref], rel=1e-5)
    assert (tmp_path / "model.pt").is_file()


def test_killed_two_process_run_resumes_in_one_process(fixture_root, one_process, tmp_path):
    proc = subprocess.Popen(_command(fixture_root, tmp_path, 2, "--checkpoint-every", "1"), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = tmp_path / "last.pt"
    deadline = time.monotonic() + 180
    try:
        while not last.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert last.is_file(), proc.stderr.read()[-3000:] if proc.poll() is not None else "no checkpoint in time"
    finally:  # torchrun and both trainers (torchrun starts them in sessions of their own), mid-run
        for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
            p.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    killed_at = read_checkpoint(last)["step"]
    assert 1 <= killed_at < STEPS, killed_at
    assert not (tmp_path / "model.pt").exists()
    _run(fixture_root, tmp_path, 1)  # the same command in one process continues the run
    meta = json.loads((tmp_path / "train_config.json").read_text())
    assert meta["resumed_from_step"] == killed_at and meta["processes"] == 1
    assert read_checkpoint(last)["step"] == STEPS
    _assert_same(_parameters(last), _parameters(one_process / "last.pt"))
