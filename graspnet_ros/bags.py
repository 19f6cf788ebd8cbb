"""rosbag2 files (sqlite3 and mcap) with `rosbags`: dataset frames in, frames out.

* :func:`typestore` -- the ROS 2 Kilted typestore plus this package's messages
  (``graspnet_ros/msg/Grasp``, ``GraspArray``, ``DatasetFrame``), read from
  the package's own ``msg/*.msg`` files;
* :func:`write_dataset_bag` -- replays GraspNet-1Billion frames (real or
  synthetic roots) into a bag: colour ``Image`` (rgb8), depth ``Image``
  (16UC1 millimetres), ``CameraInfo``, optional organised ``PointCloud2``,
  the camera pose on ``/tf`` (``tf2_msgs/TFMessage``, T_table<-camera: parent
  ``table``, child the camera's optical frame) and a ``DatasetFrame``
  identity message; every message of a frame carries the same header stamp
  and the message definitions are stored in the bag;
* :func:`read_bag_frames` -- groups a bag's messages by header stamp into
  :class:`BagFrame` objects (identity, depth in metres, intrinsics, optional
  cloud / pose / recorded grasps), with every-n-th and time-window selection;
  incomplete or undecodable frames are skipped and counted in a
  :class:`SkipCounter` with their reason.

Integrity: mcap bags written by the package carry CRCs (every chunk's
``uncompressed_crc``, the Data End record's ``data_section_crc`` and the
footer's ``summary_crc``, filled in by :func:`seal_bag`: rosbags writes
zeros), and :func:`open_bag` verifies every non-zero CRC of an mcap bag
before reading it (:func:`verify_bag`), so flipped bytes give a clear error
instead of silently different data.

Errors: a missing bag is a FileNotFoundError, an unreadable, truncated or
corrupt (CRC mismatch) bag a ValueError naming the bag's files, a required
topic absent from the bag a ValueError listing the topics the bag has.
"""

from __future__ import annotations

import collections
import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from .cameras.base import CameraIntrinsics
from .grasp import GraspGroup

PACKAGE = "graspnet_ros"
MSG_NAMES = ("Grasp", "GraspArray", "DatasetFrame")  # dependency order
STORAGES = ("mcap", "sqlite3")
TABLE_FRAME = "table"
STAMP_BASE_NS = 1_000_000_000_000  # first frame at t = 1000 s (a fixed, reproducible clock)


@dataclass(frozen=True)
class BagTopics:
    """Topic names of a dataset bag (the realsense2_camera layout by default)."""

    color: str = "/camera/color/image_raw"
    depth: str = "/camera/aligned_depth_to_color/image_raw"
    camera_info: str = "/camera/aligned_depth_to_color/camera_info"
    cloud: str = "/camera/depth/color/points"
    tf: str = "/tf"
    identity: str = "/graspnet/dataset_frame"


# -- typestore ----------------------------------------------------------------------

def msg_dir() -> Path:
    """Folder holding this package's ``.msg`` files (source tree or an ament install)."""
    candidates = [Path(__file__).resolve().parent.parent / "msg"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / PACKAGE / "msg")
    for c in candidates:
        if all((c / f"{n}.msg").is_file() for n in MSG_NAMES):
            return c
    raise FileNotFoundError("graspnet_ros message definitions (Grasp.msg, GraspArray.msg, "
                            f"DatasetFrame.msg) not found in {[str(c) for c in candidates]}")


def typestore():
    """A rosbags typestore: ROS 2 Kilted types + ``graspnet_ros/msg/*``."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    folder = msg_dir()
    types: dict = {}
    for name in MSG_NAMES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(), f"{PACKAGE}/msg/{name}"))
    ts.register(types)
    return ts


MSGTYPES = {"image": "sensor_msgs/msg/Image", "info": "sensor_msgs/msg/CameraInfo",
            "cloud": "sensor_msgs/msg/PointCloud2", "tf": "tf2_msgs/msg/TFMessage",
            "identity": f"{PACKAGE}/msg/DatasetFrame", "grasps": f"{PACKAGE}/msg/GraspArray"}


# -- numpy -> rosbags messages ------------------------------------------------------

class MessageFactory:
    """Builds rosbags message objects (the same field names as the rclpy ones)."""

    def __init__(self, ts) -> None:
        self.ts = ts
        self.T = ts.types

    def header(self, stamp_ns: int, frame_id: str):
        Time = self.T["builtin_interfaces/msg/Time"]
        return self.T["std_msgs/msg/Header"](stamp=Time(sec=int(stamp_ns // 1_000_000_000),
                                                        nanosec=int(stamp_ns % 1_000_000_000)),
                                             frame_id=frame_id)

    def image(self, pixels: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
        h, w = pixels.shape[:2]
        data = np.ascontiguousarray(pixels).view(np.uint8).reshape(-1)
        return self.T["sensor_msgs/msg/Image"](header=self.header(stamp_ns, frame_id), height=h, width=w,
                                               encoding=encoding, is_bigendian=0,
                                               step=data.size // max(h, 1), data=data)

    def camera_info(self, K: np.ndarray, width: int, height: int, stamp_ns: int, frame_id: str):
        T = self.T
        roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                     do_rectify=False)
        P = np.hstack([np.asarray(K, dtype=np.float64), np.zeros((3, 1))])
        return T["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp_ns, frame_id), height=height, width=width,
            distortion_model="plumb_bob", d=np.zeros(5), k=np.asarray(K, dtype=np.float64).reshape(9),
            r=np.eye(3).reshape(9), p=P.reshape(12), binning_x=0, binning_y=0, roi=roi)

    def cloud(self, points: np.ndarray, stamp_ns: int, frame_id: str):
        """Organised (H, W, 3) float32 x, y, z cloud (NaN = no data), little endian."""
        T = self.T
        h, w = points.shape[:2]
        pts = np.ascontiguousarray(points, dtype="<f4")
        fields = [T["sensor_msgs/msg/PointField"](name=n, offset=4 * i, datatype=7, count=1)
                  for i, n in enumerate("xyz")]  # 7 = FLOAT32
        return T["sensor_msgs/msg/PointCloud2"](
            header=self.header(stamp_ns, frame_id), height=h, width=w, fields=fields, is_bigendian=False,
            point_step=12, row_step=12 * w, data=pts.view(np.uint8).reshape(-1),
            is_dense=bool(np.isfinite(pts).all()))

    def tf(self, T_parent_child: np.ndarray, parent: str, child: str, stamp_ns: int):
        T = self.T
        q = Rotation.from_matrix(T_parent_child[:3, :3]).as_quat()
        t = T_parent_child[:3, 3]
        tr = T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](x=float(t[0]), y=float(t[1]), z=float(t[2])),
            rotation=T["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]),
                                                       w=float(q[3])))
        ts = T["geometry_msgs/msg/TransformStamped"](header=self.header(stamp_ns, parent),
                                                     child_frame_id=child, transform=tr)
        return T["tf2_msgs/msg/TFMessage"](transforms=[ts])

    def identity(self, dataset: str, scene_id: int, camera: str, ann_id: int, stamp_ns: int, frame_id: str):
        return self.T[MSGTYPES["identity"]](header=self.header(stamp_ns, frame_id), dataset=dataset,
                                            scene_id=int(scene_id), camera=camera, ann_id=int(ann_id))

    def grasp_array(self, grasps: GraspGroup, stamp_ns: int, frame_id: str | None = None,
                    tolerances: np.ndarray | None = None):
        """``graspnet_ros/GraspArray`` of a GraspGroup (order kept, poses in its frame)."""
        T = self.T
        n = len(grasps)
        quats = Rotation.from_matrix(grasps.rotations).as_quat() if n else np.zeros((0, 4))
        tol = np.zeros(n) if tolerances is None else np.asarray(tolerances, dtype=np.float64)
        P, Q, G = T["geometry_msgs/msg/Point"], T["geometry_msgs/msg/Quaternion"], T[f"{PACKAGE}/msg/Grasp"]
        Pose = T["geometry_msgs/msg/Pose"]
        t, w, h, d, s, o = (grasps.translations, grasps.widths, grasps.heights, grasps.depths,
                            grasps.scores, grasps.object_ids)
        items = [G(pose=Pose(position=P(x=float(t[i, 0]), y=float(t[i, 1]), z=float(t[i, 2])),
                             orientation=Q(x=float(quats[i, 0]), y=float(quats[i, 1]), z=float(quats[i, 2]),
                                           w=float(quats[i, 3]))),
                   width=float(w[i]), height=float(h[i]), depth=float(d[i]), score=float(s[i]),
                   tolerance=float(tol[i]), object_id=int(o[i])) for i in range(n)]
        return T[MSGTYPES["grasps"]](header=self.header(stamp_ns, frame_id or grasps.frame_id), grasps=items)


# -- writing ----------------------------------------------------------------------

def storage_plugin(storage: str):
    from rosbags.rosbag2 import StoragePlugin

    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}, got '{storage}'")
    return StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3


def _check_out(out: Path) -> None:
    if out.exists():
        raise ValueError(f"output bag {out} already exists; remove it or choose another --out")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder of the output bag does not exist: {out.parent}")


@dataclass
class WriteReport:
    path: Path
    frames: int
    messages: int
    topics: dict[str, str]  # topic -> message type


def write_dataset_bag(root: str | Path, scenes: Sequence[int] | None, camera: str, out: str | Path,
                      storage: str = "mcap", cloud: bool = False, ann_ids: Sequence[int] | None = None,
                      topics: BagTopics = BagTopics(), frame_period: float = 0.1,
                      frame_id: str | None = None, dataset_name: str | None = None,
                      log: Callable[[str], None] | None = None) -> WriteReport:
    """Write dataset frames into a new rosbag2 folder ``out``.

    scenes: scene ids (None = every scene of the root); ann_ids: frames per
    scene (None = all). Frame k (in scene, then annotation order) is stamped
    1000 s + k * frame_period (s). frame_id: the optical frame of every image
    (default ``<camera>_color_optical_frame``). The bag is written to a
    temporary sibling folder and renamed when complete.
    """
    import shutil

    from rosbags.rosbag2 import Writer

    from .dataset.layout import CAMERAS
    from .dataset.reader import GraspNetDataset

    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, got '{camera}'")
    if frame_period <= 0:
        raise ValueError("frame_period must be > 0 seconds")
    out = Path(out)
    _check_out(out)
    ds = GraspNetDataset(root, camera)
    scenes = list(scenes) if scenes is not None else ds.scene_ids()
    present = set(ds.scene_ids())
    missing = [s for s in scenes if s not in present]
    if missing:
        raise FileNotFoundError(f"scenes {missing} are not in {root} (present: {sorted(present)})")
    frame_id = frame_id or f"{camera}_color_optical_frame"
    dataset_name = dataset_name or Path(root).resolve().name
    ts = typestore()
    mk = MessageFactory(ts)
    tmp_dir = out.with_name(f".{out.name}.partial")  # the bag folder is renamed out of it when complete
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    tmp_dir.mkdir()
    tmp = tmp_dir / out.name
    names = {"color": (topics.color, "image"), "depth": (topics.depth, "image"),
             "info": (topics.camera_info, "info"), "tf": (topics.tf, "tf"),
             "identity": (topics.identity, "identity")}
    if cloud:
        names["cloud"] = (topics.cloud, "cloud")
    frames = messages = 0
    try:
        with Writer(tmp, version=9, storage_plugin=storage_plugin(storage)) as writer:
            conns = {k: writer.add_connection(t, MSGTYPES[kind], typestore=ts) for k, (t, kind) in names.items()}

            def put(key: str, msg, t_ns: int) -> None:
                nonlocal messages
                writer.write(conns[key], t_ns, ts.serialize_cdr(msg, conns[key].msgtype))
                messages += 1

            for scene in scenes:
                for ann in (list(ann_ids) if ann_ids is not None else range(ds.num_frames(scene))):
                    f = ds.frame(scene, ann)
                    t_ns = STAMP_BASE_NS + int(round(frames * frame_period * 1e9))
                    depth = f.depth
                    h, w = depth.shape
                    mm = np.where(np.isfinite(depth) & (depth > 0), np.rint(depth * 1000.0), 0)
                    put("color", mk.image(f.rgb, "rgb8", t_ns, frame_id), t_ns)
                    put("depth", mk.image(np.clip(mm, 0, 65535).astype("<u2"), "16UC1", t_ns, frame_id), t_ns)
                    put("info", mk.camera_info(f.intrinsics, w, h, t_ns, frame_id), t_ns)
                    if cloud:
                        from .cameras.geometry import depth_to_points

                        intr = CameraIntrinsics.from_matrix(f.intrinsics, w, h)
                        put("cloud", mk.cloud(depth_to_points(mm.astype(np.float32) * np.float32(0.001), intr),
                                              t_ns, frame_id), t_ns)
                    put("tf", mk.tf(f.table_pose, TABLE_FRAME, frame_id, t_ns), t_ns)
                    put("identity", mk.identity(dataset_name, scene, camera, ann, t_ns, frame_id), t_ns)
                    frames += 1
                    if log:
                        log(f"scene {scene} frame {ann} -> t = {t_ns * 1e-9:.3f} s")
        seal_bag(tmp)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return WriteReport(out, frames, messages, {t: MSGTYPES[k] for t, k in names.values()})


# -- integrity (mcap CRCs) ----------------------------------------------------------

MCAP_MAGIC = b"\x89MCAP0\r\n"
_OP_FOOTER, _OP_CHUNK, _OP_DATA_END = 0x02, 0x06, 0x0F


def _mcap_files(path: Path) -> list[Path]:
    path = Path(path)
    return sorted(path.glob("*.mcap")) if path.is_dir() else ([path] if path.suffix == ".mcap" else [])


def _chunk_records(buf, body: int, end: int, where: str) -> tuple[int, memoryview]:
    """(offset of the uncompressed_crc field, uncompressed records) of the Chunk record body at ``body``."""
    crc_at = body + 24
    (usize,) = struct.unpack_from("<Q", buf, body + 16)
    (clen,) = struct.unpack_from("<I", buf, body + 28)
    compression = bytes(buf[body + 32:body + 32 + clen]).decode()
    (rlen,) = struct.unpack_from("<Q", buf, body + 32 + clen)
    start = body + 40 + clen
    if start + rlen > end:
        raise ValueError(f"{where}: chunk at byte {body - 9} is truncated")
    data = memoryview(buf)[start:start + rlen]
    if compression == "":
        return crc_at, data
    if compression == "lz4":
        from lz4.frame import decompress
    elif compression == "zstd":
        try:
            from compression.zstd import decompress
        except ImportError:  # Python < 3.14: the backport rosbags uses
            from backports.zstd import decompress
    else:
        raise ValueError(f"{where}: unknown chunk compression '{compression}'")
    return crc_at, memoryview(decompress(bytes(data)))


def _mcap_walk(buf, where: str):
    """Yield (opcode, record start, body start, body end) of the top-level records of an mcap file."""
    n = len(buf)
    if n < 2 * len(MCAP_MAGIC) or bytes(buf[:8]) != MCAP_MAGIC or bytes(buf[n - 8:]) != MCAP_MAGIC:
        raise ValueError(f"{where}: not a complete mcap file (magic bytes missing: truncated?)")
    pos = 8
    while pos < n - 8:
        if pos + 9 > n - 8:
            raise ValueError(f"{where}: record at byte {pos} is truncated")
        op = buf[pos]
        (length,) = struct.unpack_from("<Q", buf, pos + 1)
        body, end = pos + 9, pos + 9 + length
        if end > n - 8:
            raise ValueError(f"{where}: record at byte {pos} (opcode 0x{op:02x}) runs past the end of the file")
        yield op, pos, body, end
        if op == _OP_FOOTER:
            return
        pos = end


def _mcap_crcs(buf, where: str) -> list[tuple[str, int, int]]:
    """(what, offset of the stored CRC, computed CRC) of every CRC an mcap file can carry."""
    out = []
    data_end = footer = None
    for op, pos, body, end in _mcap_walk(buf, where):
        if op == _OP_CHUNK:
            crc_at, records = _chunk_records(buf, body, end, where)
            out.append((f"chunk at byte {pos}", crc_at, zlib.crc32(records)))
        elif op == _OP_DATA_END and data_end is None:
            data_end = pos
            out.append(("data section", body, zlib.crc32(memoryview(buf)[:pos])))
        elif op == _OP_FOOTER:
            footer = pos
    if data_end is None or footer is None:
        raise ValueError(f"{where}: no Data End or Footer record (the file is truncated or still being written)")
    summary_start, _ = struct.unpack_from("<QQ", buf, footer + 9)
    if summary_start:
        out.append(("summary", footer + 25, zlib.crc32(memoryview(buf)[summary_start:footer + 25])))
    return out


def seal_bag(path: str | Path) -> int:
    """Write the CRCs of every mcap file of a bag in place (chunks first, then the data
    section and the summary, which cover them); returns how many were written."""
    written = 0
    for f in _mcap_files(Path(path)):
        with open(f, "r+b") as fh, mmap.mmap(fh.fileno(), 0) as buf:
            for what in ("chunk", "data section", "summary"):  # each CRC covers the previous ones
                for name, at, crc in _mcap_crcs(buf, str(f)):
                    if name.startswith(what):
                        struct.pack_into("<I", buf, at, crc)
                        written += 1
            buf.flush()
    return written


def verify_bag(path: str | Path) -> int:
    """Check every non-zero CRC of a bag's mcap files; ValueError naming the file and the
    damaged part otherwise. Returns how many CRCs were checked (0: none stored)."""
    checked = 0
    for f in _mcap_files(Path(path)):
        if f.stat().st_size == 0:
            raise ValueError(f"{f}: empty mcap file")
        with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            for name, at, crc in _mcap_crcs(buf, str(f)):
                (stored,) = struct.unpack_from("<I", buf, at)
                if stored and stored != crc:
                    raise ValueError(f"{f}: CRC mismatch in the {name} (stored {stored:08x}, computed {crc:08x}): "
                                     "the bag is corrupt; re-record or re-copy it")
                checked += bool(stored)
    return checked


# -- reading ----------------------------------------------------------------------

@dataclass(frozen=True)
class FrameIdentity:
    dataset: str
    scene_id: int
    camera: str
    ann_id: int


@dataclass
class BagFrame:
    """One frame of a bag: every message sharing one header stamp."""

    index: int  # position among the bag's complete frames (before every-n-th selection)
    stamp_ns: int  # header stamp, ns
    frame_id: str  # optical frame of the images
    identity: FrameIdentity
    depth: np.ndarray | None = None  # (H, W) float32 m, 0 = no data
    intrinsics: CameraIntrinsics | None = None
    cloud: np.ndarray | None = None  # (H, W, 3) float32 m, NaN = no data
    table_pose: np.ndarray | None = None  # (4, 4) T_table<-camera from /tf
    grasps: GraspGroup | None = None  # recorded GraspArray (mode 2)


@dataclass
class SkipCounter:
    """Frames skipped while reading or evaluating, counted per reason."""

    counts: collections.Counter = field(default_factory=collections.Counter)
    examples: dict[str, list[float]] = field(default_factory=dict)  # reason -> first stamps (s)

    def add(self, reason: str, stamp_ns: int | None = None) -> None:
        self.counts[reason] += 1
        if stamp_ns is not None:
            ex = self.examples.setdefault(reason, [])
            if len(ex) < 5:
                ex.append(stamp_ns * 1e-9)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return {"total": self.total, "reasons": dict(self.counts),
                "example_stamps_s": {k: v for k, v in self.examples.items()}}


def _bag_files(path: Path) -> str:
    files = sorted(p.name for p in path.iterdir()) if path.is_dir() else [path.name]
    return f"{path} (files: {', '.join(files) or 'none'})"


def _unreadable(path: Path, exc: BaseException) -> ValueError:
    return ValueError(f"cannot read bag {_bag_files(path)}: {type(exc).__name__}: {exc}. The bag is "
                      "truncated, corrupt or still being recorded; re-record or repair it "
                      "(e.g. `ros2 bag reindex`)")


def open_bag(path: str | Path):
    """An opened ``AnyReader`` (definitions stored in the bag registered over :func:`typestore`)."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag not found: {path}")
    try:
        verify_bag(path)
    except ValueError as exc:
        raise _unreadable(path, exc) from exc
    reader = AnyReader([path], default_typestore=typestore())
    try:
        reader.open()
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    return reader


def bag_topics(path: str | Path) -> dict[str, str]:
    """topic -> message type of a bag."""
    reader = open_bag(path)
    try:
        return {c.topic: c.msgtype for c in reader.connections}
    finally:
        reader.close()


def _stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def read_bag_frames(path: str | Path, topics: BagTopics = BagTopics(), every_n: int = 1,
                    start: float | None = None, end: float | None = None,
                    skipped: SkipCounter | None = None, need: Iterable[str] = ("depth",),
                    grasps_topic: str | None = None, max_pending: int = 16) -> Iterator[BagFrame]:
    """Frames of a bag in stamp order.

    need: parts every frame must have besides its identity: any of ``depth``
    (depth Image + CameraInfo), ``cloud``, ``grasps`` (``grasps_topic``,
    graspnet_ros/GraspArray) and ``tf``. start / end: time window in seconds
    from the bag's first message (inclusive, None = open). every_n: keep
    every n-th complete frame (index 0, n, 2n, ...). Frames missing a part, or
    whose depth / grasps cannot be decoded, are skipped and counted in
    ``skipped``. ValueError if a needed topic is not in the bag or the bag
    cannot be read.
    """
    from . import msg_decode as cv  # ROS-free decoders by field name (rosbags' messages)

    if every_n < 1:
        raise ValueError(f"every_n must be >= 1, got {every_n}")
    need = set(need)
    unknown = need - {"depth", "cloud", "grasps", "tf"}
    if unknown:
        raise ValueError(f"unknown frame parts {sorted(unknown)}; use depth, cloud, grasps, tf")
    if "grasps" in need and not grasps_topic:
        raise ValueError("reading recorded grasps needs grasps_topic")
    skipped = skipped if skipped is not None else SkipCounter()
    path = Path(path)
    want = {topics.identity: "identity"}
    if "depth" in need:
        want[topics.depth] = "depth"
        want[topics.camera_info] = "info"
    if "cloud" in need:
        want[topics.cloud] = "cloud"
    if "tf" in need:
        want[topics.tf] = "tf"
    if grasps_topic:
        want[grasps_topic] = "grasps"
    optional = {topics.tf: "tf"} if "tf" not in need else {}
    reader = open_bag(path)
    try:
        have = {c.topic: c.msgtype for c in reader.connections}
        missing = [t for t in want if t not in have]
        if missing:
            raise ValueError(f"bag {path} has no topic(s) {missing}; its topics: "
                             + ", ".join(f"{t} [{m}]" for t, m in sorted(have.items())))
        roles = {**{t: r for t, r in optional.items() if t in have}, **want}
        conns = [c for c in reader.connections if c.topic in roles]
        t0 = reader.start_time
        lo = None if start is None else t0 + int(round(start * 1e9))
        hi = None if end is None else t0 + int(round(end * 1e9))
        pending: dict[int, dict[str, Any]] = {}
        counter = {"complete": 0}

        def finish(stamp: int) -> Iterator[BagFrame]:
            parts = pending.pop(stamp)
            if (lo is not None and stamp < lo) or (hi is not None and stamp > hi):
                return
            if "identity" not in parts:
                skipped.add("no DatasetFrame identity message", stamp)
                return
            absent = [p for p in ("depth", "info", "cloud", "grasps", "tf")
                      if p in roles.values() and roles_needed(p) and p not in parts]
            if absent:
                skipped.add(f"missing {'/'.join(absent)} message", stamp)
                return
            k = counter["complete"]
            counter["complete"] += 1
            if k % every_n:
                return
            ident = parts["identity"]
            frame = BagFrame(k, stamp, ident.header.frame_id,
                             FrameIdentity(ident.dataset, int(ident.scene_id), ident.camera, int(ident.ann_id)))
            try:
                if "depth" in parts:
                    frame.intrinsics = cv.camera_info_to_intrinsics(parts["info"])
                    frame.depth = cv.msg_to_depth(parts["depth"])
                    frame.frame_id = parts["depth"].header.frame_id or frame.frame_id
            except ValueError as exc:
                skipped.add(f"bad depth image: {exc}", stamp)
                return
            try:
                if "cloud" in parts:
                    frame.cloud, _ = cv.msg_to_cloud(parts["cloud"], organised=True)
                if "grasps" in parts:
                    frame.grasps = cv.msg_to_grasp_group(parts["grasps"])
                if "tf" in parts:
                    frame.table_pose = cv.transform_to_matrix(parts["tf"].transform)
            except ValueError as exc:
                skipped.add(f"bad message: {exc}", stamp)
                return
            yield frame

        def roles_needed(part: str) -> bool:
            return part != "tf" or "tf" in need

        try:
            for conn, _t, raw in reader.messages(connections=conns):
                role = roles[conn.topic]
                msg = reader.deserialize(raw, conn.msgtype)
                if role == "tf":
                    hits = [tr for tr in msg.transforms if tr.header.frame_id == TABLE_FRAME]
                    if not hits:
                        continue
                    stamp, msg = _stamp_ns(hits[0].header), hits[0]
                else:
                    stamp = _stamp_ns(msg.header)
                pending.setdefault(stamp, {})[role] = msg
                while len(pending) > max_pending:
                    yield from finish(min(pending))
        except Exception as exc:
            raise _unreadable(path, exc) from exc
        for stamp in sorted(pending):
            yield from finish(stamp)
    finally:
        reader.close()


__all__ = ["BagFrame", "BagTopics", "FrameIdentity", "MessageFactory", "SkipCounter", "WriteReport",
           "bag_topics", "msg_dir", "open_bag", "read_bag_frames", "seal_bag", "storage_plugin", "typestore",
           "verify_bag", "write_dataset_bag"]
