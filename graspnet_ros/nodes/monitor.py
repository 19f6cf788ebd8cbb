"""The monitor node of ``graspnet-ros launch``: prints every GraspArray it receives, keeps the latest
colour images and CameraInfo, and draws the latest grasps on the colour image of the same stamp."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from ..msg import GraspArray
from . import conversions as cv
from .launcher import LaunchReport

__all__ = ["LaunchMonitor"]

#: colour images kept for the picture (the grasps' stamp is looked up among them)
KEPT_IMAGES = 30


class LaunchMonitor(Node):
    """Subscribes ``/grasps`` and ``/<camera_namespace>/color/{image_raw,camera_info}``; counts into
    ``report`` and ``echo``es one line per GraspArray."""

    def __init__(self, camera_namespace: str, echo: Callable[[str], None], **kwargs) -> None:
        super().__init__("graspnet_launch_monitor", **kwargs)
        self.echo, self.report = echo, LaunchReport()
        self.latest: dict = {}
        self.lock = threading.Lock()
        ns = f"/{camera_namespace}"
        self.create_subscription(GraspArray, "/grasps", self._on_grasps, 10)
        self.create_subscription(Image, f"{ns}/color/image_raw", self._on_color, 5)
        self.create_subscription(CameraInfo, f"{ns}/color/camera_info", self._on_info, 5)

    def _on_grasps(self, msg: GraspArray) -> None:
        g, report = cv.msg_to_grasp_group(msg), self.report
        with self.lock:
            report.grasp_arrays += 1
            if len(g):
                report.nonempty += 1
                report.best_score = float(g.scores[0])
                report.last_grasps = g
                self.latest["grasp_stamp"] = msg.header.stamp
        if len(g):
            p = g.translations[0]
            self.echo(f"[{cv.stamp_to_seconds(msg.header.stamp):.3f}] {len(g)} grasps in "
                      f"'{g.frame_id}': best score {g.scores[0]:.2f}, width {g.widths[0] * 100:.1f} cm "
                      f"at ({p[0]:+.3f}, {p[1]:+.3f}, {p[2]:+.3f}) m")
        else:
            self.echo(f"[{cv.stamp_to_seconds(msg.header.stamp):.3f}] no grasps")

    def _on_color(self, msg: Image) -> None:
        with self.lock:
            self.latest.setdefault("images", {})[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg
            imgs = self.latest["images"]
            while len(imgs) > KEPT_IMAGES:
                imgs.pop(next(iter(imgs)))
            self.report.frames += 1

    def _on_info(self, msg: CameraInfo) -> None:
        self.latest["info"] = msg

    def write_picture(self, out: Path) -> Path | None:
        """PNG of the latest grasps on the colour image with the same stamp (or the newest image)."""
        from ..grasp import GraspGroup
        from ..viz.image_overlay import draw_grasps, write_png

        with self.lock:
            images = dict(self.latest.get("images", {}))
            info = self.latest.get("info")
            grasps = self.report.last_grasps
            stamp = self.latest.get("grasp_stamp")
        if not images or info is None:
            return None
        key = (stamp.sec, stamp.nanosec) if stamp is not None else None
        msg = images.get(key) or images[list(images)[-1]]
        rgb = cv.msg_to_color(msg)
        intr = cv.camera_info_to_intrinsics(info)
        g = grasps if grasps is not None else GraspGroup()
        caption = (f"{len(g)} grasps, best score {g.scores[0]:.2f}" if len(g) else "no grasps")
        return write_png(out, draw_grasps(rgb, g, intr, caption=caption))
