"""Fault injection on the ``graspnet-ros`` commands and the node entry points.

Corrupt dataset files reach ``data check``; bad depth images and a blocked
``--out`` reach ``detect``; file-system errors give one line, never a
traceback; node executables and commands keep DDS on localhost unless the
user chose otherwise.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from dataset_fixture import SCENE_ID, build_fixture_dataset

from graspnet_ros.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return build_fixture_dataset(tmp_path_factory.mktemp("graspnet_root")).root


def test_data_check_deep_lists_every_broken_file(fixture_root, tmp_path, capsys):
    root = shutil.copytree(fixture_root, tmp_path / "root")
    scene = root / "scenes" / f"scene_{SCENE_ID:04d}" / "realsense"
    png = scene / "rgb" / "0000.png"
    data = bytearray(png.read_bytes())
    data[80:] = bytes(len(data) - 80)  # valid header, corrupt body
    png.write_bytes(bytes(data))
    xml = scene / "annotations" / "0001.xml"
    xml.write_text(xml.read_text()[: len(xml.read_text()) // 2])  # cut in the middle of a tag
    labels = root / "grasp_label" / "007_labels.npz"
    labels.write_bytes(labels.read_bytes()[:300])  # truncated
    assert main(["data", "check", "--root", str(root), "--deep"]) == 1
    out = capsys.readouterr().out
    for path in (png, xml, labels):
        assert str(path) in out, f"{path} not reported:\n{out}"
    assert "OK" not in out.splitlines()[-1]


def test_data_check_on_a_missing_root_is_one_line(tmp_path, capsys):
    assert main(["data", "check", "--root", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0]


def depth_args(tmp_path, depth: np.ndarray, scale: float = 1000.0) -> list[str]:
    cv2.imwrite(str(tmp_path / "depth.png"), depth)
    np.save(tmp_path / "K.npy", np.array([[300.0, 0, 32], [0, 300.0, 24], [0, 0, 1]]))
    return ["detect", "--depth", str(tmp_path / "depth.png"), "--camK", str(tmp_path / "K.npy"),
            "--depth-scale", str(scale), "--out", str(tmp_path / "out" / "grasps")]


def test_detect_refuses_8_bit_depth(tmp_path, capsys):
    assert main(depth_args(tmp_path, np.full((48, 64), 120, np.uint8))) == 2
    err = capsys.readouterr().err
    assert "8-bit depth" in err and "--depth-scale" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("raw, scale, suggest", [(80, 1000.0, "--depth-scale 100"),  # centimetres
                                                 (8000, 1000.0, "--depth-scale 10000")])  # 0.1 mm
def test_detect_refuses_depth_with_wrong_units(tmp_path, capsys, raw, scale, suggest):
    assert main(depth_args(tmp_path, np.full((48, 64), raw, np.uint16), scale)) == 2
    err = capsys.readouterr().err
    assert "units look wrong" in err and suggest in err


def test_detect_out_under_an_existing_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    args = depth_args(tmp_path, np.full((48, 64), 800, np.uint16))
    args[-1] = str(tmp_path / "afile" / "grasps")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file, not a folder" in err[0]


def test_file_system_errors_are_one_line_for_every_command(tmp_path, capsys):
    # an OSError raised deep inside a command (here: an output folder that is a file) is one line
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "board.png"
    assert main(["markers", "--target", str(REPO / "config" / "calibration.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("graspnet-ros markers: error:"), err
    assert "afile" in err[0] and "is a file, not a folder" in err[0]


PROBE = """
import os, sys
from graspnet_ros.nodes.spin import spin_nodes

class Probe:
    def __init__(self):
        print(os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"), flush=True)
        raise KeyboardInterrupt  # spin_nodes shuts down quietly

spin_nodes([Probe], [])
"""


def run_probe(code: str, **env_changes) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ROS_AUTOMATIC_DISCOVERY_RANGE"}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_node_executables_keep_dds_on_localhost_by_default():
    assert run_probe(PROBE) == "LOCALHOST"
    assert run_probe(PROBE, ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET") == "SUBNET"  # the user's explicit choice


def test_graspnet_ros_commands_keep_dds_on_localhost_by_default():
    code = ("import os\nfrom graspnet_ros.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE'))")
    assert run_probe(code) == "LOCALHOST"
    assert run_probe(code, ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET") == "SUBNET"
