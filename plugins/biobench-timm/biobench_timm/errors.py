"""Errors of the timm plugin, importable without torch. Each message is one line that says what to do."""

from __future__ import annotations

__all__ = ["TimmWeightsError", "WeightsNotFoundError", "WeightsFileError", "WeightsMismatchError",
           "WeightsUnavailableError"]


class TimmWeightsError(Exception):
    """Base class: the weights asked for cannot be loaded."""


class WeightsNotFoundError(TimmWeightsError, FileNotFoundError):
    """A local weights file does not exist."""


class WeightsFileError(TimmWeightsError, ValueError):
    """A local weights file exists but cannot be read as a state dict."""


class WeightsMismatchError(TimmWeightsError, ValueError):
    """A state dict does not fit the architecture: missing, unexpected or wrongly shaped keys."""


class WeightsUnavailableError(TimmWeightsError, RuntimeError):
    """Pretrained weights cannot be fetched: offline, no network, or the hub refused."""
