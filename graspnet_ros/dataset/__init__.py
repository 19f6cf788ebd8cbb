"""GraspNet-1Billion datasets (real or synthetic): the layout (:mod:`.layout`), the reader
(:mod:`.reader`), validation (:mod:`.check`), drawing (:mod:`.draw`), the object set and
its families (:mod:`.objects`, :mod:`.procedural`), presets (:mod:`.presets`) and the
synthetic generator (:mod:`.generate`, :mod:`.synthetic`).

Imports (graspnet_ros): _native, annotation, cameras, distributed, grasp, params, views, viz,
workspace.
"""
