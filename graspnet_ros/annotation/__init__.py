"""Annotation pipeline (paper section 3.3): object grasp labels, scene
collision labels and GAF tolerance labels in the GraspNet-1Billion layout.

Entry points: :func:`annotate_objects` then :func:`annotate_scenes` on a
dataset root; the pure functions below work on meshes and arrays.

Imports (graspnet_ros): cameras (geometry), dataset, distributed, force_closure, grasp, gripper, views.
"""

from .object_labels import (ObjectLabels, SlabEntries, SlabKernel, candidate_geometry,
                            candidate_grasp, candidate_naive, candidate_scores, frame_coordinates,
                            label_object, point_candidates, sample_surface, slab_entries)
from .runner import (annotate_object, annotate_objects, annotate_scene, annotate_scenes,
                     load_mesh, npz_headers, save_npy_atomic, scene_poses, write_npz_atomic)
from .scene_collision import (CandidateSet, candidate_scene_collision, scene_point_cloud,
                              scene_table_points)
from .settings import AnnotationSettings
from .tolerance import positive_mask, tolerance_labels, tolerance_naive, tolerance_radii

__all__ = [
    "AnnotationSettings", "annotate_objects", "annotate_scenes", "annotate_object", "annotate_scene",
    "ObjectLabels", "label_object", "candidate_geometry", "candidate_scores", "candidate_naive",
    "candidate_grasp", "point_candidates", "slab_entries", "SlabEntries", "SlabKernel",
    "frame_coordinates", "sample_surface",
    "CandidateSet", "candidate_scene_collision", "scene_point_cloud", "scene_table_points",
    "tolerance_labels", "tolerance_naive", "tolerance_radii", "positive_mask",
    "load_mesh", "scene_poses", "write_npz_atomic", "save_npy_atomic", "npz_headers",
]
