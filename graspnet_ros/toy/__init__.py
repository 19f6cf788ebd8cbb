"""Small generated scenes for tests, benchmarks and smoke runs (not the synthetic dataset).

* :mod:`.table`: primitive objects (boxes, cylinders, capsules, ellipsoids) placed on a
  table, orbit cameras, detector-like predictions, and writers of a GraspNet-layout root
  and a prediction dump (the evaluator's tests and benchmark).
* :mod:`.frame`: one ray-cast RGB-D frame of boxes on a table with force-closure grasp
  labels in the dataset reader's format (the network's tests and benchmark).

The real synthetic dataset (physics, realistic sensors, full labels) is
:mod:`graspnet_ros.dataset.synthetic`. May import the core (geometry, dataset layout,
force closure); never ``nodes/`` or ``commands/``.

Imports (graspnet_ros): _native, dataset, force_closure, grasp, model, views.
"""
