"""graspnet_ros.calibration on synthetic renders with known ground truth.

Images come from graspnet_ros.calibration.render (the printable target warped
through the D435 colour intrinsics, supersampled, blurred, with noise), so
every pose, hand-eye mount and fused cloud is compared with the truth.
"""

import io
import re
from contextlib import redirect_stderr, redirect_stdout

import cv2
import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from graspnet_ros import cli
from graspnet_ros._native import import_open3d
from graspnet_ros.calibration.config import CalibrationConfig, default_config_path, load_config
from graspnet_ros.calibration.detect import (
    DetectionError,
    DetectionLimits,
    detect_target,
    detector_offset,
    draw_detection,
    find_target,
)
from graspnet_ros.calibration.fusion import DepthView, fuse_views, nearest_distances
from graspnet_ros.calibration.handeye import HandEyeLimits, check_motion, opencv_methods, park_martin, solve_hand_eye
from graspnet_ros.calibration.poses import (
    cam0_wrt_table,
    camera_poses_from_targets,
    invert,
    make_transform,
    pose_error,
    save_camera_poses,
)
from graspnet_ros.calibration.render import D435_K, D435_SIZE, look_at, render_target, sample_view_poses
from graspnet_ros.calibration.result import CalibrationResult, load_calibration, save_calibration
from graspnet_ros.calibration.targets import CharucoTarget, MarkerTarget, target_from_config

MARKER = MarkerTarget("DICT_5X5_100", 7, 0.10)
BOARD = CharucoTarget("DICT_5X5_100", 7, 5, 0.03, 0.022)


def view(distance, tilt_deg, azimuth_deg, roll_deg=0.0):
    """T_cam<-target of a camera ``distance`` m from the target centre, tilted from its normal."""
    t, a = np.deg2rad(tilt_deg), np.deg2rad(azimuth_deg)
    eye = distance * np.array([np.sin(t) * np.cos(a), np.sin(t) * np.sin(a), np.cos(t)])
    T = look_at(eye, np.zeros(3), up=(0.0, -1.0, 0.0))
    T[:3, :3] = T[:3, :3] @ Rotation.from_euler("z", roll_deg, degrees=True).as_matrix()
    return invert(T)


# --------------------------------------------------------------------------- targets and config

def test_target_config_and_geometry():
    t = target_from_config({"type": "charuco", "dictionary": "DICT_5X5_100", "squares_x": 7, "squares_y": 5,
                            "square_length": 0.03, "marker_length": 0.022})
    assert t == BOARD and t.size == pytest.approx((0.21, 0.15))
    pts = t.corner_object_points  # target frame: centred, y up, z = 0
    assert pts.shape == (24, 3) and np.allclose(pts.mean(axis=0), 0.0) and np.allclose(pts[:, 2], 0.0)
    assert pts[0, 1] > pts[-1, 1]  # corner 0 is in the top row as printed: y up
    m = target_from_config({"type": "aruco", "dictionary": "DICT_5X5_100", "marker_id": 7, "marker_length": 0.1})
    assert m == MARKER
    assert np.allclose(m.object_points[0], [-0.05, 0.05, 0.0])  # top-left first, as detected
    bad = [({"type": "aruco", "dictionary": "DICT_9X9_1", "marker_id": 0, "marker_length": 0.1}, "unknown ArUco"),
           ({"type": "aruco", "dictionary": "DICT_4X4_50", "marker_id": 50, "marker_length": 0.1}, "not in"),
           ({"type": "aruco", "dictionary": "DICT_4X4_50", "marker_id": 0, "marker_length": 100}, "metres"),
           ({"type": "aruco", "dictionary": "DICT_4X4_50", "marker_length": 0.1}, "lacks the key 'marker_id'"),
           ({"type": "aruco", "dictionary": "DICT_4X4_50", "marker_id": 1, "marker_length": 0.1, "x": 1}, "unknown"),
           ({"type": "charuco", "dictionary": "DICT_4X4_50", "squares_x": 7, "squares_y": 5, "square_length": 0.02,
             "marker_length": 0.03}, "smaller than"),
           ({"type": "charuco", "dictionary": "DICT_4X4_50", "squares_x": 12, "squares_y": 12,
             "square_length": 0.03, "marker_length": 0.02}, "larger dictionary"),
           ({"type": "apriltag"}, "must be 'aruco' or 'charuco'")]
    for cfg, msg in bad:
        with pytest.raises(ValueError, match=msg):
            target_from_config(cfg)


def test_shipped_config_loads():
    cfg = load_config(default_config_path())
    assert cfg.mode in ("eye-in-hand", "eye-to-hand", "views")
    assert cfg.frame_pair("eye-to-hand") == (cfg.frames["base"], cfg.frames["camera"])
    assert cfg.frame_pair("eye-in-hand") == (cfg.frames["flange"], cfg.frames["camera"])
    with pytest.raises(ValueError, match="unknown top-level keys"):
        CalibrationConfig.from_dict({"target": {"type": "aruco", "dictionary": "DICT_4X4_50", "marker_id": 0,
                                                "marker_length": 0.1}, "targte": {}})
    with pytest.raises(FileNotFoundError):
        load_config("/nonexistent/calibration.yaml")


# --------------------------------------------------------------------------- detection and pose

def test_corner_convention_matches_projection():
    """Detected corners sit on the projected model corners (no half-pixel bias)."""
    T = view(0.5, 20, 30, 10)
    for target, refinement in ((BOARD, "apriltag"), (MARKER, "apriltag")):
        obs = find_target(render_target(target, T, noise_std=0.0, blur_sigma=0.8), target,
                          DetectionLimits(corner_refinement=refinement))
        proj = cv2.projectPoints(obs.object_points, cv2.Rodrigues(T[:3, :3])[0], T[:3, 3], D435_K, None)[0]
        bias = (obs.image_points - proj.reshape(-1, 2)).mean(axis=0)
        assert np.abs(bias).max() < 0.1, (target.kind, bias)
    assert np.all(np.abs(detector_offset("subpix")) == 0.0)


@pytest.mark.parametrize("target", [MARKER, BOARD], ids=["marker", "charuco"])
def test_pose_accuracy_on_renders(target):
    """Poses at 0.35-0.8 m with noise and blur: within 2 mm everywhere, 0.5 deg at 0.5 m."""
    errors = []
    for k, (d, tilt, az, roll) in enumerate([(0.5, 15, 0, 0), (0.5, 25, 90, 30), (0.5, 35, 200, -40),
                                             (0.5, 20, 300, 170), (0.35, 30, 45, 90), (0.8, 25, 135, 10)]):
        T = view(d, tilt, az, roll)
        pose = detect_target(render_target(target, T, noise_std=2.0, blur_sigma=0.7, rng=k), target, D435_K)
        rot, trans = pose_error(pose.T_cam_target, T)
        errors.append((d, rot, trans * 1000))
        assert pose.reprojection_rms_px < 0.5
        assert pose.distance_m == pytest.approx(d, abs=0.003)
        assert pose.obliquity_deg == pytest.approx(tilt, abs=1.0)
    e = np.array(errors)
    assert e[:, 2].max() < 2.0, e
    assert e[e[:, 0] == 0.5, 1].max() < 0.5, e


def test_rejections_name_the_reason():
    T = view(0.5, 20, 30)
    blank = np.full((D435_SIZE[1], D435_SIZE[0], 3), 120, np.uint8)
    with pytest.raises(DetectionError, match="no ArUco marker") as exc:
        detect_target(blank, MARKER, D435_K)
    assert exc.value.reason == "no_target"

    img = render_target(MARKER, T, rng=1)
    other = MarkerTarget("DICT_4X4_50", 7, 0.10)
    with pytest.raises(DetectionError, match="DICT_5X5_1000") as exc:
        detect_target(img, other, D435_K)
    assert exc.value.reason == "wrong_dictionary"
    with pytest.raises(DetectionError, match="not id 8") as exc:
        detect_target(img, MarkerTarget("DICT_5X5_100", 8, 0.10), D435_K)
    assert exc.value.reason == "wrong_id"

    # a strip painted across the marker: it is not detected, nothing is guessed
    corners = find_target(img, MARKER).image_points
    occluded = img.copy()
    c = corners.mean(axis=0).astype(int)
    occluded[c[1] - 15:c[1] + 15, :c[0] + 10] = 200
    with pytest.raises(DetectionError) as exc:
        detect_target(occluded, MARKER, D435_K)
    assert exc.value.reason == "no_target"

    # most of the board hidden: too few ChArUco corners
    board_img = render_target(BOARD, T, rng=2)
    hidden = board_img.copy()
    hidden[:, :int(find_target(board_img, BOARD).image_points[:, 0].max()) - 40] = 180
    with pytest.raises(DetectionError, match="ChArUco corners found") as exc:
        detect_target(hidden, BOARD, D435_K)
    assert exc.value.reason == "too_few_corners"

    with pytest.raises(DetectionError, match="from its normal") as exc:
        detect_target(render_target(MARKER, view(0.5, 72, 0), rng=3), MARKER, D435_K)
    assert exc.value.reason == "too_oblique"
    with pytest.raises(DetectionError, match="move the camera closer") as exc:
        detect_target(render_target(MarkerTarget("DICT_5X5_100", 7, 0.03), view(1.6, 10, 0), rng=4),
                      MarkerTarget("DICT_5X5_100", 7, 0.03), D435_K, limits=DetectionLimits(min_side_px=20))
    assert exc.value.reason == "too_small"
    # wrong intrinsics: the pose does not explain the corners
    wrong_K = D435_K.copy()
    wrong_K[0, 0] *= 1.15
    with pytest.raises(DetectionError, match="reprojection error") as exc:
        detect_target(board_img, BOARD, wrong_K)
    assert exc.value.reason == "inconsistent"


def test_debug_drawing():
    img = render_target(BOARD, view(0.5, 20, 30), rng=5)
    obs = find_target(img, BOARD)
    pose = detect_target(img, BOARD, D435_K)
    out = draw_detection(img, BOARD, D435_K, None, obs, pose)
    assert out.shape == img.shape and (out != img).any(axis=2).sum() > 1000
    assert (out[..., 2].astype(int) - out[..., 1] > 100).any()  # coloured axes / markers drawn


# --------------------------------------------------------------------------- per-view camera poses

def test_camera_poses_relative_to_first_view(tmp_path):
    T_true = [view(0.5, 15, 0), view(0.6, 30, 120, 40), view(0.45, 25, 250, -30)]
    T_obs = np.stack([detect_target(render_target(BOARD, T, rng=i), BOARD, D435_K).T_cam_target
                      for i, T in enumerate(T_true)])
    poses = camera_poses_from_targets(T_obs)
    assert np.allclose(poses[0], np.eye(4))
    for i in range(3):
        rot, trans = pose_error(poses[i], T_true[0] @ invert(T_true[i]))  # T_cam0<-cam_i
        assert rot < 0.2 and trans < 0.001
    table = cam0_wrt_table(T_obs[0])  # T_table<-cam0: the camera sits 0.5 m above the table plane
    assert table[2, 3] == pytest.approx(0.5 * np.cos(np.deg2rad(15)), abs=0.002)
    assert table[:3, 2] @ np.array([0, 0, -1.0]) > 0.9  # and looks down at it
    p1, p2 = save_camera_poses(tmp_path / "scene", T_obs)
    assert np.allclose(np.load(p1), poses, atol=1e-6) and np.allclose(np.load(p2), table, atol=1e-6)
    with pytest.raises(ValueError, match="proper rotation"):
        camera_poses_from_targets(np.stack([np.eye(4), np.diag([1.0, 1.0, -1.0, 1.0])]))


# --------------------------------------------------------------------------- hand-eye

X_EYE_IN_HAND = make_transform(Rotation.from_euler("xyz", [4, -3, 90], degrees=True).as_matrix(),
                               [0.03, -0.06, 0.05])  # T_flange<-cam
X_EYE_TO_HAND = make_transform(Rotation.from_euler("xyz", [-120, 2, 30], degrees=True).as_matrix(),
                               [0.8, 0.2, 0.6])  # T_base<-cam


def eye_in_hand_data(n=10, seed=5, rendered=True):
    """Flange poses and target observations for a camera on the arm looking at a fixed board."""
    rng = np.random.default_rng(seed)
    T_base_target = make_transform(Rotation.from_euler("z", 20, degrees=True).as_matrix(), [0.5, 0.1, 0.0])
    C_true = sample_view_poses(n, (0.4, 0.7), 35, max_roll_deg=60, rng=rng)
    flange = T_base_target @ invert(C_true) @ invert(X_EYE_IN_HAND)
    if not rendered:
        return flange, C_true
    C = np.stack([detect_target(render_target(BOARD, c, rng=i), BOARD, D435_K).T_cam_target
                  for i, c in enumerate(C_true)])
    return flange, C


def perturb(T, rot_deg, trans_m, rng):
    d = [make_transform(Rotation.from_rotvec(rng.normal(size=3) * np.deg2rad(rot_deg) / np.sqrt(3)).as_matrix(),
                        rng.normal(size=3) * trans_m / np.sqrt(3)) for _ in range(len(T))]
    return T @ np.stack(d)


def test_eye_in_hand_from_rendered_images():
    flange, C = eye_in_hand_data()
    res = solve_hand_eye(flange, C, "eye-in-hand")
    rot, trans = pose_error(res.transform, X_EYE_IN_HAND)
    assert res.ok and rot < 0.3 and trans < 0.002, (rot, trans, res.table())
    names = [m.name for m in res.methods]
    assert set(opencv_methods()) <= set(names) and "park-numpy" in names
    assert res.translation_residuals_mm.shape == (10,) and res.best.translation_rms_mm < 1.0
    assert "<- chosen" in res.table() and res.method in res.table()


def test_eye_to_hand_with_noisy_poses_and_numpy_fallback():
    rng = np.random.default_rng(11)
    Z = make_transform(Rotation.from_euler("x", 180, degrees=True).as_matrix(), [0.0, 0.0, 0.05])  # T_flange<-target
    C_true = sample_view_poses(10, (0.4, 0.8), 40, max_roll_deg=90, rng=rng)
    flange = X_EYE_TO_HAND @ C_true @ invert(Z)
    C = perturb(C_true, 0.05, 0.0003, rng)  # detection noise
    flange_noisy = perturb(flange, 0.02, 0.0002, rng)  # robot repeatability
    for methods in (None, ("park-numpy",)):
        res = solve_hand_eye(flange_noisy, C, "eye-to-hand", methods=methods)
        rot, trans = pose_error(res.transform, X_EYE_TO_HAND)
        assert res.ok and rot < 0.3 and trans < 0.002, (methods, rot, trans)
        rot_z, trans_z = pose_error(res.target_transform, Z)
        assert rot_z < 0.3 and trans_z < 0.002
    # the numpy Park-Martin solver agrees with OpenCV's on exact data
    G = invert(flange)
    X_np = park_martin(G, C_true)
    assert np.allclose(X_np, X_EYE_TO_HAND, atol=1e-6)
    if "park" in opencv_methods():
        exact = solve_hand_eye(flange, C_true, "eye-to-hand", methods=("park",), refine=False)
        assert np.allclose(exact.transform, X_np, atol=1e-5)


def test_wrong_mode_fails_with_a_hint():
    flange, C = eye_in_hand_data(rendered=False)
    res = solve_hand_eye(flange, C, "eye-to-hand")
    assert not res.ok and "residuals too large" in res.failure
    assert any("eye-in-hand" in w for w in res.warnings)


def test_bad_hand_eye_input_is_rejected():
    flange, C = eye_in_hand_data(rendered=False)
    with pytest.raises(ValueError, match="mismatched counts: 9 robot poses but 10"):
        solve_hand_eye(flange[:9], C)
    with pytest.raises(ValueError, match="at least 3"):
        solve_hand_eye(flange[:2], C[:2])
    with pytest.raises(ValueError, match="do not correspond"):
        solve_hand_eye(flange[::-1], C)
    mm = flange.copy()
    mm[:, :3, 3] *= 1000.0
    with pytest.raises(ValueError, match="millimetres"):
        solve_hand_eye(mm, C)
    with pytest.raises(ValueError, match="mode must be"):
        solve_hand_eye(flange, C, "eye-on-hand")
    with pytest.raises(ValueError, match="unknown or unavailable"):
        solve_hand_eye(flange, C, methods=("magic",))
    # all robot rotations about one (vertical) axis: planar motion, offset along z unobservable
    T_base_target = make_transform(np.eye(3), [0.5, 0.0, 0.0])
    yaw = np.deg2rad(np.linspace(-40, 40, 8))
    flange_planar = np.stack([make_transform(Rotation.from_euler("zyx", [a, 0, 180]).as_matrix(),
                                             [0.45 + 0.05 * np.cos(a), 0.1 * np.sin(a), 0.55]) for a in yaw])
    C_planar = invert(flange_planar @ X_EYE_IN_HAND) @ T_base_target
    with pytest.raises(ValueError, match="all rotations are about one axis"):
        solve_hand_eye(flange_planar, C_planar)
    # barely rotated poses
    small = np.stack([make_transform(Rotation.from_euler("xyz", [0.1 * k, -0.1 * k, 0.2 * k], degrees=True)
                                     .as_matrix(), [0.4 + 0.02 * k, 0.0, 0.5]) for k in range(6)])
    with pytest.raises(ValueError, match="too small rotation spread"):
        check_motion(small, invert(small @ X_EYE_IN_HAND) @ T_base_target)
    with pytest.raises(ValueError, match="at least 3"):
        HandEyeLimits(min_samples=2)


# --------------------------------------------------------------------------- results on disk

def solved_result(n=10, noise_deg=0.03, seed=3):
    rng = np.random.default_rng(seed)
    flange, C = eye_in_hand_data(n, rendered=False)
    he = solve_hand_eye(flange, perturb(C, noise_deg, noise_deg * 0.01, rng), "eye-in-hand")
    return CalibrationResult.from_hand_eye(he, "tool0", "camera_color_optical_frame", "123456")


def test_result_roundtrip_and_safe_saving(tmp_path):
    path = tmp_path / "calib" / "camera.yaml"
    good = solved_result(noise_deg=0.02)
    save_calibration(good, path)
    loaded = load_calibration(path)
    assert np.allclose(loaded.transform, good.transform, atol=1e-12)
    assert loaded.parent_frame == "tool0" and loaded.camera_serial == "123456" and loaded.mode == "eye-in-hand"
    assert re.match(r"\d{4}-\d\d-\d\dT", loaded.date) and loaded.methods and loaded.n_samples == 10
    data = yaml.safe_load(path.read_text())
    q = np.array(data["quaternion_xyzw"])
    assert np.allclose(Rotation.from_quat(q).as_matrix(), good.transform[:3, :3])
    assert np.allclose(data["translation"], good.transform[:3, 3])
    original = path.read_bytes()

    worse = solved_result(noise_deg=0.3, seed=4)
    assert worse.score > good.score
    with pytest.raises(ValueError, match="better than the new one"):
        save_calibration(worse, path)
    failed = solved_result()
    failed.ok, failed.failure = False, "residuals too large"
    with pytest.raises(ValueError, match="refusing to save a failed calibration"):
        save_calibration(failed, path, force=True)
    other = solved_result(noise_deg=0.001)
    other.parent_frame = "base_link"
    with pytest.raises(ValueError, match="different calibration"):
        save_calibration(other, path)
    assert path.read_bytes() == original  # nothing saved over the good calibration
    assert sorted(p.name for p in path.parent.iterdir()) == ["camera.yaml"]  # no temp files left

    save_calibration(worse, path, force=True)  # explicit replacement keeps a backup
    assert path.with_name("camera.yaml.bak").read_bytes() == original
    assert load_calibration(path).score == pytest.approx(worse.score)
    better = solved_result(noise_deg=0.001)
    save_calibration(better, path)
    assert load_calibration(path).score < worse.score

    edited = yaml.safe_load(path.read_text())
    edited["translation"][0] += 0.01
    path.write_text(yaml.safe_dump(edited))
    with pytest.raises(ValueError, match="disagree"):
        load_calibration(path)
    with pytest.raises(FileNotFoundError):
        load_calibration(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- multi-view fusion

def box_scene(o3d):
    """A table slab and a few boxes (metres, table top at z = 0) in an Open3D ray-casting scene."""
    meshes = [o3d.geometry.TriangleMesh.create_box(0.6, 0.6, 0.01).translate((-0.3, -0.3, -0.01))]
    g = np.random.default_rng(3)
    for _ in range(7):
        sx, sy, sz = g.uniform(0.04, 0.12, 3)
        m = o3d.geometry.TriangleMesh.create_box(sx, sy, sz).translate((-sx / 2, -sy / 2, 0.0))
        m.rotate(Rotation.from_euler("xyz", [g.uniform(-20, 20), g.uniform(-20, 20), g.uniform(0, 90)],
                                     degrees=True).as_matrix(), center=(0, 0, 0))
        meshes.append(m.translate((*g.uniform(-0.2, 0.2, 2), 0.01)))
    scene = o3d.t.geometry.RaycastingScene()
    for m in meshes:
        scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(m))
    return scene


def ray_cast_depth(o3d, scene, K, size, T_world_cam, sigma, rng):
    """uint16 depth (mm) seen by a pinhole camera at T_world_cam, with Gaussian noise of ``sigma`` m."""
    w, h = size
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((h, w))], axis=-1).reshape(-1, 3)
    dirs = d @ T_world_cam[:3, :3].T  # z-component 1 in the camera: t_hit is the z-depth
    rays = np.hstack([np.broadcast_to(T_world_cam[:3, 3], dirs.shape), dirs]).astype(np.float32)
    z = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy().reshape(h, w).astype(np.float64)
    z[~np.isfinite(z)] = 0.0
    z = np.where(z > 0, z + rng.normal(0.0, sigma, z.shape), 0.0)
    return np.round(z * 1000.0).astype(np.uint16)


def test_fusion_aligns_views_to_noise_level():
    o3d = import_open3d()
    scene = box_scene(o3d)
    K = D435_K.copy()
    K[:2] *= 0.25  # the D435 colour camera binned to 320x180 (keeps the test fast)
    rng = np.random.default_rng(0)
    sigma = 0.001
    T_world_cam = [look_at(e, (0.0, 0.0, 0.03)) for e in [(0.0, -0.35, 0.5), (0.35, 0.0, 0.45), (-0.3, 0.2, 0.5)]]
    views = [DepthView(ray_cast_depth(o3d, scene, K, (320, 180), T, sigma, rng), K, invert(T_world_cam[0]) @ T)
             for T in T_world_cam]

    def surface_error(points):  # median distance to the true surfaces (m) of points in the camera-0 frame
        pts = points[::3] @ T_world_cam[0][:3, :3].T + T_world_cam[0][:3, 3]
        return float(np.median(scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()))

    exact = fuse_views(views)
    assert surface_error(exact.points) < sigma
    for points in exact.view_points:  # every view lies on the true surfaces to within the noise
        assert surface_error(points) < sigma

    errors = [make_transform(Rotation.from_rotvec(np.deg2rad(1.0) * np.array(axis) / np.sqrt(2)).as_matrix(), t)
              for axis, t in (((1, 1, 0), (0.005, -0.004, 0.003)), ((0, 1, 1), (-0.004, 0.005, -0.003)))]
    shaken = [views[0]] + [DepthView(v.depth, v.K, v.T_ref_cam @ e) for v, e in zip(views[1:], errors)]
    loose = fuse_views(shaken)
    assert surface_error(np.concatenate(loose.view_points[1:])) > 2 * sigma
    gap = [np.median(nearest_distances(r.view_points[1][::5], r.view_points[0])) for r in (exact, loose)]
    assert gap[1] > gap[0] + 0.5 * sigma  # view 1 drifts off view 0
    refined = fuse_views(shaken, icp=True)
    assert surface_error(np.concatenate(refined.view_points[1:])) < 1.2 * surface_error(
        np.concatenate(exact.view_points[1:]))
    for i in (1, 2):
        rot, trans = pose_error(refined.poses[i], views[i].T_ref_cam)
        assert rot < 0.3 and trans < 0.002, (i, rot, trans)
        assert refined.fitness[i] > 0.5
    assert np.allclose(refined.poses[0], views[0].T_ref_cam)
    with pytest.raises(ValueError, match="no views"):
        fuse_views([])


# --------------------------------------------------------------------------- command line

def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def write_config(path, mode="eye-in-hand"):
    cfg = yaml.safe_load(default_config_path().read_text())
    cfg["target"] = {"type": "charuco", "dictionary": BOARD.dictionary, "squares_x": 7, "squares_y": 5,
                     "square_length": 0.03, "marker_length": 0.022}
    cfg["mode"] = mode
    path.write_text(yaml.safe_dump(cfg))
    return path


def calibrate_rendered(tmp_path, C_true, flange, mode: str, out_name: str):
    """Render the board at each T_cam<-target of ``C_true``, save camK and the flange poses, run
    ``graspnet-ros calibrate --mode MODE``; returns the calibration file it wrote."""
    images = tmp_path / "images"
    images.mkdir()
    for i, c in enumerate(C_true):
        cv2.imwrite(str(images / f"view_{i:02d}.png"), render_target(BOARD, c, rng=i))
    np.save(tmp_path / "camK.npy", D435_K)
    np.save(tmp_path / "flange.npy", flange)
    out = tmp_path / out_name
    code, _, stderr = run_cli("calibrate", "--images", images, "--camK", tmp_path / "camK.npy", "--robot-poses",
                              tmp_path / "flange.npy", "--mode", mode, "--target",
                              write_config(tmp_path / "cfg.yaml", mode), "--out", out)
    assert code == 0, stderr
    return out


def test_calibrate_command(tmp_path):
    flange, C_true = eye_in_hand_data(8, seed=21, rendered=False)
    images = tmp_path / "images"
    images.mkdir()
    for i, c in enumerate(C_true):
        cv2.imwrite(str(images / f"view_{i:02d}.png"), render_target(BOARD, c, rng=i))
    cv2.imwrite(str(images / "view_99_empty.png"), np.full((720, 1280, 3), 90, np.uint8))
    np.save(tmp_path / "camK.npy", D435_K)
    poses_yaml = {"poses": [{"image": f"view_{i:02d}.png", "translation": f[:3, 3].tolist(),
                             "quaternion_xyzw": Rotation.from_matrix(f[:3, :3]).as_quat().tolist()}
                            for i, f in enumerate(flange)]}
    poses_yaml["poses"].append({"image": "view_99_empty.png", "matrix": np.eye(4).tolist()})
    (tmp_path / "poses.yaml").write_text(yaml.safe_dump(poses_yaml))
    config = write_config(tmp_path / "calibration.yaml")
    out = tmp_path / "calib.yaml"
    code, stdout, stderr = run_cli("calibrate", "--images", images, "--camK", tmp_path / "camK.npy",
                                   "--robot-poses", tmp_path / "poses.yaml", "--target", config, "--out", out,
                                   "--camera-serial", "D435-1")
    assert code == 0, stderr
    assert "view_99_empty.png" in stdout and "rejected (no_target)" in stdout and "8 of 9 views accepted" in stdout
    assert "trans rms" in stdout and "<- chosen" in stdout
    result = load_calibration(out)
    rot, trans = pose_error(result.transform, X_EYE_IN_HAND)
    assert rot < 0.3 and trans < 0.002 and result.camera_serial == "D435-1"
    good = out.read_bytes()

    # degenerate or mismatched input: a clear error and the good calibration stays
    np.save(tmp_path / "short.npy", flange[:5])
    code, _, stderr = run_cli("calibrate", "--images", images, "--camK", tmp_path / "camK.npy",
                              "--robot-poses", tmp_path / "short.npy", "--target", config, "--out", out)
    assert code == 2 and "mismatched counts: 9 images" in stderr
    shuffled = np.concatenate([flange[::-1], np.eye(4)[None]])
    np.save(tmp_path / "shuffled.npy", shuffled)
    code, _, stderr = run_cli("calibrate", "--images", images, "--camK", tmp_path / "camK.npy",
                              "--robot-poses", tmp_path / "shuffled.npy", "--target", config, "--out", out)
    assert code == 2 and "do not correspond" in stderr
    wrong_dict = tmp_path / "wrong.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["target"]["dictionary"] = "DICT_4X4_100"
    wrong_dict.write_text(yaml.safe_dump(cfg))
    code, stdout, stderr = run_cli("calibrate", "--images", images, "--camK", tmp_path / "camK.npy",
                                   "--robot-poses", tmp_path / "poses.yaml", "--target", wrong_dict, "--out", out)
    assert code == 2 and "wrong_dictionary" in stdout and "0 of 9 views accepted" in stdout
    assert out.read_bytes() == good

    # views mode: camera poses per image (GraspNet files) next to the result
    code, stdout, stderr = run_cli("calibrate", "--images", images, "--camK", tmp_path / "camK.npy", "--mode",
                                   "views", "--target", config, "--out", tmp_path / "scene" / "views.yaml")
    assert code == 0, stderr
    poses = np.load(tmp_path / "scene" / "camera_poses.npy")
    assert poses.shape == (8, 4, 4)
    rot, trans = pose_error(poses[3], C_true[0] @ invert(C_true[3]))
    assert rot < 0.2 and trans < 0.001


def test_markers_command(tmp_path):
    config = write_config(tmp_path / "calibration.yaml")
    code, stdout, stderr = run_cli("markers", "--target", config, "--out", tmp_path / "board.pdf")
    assert code == 0, stderr
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", (tmp_path / "board.pdf").read_bytes())
    w_mm, h_mm = (float(v) / 72 * 25.4 for v in box.groups())
    assert w_mm == pytest.approx(210 + 30, abs=0.01) and h_mm == pytest.approx(150 + 45, abs=0.01)
    code, stdout, stderr = run_cli("markers", "--target", config, "--out", tmp_path / "board.png", "--dpi", 200)
    assert code == 0, stderr
    png = (tmp_path / "board.png").read_bytes()
    ppm = int.from_bytes(png[png.index(b"pHYs") + 4:][:4], "big")
    assert ppm == round(200 / 0.0254)
    img = cv2.imread(str(tmp_path / "board.png"), cv2.IMREAD_GRAYSCALE)
    obs = find_target(img, BOARD)  # the written board is detectable, with every inner corner
    assert len(obs.point_ids) == 24
    square_px = np.median(np.diff(obs.image_points[:6, 0]))
    assert square_px / 200 * 25.4 == pytest.approx(30.0, abs=0.1)  # true size at the stated dpi
    code, _, stderr = run_cli("markers", "--target", config, "--out", tmp_path / "board.svg")
    assert code == 2 and ".pdf or .png" in stderr


# --------------------------------------------------------------------------- calibration drives the arm

def test_calibrate_output_drives_the_executor_and_the_mount(tmp_path):
    """Eye-to-hand: `graspnet-ros calibrate` on rendered board images; the executor (sim arm),
    the camera mount (/tf_static) read that file unchanged, and the gripper closes on the box."""
    import trimesh

    from graspnet_ros.calibration.result import base_from_camera, read_calibration
    from graspnet_ros.cameras.mount import CameraMount
    from graspnet_ros.grasp import GraspGroup
    from graspnet_ros.robot.executor import ExecutorConfig, GraspExecutor, load_calibration
    from graspnet_ros.robot.sim import SimArm, SimObject

    T_base_cam = make_transform(np.diag([1.0, -1.0, -1.0]), [0.1, 0.05, 0.6])  # looking straight down
    Z = make_transform(Rotation.from_euler("x", 180, degrees=True).as_matrix(), [0.0, 0.0, 0.05])  # T_flange<-target
    rng = np.random.default_rng(4)
    C_true = sample_view_poses(8, (0.4, 0.7), 35, max_roll_deg=60, rng=rng)  # T_cam<-target
    flange = T_base_cam @ C_true @ invert(Z)
    out = calibrate_rendered(tmp_path, C_true, flange, "eye-to-hand", "calib.yaml")
    calib = read_calibration(out)
    assert calib.mode == "eye-to-hand" and calib.parent_frame == "base_link"
    rot, trans = pose_error(calib.transform, T_base_cam)
    assert rot < 0.3 and trans < 0.002, (rot, trans)

    # TF: the camera mount published on /tf_static comes from the same file
    mount = CameraMount.from_calibration_file(out)
    assert mount.parent_frame == "base_link"
    np.testing.assert_allclose(mount.T_parent_optical, calib.transform, atol=1e-9)

    # the executor reads it unchanged and maps camera-frame grasps to the base
    np.testing.assert_allclose(load_calibration(out), calib.transform, atol=1e-12)
    box = trimesh.creation.box((0.05, 0.05, 0.08))
    arm = SimArm([SimObject(box, make_transform(np.eye(3), [0.1, 0.05, 0.04]), name="box")])
    ex = GraspExecutor(arm, ExecutorConfig.from_mapping({"calibration": {"file": str(out)}}))
    top_base = GraspGroup.from_approach(np.array([[0.1, 0.05, 0.08]]), np.array([[0.0, 0.0, -1.0]]),
                                        np.array([0.0]), depth=0.02, width=0.06, frame_id="base_link")
    seen = top_base.transform(invert(T_base_cam), frame_id="camera_color_optical_frame")  # as the camera sees it
    arm.reset(0)
    result = ex.execute(seen, arm.scene_points())
    assert result.success, result
    assert 0.03 < arm.gripper_width() < 0.06  # closed on the 5 cm box, not on air

    # eye-in-hand: T_flange<-camera composed with the flange pose at capture time
    (tmp_path / "hand.yaml").write_text(yaml.safe_dump({"mode": "eye-in-hand",
                                                         "matrix": X_EYE_IN_HAND.tolist()}))
    T_base_flange = make_transform(np.eye(3), [0.3, 0.0, 0.5])
    np.testing.assert_allclose(load_calibration(tmp_path / "hand.yaml", T_base_flange),
                               T_base_flange @ X_EYE_IN_HAND, atol=1e-12)
    with pytest.raises(ValueError, match="flange pose"):
        load_calibration(tmp_path / "hand.yaml")
    with pytest.raises(ValueError, match="moves with the arm"):
        CameraMount.from_calibration_file(tmp_path / "hand.yaml")
    np.testing.assert_allclose(base_from_camera(calib), calib.transform)


def test_eye_in_hand_calibration_drives_the_executor_with_the_capture_time_flange_pose(tmp_path):
    """Eye-in-hand: `graspnet-ros calibrate --mode eye-in-hand` on rendered board images; the sim arm
    takes a frame from one pose, moves on, and executes a grasp seen in that frame. The executor
    places it with the flange pose AT CAPTURE TIME (closes on the box); without that pose it refuses,
    and the pose at execution time (the arm moved 15 cm) would put the jaws beside the box."""
    import trimesh

    from graspnet_ros.grasp import GraspGroup
    from graspnet_ros.robot.base import SpeedLimits
    from graspnet_ros.robot.executor import ExecutorConfig, GraspExecutor
    from graspnet_ros.robot.sim import SimArm, SimObject

    # calibration: a board fixed on the table, the camera on the flange (X_EYE_IN_HAND = T_flange<-camera)
    T_base_target = make_transform(Rotation.from_euler("z", 20, degrees=True).as_matrix(), [0.4, -0.2, 0.0])
    C_true = sample_view_poses(8, (0.35, 0.6), 35, max_roll_deg=60, rng=np.random.default_rng(8))
    flange = T_base_target @ invert(C_true) @ invert(X_EYE_IN_HAND)
    out = calibrate_rendered(tmp_path, C_true, flange, "eye-in-hand", "hand.yaml")
    cfg = ExecutorConfig.from_mapping({"calibration": {"file": str(out)}})
    assert cfg.eye_in_hand and cfg.T_base_camera is None
    rot, trans = pose_error(cfg.T_flange_camera, X_EYE_IN_HAND)
    assert rot < 0.3 and trans < 0.002, (rot, trans)

    box = trimesh.creation.box((0.05, 0.05, 0.08))
    arm = SimArm([SimObject(box, make_transform(np.eye(3), [0.1, 0.05, 0.04]), name="box")])
    ex = GraspExecutor(arm, cfg)
    top_base = GraspGroup.from_approach(np.array([[0.1, 0.05, 0.08]]), np.array([[0.0, 0.0, -1.0]]),
                                        np.array([0.0]), depth=0.02, width=0.06, frame_id="base_link")
    T_base_cam_capture = make_transform(np.diag([1.0, -1.0, -1.0]), [0.12, 0.03, 0.45])  # looking down
    moved_on = make_transform(Rotation.from_euler("z", 30, degrees=True).as_matrix(), [0.15, 0.0, 0.0])

    def capture_then_move_on():
        """Flange pose measured when the frame is taken, the grasp as that camera sees it; then the
        arm moves 15 cm and turns 30 degrees (the next view) before the grasp is executed."""
        arm.reset(0)
        arm.move_tool(T_base_cam_capture @ invert(X_EYE_IN_HAND), SpeedLimits(0.5, 3.0, 1.0))
        at_capture = ex.flange_pose()
        seen = top_base.transform(invert(at_capture @ X_EYE_IN_HAND), frame_id="camera_color_optical_frame")
        arm.move_tool(moved_on @ arm.tool_pose(), SpeedLimits(0.5, 3.0, 1.0))
        assert np.linalg.norm(ex.flange_pose()[:3, 3] - at_capture[:3, 3]) > 0.14
        return at_capture, seen

    at_capture, seen = capture_then_move_on()
    result = ex.execute(seen, arm.scene_points(), T_base_flange=at_capture)
    assert result.success, result
    assert 0.03 < arm.gripper_width() < 0.06  # closed on the 5 cm box
    np.testing.assert_allclose(result.grasp.translations[0], [0.1, 0.05, 0.08], atol=0.004)

    _, seen = capture_then_move_on()
    refused = ex.execute(seen, arm.scene_points())
    assert refused.refused and "eye-in-hand" in refused.reason and "capture time" in refused.reason
    wrong = ex.execute(seen, arm.scene_points(), T_base_flange=ex.flange_pose())  # the pose at execution time
    assert not wrong.success and arm.lifted_object() is None
    assert wrong.refused or np.linalg.norm(wrong.grasp.translations[0, :2] - [0.1, 0.05]) > 0.05


def test_eye_in_hand_flange_pose_takes_the_tool_offset_from_the_config():
    """calibration.tool_in_flange (T_flange<-tool): the flange pose is the arm's tool pose moved back
    by it, and the camera pose is that flange pose composed with T_flange<-camera."""
    from graspnet_ros.robot.executor import ExecutorConfig, GraspExecutor
    from graspnet_ros.robot.sim import SimArm

    tool_in_flange = make_transform(Rotation.from_euler("z", 45, degrees=True).as_matrix(), [0.0, 0.0, 0.15])
    cfg = ExecutorConfig.from_mapping({"calibration": {"mode": "eye-in-hand", "matrix": X_EYE_IN_HAND.tolist(),
                                                       "tool_in_flange": tool_in_flange.tolist()}})
    arm = SimArm([])
    arm.reset(0)
    ex = GraspExecutor(arm, cfg)
    flange = ex.flange_pose()
    np.testing.assert_allclose(flange @ tool_in_flange, arm.tool_pose(), atol=1e-12)
    np.testing.assert_allclose(ex.camera_pose(flange), flange @ X_EYE_IN_HAND, atol=1e-12)
    np.testing.assert_allclose(ex.base_from("camera_color_optical_frame", flange), flange @ X_EYE_IN_HAND)
    with pytest.raises(ValueError, match="flange pose T_base<-flange at its capture time"):
        ex.base_from("camera_color_optical_frame")
    with pytest.raises(ValueError, match=r"calibration.tool_in_flange \(T_flange<-tool\)"):
        ExecutorConfig.from_mapping({"calibration": {"mode": "eye-in-hand", "matrix": X_EYE_IN_HAND.tolist(),
                                                     "tool_in_flange": np.diag([1.0, 1.0, 2.0, 1.0]).tolist()}})
