"""The kit's tiny backbone, ``kit/tiny``: a fixed random convolution, for running a task end to end in seconds.

It needs no weights (nothing to download), is the same in every run (seeded), and runs on a CPU in milliseconds
per batch, so ``biobench plugins validate`` and a plugin's tests can run a task through the real ``biobench run``
path: decoding, extraction, the probe and the metric. Its features tell images apart by colour and coarse texture,
enough for a probe to learn a sample dataset whose labels are colours; they mean nothing on real data.

:func:`tiny_backbone` makes it discoverable for a block, as an installed distribution (``biobench-kit-tiny``)
whose entry point is this module, so ``biobench run --backbone kit/tiny`` finds it in this process and in any
worker it starts. This module is torch-free; the backbone itself is in ``_tiny_model``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterator

from biobench_core.contract._registry import LOAD_ENV, reset_registry
from biobench_core.contract._specs import BackboneSpec
from biobench_core.contract.hookspecs import hookimpl
from biobench_core.testing._distributions import write_distribution

__all__ = ["TINY_BACKBONE", "TINY_DISTRIBUTION", "tiny_backbone", "biobench_backbones"]

BIOBENCH_CONTRACT = 2
#: The tiny backbone's id, for ``biobench run --backbone`` inside :func:`tiny_backbone`.
TINY_BACKBONE = "kit/tiny"
#: The distribution :func:`tiny_backbone` installs for the block.
TINY_DISTRIBUTION = "biobench-kit-tiny"


@hookimpl
def biobench_backbones() -> Iterator[BackboneSpec]:
    yield BackboneSpec(id=TINY_BACKBONE, factory="biobench_core.testing._tiny_model:TinyBackbone", embed_dim=16,
                       input_size=32, license="MIT",
                       description="the kit's tiny backbone: a fixed random 3x3 convolution, mean-pooled (tests only)")


@contextlib.contextmanager
def tiny_backbone() -> Iterator[str]:
    """Make ``kit/tiny`` discoverable for the block (yields its id).

    Writes the ``.dist-info`` of ``biobench-kit-tiny`` to a temporary folder and puts that folder first on
    ``sys.path`` and ``PYTHONPATH`` (for workers); when ``BIOBENCH_LOAD_PLUGINS`` limits the plugins loaded, it
    adds the distribution to it. Everything is put back after the block.
    """
    saved = {name: os.environ.get(name) for name in (LOAD_ENV, "PYTHONPATH")}
    with tempfile.TemporaryDirectory(prefix="biobench-kit-tiny-") as site:
        write_distribution(site, TINY_DISTRIBUTION, {}, {"kit": __name__})
        sys.path.insert(0, site)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (site, saved["PYTHONPATH"]) if p)
        if saved[LOAD_ENV] is not None:
            os.environ[LOAD_ENV] = ",".join(p for p in (saved[LOAD_ENV], TINY_DISTRIBUTION) if p.strip())
        importlib.invalidate_caches()
        reset_registry()
        try:
            yield TINY_BACKBONE
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(site)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            importlib.invalidate_caches()
            reset_registry()
