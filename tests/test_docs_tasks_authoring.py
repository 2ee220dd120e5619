"""docs/tasks-authoring.md and docs/hookspecs.md state the task contract's signatures exactly as the code does.

Each page's "contract stubs" block is Python: it is executed here (as tests/test_docs_snippets.py executes every
block), and each class, method, property, class attribute and function it defines is compared with the name of the
same spelling in ``biobench_core`` (or ``biobench_core.testing``): ``inspect.signature`` text, annotations as
written in the source. So a changed signature in the code fails this test until the pages say the same.
"""

from __future__ import annotations

import inspect
import sys
import types
from pathlib import Path

import pytest

import biobench_core
import biobench_core.testing

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ("tasks-authoring.md", "hookspecs.md")
MARK = "# contract stubs:"


def _stub_module(page: str) -> types.ModuleType:
    """The page's stubs block, executed as a module of its own (dataclasses resolve annotations through it)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(MARK)
    code = text[start:text.index("\n```", start)]
    module = types.ModuleType("stubs_" + page.replace("-", "_").replace(".", "_"))
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, str(DOCS / page), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


STUBS = {page: _stub_module(page) for page in PAGES}
DEFINED = {(page, name): obj for page, module in STUBS.items() for name, obj in vars(module).items()
           if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "") == module.__name__}


def _real(name: str):
    for module in (biobench_core, biobench_core.testing):
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AssertionError(f"the docs state {name}, which neither biobench_core nor "
                         f"biobench_core.testing exports")


def _text(obj) -> str:
    return str(inspect.signature(obj))


def test_the_stubs_cover_the_contract():
    core = {"Task", "Example", "SplitFeatures", "Prediction", "Evaluation", "load_task"}
    assert core | {"ImageFileTask", "check_task"} <= {name for page, name in DEFINED if page == "tasks-authoring.md"}
    assert core <= {name for page, name in DEFINED if page == "hookspecs.md"}


@pytest.mark.parametrize(("page", "name"), sorted(DEFINED), ids=lambda x: x)
def test_each_stub_matches_the_code(page, name):
    stub, real = DEFINED[page, name], _real(name)
    name = f"{page}: {name}"
    if inspect.isfunction(stub):
        assert _text(stub) == _text(real), f"{name}: the page says {_text(stub)}, the code {_text(real)}"
        return
    if hasattr(stub, "__dataclass_fields__") or hasattr(stub, "_fields"):  # a record: its constructor
        assert _text(stub) == _text(real), f"{name}(...): the page says {_text(stub)}, the code {_text(real)}"
    for member, value in vars(stub).items():
        if member.startswith("__") or member in getattr(stub, "__dataclass_fields__", {}) or \
                member in getattr(stub, "_fields", ()) or member.startswith("_"):
            continue
        assert hasattr(real, member), f"the page states {name}.{member}, which the code does not have"
        actual = inspect.getattr_static(real, member)
        if isinstance(value, property):
            assert isinstance(actual, property), f"{name}.{member} is a property on the page, not in the code"
            value, actual = value.fget, actual.fget
        elif isinstance(value, (classmethod, staticmethod)):
            assert type(actual) is type(value), f"{name}.{member}: the page says {type(value).__name__}"
            value, actual = value.__func__, actual.__func__
        if inspect.isfunction(value):
            assert _text(value) == _text(actual), (f"{name}.{member}: the page says {_text(value)}, "
                                                   f"the code {_text(actual)}")
        elif value is not Ellipsis:
            assert value == getattr(real, member), (f"{name}.{member}: the page says {value!r}, "
                                                    f"the code {getattr(real, member)!r}")


def test_the_classes_have_their_bases():
    stubs = STUBS["tasks-authoring.md"]
    assert issubclass(biobench_core.ImageFileTask, biobench_core.Task) and issubclass(stubs.ImageFileTask, stubs.Task)
