"""Synthetic GraspNet-1Billion scenes: physics settling, cameras, ray-cast rendering.

``physics`` drops objects on a table (MuJoCo), ``cameras`` holds the camera
models (intrinsics, viewpoints, depth noise), ``render`` ray-casts depth,
labels and shaded RGB (Open3D), ``scenes`` writes every frame of a scene.
"""
