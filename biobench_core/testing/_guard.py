"""Watch a block of code for network access and for heavy imports. Standard library only.

The conformance checks run a plugin's code inside these guards. The module imports nothing from biobench, so
the discovery probe can load it by path in a fresh interpreter without importing anything else first.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import traceback
from collections.abc import Iterator

__all__ = ["HEAVY_MODULES", "NetworkAccessError", "NetworkGuard", "ImportWatcher"]

#: Top-level modules that listing must never import: each costs seconds, and some pull in a GPU runtime.
HEAVY_MODULES = ("torch", "torchvision", "timm", "open_clip", "transformers", "tensorflow", "jax")

_INET = (socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET))


class NetworkAccessError(OSError):
    """Raised instead of opening a connection while a conformance check runs.

    It is an ``OSError`` so that code which falls back gracefully when offline keeps working; the attempt is
    recorded (and reported as a problem) whether or not the plugin catches the error.
    """


class NetworkGuard:
    """Refuse, and record, every outgoing connection and DNS lookup while active.

    Patches ``socket.socket.connect``/``connect_ex``, ``socket.create_connection`` and ``socket.getaddrinfo``.
    Unix-domain sockets are let through (they are not network). ``phase`` names what is running now, so a
    report can say "during load" or "during forward".
    """

    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []  # (phase, "host:port")
        self.phase = ""

    def _refuse(self, target: object) -> NetworkAccessError:
        if isinstance(target, tuple) and len(target) >= 2:
            where = f"{target[0]}:{target[1]}"
        else:
            where = str(target)
        self.attempts.append((self.phase, where))
        return NetworkAccessError(f"biobench conformance check: network access to {where} is not allowed here")

    @contextlib.contextmanager
    def active(self) -> Iterator[NetworkGuard]:
        guard = self
        originals = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
        original_connect, original_connect_ex = originals[0], originals[1]

        def connect(sock: socket.socket, address: object) -> None:
            if sock.family in _INET:
                raise guard._refuse(address)
            return original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: object) -> int:
            if sock.family in _INET:
                raise guard._refuse(address)
            return original_connect_ex(sock, address)

        def create_connection(address: object, *args: object, **kwargs: object) -> socket.socket:
            raise guard._refuse(address)

        def getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> list:
            raise guard._refuse((host, port))

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.create_connection = create_connection  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        try:
            yield self
        finally:
            (socket.socket.connect, socket.socket.connect_ex, socket.create_connection,  # type: ignore[method-assign]
             socket.getaddrinfo) = originals

    def describe(self, phase: str | None = None) -> list[str]:
        """Distinct targets contacted, in order, optionally only those of one phase."""
        seen: list[str] = []
        for attempt_phase, where in self.attempts:
            if (phase is None or attempt_phase == phase) and where not in seen:
                seen.append(where)
        return seen


class ImportWatcher:
    """A ``sys.meta_path`` finder that remembers where each heavy module was first imported from.

    It never finds anything itself; it only records the first frame outside the import machinery that asked
    for ``torch`` (or another of :data:`HEAVY_MODULES`), so a report can name the offending line.
    """

    def __init__(self, names: tuple[str, ...] = HEAVY_MODULES) -> None:
        self.names = names
        self.origins: dict[str, str] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        top = fullname.partition(".")[0]
        if top in self.names and top not in self.origins and top not in sys.modules:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<frozen") and f.filename != __file__
                      and f"{os.sep}importlib{os.sep}" not in f.filename]
            self.origins[top] = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        return None

    def install(self) -> ImportWatcher:
        sys.meta_path.insert(0, self)
        return self

    def uninstall(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


def heavy_loaded() -> list[str]:
    """The heavy modules imported so far in this interpreter."""
    return [name for name in HEAVY_MODULES if name in sys.modules]
