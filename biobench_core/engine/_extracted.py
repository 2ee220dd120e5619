"""What extracting one split gives: its features and what they cost (torch-free, so the runner imports it freely)."""

from __future__ import annotations

import dataclasses
from typing import Any

from biobench_core.contract._tasks import SplitFeatures

__all__ = ["ExtractionResult"]


@dataclasses.dataclass
class ExtractionResult:
    """One split's features (kept examples only) and what extracting them cost."""

    split: SplitFeatures
    skipped: list[str]  # names of the files (or ids) that could not be decoded
    n_images: int  # frames encoded (== examples for image tasks)
    seconds: float
    n_converted: int = 0  # frames encoded that were scaled to 8 bits from a higher bit depth (biobench_core.engine._images)
    pipeline: str = "callable transform"  # or "uint8, normalised on the device" (a declared preprocessing)
    pixels: str = "not declared"  # the pixel cache: hit, written, off, not kept: <why>, not declared
    cache: str = "off"  # the feature cache: hit (nothing was extracted now), miss, off
    feature_key: str | None = None  # the feature cache's key for this split (None: not cacheable)

    #: What the feature cache stores beside the features (and gives back on a hit).
    STORED = ("images_per_second", "seconds", "skipped", "n_images", "n_converted", "pipeline", "pixels")

    def stored(self) -> dict[str, Any]:
        """The cost and pipeline fields, as the feature cache keeps them (:attr:`STORED`)."""
        return {name: getattr(self, name) for name in self.STORED}

    @classmethod
    def from_cache(cls, split: SplitFeatures, stored: dict[str, Any], feature_key: str | None) -> ExtractionResult:
        """A cache hit: the features, and the cost of the extraction that wrote them (entries of any age)."""
        return cls(split=split, skipped=list(stored.get("skipped") or []), n_images=int(stored.get("n_images", 0)),
                   seconds=float(stored.get("seconds", 0.0)), n_converted=int(stored.get("n_converted", 0)),
                   pipeline=stored.get("pipeline", "callable transform"), pixels=stored.get("pixels", "not declared"),
                   cache="hit", feature_key=feature_key)

    @property
    def images_per_second(self) -> float:
        return self.n_images / self.seconds if self.seconds > 0 else float("nan")
