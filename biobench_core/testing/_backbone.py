"""``check_backbone``: build a backbone on CPU and check one real forward pass through its own transform, and
that a declared preprocessing (contract 2) computes what that transform computes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from biobench_core.testing._guard import NetworkAccessError, NetworkGuard
from biobench_core.testing._report import Report, exception_line

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["check_backbone", "make_test_images"]

#: (width, height) of the generated test images: different sizes and aspect ratios, as real datasets have.
TEST_IMAGE_SIZES = ((80, 64), (64, 64), (97, 120))

#: The most a declared preprocessing may differ from the callable transform, per normalised pixel. Both run in
#: float32 on the same 8-bit pixels, so a faithful declaration agrees exactly; 1e-5 leaves room for a transform
#: that normalises in another order (``(x - mean) / std`` versus ``x / std - mean / std``), and none for a
#: different resize, crop or interpolation, which move pixels by whole steps of ``1 / (255 * std)``.
PREPROCESSING_ATOL = 1e-5


def make_test_images(n: int = 3, *, seed: int = 0) -> list[Image.Image]:
    """``n`` small RGB PIL images (noise over colour gradients), the same for the same ``seed``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        width, height = TEST_IMAGE_SIZES[i % len(TEST_IMAGE_SIZES)]
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200
        pixels = np.clip(base + rng.normal(0, 25, size=base.shape), 0, 255).astype(np.uint8)
        images.append(Image.fromarray(pixels, mode="RGB"))
    return images


def _preprocessing_images(images: Sequence[Image.Image]) -> list[Image.Image]:
    """``images`` and the shapes and modes a declared preprocessing gets wrong first: a wide, a tall and a large
    image (shrinking, where antialiasing shows), one smaller than any crop, grayscale, RGBA and palette."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)

    def noise(width: int, height: int) -> Image.Image:
        return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), mode="RGB")

    gray = Image.fromarray(rng.integers(0, 256, size=(90, 70), dtype=np.uint8), mode="L")
    rgba = noise(75, 60).convert("RGBA")
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, size=(60, 75), dtype=np.uint8), mode="L"))
    palette = noise(66, 50).convert("P", palette=Image.Palette.ADAPTIVE)
    return [*images, noise(300, 90), noise(70, 260), noise(513, 385), noise(9, 6), gray, rgba, palette]


def _names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _training_modules(module: Any) -> list[str]:
    return [f"{name or '<root>'} ({type(m).__name__})" for name, m in module.named_modules() if m.training]


def _grad_params(module: Any) -> list[str]:
    return [name for name, p in module.named_parameters() if p.requires_grad]



def _check_features(report: Report, out: Any, n: int, spec: Any) -> bool:
    """Type, shape, dtype and finiteness of one ``img_encode`` output; False when nothing more can be checked."""
    import torch

    from biobench_core.contract._backbone import BackboneOutputError, EncodedImgBatch, check_encoded

    if not isinstance(out, EncodedImgBatch):
        report.fail("output", f"img_encode returned {type(out).__name__}, not EncodedImgBatch")
        return False
    feats = out.img_features
    if not isinstance(feats, torch.Tensor):
        report.fail("output", f"img_features is a {type(feats).__name__}, not a torch.Tensor")
        return False
    shape = tuple(feats.shape)
    ok = True
    if feats.ndim != 2 or shape[0] != n:
        report.fail("output", f"img_features has shape {shape} for a batch of {n} images; expected ({n}, dim)")
        return False
    if spec.embed_dim is not None and shape[1] != spec.embed_dim:
        report.fail("output", f"img_features has shape {shape}, spec declares embed_dim={spec.embed_dim}")
        ok = False
    if not feats.is_floating_point():
        report.fail("output", f"img_features has dtype {feats.dtype}, not a float dtype")
        return False
    n_nan = int(torch.isnan(feats).sum())
    n_inf = int(torch.isinf(feats).sum())
    if n_nan:
        report.fail("output", f"NaN in img_features ({n_nan} of {feats.numel()} values)")
        ok = False
    if n_inf:
        report.fail("output", f"infinite values in img_features ({n_inf} of {feats.numel()} values)")
        ok = False
    patches = out.patch_features
    patch_text = "no patch_features"
    if patches is not None:
        if not isinstance(patches, torch.Tensor) or patches.ndim != 3 or patches.shape[0] != n:
            got = tuple(patches.shape) if isinstance(patches, torch.Tensor) else type(patches).__name__
            report.fail("output", f"patch_features has shape {got}; expected ({n}, n_patches, dim) or None")
            ok = False
        elif not patches.is_floating_point() or not bool(torch.isfinite(patches).all()):
            report.fail("output", f"patch_features must be finite floats (dtype {patches.dtype})")
            ok = False
        else:
            patch_text = f"patch_features {tuple(patches.shape)}"
    if ok:
        try:
            check_encoded(out, n, spec.id)
        except BackboneOutputError as exc:  # the core's own run-time check must agree
            report.fail("output", str(exc))
            return False
        report.ok_("output", f"img_features {shape} {str(feats.dtype).removeprefix('torch.')}, {patch_text}")
    return ok


_FIX_REPR = ("give the transform a __repr__ that names its class and every parameter, e.g. "
             "'MyTransform(size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))', or compose torchvision "
             "transforms, whose reprs already do (a plain function's repr holds an address too: wrap a "
             "module-level one in transforms.Lambda, never a lambda)")


def _check_transform_identity(report: Report, backbone: Any, transform: Any) -> None:
    """The feature cache keys on the transform's description (its ``repr``): it must exist and be the same for
    every ``make_img_transform()`` call, or the core will not cache this backbone's features."""
    from biobench_core.engine._identity import UNSTABLE_REPR, describe_transform

    description = describe_transform(transform)
    if description is None:
        text = repr(transform)
        match = UNSTABLE_REPR.search(text)
        start = max(0, match.start() - 40) if match else 0
        end = min(len(text), (match.end() if match else 0) + 40)
        snippet = ("..." if start else "") + " ".join(text[start:end].split()) + ("..." if end < len(text) else "")
        report.fail("transform identity",
                    f"the transform's repr holds a memory address or a lambda ({snippet}), "
                    f"so it has no stable description and the core will not cache this backbone's features; "
                    f"{_FIX_REPR}")
        return
    try:
        again = describe_transform(backbone.make_img_transform())
    except Exception as exc:  # noqa: BLE001
        report.fail("transform identity", f"a second make_img_transform() call raised {exception_line(exc)}")
        return
    if again != description:
        report.fail("transform identity",
                    f"two make_img_transform() calls give transforms with different reprs ({_clip(description)} vs "
                    f"{_clip(again)}), so the core will not cache this backbone's features (the cache keys on the "
                    f"repr); let the repr name its parameters only, nothing that changes from call to call")
        return
    report.ok_("transform identity", f"stable description: {_clip(description)}")


def _check_preprocessing(report: Report, backbone: Any, transform: Any, images: Sequence[Image.Image]) -> None:
    """A declared ``preprocessing()`` must compute what ``make_img_transform()`` computes: the extraction loop
    uses one or the other, and features must not depend on which."""
    import torch

    from biobench_core.contract._preprocessing import Preprocessing, apply_geometry, normalise

    try:
        declared = backbone.preprocessing()
    except Exception as exc:  # noqa: BLE001
        report.fail("preprocessing", f"preprocessing() raised {exception_line(exc)}")
        return
    if declared is None:
        report.ok_("preprocessing", "no declared preprocessing: the callable transform is used")
        return
    if not isinstance(declared, Preprocessing):
        report.fail("preprocessing", f"preprocessing() returned {type(declared).__name__}, not "
                                     f"biobench_core.Preprocessing or None")
        return
    samples = _preprocessing_images(images)
    worst = 0.0
    for number, img in enumerate(samples, 1):
        what = f"image {number} of {len(samples)} ({img.width}x{img.height} {img.mode})"
        try:
            expected = transform(img)
            got = normalise(torch.from_numpy(apply_geometry(img, declared.geometry))[None], declared,
                            torch.float32)[0]
        except Exception as exc:  # noqa: BLE001
            report.fail("preprocessing", f"on {what}, the transform or the declared {declared.describe()} raised "
                                         f"{exception_line(exc)}")
            return
        if not isinstance(expected, torch.Tensor) or expected.shape != got.shape:
            shape = tuple(expected.shape) if isinstance(expected, torch.Tensor) else type(expected).__name__
            report.fail("preprocessing", f"the declared {declared.describe()} gives {tuple(got.shape)} on {what}, "
                                         f"make_img_transform() gives {shape}; {_DESCRIBE_OR_NONE}")
            return
        diff = _max_diff(expected, got)
        if not diff <= PREPROCESSING_ATOL:  # NaN fails too
            report.fail("preprocessing", f"the declared {declared.describe()} differs from make_img_transform() "
                                         f"on {what}: max abs diff {diff:.3g} > atol {PREPROCESSING_ATOL:g}; "
                                         f"{_DESCRIBE_OR_NONE}")
            return
        worst = max(worst, diff)
    report.ok_("preprocessing", f"declared {declared.describe()} matches make_img_transform() on {len(samples)} "
                                f"images of different sizes and modes (max abs diff {worst:.2g}, "
                                f"atol {PREPROCESSING_ATOL:g})")


_DESCRIBE_OR_NONE = ("make preprocessing() describe exactly what the transform does, or return None from "
                     "preprocessing() if the transform cannot be described as a resize, a centre crop, mean and std")


def _clip(text: str | None, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _max_diff(a: Any, b: Any) -> float:
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def check_backbone(
    backbone_id: str,
    weights: str | None = None,
    *,
    images: Sequence[Image.Image] | None = None,
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> Report:
    """Build ``backbone_id`` on CPU with ``weights`` and check a real forward pass; return a :class:`Report`.

    The id is resolved through the current registry (in tests: the ``biobench_registry`` fixture). The checks:
    the factory returns a ``VisionBackbone`` in eval mode with no parameter requiring grad and a ``weights_id``;
    ``make_img_transform()`` turns small PIL images of different sizes into equal-shaped float ``(3, H, W)``
    tensors, the same on every call, and has a stable description (a ``repr`` without a memory address or a
    lambda, the same on every ``make_img_transform()`` call: the feature cache keys on it); a declared
    ``preprocessing()`` (contract 2) computes what the transform computes, within :data:`PREPROCESSING_ATOL`, on
    those images and on others of odd sizes and modes (``None``, the contract-1 default, passes);
    ``img_encode`` returns an ``EncodedImgBatch`` whose ``img_features`` is a finite float ``(batch, dim)``
    tensor (``dim == spec.embed_dim`` when declared); two passes agree exactly (within 1e-6 relative); encoding
    images one at a time matches the batch within ``atol + rtol*|x|``; nothing opens a network connection
    during load or forward (connections are refused and reported); and the options the spec declares are
    well-formed (each default and allowed value written in an id reads back as itself, and a default gives the
    backbone without options, whose build is the one checked). ``backbone_id`` may carry options
    (``"timm/resnet50.a1_in1k?pool=max"``): that choice is what is built and checked.
    """
    import torch

    from biobench_core.contract._catalog import import_factory, resolve_backbone
    from biobench_core.contract._backbone import VisionBackbone

    report = Report(backbone_id)
    try:
        spec = resolve_backbone(backbone_id)
    except Exception as exc:  # noqa: BLE001
        report.fail("resolve", exception_line(exc))
        return report
    report.subject = spec.id + ("" if weights is None else f" (weights={weights})")
    _check_options(report, spec)
    guard = NetworkGuard()
    try:
        with guard.active():
            _check_backbone(report, spec, weights, images, atol, rtol, guard, torch, import_factory, VisionBackbone)
    finally:
        for phase in ("load", "transform", "forward"):
            targets = guard.describe(phase)
            if targets:
                report.fail("offline", f"opened a network connection to {', '.join(targets)} during {phase}; "
                                       f"a backbone must load from local files (download in a separate step)")
        if not guard.attempts:
            report.ok_("offline", "no connection attempted during load or forward")
    return report


def _check_options(report: Report, spec: Any) -> None:
    """The options ``spec`` declares: each default is the backbone without options (the id it is listed under,
    which the plain build below checks), and each allowed value is written in an id and read back as itself (no
    ``&``, ``=``, ``?``, ``#`` or space that would break ``<id>?name=value``)."""
    import dataclasses

    from biobench_core.contract._options import text

    options = getattr(spec, "options", ())
    if not options:
        return
    bare = dataclasses.replace(spec, id=spec.base_id, values=())  # the backbone as listed, without options
    problems = []
    for option in options:
        values = ([] if option.default is None else [option.default]) + list(option.choices or ())
        for value in dict.fromkeys(values):
            written = text(value)
            if any(c in written for c in "&=?#") or any(c.isspace() for c in written) or not written:
                problems.append(f"{option.name}={written!r} cannot be written in an id ('<id>?name=value')")
                continue
            try:
                chosen = bare.with_options({option.name: written})
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{option.name}={written} is refused: {exception_line(exc)}")
                continue
            if chosen.option(option.name) != value:
                problems.append(f"{option.name}={written} reads back as {chosen.option(option.name)!r}")
            elif value == option.default and chosen.id != bare.id:
                problems.append(f"{option.name} at its default {written} gives {chosen.id}, not {bare.id}")
    if problems:
        report.fail("options", "; ".join(problems))
    else:
        declared = ", ".join(f"{o.name} (default {o.default!r}"
                             + (f"; {len(o.choices)} values)" if o.choices else ")") for o in options)
        report.ok_("options", f"{bare.id} declares {declared}; every default and allowed value reads back")


def _check_backbone(report: Report, spec: Any, weights: str | None, images: Any, atol: float, rtol: float,
                    guard: NetworkGuard, torch: Any, import_factory: Any, VisionBackbone: type) -> None:
    guard.phase = "load"
    try:
        factory = import_factory(spec)
        backbone = factory(spec, weights)
    except NetworkAccessError as exc:
        report.fail("load", f"the factory raised {exception_line(exc)}")
        return
    except Exception as exc:  # noqa: BLE001
        report.fail("load", f"{spec.factory}({spec.id!r}, {weights!r}) raised {exception_line(exc)}")
        return
    if not isinstance(backbone, VisionBackbone):
        report.fail("load", f"{spec.factory} returned {type(backbone).__name__}, not a VisionBackbone")
        return
    report.ok_("load", f"{type(backbone).__name__} from {spec.factory}")

    training = _training_modules(backbone)
    if training:
        report.fail("eval mode", f"not in eval mode: the factory returned modules in training mode: {_names(training)}")
    else:
        report.ok_("eval mode", "every module is in eval mode")
    grads = _grad_params(backbone)
    if grads:
        report.fail("frozen", f"parameters require grad: {_names(grads)}; call requires_grad_(False)")
    else:
        report.ok_("frozen", f"{sum(p.numel() for p in backbone.parameters()):,} parameters, none requires grad")
    backbone.eval()  # check the rest as load_backbone would use it
    backbone.requires_grad_(False)
    weights_id = getattr(backbone, "weights_id", "unknown")
    if not weights_id or weights_id == "unknown":
        report.add("weights id", "warn", "weights_id is 'unknown': the feature cache cannot tell these weights "
                                         "from others; set it to a tag or a hash of the weights file")
    else:
        report.ok_("weights id", str(weights_id))

    guard.phase = "transform"
    images = list(images) if images is not None else make_test_images(3)
    try:
        transform = backbone.make_img_transform()
        tensors = [transform(img) for img in images]
        again = transform(images[0])
    except Exception as exc:  # noqa: BLE001
        report.fail("transform", f"make_img_transform() or applying it raised {exception_line(exc)}")
        return
    _check_transform_identity(report, backbone, transform)
    _check_preprocessing(report, backbone, transform, images)
    shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in tensors]
    if not all(isinstance(t, torch.Tensor) and t.is_floating_point() and t.ndim == 3 and t.shape[0] == 3
               for t in tensors):
        report.fail("transform", f"the transform must return float tensors of shape (3, H, W); got {shapes}")
        return
    if len(set(shapes)) != 1:
        report.fail("transform", f"images of different sizes give tensors of different shapes {shapes}; "
                                 f"resize or crop to one size so a batch can be stacked")
        return
    if not torch.equal(again, tensors[0]):
        report.fail("transform", "the transform is random: two calls on one image differ (no augmentation: "
                                 "features must be reproducible)")
    else:
        if spec.input_size is not None and not spec.values and shapes[0][1:] != (spec.input_size, spec.input_size):
            report.add("transform", "warn", f"transform gives {shapes[0]}, spec declares input_size={spec.input_size}")
        else:
            report.ok_("transform", f"{len(images)} images of different sizes -> {shapes[0]}")
    batch = torch.stack(tensors)
    n = batch.shape[0]

    guard.phase = "forward"
    try:
        with torch.no_grad():
            first = backbone.img_encode(batch.clone())
    except Exception as exc:  # noqa: BLE001
        report.fail("forward", f"img_encode on a batch of shape {tuple(batch.shape)} raised {exception_line(exc)}")
        return
    if not _check_features(report, first, n, spec):
        return
    with torch.no_grad():
        second = backbone.img_encode(batch.clone())
        singles = [backbone.img_encode(batch[i:i + 1].clone()) for i in range(n)]
    a, b = first.img_features, second.img_features
    diff = _max_diff(a, b) if b.shape == a.shape else float("inf")
    scale = max(1.0, float(a.abs().max()))
    if diff > 1e-6 * scale:
        report.fail("deterministic", f"non-deterministic: max abs diff {diff:.3g} between two passes over the "
                                     f"same batch (randomness, dropout or a module left in training mode?)")
    else:
        report.ok_("deterministic", "two passes over one batch agree")
    one_by_one = torch.cat([s.img_features for s in singles])
    if one_by_one.shape != a.shape:
        report.fail("batch invariance", f"one image at a time gives img_features {tuple(one_by_one.shape)}, "
                                        f"a batch gives {tuple(a.shape)}")
    else:
        err = (one_by_one.double() - a.double()).abs()
        tol = atol + rtol * a.double().abs()
        if bool((err > tol).any()):
            report.fail("batch invariance", f"batch-size dependent: encoding images one at a time differs from "
                                            f"the batch by max abs diff {float(err.max()):.3g} (tolerance atol="
                                            f"{atol:g}, rtol={rtol:g}); features must not depend on batch mates")
        else:
            report.ok_("batch invariance", f"one at a time matches the batch (max abs diff {float(err.max()):.2g})")

    training = _training_modules(backbone)
    grads = _grad_params(backbone)
    if training or grads:
        report.fail("stays frozen", "the forward pass changed the model: "
                    + "; ".join(filter(None, [training and f"modules back in training mode: {_names(training)}",
                                              grads and f"parameters require grad again: {_names(grads)}"])))
