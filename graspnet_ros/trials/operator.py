"""The operator in the loop: proposed outcomes, console confirmation, the real-arm session operator.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from ..robot.executor import ExecutionResult

# -- real-arm outcomes: width proposal + operator verdict ------------------------------
#: Operator confirmation of a real-arm trial: called with the proposal record
#: (key, proposed_success, measured_width, threshold, reason) once the lift is
#: over; returns the operator's verdict (True success, False failure) or None
#: when no answer came in time (the width-based proposal is kept).
Confirm = Callable[[dict], "bool | None"]


def propose_outcome(result: ExecutionResult, min_closed_width: float) -> bool:
    """Width-based outcome of a real-arm trial (no simulator ground truth).

    Proposed success = the grasp reached the verify phase without a driver
    abort and the jaws are still open wider than ``min_closed_width`` (m)
    after the lift, i.e. they closed on something and still hold it.
    """
    aborted = result.reason.startswith("aborted")
    return bool(result.phase == "verify" and not aborted and result.measured_width > min_closed_width)


def console_confirm(input_fn: Callable[[str], str] = input, output: Callable[[str], None] = print) -> Confirm:
    """A :data:`Confirm` that asks the operator on the console (``input_fn``, stdin by default).

    Enter accepts the proposal; y/yes/s/1 records a success, n/no/f/0 a
    failure; anything else asks again. A closed stdin (EOFError) raises a
    ``ValueError``: the trial is not logged, and a rerun resumes at it.
    """
    yes, no = {"y", "yes", "s", "success", "1"}, {"n", "no", "f", "failure", "0"}

    def confirm(proposal: dict) -> bool | None:
        proposed = bool(proposal["proposed_success"])
        prompt = (f"{proposal['key']}: gripper width {proposal['measured_width']:.4f} m after the lift "
                  f"(threshold {proposal['threshold']:.4f} m) -> proposed {'SUCCESS' if proposed else 'FAILURE'}. "
                  "[Enter] accept, [y] success, [n] failure: ")
        while True:
            try:
                answer = input_fn(prompt).strip().lower()
            except EOFError:
                raise ValueError(f"{proposal['key']}: no operator answer (stdin closed); the trial was not "
                                 "logged -- rerun the same command to resume at it") from None
            if answer == "":
                return proposed
            if answer in yes:
                return True
            if answer in no:
                return False
            output(f"  answer y (success), n (failure) or press Enter to accept; got {answer!r}")

    return confirm


def judge_with_operator(key: str, result: ExecutionResult, min_closed_width: float, confirm: Confirm,
                        sim_success: bool | None = None) -> dict:
    """Fields of a real-arm trial record: the width proposal, the operator's verdict and the outcome.

    ``success`` is the operator's verdict (the proposal when the operator did
    not answer in time); ``verdict`` is 'confirmed', 'overridden' or
    'timeout'; ``sim_success`` (ground truth of a simulator driven through
    this path, None on a real arm) is stored for comparison only.
    """
    proposed = propose_outcome(result, min_closed_width)
    proposal = {"key": key, "proposed_success": proposed, "measured_width": float(result.measured_width),
                "threshold": float(min_closed_width), "reason": result.reason}
    answer = confirm(proposal)
    if answer is None:
        success, verdict = proposed, "timeout"
    else:
        success, verdict = bool(answer), "confirmed" if bool(answer) == proposed else "overridden"
    return {"success": success, "proposed_success": proposed, "operator_success": None if answer is None
            else bool(answer), "verdict": verdict, "width_threshold": float(min_closed_width),
            "sim_success": sim_success}


class SessionAborted(RuntimeError):
    """A driver or camera error ended a real-arm session; the log keeps every finished trial and the reason."""


# -- the operator ----------------------------------------------------------------------
class SessionOperator(Protocol):
    """The operator's side of a real-arm session: the console (:class:`ConsoleOperator`) or
    the trial_node's ``confirm_trial`` service. ``key`` names the trial or step asked about."""

    def confirm(self, proposal: dict) -> bool | None:
        """Verdict on a width-based proposal (a :data:`~graspnet_ros.trials.operator.Confirm`)."""

    def ready(self, key: str, message: str) -> None:
        """Return once the operator has done what ``message`` asks (set up the scene, ...)."""

    def ask(self, key: str, question: str, default: bool) -> bool:
        """A yes/no answer (``default`` when the operator just acknowledges)."""

    def count(self, key: str, question: str, default: int) -> int:
        """A number >= 1 (objects on the table)."""


class ConsoleOperator:
    """A :class:`SessionOperator` on the console (``input_fn``: stdin by default).

    confirm: the verdict prompt (default: :func:`~graspnet_ros.trials.operator.console_confirm`
    on the same console). A closed stdin raises ValueError: the step in
    progress is not logged and a rerun resumes at it.
    """

    def __init__(self, input_fn: Callable[[str], str] = input, output: Callable[[str], None] = print,
                 confirm: Confirm | None = None) -> None:
        self._input, self._output = input_fn, output
        self.confirm: Confirm = confirm if confirm is not None else console_confirm(input_fn, output)

    def _read(self, key: str, prompt: str, parse: Callable[[str], Any], hint: str) -> Any:
        while True:
            try:
                answer = self._input(prompt).strip().lower()
            except EOFError:
                raise ValueError(f"{key}: no operator answer (stdin closed); nothing was logged for this step "
                                 "-- rerun the same command to resume at it") from None
            value = parse(answer)
            if value is not None:
                return value
            self._output(f"  {hint}; got {answer!r}")

    def ready(self, key: str, message: str) -> None:
        self._read(key, f"{key}: {message}. [Enter] when done: ", lambda _a: True, "")

    def ask(self, key: str, question: str, default: bool) -> bool:
        def parse(a: str) -> bool | None:
            return default if a == "" else True if a in ("y", "yes", "1") else False if a in ("n", "no", "0") else None

        return self._read(key, f"{key}: {question} [{'Y/n' if default else 'y/N'}]: ", parse,
                          "answer y (yes), n (no) or press Enter for the default")

    def count(self, key: str, question: str, default: int) -> int:
        def parse(a: str) -> int | None:
            if a == "":
                return default if default >= 1 else None
            return int(a) if a.isdigit() and int(a) >= 1 else None

        return self._read(key, f"{key}: {question} [Enter = {default}]: ", parse, "type a whole number >= 1")
