"""Success-rate trials: the paper's score bins (Table 2) and table clearing (ROS-free).

ROS-free; runs on any :class:`~graspnet_ros.robot.base.Arm` through the
:class:`~graspnet_ros.robot.executor.GraspExecutor`, automatically with the
simulator (scene reset per trial, seeds recorded).

* **score-bins** (paper Table 2): for each object, grasps whose label score
  s = 1.1 - mu equals a bin (1.0, 0.5, 0.1 by default) are drawn at random,
  N per bin, and executed one per trial on a freshly reset scene; the success
  rate per object and bin is reported in the paper's table layout.
* **clear-table**: capture -> detect -> execute the best grasp -> remove the
  lifted object, until the table is empty or K consecutive failures; success
  rate = successful grasps / attempts, completion rate = objects cleared /
  objects, per scene and overall.

Every trial is appended to a JSONL log as it finishes (flushed and synced),
so an interrupted session loses at most the trial in progress; a rerun with
the same log skips what is done (clear-table replays the logged removals to
restore a half-cleared scene). Outputs: ``results.json`` (atomic), a console
table and a PNG plot of the success rate per score bin with 95% Wilson
intervals.

On a real arm (``robot.driver`` ur_rtde or xarm) :func:`.session.run_session` hands
the session to :mod:`.real_arm`: camera frames, a grasp detector, outcomes
judged by the gripper width and confirmed by the operator, the same log,
tables and plot.

Modules: :mod:`.config` (the session YAML), :mod:`.session` (one session,
simulated or real), :mod:`.score_bins`, :mod:`.clear_table`, :mod:`.scenes`
(objects, placements, label cache), :mod:`.results` (the JSONL log and the
report), :mod:`.operator` (outcomes confirmed by a person) and
:mod:`.real_arm` (a real arm with a camera and the detector pipeline);
:mod:`.remote` (the operator answering through trial_node's service) and
:mod:`.trial_params` (trial_node's parameter table).
They build on ``robot/`` (arm protocol, simulation, executor), ``detection/``
and ``annotation/``; nothing in the core imports them, and they never import
``nodes/`` (the trial node and the ``trials`` command sit on top).

Imports (graspnet_ros): annotation, cameras, dataset, detection, grasp, gripper, params, robot,
views.
"""
