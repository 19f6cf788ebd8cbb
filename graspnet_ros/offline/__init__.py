"""Offline tools over recordings: :mod:`.evaluate_bag` (benchmark a rosbag2 file)."""
