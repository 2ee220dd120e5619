"""docs/hookspecs.md documents exactly the hooks of biobench_core/hookspecs.py, with their exact signatures."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from biobench_core.contract import hookspecs

DOC = Path(__file__).resolve().parents[1] / "docs" / "hookspecs.md"
SPEC_ATTR = f"{hookspecs.PROJECT_NAME}_spec"  # where pluggy's HookspecMarker keeps a hookspec's options


class _Annotation(str):
    """A postponed (string) annotation that prints without quotes, as it is written in the source."""

    def __repr__(self) -> str:
        return str(self)


def signature_text(fn) -> str:
    """``name(params) -> return``, annotations exactly as written in hookspecs.py."""
    sig = inspect.signature(fn)
    fix = lambda a: _Annotation(a) if isinstance(a, str) else a  # noqa: E731
    sig = sig.replace(parameters=[p.replace(annotation=fix(p.annotation)) for p in sig.parameters.values()],
                      return_annotation=fix(sig.return_annotation))
    return f"{fn.__name__}{sig}"


def decorator_text(options: dict) -> str:
    """``@hookspec`` with the options that differ from pluggy's defaults, e.g. ``@hookspec(firstresult=True)``."""
    set_options = [f"{key}={value!r}" for key, value in options.items() if value]
    return "@hookspec" + (f"({', '.join(set_options)})" if set_options else "")


HOOKS = {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, SPEC_ATTR)}


def sections() -> dict[str, str]:
    """Each ``## `biobench_...``` section of the doc, by hook name."""
    text = DOC.read_text()
    parts = re.split(r"^## `([^`]+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_there_are_hooks_to_document():
    assert {"biobench_backbones", "biobench_tasks", "biobench_resolve_backbone"} <= set(HOOKS)


def test_the_doc_lists_every_hook_and_no_other():
    documented = set(sections())
    assert documented == set(HOOKS), (f"missing from docs/hookspecs.md: {sorted(set(HOOKS) - documented)}; "
                                      f"documented but not a hookspec: {sorted(documented - set(HOOKS))}")
    mentioned = set(re.findall(r"\bdef (biobench_\w+)", DOC.read_text()))
    assert mentioned <= set(HOOKS), f"the doc defines hooks that do not exist: {sorted(mentioned - set(HOOKS))}"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_each_hook_is_documented_with_its_exact_signature_and_options(name):
    section = sections().get(name)
    assert section is not None, f"docs/hookspecs.md has no '## `{name}`' section"
    fn = HOOKS[name]
    options = getattr(fn, SPEC_ATTR)
    expected = f"{decorator_text(options)}\ndef {signature_text(fn)}"
    assert expected in section, f"docs/hookspecs.md, section {name}: expected the signature block\n{expected}"
    firstresult_noted = "**firstresult**" in section
    assert firstresult_noted is bool(options.get("firstresult")), (
        f"{name}: the doc must say **firstresult** exactly when the hookspec has firstresult=True")


def test_signature_text_keeps_the_source_spelling():
    assert signature_text(hookspecs.biobench_resolve_backbone) == (
        "biobench_resolve_backbone(backbone_id: str) -> BackboneSpec | None")


def test_the_doc_states_the_current_contract_version():
    assert f"Plugin contract version: **{hookspecs.CONTRACT_VERSION}**" in DOC.read_text()
