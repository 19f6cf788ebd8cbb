"""Pictures of grasps (matplotlib, headless)."""
