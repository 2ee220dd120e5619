"""Errors cut to one line keep the line that says what is wrong, and point at BIOBENCH_DEBUG=1 for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from biobench_core.contract._errors import DEBUG_ENV, one_line
from biobench_core.contract._registry import PluginError
from biobench_core.testing import check_backbone, plugin_from_source

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "examples" / "biobench-plugin-template"
HINT = f"{DEBUG_ENV}=1"

# torch's own wording (torch.nn.Module.load_state_dict), three problems in one message
HEADER = "Error(s) in loading state_dict for TinyConvNet:"
MISSING = 'Missing key(s) in state_dict: "fc.weight", "fc.bias", "norm.weight", "norm.bias". '
UNEXPECTED = 'Unexpected key(s) in state_dict: "head.weight". '
MISMATCH = ("size mismatch for fc.weight: copying a param with shape torch.Size([10, 64]) from checkpoint, "
            "the shape in current model is torch.Size([5, 64]).")


def _torch_error(*details: str) -> RuntimeError:
    return RuntimeError(HEADER + "\n\t" + "\n\t".join(details))


# -- the helper --------------------------------------------------------------------------------------------------

def test_an_ordinary_one_line_error_is_unchanged():
    assert one_line(ValueError("bad value 3")) == "ValueError: bad value 3"
    assert one_line(PluginError("plugin x failed: boom")) == "plugin x failed: boom"
    assert one_line(KeyError("k")) == "KeyError: k"
    assert one_line(RuntimeError()) == "RuntimeError: RuntimeError"
    assert HINT not in one_line(ValueError("bad value 3"))


def test_missing_keys_are_trimmed_to_the_first_key():
    line = one_line(_torch_error(MISSING))
    assert line.startswith(f'RuntimeError: {HEADER} Missing key(s) in state_dict: "fc.weight", ... (and 3 more)')
    assert HINT in line and "\n" not in line


def test_one_missing_key_is_shown_whole():
    line = one_line(_torch_error('Missing key(s) in state_dict: "fc.weight". '))
    assert line == f'RuntimeError: {HEADER} Missing key(s) in state_dict: "fc.weight".'


def test_unexpected_keys_come_first_when_nothing_is_missing():
    line = one_line(_torch_error(UNEXPECTED, MISMATCH))
    assert line.startswith(f'RuntimeError: {HEADER} Unexpected key(s) in state_dict: "head.weight".')
    assert "+1 more line" in line and HINT in line


def test_a_size_mismatch_is_kept_whole():
    line = one_line(_torch_error(MISMATCH))
    assert line == f"RuntimeError: {HEADER} {MISMATCH}"
    several = one_line(_torch_error(MISMATCH, MISMATCH.replace("fc.weight", "fc.bias")))
    assert several.startswith(f"RuntimeError: {HEADER} {MISMATCH}") and "+1 more line" in several
    assert HINT in several


def test_the_first_problem_is_chosen_among_several():
    line = one_line(_torch_error(MISSING, UNEXPECTED, MISMATCH))
    assert 'Missing key(s) in state_dict: "fc.weight", ... (and 3 more)' in line
    assert "head.weight" not in line and "+2 more lines" in line and HINT in line


def test_our_own_wrapped_errors_keep_the_detail_too():
    # a plugin that failed because of a bad state dict: our message, then torch's lines
    exc = PluginError(f"plugin biobench-x 1.0 is failed: import failed: RuntimeError: {HEADER}\n\t{MISMATCH}")
    assert one_line(exc) == f"plugin biobench-x 1.0 is failed: import failed: RuntimeError: {HEADER} {MISMATCH}"


def test_a_multi_line_message_with_an_informative_first_line_keeps_it_and_says_more_exists():
    line = one_line(ValueError("bad config in x.toml\nline 3: foo\nline 4: bar"))
    assert line.startswith("ValueError: bad config in x.toml")
    assert "foo" not in line and "+2 more lines" in line and HINT in line


# -- a real model and a real wrong-architecture state dict ---------------------------------------------------------

@pytest.fixture
def wrong_weights(tmp_path):
    """A state dict for the template's TinyConvNet at width 16, saved as the template's weights file: the template
    builds width 32 (its spec's embed_dim), so every later layer mismatches."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    with plugin_from_source(TEMPLATE):
        from biobench_template.backbone import TinyConvNet

        state = {k: v.contiguous() for k, v in TinyConvNet(width=16).state_dict().items()}
    state["extra.weight"] = torch.zeros(3)
    path = tmp_path / "wrong.safetensors"
    save_file(state, str(path))
    return path


def test_a_real_wrong_state_dict_through_read_state_dict(wrong_weights):
    from biobench_core.engine._weights import read_state_dict

    with plugin_from_source(TEMPLATE):
        from biobench_template.backbone import TinyConvNet

        with pytest.raises(RuntimeError) as info:
            TinyConvNet(width=32).load_state_dict(read_state_dict(wrong_weights), strict=True)
    line = one_line(info.value)
    assert line.startswith("RuntimeError: Error(s) in loading state_dict for TinyConvNet: "
                           'Unexpected key(s) in state_dict: "extra.weight".'), line
    assert HINT in line and "more line" in line and "\n" not in line


def test_run_fail_line_names_the_mismatch(wrong_weights, in_process, make_image_folder, tmp_path, monkeypatch):
    data = make_image_folder(tmp_path / "colours", n_train=2, n_test=1)
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-template,biobench-tasks")
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    args = ["run", "--backbone", "template/tiny", "--weights", str(wrong_weights), "--task", "image-folder",
            "--data", f"image-folder={data}", "--results", str(tmp_path / "results"), "--quiet", "--workers", "0"]
    with plugin_from_source(TEMPLATE):
        proc = in_process(*args)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        fails = [line for line in proc.stderr.splitlines() if line.startswith("FAIL")]
        assert len(fails) == 1, proc.stderr
        assert ("RuntimeError: Error(s) in loading state_dict for TinyConvNet: "
                'Unexpected key(s) in state_dict: "extra.weight".') in fails[0]
        assert HINT in fails[0]
        assert "Traceback" not in proc.stderr

        monkeypatch.setenv(DEBUG_ENV, "1")  # ... and it does show the rest
        debug = in_process(*args)
    assert "size mismatch for layers.2.weight" in debug.stderr and "Traceback" in debug.stderr


def test_check_backbone_names_the_mismatch(wrong_weights, monkeypatch):
    monkeypatch.setenv("BIOBENCH_LOAD_PLUGINS", "biobench-template")
    with plugin_from_source(TEMPLATE):
        report = check_backbone("template/tiny", weights=str(wrong_weights))
    load = next(c for c in report.checks if c.name == "load")
    assert load.status == "fail"
    assert ('raised RuntimeError: Error(s) in loading state_dict for TinyConvNet: '
            'Unexpected key(s) in state_dict: "extra.weight".') in load.message, load.message
    assert HINT in load.message


# -- plugin load failures and validate output ---------------------------------------------------------------------

BROKEN_PLUGIN = f'''
raise RuntimeError({HEADER + chr(10) + chr(9) + MISMATCH + chr(10) + chr(9) + UNEXPECTED!r})
'''


def test_plugin_load_failures_and_validate_name_the_mismatch(tmp_path, monkeypatch):
    from biobench_core.testing._distributions import write_distribution
    from biobench_core.testing import check_plugin, isolated_registry

    site = tmp_path / "site"
    write_distribution(site, "biobench-brokenload", {"brokenload": BROKEN_PLUGIN}, {"brokenload": "brokenload"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    expected = f"RuntimeError: {HEADER} {MISMATCH} [+1 more line: {HINT} shows the full error]"

    [record] = isolated_registry(["biobench-brokenload"]).plugins
    assert record.error == f"import failed: {expected}"
    assert one_line(record.failure()).endswith(expected)

    report = check_plugin("biobench-brokenload")
    loads = next(c for c in report.checks if c.name == "loads")
    assert loads.status == "fail" and loads.message.endswith(f"does not load: {expected}"), loads.message
