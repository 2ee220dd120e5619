"""The probes' fit progress on stderr, shown during a run as extraction's bars are, and never elsewhere.

Choosing ``C`` by cross-validation fits ``len(Cs) x folds`` models and then the final one: minutes on a large or
loaded machine. A task builds its probe inside ``Task.evaluate``, out of the run's reach, so the run says whether
to show progress through a context variable: :func:`probe_progress` around ``evaluate`` (what the runner does unless
``--quiet``), and :func:`fit_bar` in the probe. Outside such a block (a probe fitted from Python, a test) the bar is
disabled and prints nothing. The bar is tqdm's, on stderr, throttled to a redraw every half second, and cleared when
the fit ends, like extraction's.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar

from tqdm import tqdm

__all__ = ["probe_progress", "fit_bar"]

_LABEL: ContextVar[str | None] = ContextVar("biobench_probe_progress", default=None)


@contextlib.contextmanager
def probe_progress(label: str | None) -> Iterator[None]:
    """Show the progress of every probe fitted in this block, described by ``label``; ``None``: show nothing."""
    token = _LABEL.set(label)
    try:
        yield
    finally:
        _LABEL.reset(token)


def fit_bar(probe: str, total: int, first: str) -> tqdm:
    """A bar of ``total`` fits for ``probe``, its text ``first`` until the first update; disabled outside
    :func:`probe_progress`."""
    label = _LABEL.get()
    return tqdm(total=total, desc=f"{label} {probe}" if label else probe, unit="fit", postfix=first,
                disable=label is None, file=sys.stderr, dynamic_ncols=True, leave=False, mininterval=0.5)
