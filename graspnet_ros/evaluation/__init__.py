"""The GraspNet-1Billion benchmark evaluator (AP, AP0.8, AP0.4).

Computes what the reference evaluator (graspnetAPI 1.2.11) computes, about
two orders of magnitude faster: see :mod:`.frame` for the per-frame steps and
the reference quirks followed by default, :mod:`.scene` for dumps, scenes,
splits and the worker pool, :mod:`.report` for the output files.

    from graspnet_ros.evaluation import evaluate_scenes, summarize, ap_table
    results = list(evaluate_scenes(root, dump, range(100, 190), "realsense", workers=2))
    print(ap_table(summarize(results)))

Imports (graspnet_ros): _native, dataset, force_closure, grasp, gripper, nms, sdf.
"""

from .frame import EvalConfig, FrameResult, evaluate_frame, precision_at_k
from .ground_truth import FrameGroundTruth, ModelCache, ObjectModel, SceneCamera
from .report import ap_table, plot_precision, write_results
from .scene import (SceneResult, SceneTask, Summary, evaluate_scene, evaluate_scenes, load_predictions,
                    prediction_path, summarize)

__all__ = [
    "EvalConfig", "FrameGroundTruth", "FrameResult", "ModelCache", "ObjectModel", "SceneCamera",
    "SceneResult", "SceneTask", "Summary", "ap_table", "evaluate_frame", "evaluate_scene",
    "evaluate_scenes", "load_predictions", "plot_precision", "precision_at_k", "prediction_path",
    "summarize", "write_results",
]
