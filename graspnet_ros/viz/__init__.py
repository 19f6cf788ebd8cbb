"""Pictures of grasps (matplotlib, headless): grasps drawn over colour images and clouds.

Imports (graspnet_ros): cameras, grasp.
"""
