"""The contract layer: what a plugin implements and how plugins are found.

Hookspecs (:mod:`biobench_core.contract.hookspecs`), the specs hooks yield, ``VisionBackbone`` /
``EncodedImgBatch`` / ``BenchmarkReport``, the ``Task`` base class, preprocessing as data, and the plugin registry
and catalogue. It imports nothing else of biobench_core; everything a plugin may use is re-exported from
``biobench_core``. Torch-free at import, except ``_backbone`` (``VisionBackbone`` is a ``torch.nn.Module``).
"""
