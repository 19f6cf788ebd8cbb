"""Checkpoint files: save atomically, load with ``torch.load(weights_only=True)``.

Our format is a dict::

    format: "graspnet_ros.model/1"
    config: ModelConfig as plain JSON types
    model_state_dict: parameters and buffers
    optimizer_state_dict (optional), step, extra (dict of plain values)

A graspnet-baseline checkpoint (``{"epoch", "model_state_dict",
"optimizer_state_dict"}``, no config) loads with the ``reference`` config.
Malformed or incompatible files raise ValueError naming the mismatch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .config import ModelConfig, config_from_dict, config_to_dict, reference
from .graspnet import GraspNet

FORMAT = "graspnet_ros.model/1"


def save_checkpoint(path: str | Path, model: GraspNet, optimizer: torch.optim.Optimizer | None = None,
                    step: int = 0, extra: dict | None = None) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": config_to_dict(model.cfg),
        "model_state_dict": model.state_dict(),
        "step": int(step),
        "extra": dict(extra or {}),
    }
    if optimizer is not None:
        payload["optimizer_state_dict"] = optimizer.state_dict()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict (weights-only unpickling), with its config parsed
    into ``payload["model_config"]``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise ValueError(f"{path}: not a readable weights-only torch checkpoint ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("model_state_dict"), dict):
        raise ValueError(f"{path}: checkpoint has no 'model_state_dict' dict; expected a file written by "
                         "graspnet-ros train (or a graspnet-baseline checkpoint)")
    if "format" in payload:
        if payload["format"] != FORMAT:
            raise ValueError(f"{path}: checkpoint format {payload['format']!r}, this version reads {FORMAT!r}")
        if not isinstance(payload.get("config"), dict):
            raise ValueError(f"{path}: checkpoint has no model config")
        payload["model_config"] = config_from_dict(payload["config"])
    else:
        payload["model_config"] = reference()
    return payload


def check_state_dict(model: torch.nn.Module, state: dict, source: str = "checkpoint") -> None:
    """Raise ValueError listing missing, unexpected and mis-shaped entries."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: {source} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and hasattr(state[k], "shape")
              and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (first: {'; '.join(shapes[:3])})")
        if missing:
            parts.append(f"{len(missing)} missing entries (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected entries (first: {', '.join(unexpected[:3])})")
        name = model.cfg.name if hasattr(model, "cfg") else type(model).__name__
        raise ValueError(f"{source} does not fit the model config '{name}': " + "; ".join(parts))


def load_model(path: str | Path, config: ModelConfig | None = None) -> GraspNet:
    """A GraspNet in eval mode with the checkpoint's weights. ``config``
    overrides the stored one (its shapes must match)."""
    payload = read_checkpoint(path)
    cfg = config or payload["model_config"]
    model = GraspNet(cfg)
    check_state_dict(model, payload["model_state_dict"], source=str(path))
    model.load_state_dict(payload["model_state_dict"])
    return model.eval()


#: The checkpoint shipped with the package (cpu config trained on the synthetic
#: "small" preset; its command, config and training log sit next to it).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent.parent / "data" / "checkpoints" / "cpu_small" / "model.pt"


def resolve_checkpoint(spec: str | Path) -> Path:
    """A checkpoint argument as a path: ``"shipped"`` names the shipped checkpoint."""
    return shipped_checkpoint() if str(spec) == "shipped" else Path(spec).expanduser()


def shipped_checkpoint() -> Path:
    """Path of the shipped checkpoint; FileNotFoundError if the install lacks it."""
    if not SHIPPED_CHECKPOINT.is_file():
        raise FileNotFoundError(f"the shipped checkpoint is missing: {SHIPPED_CHECKPOINT} "
                                "(reinstall graspnet_ros, or pass a checkpoint path)")
    return SHIPPED_CHECKPOINT
