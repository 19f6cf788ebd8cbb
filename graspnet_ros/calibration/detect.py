"""Detect a calibration target in an image and estimate its pose in the camera frame.

Single markers: ArUco detection with corner refinement (AprilTag edge fitting
by default, or sub-pixel corners), pose by ``SOLVEPNP_IPPE_SQUARE`` (the exact
planar-square solution, both of its candidate poses are scored). ChArUco
boards: markers, then interpolated chessboard corners refined to sub-pixel
accuracy by OpenCV's ChArUco detector, pose by planar PnP (IPPE) refined by
Levenberg-Marquardt.

Every pose is checked before it is returned; a rejected view raises
:class:`DetectionError` whose ``reason`` is one of :data:`REASONS` and whose
message says what to change. Poses are ``T_cam<-target`` (4x4, metres) in the
REP-103 optical frame; the target frame is described in
:mod:`graspnet_ros.calibration.targets`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import cv2
import numpy as np

from .targets import CharucoTarget, MarkerTarget, Target, aruco_dictionary

__all__ = ["DetectionLimits", "DetectionError", "Observation", "TargetPose", "REASONS", "find_target",
           "estimate_pose", "detect_target", "draw_detection", "camera_matrix", "detector_offset"]

#: Rejection reasons carried by DetectionError.reason.
REASONS = ("no_target", "wrong_dictionary", "wrong_id", "too_few_corners", "too_small", "too_oblique",
           "ambiguous", "inconsistent")

_REFINEMENT = {"none": cv2.aruco.CORNER_REFINE_NONE, "subpix": cv2.aruco.CORNER_REFINE_SUBPIX,
               "contour": cv2.aruco.CORNER_REFINE_CONTOUR, "apriltag": cv2.aruco.CORNER_REFINE_APRILTAG}

# Dictionaries tried when the configured one finds nothing, to name a likely mix-up.
_HINT_DICTIONARIES = ("DICT_4X4_1000", "DICT_5X5_1000", "DICT_6X6_1000", "DICT_7X7_1000",
                      "DICT_ARUCO_ORIGINAL", "DICT_APRILTAG_36h11")


class DetectionError(ValueError):
    """A view rejected for calibration; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DetectionLimits:
    """Acceptance limits for a view.

    corner_refinement: marker corner refinement, one of none/subpix/contour/apriltag.
    min_side_px: smallest accepted marker side (single marker) or board square
        side (ChArUco) in the image, pixels.
    max_obliquity_deg: largest accepted angle between the target normal and
        the line of sight to the target centre, degrees.
    max_reprojection_px: largest accepted RMS reprojection error, pixels.
    min_corners: fewest ChArUco corners accepted (at least 4).
    max_ambiguity: single markers only: largest accepted ratio of the best to
        the second-best IPPE pose's reprojection error. Near 1 the marker is
        seen so face-on (or so small) that its tilt is ambiguous and the
        rotation can be off by degrees; 1.0 disables the check.
    """

    corner_refinement: str = "apriltag"
    min_side_px: float = 20.0
    max_obliquity_deg: float = 65.0
    max_reprojection_px: float = 1.0
    min_corners: int = 6
    max_ambiguity: float = 0.6

    def __post_init__(self) -> None:
        if self.corner_refinement not in _REFINEMENT:
            raise ValueError(f"corner_refinement must be one of {', '.join(_REFINEMENT)}, "
                             f"got {self.corner_refinement!r}")
        if int(self.min_corners) < 4:
            raise ValueError(f"min_corners must be at least 4 (PnP needs 4 points), got {self.min_corners}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> "DetectionLimits":
        """From the ``detection:`` section of calibration.yaml (missing keys keep defaults)."""
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown detection config keys: {', '.join(sorted(unknown))}")
        return cls(**cfg)


@dataclass
class Observation:
    """What the detector saw before any pose is computed (all pixel coordinates).

    marker_corners: (n, 4, 2) corners of the target's dictionary markers found;
    marker_ids: (n,) their ids; image_points / object_points: the 2D-3D
    correspondences for pose estimation ((m, 2) pixels, (m, 3) metres in the
    target frame); point_ids: ids of those points (marker corner index 0..3
    or ChArUco corner id).
    """

    marker_corners: np.ndarray
    marker_ids: np.ndarray
    image_points: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    object_points: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))
    point_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))


@dataclass(frozen=True)
class TargetPose:
    """An accepted view: pose of the target in the camera frame and its quality.

    T_cam_target: (4, 4) metres. reprojection_rms_px / reprojection_max_px:
    reprojection error of the used points. distance_m: camera-to-target-centre
    distance. obliquity_deg: angle between the target normal and the line of
    sight. side_px: image size of a marker (or board square) side. ambiguity:
    for single markers, the ratio of the best to the second IPPE solution's
    reprojection error (near 1 = the flip ambiguity is unresolved), else 0.
    """

    T_cam_target: np.ndarray
    reprojection_rms_px: float
    reprojection_max_px: float
    n_points: int
    distance_m: float
    obliquity_deg: float
    side_px: float
    ambiguity: float
    observation: Observation


def camera_matrix(K: Any) -> np.ndarray:
    """Check and return a 3x3 float64 intrinsic matrix."""
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1:
        raise ValueError(f"camera matrix must be 3x3 [[fx,0,cx],[0,fy,cy],[0,0,1]] in pixels, got {K.tolist()}")
    return K


def _gray(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    elif img.ndim != 2:
        raise ValueError(f"expected a grey (H, W) or BGR (H, W, 3) image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got {img.dtype}")
    return img


def _aruco_detector(dictionary: str, refinement: str) -> "cv2.aruco.ArucoDetector":
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = _REFINEMENT[refinement]
    return cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), params)


def _detect_markers(gray: np.ndarray, dictionary: str, refinement: str, correct: bool = True,
                    refine_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4, 2) corners and (n,) ids of the markers of ``dictionary`` in ``gray``.

    AprilTag refinement of the whole image is slow (about 0.4 s at 1280x720),
    so markers are found unrefined and the AprilTag pass runs on a crop
    around each marker in ``refine_ids`` (all markers if None); a marker the
    crop pass does not find again keeps its unrefined corners. ``correct``
    removes the refinement's measured constant offset (:func:`detector_offset`).
    """
    first = "none" if refinement == "apriltag" else refinement
    corners, ids, _ = _aruco_detector(dictionary, first).detectMarkers(gray)
    if ids is None or len(ids) == 0:
        return np.empty((0, 4, 2)), np.empty(0, dtype=int)
    corners = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    ids = np.asarray(ids).reshape(-1).astype(int)
    if refinement == "apriltag":
        refiner = _aruco_detector(dictionary, "apriltag")
        rows, cols = gray.shape
        for k in np.flatnonzero(np.ones(len(ids), bool) if refine_ids is None else np.isin(ids, refine_ids)):
            quad = corners[k]
            pad = 10 + 0.3 * np.ptp(quad, axis=0).max()
            x0, y0 = np.maximum(np.floor(quad.min(axis=0) - pad), 0).astype(int)
            x1, y1 = np.minimum(np.ceil(quad.max(axis=0) + pad), [cols, rows]).astype(int)
            c, i, _ = refiner.detectMarkers(np.ascontiguousarray(gray[y0:y1, x0:x1]))
            if i is None:
                continue
            c = np.asarray(c, dtype=np.float64).reshape(-1, 4, 2) + [x0, y0]
            match = [j for j in np.flatnonzero(np.asarray(i).reshape(-1) == ids[k])
                     if np.abs(c[j] - quad).max() < 3.0]  # the same marker, same corner order
            if match:
                corners[k] = c[match[0]] - (np.asarray(detector_offset("apriltag")) if correct else 0.0)
    return corners, ids


@functools.cache
def detector_offset(method: str) -> tuple[float, float]:
    """Mean (dx, dy) pixel offset of a corner detector from OpenCV's pixel-centre convention.

    Measured once per process on a synthetic image with exactly known corners
    (a blurred marker or board placed at whole pixels). Some OpenCV versions
    report AprilTag-refined marker corners and ChArUco corners shifted by
    about +0.5 px (AprilTag's pixel-corner convention; OpenCV issue #25539),
    which biases the distance and tilt of every pose; later versions fixed
    the ChArUco shift. Measuring instead of assuming keeps both right.
    method: a marker corner refinement name (see DetectionLimits) or "charuco".
    Only "apriltag" and "charuco" are corrected: the errors of the other
    refinements depend on blur and are not a constant shift (0 is returned).
    """
    if method not in ("apriltag", "charuco"):
        return (0.0, 0.0)
    cell, margin = 12, 60
    if method == "charuco":
        board = CharucoTarget("DICT_4X4_50", 5, 5, 0.04, 0.03).board
        img = board.generateImage((5 * 4 * cell, 5 * 4 * cell), marginSize=0, borderBits=1)
        img = cv2.GaussianBlur(cv2.copyMakeBorder(img, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
                                                  value=255), (0, 0), 1.0)
        corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(img)
        if ids is None or len(ids) == 0:  # pragma: no cover - the synthetic board always detects
            return (0.0, 0.0)
        truth = np.asarray(board.getChessboardCorners())[np.asarray(ids).reshape(-1), :2] / 0.04 * 4 * cell
        found = np.asarray(corners).reshape(-1, 2)
    else:
        side = 6 * cell
        img = cv2.aruco.generateImageMarker(aruco_dictionary("DICT_4X4_50"), 0, side, borderBits=1)
        img = cv2.GaussianBlur(cv2.copyMakeBorder(img, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
                                                  value=255), (0, 0), 1.0)
        found, ids = _detect_markers(img, "DICT_4X4_50", method, correct=False)
        if len(ids) != 1:  # pragma: no cover
            return (0.0, 0.0)
        truth = np.array([[0.0, 0.0], [side, 0.0], [side, side], [0.0, side]])
        found = found[0]
    # true corners in OpenCV's convention: pixel edges lie at half-integers
    offset = (found - (truth + margin - 0.5)).mean(axis=0)
    return (float(offset[0]), float(offset[1]))


def _refine_charuco(gray: np.ndarray, corners: np.ndarray, marker_corners: np.ndarray,
                    target: CharucoTarget) -> np.ndarray:
    """Re-refine ChArUco corners with ``cornerSubPix`` (converges to the saddle point).

    Removes the detector's version-dependent offset (OpenCV issue #25539). The
    window stays inside the gap between a corner and the nearest marker edge.
    """
    marker_px = np.median(np.linalg.norm(marker_corners - np.roll(marker_corners, 1, axis=1), axis=2))
    gap_px = marker_px / target.marker_length * (target.square_length - target.marker_length) / 2.0
    half = int(np.clip(np.floor(gap_px), 2, 8))
    start = (corners - np.asarray(detector_offset("charuco"))).astype(np.float32).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 1e-3)
    refined = cv2.cornerSubPix(gray, start, (half, half), (-1, -1), criteria).reshape(-1, 2).astype(np.float64)
    moved = np.linalg.norm(refined - start.reshape(-1, 2), axis=1) > 1.5  # ran off: keep the detector's
    refined[moved] = start.reshape(-1, 2)[moved]
    return refined


def _nothing_found(gray: np.ndarray, target: Target) -> DetectionError:
    for name in _HINT_DICTIONARIES:
        if name == target.dictionary:
            continue
        _, ids = _detect_markers(gray, name, "none")
        if len(ids):
            return DetectionError("wrong_dictionary", (
                f"no marker of {target.dictionary} found, but {len(ids)} marker(s) of {name} "
                f"(ids {sorted(set(ids.tolist()))[:10]}); set the target's dictionary to the one it was printed from"))
    return DetectionError("no_target", f"no {target.describe()} found in the image: check that the target "
                                       f"is in view, well lit, not occluded and in focus")


def find_target(image: np.ndarray, target: Target, limits: DetectionLimits = DetectionLimits()) -> Observation:
    """Find the target's markers (and ChArUco corners) in a BGR or grey uint8 image.

    Returns the raw observation with 2D-3D correspondences; raises
    DetectionError (no_target, wrong_dictionary, wrong_id, too_few_corners,
    inconsistent) when there is nothing usable.
    """
    gray = _gray(image)
    if isinstance(target, MarkerTarget):
        corners, ids = _detect_markers(gray, target.dictionary, limits.corner_refinement,
                                       refine_ids=np.array([int(target.marker_id)]))
        obs = Observation(corners, ids)
        if len(ids) == 0:
            raise _nothing_found(gray, target)
        hits = np.flatnonzero(ids == int(target.marker_id))
        if len(hits) == 0:
            raise DetectionError("wrong_id", f"markers {sorted(set(ids.tolist()))} of {target.dictionary} found "
                                             f"but not id {target.marker_id}: check the target's marker_id")
        if len(hits) > 1:
            raise DetectionError("inconsistent", f"marker id {target.marker_id} seen {len(hits)} times: "
                                                 f"only one copy of the marker may be in view")
        obs.image_points = corners[hits[0]]
        obs.object_points = target.object_points
        obs.point_ids = np.arange(4)
        return obs
    if isinstance(target, CharucoTarget):
        params = cv2.aruco.DetectorParameters()
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE  # ChArUco corners are refined themselves
        detector = cv2.aruco.CharucoDetector(target.board, cv2.aruco.CharucoParameters(), params)
        ch_corners, ch_ids, m_corners, m_ids = detector.detectBoard(gray)
        if m_ids is None or len(m_ids) == 0:
            raise _nothing_found(gray, target)
        marker_corners = np.asarray(m_corners, dtype=np.float64).reshape(-1, 4, 2)
        marker_ids = np.asarray(m_ids).reshape(-1).astype(int)
        obs = Observation(marker_corners, marker_ids)
        board_ids = np.asarray(target.board.getIds()).reshape(-1)
        if not np.isin(marker_ids, board_ids).any():
            raise DetectionError("wrong_id", f"markers {sorted(set(marker_ids.tolist()))[:10]} of {target.dictionary} "
                                             f"found but none belongs to the board (ids {board_ids.min()}.."
                                             f"{board_ids.max()}): check first_marker_id")
        n = 0 if ch_ids is None else len(ch_ids)
        if n < limits.min_corners:
            raise DetectionError("too_few_corners", (
                f"only {n} ChArUco corners found ({limits.min_corners} needed): the board is partly "
                f"occluded, out of view or too small; show more of the board"))
        ids = np.asarray(ch_ids).reshape(-1).astype(int)
        obs.image_points = _refine_charuco(gray, np.asarray(ch_corners, dtype=np.float64).reshape(-1, 2),
                                           marker_corners, target)
        obs.object_points = target.corner_object_points[ids]
        obs.point_ids = ids
        return obs
    raise TypeError(f"unknown target type {type(target).__name__}")


def _to_T(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3))[0]
    T[:3, 3] = np.asarray(tvec, dtype=np.float64).reshape(3)
    return T


def estimate_pose(obs: Observation, target: Target, K: np.ndarray, dist: np.ndarray | None = None,
                  limits: DetectionLimits = DetectionLimits()) -> TargetPose:
    """Pose of the target from an observation, checked against ``limits``.

    K: 3x3 intrinsics; dist: OpenCV distortion coefficients (None = none).
    Raises DetectionError (too_small, too_oblique, ambiguous, inconsistent).
    """
    K = camera_matrix(K)
    dist = np.zeros(5) if dist is None else np.asarray(dist, dtype=np.float64).reshape(-1)
    img = np.ascontiguousarray(obs.image_points, dtype=np.float64).reshape(-1, 1, 2)
    obj = np.ascontiguousarray(obs.object_points, dtype=np.float64).reshape(-1, 1, 3)
    ambiguity = 0.0
    if isinstance(target, MarkerTarget):
        quad = obs.image_points
        side_px = float(np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1).min())
        if side_px < limits.min_side_px:
            raise DetectionError("too_small", f"marker side is {side_px:.1f} px (at least {limits.min_side_px:g} "
                                              f"needed): move the camera closer or print a larger marker")
        n, rvecs, tvecs, errs = cv2.solvePnPGeneric(obj, img, K, dist, flags=cv2.SOLVEPNP_IPPE_SQUARE)
        errs = np.asarray(errs).reshape(-1)
        best = int(np.argmin(errs))
        if n > 1:
            other = errs[1 - best]
            ambiguity = float(errs[best] / other) if other > 0 else 1.0
        T = _to_T(rvecs[best], tvecs[best])
    else:
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, dist, flags=cv2.SOLVEPNP_IPPE)
        if not ok:
            raise DetectionError("inconsistent", "board PnP failed: the corners do not fit the board geometry")
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, dist, rvec, tvec)
        T = _to_T(rvec, tvec)
        side_px = float(K[0, 0] * target.square_length / max(T[2, 3], 1e-9))
        if side_px < limits.min_side_px:
            raise DetectionError("too_small", f"board squares are {side_px:.1f} px (at least {limits.min_side_px:g} "
                                              f"needed): move the camera closer or use a larger board")
    proj, _ = cv2.projectPoints(obj, cv2.Rodrigues(T[:3, :3])[0], T[:3, 3], K, dist)
    residual = np.linalg.norm(proj.reshape(-1, 2) - obs.image_points.reshape(-1, 2), axis=1)
    rms, worst = float(np.sqrt(np.mean(residual ** 2))), float(residual.max())
    t = T[:3, 3]
    distance = float(np.linalg.norm(t))
    cos_view = float(np.dot(T[:3, 2], -t / distance))
    if cos_view <= 0 or t[2] <= 0:
        raise DetectionError("inconsistent", "the estimated pose shows the back of the target: the detection "
                                             "is mirrored or wrong")
    obliquity = float(np.degrees(np.arccos(min(1.0, cos_view))))
    if obliquity > limits.max_obliquity_deg:
        raise DetectionError("too_oblique", f"target seen at {obliquity:.1f} deg from its normal (at most "
                                            f"{limits.max_obliquity_deg:g}): view it more frontally")
    if ambiguity > limits.max_ambiguity:
        raise DetectionError("ambiguous", (
            f"the marker's tilt is ambiguous (IPPE error ratio {ambiguity:.2f} > {limits.max_ambiguity:g}): it is "
            f"seen almost face-on or too small; tilt the camera 15-40 deg, move closer or use a ChArUco board"))
    if rms > limits.max_reprojection_px:
        raise DetectionError("inconsistent", (
            f"reprojection error {rms:.2f} px RMS (max {worst:.2f}) exceeds {limits.max_reprojection_px:g} px: "
            f"wrong intrinsics or target size, motion blur, or a bent target"))
    return TargetPose(T, rms, worst, len(residual), distance, obliquity, side_px, ambiguity, obs)


def detect_target(image: np.ndarray, target: Target, K: np.ndarray, dist: np.ndarray | None = None,
                  limits: DetectionLimits = DetectionLimits()) -> TargetPose:
    """Find the target in a BGR/grey uint8 image and return its checked pose (T_cam<-target).

    Raises DetectionError (a ValueError) with the reason when the view is unusable.
    """
    return estimate_pose(find_target(image, target, limits), target, K, dist, limits)


def draw_detection(image: np.ndarray, target: Target, K: np.ndarray, dist: np.ndarray | None = None,
                   observation: Observation | None = None, pose: TargetPose | None = None,
                   message: str = "") -> np.ndarray:
    """A BGR copy of ``image`` with markers, corners, the target axes and a status line drawn.

    Markers: green outlines with their ids; ChArUco corners: blue dots; axes:
    x red, y green, z blue, half the target's shorter side long. Drawn with
    plain OpenCV primitives (the aruco drawing helpers differ across versions).
    """
    out = np.asarray(image)
    out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR) if out.ndim == 2 else np.ascontiguousarray(out[..., :3]).copy()
    if observation is not None and len(observation.marker_ids):
        quads = np.rint(observation.marker_corners).astype(np.int32)
        cv2.polylines(out, list(quads.reshape(-1, 4, 1, 2)), True, (0, 255, 0), 2, cv2.LINE_AA)
        for quad, marker_id in zip(quads, observation.marker_ids):
            cv2.circle(out, tuple(int(v) for v in quad[0]), 4, (0, 0, 255), -1)  # first corner
            cv2.putText(out, str(int(marker_id)), tuple(int(v) for v in quad.mean(axis=0)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1, cv2.LINE_AA)
        if isinstance(target, CharucoTarget):
            for x, y in np.rint(observation.image_points).astype(int):
                cv2.circle(out, (int(x), int(y)), 3, (255, 0, 0), -1)
    if pose is not None:
        length = 0.5 * min(target.size)
        axes = np.array([[0.0, 0, 0], [length, 0, 0], [0, length, 0], [0, 0, length]])
        d = np.zeros(5) if dist is None else np.asarray(dist, dtype=np.float64)
        pts, _ = cv2.projectPoints(axes, cv2.Rodrigues(pose.T_cam_target[:3, :3])[0], pose.T_cam_target[:3, 3],
                                   camera_matrix(K), d)
        o, *ends = [tuple(int(v) for v in p) for p in np.rint(pts.reshape(-1, 2))]
        for end, colour in zip(ends, ((0, 0, 255), (0, 255, 0), (255, 0, 0))):
            cv2.line(out, o, end, colour, 3, cv2.LINE_AA)
        message = message or (f"d={pose.distance_m:.3f} m  tilt={pose.obliquity_deg:.0f} deg  "
                              f"reproj={pose.reprojection_rms_px:.2f} px")
    if message:
        colour = (0, 200, 0) if pose is not None else (0, 0, 255)
        cv2.putText(out, message, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, 2, cv2.LINE_AA)
    return out
