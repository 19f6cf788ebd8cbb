"""The simulated depth sensors (dataset/synthetic/stereo.py, tof.py): each test
fails without the effect it names (a control with the effect switched off
shows it).

Scenes are built in front of the camera: the "table frame" of the raycaster
is the sensor's own optical frame (x right, y down, z forward, metres), so
the camera pose is the identity. Images are scaled down to stay fast.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from graspnet_ros.dataset.synthetic.render import SceneRaycaster
from graspnet_ros.dataset.synthetic.stereo import D435, simulate_stereo
from graspnet_ros.dataset.synthetic.tof import AZURE_KINECT_NFOV, nfov_mask, simulate_tof

pytest.importorskip("open3d")


def box(extents, centre) -> tuple[trimesh.Trimesh, np.ndarray]:
    T = np.eye(4)
    T[:3, 3] = centre
    return trimesh.creation.box(extents=extents), T


def scene(*parts) -> SceneRaycaster:
    return SceneRaycaster([m for m, _ in parts], np.stack([T for _, T in parts]), table=False)


# ---------------------------------------------------------------------------
# RealSense D4xx


def test_projector_shadow_is_an_invalid_band_on_the_emitter_s_far_side():
    """A 1 cm post 0.3 m in front of a wall 1 m away. The emitter sits at
    x_e = +25 mm from the left (reference) imager, so light grazing the post's
    left edge reaches the wall further left: in the left image the wall is
    dark over [u_left - f x_e (1/z1 - 1/z2), u_right - f x_e (1/z1 - 1/z2)],
    LEFT of the post, detached from it because the post is narrower than the
    offset. (The right imager's occlusion is further left still, at f b
    instead of f x_e; nothing is shadowed to the right of the post.)"""
    sensor = D435.scaled(0.5)
    z1, z2, width = 0.30, 1.00, 0.010
    raycaster = scene(box((width, 0.6, 0.01), (0.0, 0.0, z1 + 0.005)), box((4.0, 4.0, 0.02), (0.0, 0.0, z2 + 0.01)))
    albedo = np.array([0.7, 0.7, 0.7])
    rows = slice(int(sensor.cy) - 40, int(sensor.cy) + 40)
    u_left = sensor.cx + sensor.fx * (-width / 2) / z1
    u_right = sensor.cx + sensor.fx * (width / 2) / z1
    offset = sensor.fx * sensor.emitter_x * (1 / z1 - 1 / z2)  # px, towards -u
    assert sensor.emitter_x > 0 and offset > (u_right - u_left) + 4  # the band is detached from the post

    def band(frame, lo, hi):
        """Share of valid depth over columns [lo, hi) (trimmed by 2 px for the matcher's block)."""
        return (frame.depth[rows, int(np.ceil(lo)) + 2:int(hi) - 2] > 0).mean()

    frame = simulate_stereo(raycaster, np.eye(4), albedo, sensor=sensor, rng=np.random.default_rng(0))
    shadow_lo, shadow_hi = u_left - offset, u_right - offset
    assert not frame.lit[rows, int(shadow_lo) + 2:int(shadow_hi) - 2].any()  # ground truth: in the shadow
    assert band(frame, shadow_lo, shadow_hi) < 0.15, "no invalid band where the projector's shadow falls"
    mirror = band(frame, u_right + (u_left - shadow_hi), u_right + (u_left - shadow_lo))
    assert mirror > 0.85, "the right side of the post should be valid"
    # between the shadow and the right imager's occlusion the wall is lit and seen by both imagers
    occlusion_hi = u_right - sensor.fx * sensor.baseline * (1 / z1 - 1 / z2)
    assert band(frame, occlusion_hi, shadow_lo) > 0.85
    assert band(frame, occlusion_hi - (u_right - u_left), occlusion_hi) < 0.15  # the occlusion itself
    # control: without the projector's shadow the same band is lit and matched
    unshadowed = simulate_stereo(raycaster, np.eye(4), albedo, sensor=sensor, rng=np.random.default_rng(0),
                                 shadow=False)
    assert band(unshadowed, shadow_lo, shadow_hi) > 0.85


def test_stereo_fattens_foreground_edges():
    """The block matcher spreads a near object's disparity over the background
    beside it (edge fattening, about half a block) and leaves some pixels
    between the two surfaces (flying pixels); the render has neither."""
    sensor = D435.scaled(0.5)
    raycaster = scene(box((0.05, 0.6, 0.05), (0.0, 0.0, 0.425)), box((4.0, 4.0, 0.02), (0.0, 0.0, 0.81)))
    frame = simulate_stereo(raycaster, np.eye(4), np.array([0.7, 0.7, 0.7]), sensor=sensor,
                            rng=np.random.default_rng(0))
    truth, depth = frame.hits.depth, frame.depth
    rows = (np.abs(truth - 0.4) < 0.01).any(axis=1).sum()  # image rows crossing the bar: two edges each
    fattened = ((depth > 0) & (depth < 0.6) & (truth > 0.6)).sum()
    assert fattened / (2 * rows) > 0.5, f"{fattened} fattened pixels over {rows} rows"
    assert not ((truth > 0) & (truth < 0.6) & (frame.hits.index == 1)).any()
    assert ((depth > 0.45) & (depth < 0.75)).sum() > 10  # flying pixels
    assert not ((truth > 0.45) & (truth < 0.75)).any()


def test_stereo_holes_on_dark_glossy_and_thin_parts():
    """Side by side 0.5 m away on a wall 0.7 m away: a dark patch (albedo
    0.03: the dots drown in noise), a glossy one (a highlight that moves
    between the imagers, little diffuse dot light), a 2 mm wire (narrower than
    the matcher's block) and a matte bright patch. Only the matte patch gets
    its own depth back (valid and within 1 cm); made matte and bright, the
    dark and glossy patches do too."""
    sensor = D435.scaled(0.5)
    patches = [box((0.08, 0.08, 0.01), (x, 0.0, 0.505)) for x in (-0.15, -0.05, 0.15)]
    wire = box((0.002, 0.3, 0.002), (0.05, 0.0, 0.501))
    raycaster = scene(*patches, wire, box((4.0, 4.0, 0.02), (0.0, 0.0, 0.71)))

    def recovered(albedo, gloss):
        frame = simulate_stereo(raycaster, np.eye(4), np.array(albedo), np.array(gloss), sensor=sensor,
                                rng=np.random.default_rng(0))
        ok = (frame.depth > 0) & (np.abs(frame.depth - frame.hits.depth) < 0.01)
        return [ok[frame.hits.index == i].mean() for i in range(4)]

    dark, glossy, matte, thin = recovered([0.03, 0.8, 0.8, 0.8, 0.6, 0.6], [0.0, 0.9, 0.0, 0.0, 0.0, 0.0])
    assert dark < 0.3 and glossy < 0.2 and thin < 0.1 and matte > 0.9, (dark, glossy, matte, thin)
    control = recovered([0.8, 0.8, 0.8, 0.8, 0.6, 0.6], [0.0] * 6)
    assert min(control[:3]) > 0.9, control


def plane_error(sensor, z, seed) -> np.ndarray:
    """Depth errors (m) of valid pixels on a wall at ``z`` tilted 20 degrees
    about y, in the central half of the image."""
    wall = trimesh.creation.box(extents=(6.0, 6.0, 0.02))
    T = trimesh.transformations.rotation_matrix(np.deg2rad(20.0), (0, 1, 0))
    T[:3, 3] = (0.0, 0.0, z + 0.01)
    raycaster = SceneRaycaster([wall], T[None], table=False)
    frame = simulate_stereo(raycaster, np.eye(4), np.array([0.8, 0.8]), sensor=sensor,
                            rng=np.random.default_rng(seed))
    h, w = frame.depth.shape
    centre = (slice(h // 4, 3 * h // 4), slice(w // 4 + sensor.num_disparities // 2, 3 * w // 4))
    d, truth = frame.depth[centre], frame.hits.depth[centre]
    ok = d > 0
    assert ok.mean() > 0.9
    return (d - truth)[ok]


def test_stereo_depth_error_grows_with_distance_squared():
    """A fixed disparity error sigma_d gives sigma_z = z^2 sigma_d / (f b): from
    0.5 m to 1 m the error grows about 4x (not 2x as a linear model, not 1x)."""
    sensor = D435.scaled(0.5)
    near = np.concatenate([plane_error(sensor, 0.5, s) for s in range(2)])
    far = np.concatenate([plane_error(sensor, 1.0, s) for s in range(2)])
    rms_near, rms_far = np.sqrt(np.mean(near ** 2)), np.sqrt(np.mean(far ** 2))
    ratio = rms_far / rms_near
    assert 4.0 / 1.45 < ratio < 4.0 * 1.45, f"rms error {rms_near * 1e3:.2f} mm -> {rms_far * 1e3:.2f} mm"


# ---------------------------------------------------------------------------
# Azure Kinect


def test_kinect_edge_pixels_are_invalid():
    """A box 0.6 m away in front of a wall at 1.2 m: the pixels whose footprint
    straddles the silhouette (mixed returns) are dropped; the box face and the
    wall away from the edge keep their depth."""
    sensor = AZURE_KINECT_NFOV.scaled(0.5)
    raycaster = scene(box((0.2, 0.2, 0.1), (0.0, 0.0, 0.65)), box((6.0, 6.0, 0.02), (0.0, 0.0, 1.21)))
    albedo = np.array([0.8, 0.8, 0.8])
    frame = simulate_tof(raycaster, np.eye(4), albedo, sensor=sensor, rng=np.random.default_rng(0))
    truth = frame.hits.depth
    near = truth < 0.8
    import cv2

    k = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(near.astype(np.uint8), k) != cv2.erode(near.astype(np.uint8), k)) & frame.fov
    inner = (cv2.erode(near.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & frame.fov
    outer = (cv2.dilate(near.astype(np.uint8), np.ones((7, 7), np.uint8)) == 0) & frame.fov
    assert edge.sum() > 100
    assert (frame.depth[edge] > 0).mean() < 0.1, "edge pixels should be invalid"
    assert (frame.depth[inner] > 0).mean() > 0.95 and (frame.depth[outer] > 0).mean() > 0.95
    # control: with the sensor's filter off the mixed pixels read in between the two surfaces
    kept = simulate_tof(raycaster, np.eye(4), albedo, sensor=sensor, rng=np.random.default_rng(0),
                        mixed_invalid=False)
    assert (kept.depth[edge] > 0).mean() > 0.9
    flying = kept.depth[edge & (kept.depth > 0.75) & (kept.depth < 1.1)]
    assert len(flying) > 10  # between the box (0.6 m) and the wall (1.2 m)


def test_kinect_hexagon_multipath_and_dark_dropout():
    """The NFOV hexagon leaves the image corners dark; a concave corner (a wall
    meeting a floor) reads farther than the truth, a plane does not; a dark
    patch drops out while a bright one at the same range does not."""
    sensor = AZURE_KINECT_NFOV.scaled(0.5)
    mask = nfov_mask(sensor)
    h, w = mask.shape
    assert not mask[0, 0] and not mask[-1, -1] and not mask[0, -1] and not mask[-1, 0]
    assert mask[h // 2].all() and mask[0, w // 2] and mask[-1, w // 2]
    # a floor (y = +0.15 below the camera) meeting a wall at z = 0.8
    floor = box((2.0, 0.02, 2.0), (0.0, 0.16, 0.8 - 1.0))
    wall = box((2.0, 2.0, 0.02), (0.0, 0.0, 0.81))
    dark = box((0.1, 0.1, 0.02), (-0.2, -0.2, 0.79))
    raycaster = scene(floor, wall, dark)
    frame = simulate_tof(raycaster, np.eye(4), np.array([0.8, 0.8, 0.01, 0.8]), sensor=sensor,
                         rng=np.random.default_rng(0))
    v_corner = int(round(sensor.cy + sensor.fy * 0.15 / 0.8))
    u = slice(int(sensor.cx) - 30, int(sensor.cx) + 30)
    corner_bias = frame.multipath[v_corner - 3:v_corner, u]
    plane_bias = frame.multipath[int(sensor.cy) - 30:int(sensor.cy) - 25, u]  # the wall far from the corner
    assert corner_bias.mean() > 0.003 and plane_bias.max() < 1e-4
    dark_px = frame.hits.index == 2
    bright_px = (frame.hits.index == 1) & frame.fov & ~frame.mixed
    assert (frame.depth[dark_px] > 0).mean() < 0.1 and (frame.depth[bright_px] > 0).mean() > 0.9


# ---------------------------------------------------------------------------
# selection next to the simple model


@pytest.mark.parametrize("camera", ["realsense", "kinect"])
def test_render_frame_selects_the_sensor_model(camera):
    """``noise='sensor'`` gives the simulated sensor's depth in the colour
    grid (the Kinect's hexagon leaves the corners empty, the RealSense's
    depth comes in 1 mm units), ``simple`` keeps the old per-pixel model;
    both agree with the render where valid."""
    from graspnet_ros.dataset.synthetic.cameras import look_at
    from graspnet_ros.dataset.synthetic.scenes import render_frame

    raycaster = SceneRaycaster([trimesh.creation.box(extents=(0.06, 0.06, 0.12))],
                               np.array([[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0.06], [0, 0, 0, 1.0]]]))
    pose = look_at(np.array([0.0, -0.25, 0.40]), np.array([0.0, 0.0, 0.03]))
    depths = {}
    for noise in ("simple", "sensor"):
        _, depth, _, truth = render_frame(raycaster, camera, pose, [0], np.random.default_rng(0), noise)
        ok = (depth > 0) & (truth > 0)
        assert np.median(np.abs(depth[ok] - truth[ok])) < 0.002
        depths[noise] = depth
    if camera == "kinect":
        assert (depths["sensor"] == 0).mean() > (depths["simple"] == 0).mean() + 0.2
        assert depths["sensor"][0, 0] == 0 and depths["sensor"][-1, -1] == 0
    else:  # the D4xx's 1 mm depth unit survives registration; the simple model's noise is continuous
        mm = depths["sensor"][depths["sensor"] > 0] * 1000.0
        assert np.abs(mm - np.round(mm)).max() < 1e-3
        mm = depths["simple"][depths["simple"] > 0] * 1000.0
        assert np.abs(mm - np.round(mm)).max() > 0.1
    with pytest.raises(ValueError, match="noise model"):
        render_frame(raycaster, camera, pose, [0], np.random.default_rng(0), "fancy")


@pytest.mark.parametrize("model", ["realsense", "kinect"])
@pytest.mark.parametrize("scene_kind", ["boxes", "generator"])
def test_synthetic_camera_with_the_sensor_model(model, scene_kind):
    """SyntheticCamera(noise='sensor') simulates the camera at every read (new
    noise each frame) in its own pixel grid; 'simple' with no depth noise stays
    the exact render."""
    from graspnet_ros.cameras.factory import make_camera

    settings = {"camera_model": model, "synthetic.scale": 0.25, "synthetic.num_objects": 3,
                "synthetic.scene": scene_kind, "synthetic.noise": "sensor"}
    cam = make_camera("synthetic", settings, "camera_color_optical_frame")
    exact = make_camera("synthetic", {**settings, "synthetic.noise": "simple"}, "camera_color_optical_frame")
    a, b, truth = cam.read(), cam.read(), exact.read()
    assert a.depth.shape == truth.depth.shape == (180, 320)
    ok = (a.depth > 0) & (truth.depth > 0)
    assert ok.mean() > 0.3 and np.median(np.abs(a.depth[ok] - truth.depth[ok])) < 0.003
    assert (a.depth == 0).mean() > (truth.depth == 0).mean()
    assert not np.array_equal(a.depth, b.depth)
    with pytest.raises(ValueError, match="noise"):
        make_camera("synthetic", {**settings, "synthetic.noise": "fancy"}, "camera_color_optical_frame")


def test_kinect_noise_grows_with_distance():
    """Range noise ~ range / sqrt(albedo cos): a wall at 1.8 m is at least
    twice as noisy as one at 0.6 m (pixel-to-pixel, so the smooth wiggling
    error and the 1 mm unit do not count)."""
    sensor = AZURE_KINECT_NFOV.scaled(0.5)
    spread = []
    for z in (0.6, 1.8):
        raycaster = scene(box((8.0, 8.0, 0.02), (0.0, 0.0, z + 0.01)))
        frame = simulate_tof(raycaster, np.eye(4), np.array([0.8, 0.8]), sensor=sensor,
                             rng=np.random.default_rng(0))
        ok = frame.depth > 0
        err = np.where(ok, frame.depth - frame.hits.depth, np.nan)
        diff = (err[:, 1:] - err[:, :-1])[:, ::2]  # neighbours: the smooth parts cancel
        spread.append(np.nanstd(diff) / np.sqrt(2))
    assert spread[1] > 2.0 * spread[0], spread


def test_generator_records_and_keeps_its_depth_model(tmp_path):
    """``data generate --noise`` is written to synthetic.yaml; a root is never
    extended with the other model (roots from before the option are simple)."""
    import yaml

    from graspnet_ros.dataset.generate import INFO_FILE, check_info, generate
    from graspnet_ros.dataset.presets import get_preset

    preset = get_preset("tiny")
    check_info(tmp_path, preset, 0, "sensor")
    assert yaml.safe_load((tmp_path / INFO_FILE).read_text())["noise"] == "sensor"
    check_info(tmp_path, preset, 0, "sensor")
    with pytest.raises(ValueError, match="depth model"):
        check_info(tmp_path, preset, 0, "simple")
    old = tmp_path / "old"
    old.mkdir()
    (old / INFO_FILE).write_text(yaml.safe_dump({"preset": "tiny", "seed": 0}))
    check_info(old, preset, 0)
    with pytest.raises(ValueError, match="depth model"):
        check_info(old, preset, 0, "sensor")
    with pytest.raises(ValueError, match="noise model"):
        generate(tmp_path / "new", "tiny", noise="fancy")


def test_generator_defaults_come_from_the_root_then_the_preset(tmp_path):
    """The simulated sensors are the generator's default; tiny and small keep the simple model they
    were measured with; full and realistic default to lab scenes; an existing root goes on with what
    it records."""
    import yaml

    from graspnet_ros.dataset.generate import INFO_FILE, default_choices
    from graspnet_ros.dataset.presets import get_preset

    assert (get_preset("tiny").noise, get_preset("small").noise) == ("simple", "simple")
    assert (get_preset("realistic").noise, get_preset("realistic").scene) == ("sensor", "lab")
    assert (get_preset("full").noise, get_preset("full").scene) == ("sensor", "lab")
    tiny, realistic = get_preset("tiny"), get_preset("realistic")
    assert default_choices(tmp_path / "new", realistic, None, None) == ("sensor", "lab")
    assert default_choices(tmp_path / "new", tiny, None, None) == ("simple", "tabletop")
    assert default_choices(tmp_path / "new", tiny, "sensor", "lab") == ("sensor", "lab")
    old = tmp_path / "old"
    old.mkdir()
    (old / INFO_FILE).write_text(yaml.safe_dump({"preset": "realistic", "seed": 0}))  # before the options
    assert default_choices(old, realistic, None, None) == ("simple", "tabletop")
    (old / INFO_FILE).write_text(yaml.safe_dump({"preset": "tiny", "seed": 0, "noise": "sensor", "scene": "lab"}))
    assert default_choices(old, tiny, None, None) == ("sensor", "lab")
