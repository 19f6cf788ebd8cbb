"""std_srvs/Trigger services whose work is a ROS-free call: run it, answer, log the outcome."""

from __future__ import annotations

from typing import Callable, Literal

from std_srvs.srv import Trigger

__all__ = ["answer_trigger"]


def answer_trigger(logger, response: Trigger.Response, action: Callable[[], str],
                   failure_severity: Literal["warning", "error"]) -> Trigger.Response:
    """Run ``action`` for a Trigger service and log the outcome through ``logger`` (a node's).

    Success: its message, logged at info. A ValueError: success False,
    the error's message, logged at ``failure_severity``.
    """
    response.success, response.message = False, ""
    try:
        response.message = action()
        response.success = True
    except ValueError as exc:
        response.message = str(exc)
    # rclpy ties a severity to each logging call site: one call per severity
    if response.success:
        logger.info(response.message)
    elif failure_severity == "warning":
        logger.warning(response.message)
    else:
        logger.error(response.message)
    return response
