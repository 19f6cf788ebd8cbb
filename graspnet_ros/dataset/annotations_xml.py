"""Per-frame object pose annotations (``annotations/%04d.xml``).

One ``<obj>`` per object with, in this order: ``obj_id`` (0-based),
``obj_name``, ``obj_path``, ``pos_in_world`` ("x y z", metres) and
``ori_in_world`` ("w x y z" quaternion). Despite the tag names, the pose is
that of the object in the frame's camera (REP-103 optical frame), as the
reference tools read it. The reference writer keeps 4 decimals; this one
keeps 8 so poses survive a round trip to well under a micrometre.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transforms3d.quaternions import mat2quat, quat2mat


@dataclass
class ObjectPose:
    obj_id: int
    pose: np.ndarray  # (4, 4) T_camera<-object, metres
    name: str = ""
    path: str = ""


def write_annotations(path: str | Path, objects: list[ObjectPose]) -> None:
    """Write an annotations XML file atomically (temp file, then rename)."""
    path = Path(path)
    top = ET.Element("scene")
    for obj in objects:
        pose = np.asarray(obj.pose, dtype=np.float64)
        entry = ET.SubElement(top, "obj")
        ET.SubElement(entry, "obj_id").text = str(int(obj.obj_id))
        ET.SubElement(entry, "obj_name").text = obj.name or f"{int(obj.obj_id):03d}.ply"
        ET.SubElement(entry, "obj_path").text = obj.path or f"models/{int(obj.obj_id):03d}/nontextured.ply"
        ET.SubElement(entry, "pos_in_world").text = " ".join(f"{v:.8f}" for v in pose[:3, 3])
        ET.SubElement(entry, "ori_in_world").text = " ".join(f"{v:.8f}" for v in mat2quat(pose[:3, :3]))
    ET.indent(top, space="    ")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(ET.tostring(top, encoding="unicode") + "\n", encoding="utf-8")
    tmp.replace(path)


def read_annotations(path: str | Path) -> list[ObjectPose]:
    """Read an annotations XML file; errors name the file and the bad entry."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    try:
        top = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not valid XML ({exc})") from exc
    objects = []
    for i, entry in enumerate(top.findall("obj")):
        try:
            obj_id = int(entry.findtext("obj_id"))
            pos = np.array([float(v) for v in entry.findtext("pos_in_world").split()])
            quat = np.array([float(v) for v in entry.findtext("ori_in_world").split()])
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: object entry {i} is malformed ({exc})") from exc
        if pos.shape != (3,) or quat.shape != (4,) or not np.isfinite(np.r_[pos, quat]).all():
            raise ValueError(f"{path}: object entry {i} needs 3 position and 4 quaternion values")
        pose = np.eye(4)
        pose[:3, :3] = quat2mat(quat / np.linalg.norm(quat))
        pose[:3, 3] = pos
        objects.append(ObjectPose(obj_id, pose, entry.findtext("obj_name") or "",
                                  entry.findtext("obj_path") or ""))
    return objects
