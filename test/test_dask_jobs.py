"""Data jobs on a ``dask.distributed`` cluster: a LocalCluster of 2 worker
processes on 127.0.0.1 generates and annotates the ``tiny`` preset into the
same bytes as the local process pool (also when one worker is killed
mid-run), and ``graspnet-ros eval --scheduler`` gives the same AP.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from graspnet_ros.annotation.runner import WORKER_ENV
from graspnet_ros.cli import main as cli
from graspnet_ros.dataset.generate import generate
from graspnet_ros.dataset.reader import GraspNetDataset

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed", reason="dask.distributed is pinned in requirements.txt")


@pytest.fixture(scope="module")
def cluster():
    """2 single-threaded worker processes (restarted by their nanny when killed), loopback only."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", env=WORKER_ENV) as c, \
            distributed.Client(c) as client:
        yield client


@pytest.fixture(scope="module")
def pool_root(tmp_path_factory) -> Path:
    """The tiny preset made by the local process pool (the reference bytes)."""
    root = tmp_path_factory.mktemp("tiny_pool")
    generate(root, "tiny", workers=1, seed=0, log=lambda *_: None)
    return root


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


class _WorkerKiller(threading.Thread):
    """SIGKILLs a worker that is running a task, once ``trigger()`` holds."""

    def __init__(self, client, trigger) -> None:
        super().__init__(daemon=True)
        self.client, self.trigger = client, trigger
        self.killed: tuple[int, list] | None = None  # (pid, keys it was running)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            if self.trigger():
                busy = {w: keys for w, keys in self.client.processing().items() if keys}
                if busy:
                    worker, keys = next(iter(busy.items()))
                    pid = self.client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    self.killed = (pid, list(keys))
                    return
            time.sleep(0.01)


def test_two_dask_workers_write_the_pool_bytes_even_when_one_is_killed(pool_root, cluster, tmp_path):
    root = tmp_path / "tiny_dask"
    # kill a busy worker once the first object's labels exist: mid-way through the annotation stage
    killer = _WorkerKiller(cluster, lambda: any((root / "grasp_label").glob("*.npz")))
    killer.start()
    try:
        address = cluster.scheduler.address  # the ADDRESS path of --scheduler (its own client)
        report = generate(root, "tiny", workers=2, seed=0, log=lambda *_: None, scheduler=address)
    finally:
        killer.stop.set()
        killer.join(5)
    assert killer.killed is not None, "no worker was busy to kill"
    pid, keys = killer.killed
    assert keys and all("labels" in str(k) for k in keys), keys
    assert pid not in cluster.run(os.getpid).values()  # that process is gone; its nanny started another
    assert report.objects_written == 7 and len(report.scenes) == 4
    ours, ref = _files(root), _files(pool_root)
    assert ours.keys() == ref.keys()
    labels = [k for k in ref if k.startswith(("grasp_label", "tolerance", "collision_label"))]
    assert len(labels) == 7 + 7 + 4
    differ = [k for k in ref if not k.endswith(".mat") and ours[k].read_bytes() != ref[k].read_bytes()]
    assert differ == []  # labels, models, images, poses: byte for byte
    for k in (k for k in ref if k.endswith(".mat")):  # MAT headers carry their creation time: compare values
        a, b = scipy.io.loadmat(ours[k]), scipy.io.loadmat(ref[k])
        assert all(np.array_equal(a[v], b[v]) for v in ("cls_indexes", "poses", "intrinsic_matrix")), k
    # a resumed run finds everything done and skips it
    again = generate(root, "tiny", workers=2, seed=0, log=lambda *_: None, scheduler=cluster)
    assert again.objects_written == 0 and all(s.skipped for s in again.scenes)
    assert all(ours[k].stat().st_mtime_ns == p.stat().st_mtime_ns for k, p in _files(root).items())


def _write_dump(root: Path, dump: Path) -> None:
    """Predictions for the test scenes: labelled grasps with shuffled scores and a few mm of noise."""
    ds = GraspNetDataset(root, camera="realsense")
    rng = np.random.default_rng(5)
    for scene in (s for s in ds.scene_ids() if s >= 100):
        out = dump / f"scene_{scene:04d}" / "realsense"
        out.mkdir(parents=True)
        for ann in range(ds.num_frames(scene)):
            arr = ds.ground_truth_grasps(ds.frame(scene, ann), max_per_object=60, seed=ann).array.copy()
            arr[:, 0] = rng.random(len(arr))
            arr[:, 13:16] += rng.normal(0, 0.003, (len(arr), 3))
            np.save(out / f"{ann:04d}.npy", arr.astype(np.float32))


def test_eval_on_a_dask_cluster_gives_the_pool_ap(pool_root, tmp_path, capsys):
    dump = tmp_path / "dump"
    _write_dump(pool_root, dump)
    base = ["eval", "--root", str(pool_root), "--dump", str(dump), "--split", "scene",
            "--scenes", "100", "130", "160", "--quiet", "--no-plot"]
    assert cli([*base, "--out", str(tmp_path / "pool")]) == 0
    assert cli([*base, "--out", str(tmp_path / "dask"), "--scheduler", "local", "--workers", "2"]) == 0
    assert "dask scheduler tcp://127.0.0.1:" in capsys.readouterr().out
    pool = json.loads((tmp_path / "pool" / "results.json").read_text())
    dask = json.loads((tmp_path / "dask" / "results.json").read_text())
    assert dask["scheduler"] == "local" and 0 < pool["overall"]["ap"] < 1
    assert dask["overall"] == pool["overall"] and dask["splits"] == pool["splits"]
    with np.load(tmp_path / "pool" / "accuracy.npz") as a, np.load(tmp_path / "dask" / "accuracy.npz") as b:
        assert sorted(a.files) == sorted(b.files) and len(a.files) == 1 + 2 * 3  # mus + 3 test scenes
        assert all(np.array_equal(a[k], b[k]) for k in a.files)  # every frame's Precision@k, exactly
