"""Offline tools over recordings: :mod:`.evaluate_bag` (benchmark a rosbag2 file).

Imports (graspnet_ros): bags, cameras, dataset, detection, evaluation, grasp, params.
"""
