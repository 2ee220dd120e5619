"""Every code block in README.md and docs/*.md works as written, so the docs can never drift from the code.

How each fenced block is exercised (one test per block, named ``<file>:L<line of the opening fence>``):

- ```` ```toml ````: parsed with tomllib. A ``[tool.pytest.ini_options]`` table may only use the kit's
  ``biobench_*`` ini options. A block whose first line is ``# file: pyproject.toml`` is also written to the doc's
  plugin project (below).
- ```` ```python ```` whose first line is ``# file: <path>`` (``# file: biobench_mymodel/backbone.py``): a file of
  the doc's example plugin. All such blocks of one doc (with its ``# file: pyproject.toml``) are written to a
  temporary project folder, made discoverable uninstalled with the kit's ``plugin_from_source``, imported, and
  checked with the plugin authors' kit: ``check_plugin`` on the distribution (reported on the block of its
  hook module; a failure to load at all, on the ``pyproject.toml`` block), ``check_backbone`` on every backbone
  it lists, with ``weights="random"`` and, when the spec names a ``weights_source``, its default weights, plus a
  pickling round trip of its transform (what ``--workers`` needs), and ``check_task`` on every task that needs no
  data (reported on the block of the factory's module).
- ```` ```python ```` that defines a top-level ``test_*`` function (with or without ``# file:``): a test module,
  run with pytest (the kit on, ``biobench_plugin`` = the doc's example distribution), as an author's suite runs.
- any other ```` ```python ````: executed, in order, in one namespace per doc file (so a block may use what an
  earlier block of the same file imported or defined). A hook implementation it defines (``biobench_backbones``,
  ``biobench_tasks``, ``biobench_resolve_backbone``) must carry ``@hookimpl`` and is registered as an in-process
  plugin, which validates its specs; the resolver must answer an id it does not know with ``None``. (A
  ``@hookspec`` stub, as docs/hookspecs.md states each signature, is no implementation and is only executed.)

Everything runs in one fresh interpreter per doc file (a subprocess), offline (``HF_HUB_OFFLINE=1``), with its
own feature cache, in a temporary working directory. Other languages (bash, plain text) are not run.
``tests/test_docs_hookspecs.py`` checks, separately, that docs/hookspecs.md states each hook's exact signature.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback
from functools import lru_cache
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<info>[^`\n]*)$")
_FILE_MARK = re.compile(r"^#\s*file:\s*(?P<path>\S+)")
HOOKS = ("biobench_backbones", "biobench_tasks", "biobench_resolve_backbone")
SUBPROCESS_TIMEOUT = 600


@dataclasses.dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository, e.g. "docs/plugins.md"
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    @property
    def key(self) -> str:
        return f"{self.doc}:L{self.line}"

    @property
    def file_path(self) -> str | None:
        """The project path named by a ``# file: <path>`` first line, or None."""
        first = self.code.lstrip("\n").split("\n", 1)[0]
        match = _FILE_MARK.match(first)
        return match["path"] if match else None

    @property
    def defines_tests(self) -> bool:
        try:
            tree = ast.parse(self.code)
        except SyntaxError:
            return False  # executing or importing it reports the syntax error
        return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
                   for node in tree.body)

    @property
    def kind(self) -> str:
        """``file``, ``pytest`` or ``exec`` for python; the language otherwise."""
        if self.lang != "python":
            return self.lang
        if self.file_path:
            return "file"
        return "pytest" if self.defines_tests else "exec"


def extract_blocks(path: Path, doc: str | None = None) -> list[Block]:
    """Every fenced code block of a markdown file, with its language and the line of its opening fence."""
    doc = doc or path.relative_to(REPO).as_posix()
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], match["indent"]
        lang = (match["info"].split() or [""])[0].lower()
        start, i = i, i + 1
        body: list[str] = []
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and not lines[i].strip().strip(fence[0])):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1  # the closing fence
        blocks.append(Block(doc, start + 1, lang, "\n".join(body) + "\n"))
    return blocks


ALL_BLOCKS = [block for doc in DOCS for block in extract_blocks(doc)]
PYTHON_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "python"]
TOML_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "toml"]


def _kit_ini_options() -> set[str]:
    from biobench_core.testing import switch

    names: set[str] = set()

    class Parser:
        def addini(self, name, *args, **kwargs):
            names.add(name)

    switch.add_ini_options(Parser())
    return names


# -- the harness: one subprocess per doc file -----------------------------------------------------------------


def _plan(doc: str, workdir: Path) -> dict:
    """Write the doc's example project to ``workdir/project`` and describe what the runner executes."""
    blocks = [b for b in ALL_BLOCKS if b.doc == doc]
    project = workdir / "project"
    project.mkdir(parents=True, exist_ok=True)
    files, dist = [], None
    for block in blocks:
        if block.file_path and block.lang in ("python", "toml"):
            target = project / block.file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
            files.append({"key": block.key, "path": block.file_path, "tests": block.defines_tests})
            if block.file_path == "pyproject.toml":
                dist = tomllib.loads(block.code)["project"]["name"]
    tests = [{"key": f["key"], "path": str(project / f["path"])} for f in files if f["tests"]]
    for block in blocks:
        if block.kind == "pytest":
            name = f"test_{re.sub(r'[^0-9a-zA-Z]+', '_', block.doc)}_L{block.line}.py"
            (workdir / "doc_tests").mkdir(exist_ok=True)
            (workdir / "doc_tests" / name).write_text(block.code, encoding="utf-8")
            tests.append({"key": block.key, "path": str(workdir / "doc_tests" / name)})
    return {
        "doc": doc,
        "doc_path": str(REPO / doc),
        "workdir": str(workdir),
        "project": str(project),
        "dist": dist,
        "files": files,
        "execs": [{"key": b.key, "line": b.line, "code": b.code} for b in blocks if b.kind == "exec"],
        "tests": tests,
    }


@lru_cache(maxsize=None)
def _results(doc: str, workdir: str) -> dict[str, dict]:
    plan = _plan(doc, Path(workdir))
    plan_path = Path(workdir) / "plan.json"
    out_path = Path(workdir) / "results.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "BIOBENCH_CACHE": str(Path(workdir) / "feature-cache")}
    for var in ("BIOBENCH_LOAD_PLUGINS", "BIOBENCH_STRICT_PLUGINS", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"):
        env.pop(var, None)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, str(plan_path), str(out_path)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    if proc.returncode != 0 or not out_path.exists():
        pytest.fail(f"the snippet runner for {doc} crashed (exit {proc.returncode}) after "
                    f"{time.perf_counter() - started:.0f}s:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(out_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc_results(tmp_path_factory):
    def get(doc: str) -> dict[str, dict]:
        workdir = tmp_path_factory.getbasetemp() / ("docs-" + re.sub(r"[^0-9a-zA-Z]+", "-", doc))
        workdir.mkdir(exist_ok=True)
        return _results(doc, str(workdir))
    return get


# -- the tests -------------------------------------------------------------------------------------------------


def test_the_docs_have_python_to_run():
    assert any(b.doc == "README.md" for b in PYTHON_BLOCKS)
    assert any(b.doc == "docs/plugins.md" and b.kind == "file" for b in PYTHON_BLOCKS)
    assert any(b.kind == "pytest" for b in PYTHON_BLOCKS)


def test_the_block_parser(tmp_path):
    text = "# t\n\n```python\nx = 1\n```\n\n- item:\n\n  ```toml\n  a = 1\n  ```\n\n````\n```python\n````\n"
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    blocks = extract_blocks(path, "doc.md")
    assert [(b.line, b.lang, b.code) for b in blocks] == [(3, "python", "x = 1\n"), (9, "toml", "a = 1\n"),
                                                          (13, "", "```python\n")]


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.key)
def test_python_block_runs(block: Block, doc_results):
    result = doc_results(block.doc).get(block.key)
    assert result is not None, f"{block.key}: the runner did not report this {block.kind} block"
    assert result["ok"], f"{block.key} ({block.kind} block) does not work as written:\n{result['message']}"


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=lambda b: b.key)
def test_toml_block_parses(block: Block, doc_results):
    try:
        data = tomllib.loads(block.code)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{block.key}: not valid TOML: {exc}")
    ini = data.get("tool", {}).get("pytest", {}).get("ini_options", {})
    unknown = {k for k in ini if k.startswith("biobench")} - _kit_ini_options()
    assert not unknown, f"{block.key}: {sorted(unknown)} are not ini options of biobench_core.testing"
    entry_points = data.get("project", {}).get("entry-points", {}).get("biobench", {})
    for name, target in entry_points.items():
        assert re.fullmatch(r"[A-Za-z_][\w.]*", target), f"{block.key}: entry point {name} = {target!r}"
    if block.file_path == "pyproject.toml":
        assert {"name", "version"} <= set(data.get("project", {})), f"{block.key}: a project needs name and version"
        result = doc_results(block.doc)[block.key]  # the example plugin it describes loads and passes the kit
        assert result["ok"], f"{block.key}: the doc's example plugin does not work:\n{result['message']}"


# -- the runner (executed in a fresh interpreter: python tests/test_docs_snippets.py PLAN OUT) -------------------


def _failure(exc: BaseException) -> dict:
    return {"ok": False, "message": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-6000:]}


def _record(results: dict, key: str, ok: bool, message: str = "") -> None:
    """Add a check's outcome to a block's result: a block fails when any of its checks failed."""
    previous = results.get(key, {"ok": True, "message": ""})
    results[key] = {"ok": previous["ok"] and ok, "message": "\n".join(filter(None, [previous["message"], message]))}


def _module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _check_example_plugin(plan: dict, results: dict) -> None:
    """The kit's checks on the doc's example plugin, reported on the blocks that hold the code they test."""
    from biobench_core.testing import check_backbone, check_plugin, check_task, isolated_registry, use_registry

    block_of = {_module_name(f["path"]): f["key"] for f in plan["files"] if f["path"].endswith(".py")
                and not f["tests"]}
    pyproject = next(f["key"] for f in plan["files"] if f["path"] == "pyproject.toml")

    def owner(module: str) -> str:
        while module and module not in block_of:
            module = module.rpartition(".")[0]
        return block_of.get(module, pyproject)

    registry = isolated_registry([plan["dist"]])
    if not registry.plugins:
        _record(results, pyproject, False, f"no 'biobench' entry point in distribution {plan['dist']!r}")
        return
    for record in registry.plugins:
        hook_module = record.entry_point.partition("=")[2].strip()
        report = check_plugin(plan["dist"])
        _record(results, owner(hook_module), report.ok, "" if report.ok else report.format())
    with use_registry(registry):
        import pickle

        from biobench_core import list_backbones, list_tasks, load_backbone
        from biobench_core.engine._identity import describe_transform

        for spec in list_backbones():
            for weights in (["random", None] if spec.weights_source else ["random"]):
                report = check_backbone(spec.id, weights=weights)
                _record(results, owner(spec.factory.partition(":")[0]), report.ok,
                        "" if report.ok else f"check_backbone({spec.id!r}, weights={weights!r}):\n{report.format()}")
            # the docs promise a transform that pickles into --workers processes: the example's must
            try:
                transform = load_backbone(spec.id, weights="random").make_img_transform()
                copy = pickle.loads(pickle.dumps(transform))
                stable = describe_transform(transform) is not None  # else check_backbone has said so already
                same, message = not stable or repr(copy) == repr(transform), f"{copy!r} != {transform!r}"
            except Exception as exc:  # noqa: BLE001
                same, message = False, _failure(exc)["message"]
            _record(results, owner(spec.factory.partition(":")[0]), same,
                    "" if same else f"{spec.id}: its transform does not survive pickling: {message}")
        for spec in list_tasks():
            if not spec.needs_data:
                report = check_task(spec.id)
                _record(results, owner(spec.factory.partition(":")[0]), report.ok,
                        "" if report.ok else f"check_task({spec.id!r}):\n{report.format()}")


def _check_hooks(module, before: dict) -> None:
    """Register the hook implementations a block just defined as a throwaway plugin; it must load cleanly."""
    from types import SimpleNamespace

    from biobench_core.contract._registry import Registry

    defined = {name: module.__dict__[name] for name in HOOKS
               if name in module.__dict__ and module.__dict__[name] is not before.get(name)}
    # a hookspec stub (docs/hookspecs.md states each hook's signature as one) is no implementation
    hooks = {name: fn for name, fn in defined.items() if not hasattr(fn, "biobench_spec")}
    unmarked = [name for name, fn in hooks.items() if not hasattr(fn, "biobench_impl")]
    if unmarked:
        raise AssertionError(f"{unmarked} lack @hookimpl: biobench would never call them")
    if not hooks:
        return
    ids = [spec.id for name in ("biobench_backbones", "biobench_tasks") if name in hooks for spec in hooks[name]()]
    namespace = ids[0].partition("/")[0] if ids else "docs-snippet"
    registry = Registry(entry_points=[])
    record = registry.register(SimpleNamespace(**hooks), namespace, name="docs-snippet")
    if not record.ok:
        raise AssertionError(f"its hooks do not load as a plugin: {record.failure()}")
    listed = [s.id for s in registry.backbones.listed()] + [s.id for s in registry.tasks.listed()]
    if sorted(listed) != sorted(ids):
        raise AssertionError(f"its hooks yield {ids}, but the registry lists {listed}")
    if "biobench_resolve_backbone" in hooks:
        unknown = f"{namespace}/no-such-model-{os.getpid()}"
        answer = registry.pm.hook.biobench_resolve_backbone(backbone_id=unknown)
        if answer is not None:
            raise AssertionError(f"biobench_resolve_backbone({unknown!r}) must return None, got {answer!r}")


def _exec_blocks(plan: dict, results: dict) -> None:
    """Run the doc's plain blocks in order in one module namespace; tracebacks name the doc's own lines."""
    import types

    module = types.ModuleType("docs_snippets")
    module.__file__ = plan["doc_path"]
    sys.modules[module.__name__] = module
    for block in plan["execs"]:
        before = dict(module.__dict__)
        try:
            tree = ast.parse(block["code"], filename=plan["doc_path"])
            ast.increment_lineno(tree, block["line"])  # line 1 of the block is the line after the fence
            exec(compile(tree, plan["doc_path"], "exec"), module.__dict__)
            _check_hooks(module, before)
            results[block["key"]] = {"ok": True, "message": ""}
        except BaseException as exc:  # noqa: BLE001 - a snippet may raise anything; report it on its block
            if isinstance(exc, KeyboardInterrupt):
                raise
            results[block["key"]] = _failure(exc)


def _run_tests(plan: dict, results: dict) -> None:
    """Run each test block with pytest, in this interpreter, the kit on and the doc's plugin under test."""
    ini = str(Path(plan["workdir"]) / "pytest.ini")
    Path(ini).write_text("[pytest]\n", encoding="utf-8")
    for test in plan["tests"]:
        args = [test["path"], "-q", "-p", "biobench_core.testing", "-p", "no:cacheprovider",
                "--import-mode=importlib", "--rootdir", plan["workdir"], "-c", ini,
                "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # this interpreter imported jaxtyping already
        if plan["dist"]:
            args += ["-o", f"biobench_plugin={plan['dist']}"]
        output = io.StringIO()
        import pytest as _pytest

        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = _pytest.main(args)
        results[test["key"]] = {"ok": code == 0, "message": "" if code == 0 else
                                f"pytest exited {int(code)}:\n{output.getvalue()[-6000:]}"}


def _run(plan_path: str, out_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text(encoding="utf-8"))
    results: dict[str, dict] = {}
    with contextlib.ExitStack() as stack:
        if plan["dist"]:
            from importlib import metadata

            from biobench_core.testing import plugin_from_source

            try:
                metadata.distribution(plan["dist"])
                raise SystemExit(f"{plan['doc']}'s example distribution {plan['dist']!r} is installed in this "
                                 f"environment: uninstall it, or the docs would be tested against that copy")
            except metadata.PackageNotFoundError:
                pass
            stack.enter_context(plugin_from_source(plan["project"]))
        else:
            sys.path.insert(0, plan["project"])
        for file in plan["files"]:
            results[file["key"]] = {"ok": True, "message": ""}
            if file["path"].endswith(".py") and not file["tests"]:  # a test module runs with pytest, below
                try:
                    __import__(_module_name(file["path"]))
                except BaseException as exc:  # noqa: BLE001
                    results[file["key"]] = _failure(exc)
        if plan["dist"] and all(results[f["key"]]["ok"] for f in plan["files"]):
            try:
                _check_example_plugin(plan, results)
            except Exception as exc:  # noqa: BLE001
                for file in plan["files"]:
                    results[file["key"]] = _failure(exc)
        _exec_blocks(plan, results)
        _run_tests(plan, results)
    Path(out_path).write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    _run(*sys.argv[1:3])
