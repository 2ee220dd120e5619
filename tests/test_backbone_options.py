"""Backbone options (issue 19): ``--backbone 'timm/resnet10t?pool=max'`` or ``options = {...}`` in a config.

A spec declares its options (name, type, default, allowed values or range); a choice is checked before any work,
one line naming the backbone and the option; the canonical id with its options (defaults left out, sorted) is the
backbone's identity in the results, the feature cache and the report's rows, so a backbone given no option keeps
the keys it always had. The timm plugin's own tests check that ``pool`` and ``img_size`` compute what timm does.
"""

from __future__ import annotations

import sqlite3

import pytest

from biobench_core import BackboneOption, BackboneSpec, OptionError, SpecError, resolve_backbone
from biobench_core.engine import _identity

PLAN = ("--weights", "random", "--task", "animal-silhouettes", "--set", "subset=40")
#: feature_key_of for timm/resnet10t (its default tag) with fixed built identity and code, as computed on main
#: before options existed: a backbone given no option keeps every cached feature.
MAIN_FEATURE_KEY = "3acb8110d8187ece5188b06e3abf9eecae6c62c7b9707f3518518da3ce50b7cf"
MAIN_MEMO_KEY = "10cebf4f03d1750258c56f204f4442518c7c9e4f198d1b9f9afae7cd2b449b05"
BUILT = {"weights_id": "random:seed=0",
         "transform": "ToRGBThen(Compose(\n    Resize(size=201, interpolation=bicubic, max_size=None, antialias=True)\n"
                      "    CenterCrop(size=(176, 176))\n    MaybeToTensor()\n    Normalize(mean=tensor([0.4850, "
                      "0.4560, 0.4060]), std=tensor([0.2290, 0.2240, 0.2250]))\n))",
         "preprocessing": "Preprocessing(Geometry(resize=201, crop=(176, 176), interpolation='bicubic'), mean=(0.485, "
                          "0.456, 0.406), std=(0.229, 0.224, 0.225)); jpeg-draft-keep-2x"}


def _spec(**kwargs) -> BackboneSpec:
    options = (BackboneOption("pool", str, default="avg", choices=("avg", "max")),
               BackboneOption("img_size", int, default=224, minimum=16),
               BackboneOption("scale", float, default=1.0, maximum=4.0),
               BackboneOption("norm", bool, default=True))
    return BackboneSpec(id="acme/net", factory="acme.net:Net", options=options, **kwargs)


def _error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_choice_has_one_canonical_id_and_defaults_are_the_backbone_without_options():
    spec = _spec()
    chosen = spec.with_options({"pool": "max", "img_size": "160"})
    assert chosen.id == "acme/net?img_size=160&pool=max"
    assert (chosen.base_id, chosen.name, chosen.namespace) == ("acme/net", "net", "acme")
    assert chosen.option("pool") == "max" and chosen.option("img_size") == 160 and chosen.option("norm") is True
    assert spec.with_options({"img_size": 160, "pool": "max"}).id == chosen.id  # TOML values, another order
    assert spec.with_options({"pool": "avg", "img_size": "224", "norm": "true", "scale": "1"}).id == "acme/net"
    assert spec.with_options({"norm": False, "scale": 2}).id == "acme/net?norm=false&scale=2.0"
    assert chosen.to_dict()["values"] == {"img_size": 160, "pool": "max"}
    with pytest.raises(SpecError, match="only as BackboneSpec.with_options"):
        BackboneSpec(id="acme/net?pool=max", factory="acme.net:Net")  # a listed id never carries options


@pytest.mark.parametrize("given, message", [
    ({"pool": "mx"}, "acme/net: option pool=mx: expected one of avg, max; did you mean 'max'?"),
    ({"img_size": "-1"}, "acme/net: option img_size=-1: expected an integer >= 16"),
    ({"img_size": "big"}, "acme/net: option img_size=big: expected an integer >= 16"),
    ({"img_size": 22.5}, "acme/net: option img_size=22.5: expected an integer >= 16"),
    ({"scale": "9"}, "acme/net: option scale=9: expected a number <= 4.0"),
    ({"norm": "maybe"}, "acme/net: option norm=maybe: expected true or false"),
    ({"pol": "max"}, "acme/net: unknown option 'pol'; did you mean 'pool'? (its options: img_size, norm, pool, scale)"),
])
def test_a_bad_option_is_one_line_naming_the_backbone_and_the_option(given, message):
    with pytest.raises(OptionError) as caught:
        _spec().with_options(given)
    assert str(caught.value) == message


@pytest.mark.parametrize("option, message", [
    (dict(name="Pool"), "option name 'Pool'"),
    (dict(name="pool", type=list), "type must be str, int, float or bool"),
    (dict(name="pool", default="mean", choices=("avg", "max")), "default 'mean' is not one of its choices"),
    (dict(name="size", type=int, default=8, minimum=16), "default 8 is below 16"),
    (dict(name="size", type=int, choices=(224, "518")), "choice '518' is not an integer"),
])
def test_a_malformed_declaration_is_refused(option, message):
    with pytest.raises(SpecError, match=message):
        BackboneOption(**option)


@pytest.mark.parametrize("option, message", [
    ("pool=mx", "timm/resnet10t.c3_in1k: option pool=mx: expected one of auto, token, avg, max, avgmax, max-map; "
                "did you mean 'max'?"),
    ("img_size=-1", "timm/resnet10t.c3_in1k: option img_size=-1: expected an integer >= 16"),
    ("pol=max", "timm/resnet10t.c3_in1k: unknown option 'pol'; did you mean 'pool'? (its options: img_size, pool)"),
    ("pool", "timm/resnet10t.c3_in1k: option 'pool' is not name=value"),
])
def test_plan_refuses_a_bad_option_in_one_line(run_cli, option, message):
    plan = _error_line(run_cli("plan", "--backbone", f"timm/resnet10t?{option}", *PLAN))
    assert plan.startswith("biobench plan: error: " + message), plan


def test_run_refuses_a_bad_option_before_any_work(run_cli, tmp_path):
    results = tmp_path / "results"
    run = _error_line(run_cli("run", "--backbone", "timm/resnet10t", "--backbone", "timm/resnet10t?pool=mx", *PLAN,
                              "--results", str(results)))
    assert run == ("biobench run: error: timm/resnet10t.c3_in1k: option pool=mx: expected one of auto, token, avg, "
                   "max, avgmax, max-map; did you mean 'max'?"), run
    assert not results.exists()  # refused before the store was created or anything built, the good backbone too


def test_options_in_a_config_are_the_options_of_the_id(run_cli, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[[backbone]]\nid = "timm/resnet10t"\nweights = "random"\n'
                      'options = { pool = ["max", "auto"], img_size = 160 }\n\n'
                      '[[task]]\nid = "animal-silhouettes"\nsettings = { subset = "40" }\n')
    plan = run_cli("plan", "--config", str(config), "--results", str(tmp_path / "results"))
    assert plan.returncode == 0, plan.stderr
    assert "timm/resnet10t.c3_in1k?img_size=160&pool=max [random]" in plan.stdout + plan.stderr
    assert "timm/resnet10t.c3_in1k?img_size=160 [random]" in plan.stdout + plan.stderr  # pool=auto: the default

    config.write_text('[[backbone]]\nid = "timm/resnet10t"\nweights = "random"\noptions = { pool = "mx" }\n\n'
                      '[[task]]\nid = "animal-silhouettes"\n')
    line = _error_line(run_cli("plan", "--config", str(config)))
    assert line.endswith(f"{config}:4: [[backbone]] 1: timm/resnet10t.c3_in1k: option pool=mx: expected one of "
                         "auto, token, avg, max, avgmax, max-map; did you mean 'max'?"), line


def test_the_report_row_names_the_options(run_cli, tmp_path):
    results = tmp_path / "results"
    run = run_cli("run", "--backbone", "timm/resnet10t?pool=max", "--backbone", "timm/resnet10t?pool=auto", *PLAN,
                  "--set", "probe=simpleshot", "--workers", "0", "--quiet", "--results", str(results))
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(results / "biobench.sqlite") as db:
        stored = sorted(row[0] for row in db.execute("SELECT DISTINCT backbone FROM experiments"))
    assert stored == ["timm/resnet10t.c3_in1k", "timm/resnet10t.c3_in1k?pool=max"]  # pool=auto is the default row
    report = run_cli("report", "--results", str(results))
    assert report.returncode == 0, report.stderr
    rows = [line.split()[0] for line in report.stdout.splitlines() if line.startswith("timm/")]
    assert sorted(rows) == stored


def test_the_feature_key_holds_the_options_and_is_unchanged_without_them(monkeypatch):
    monkeypatch.setattr(_identity, "core_is_editable", lambda: False)

    def feature_key(backbone: str) -> str:
        return _identity.feature_key_of(backbone_id=resolve_backbone(backbone).id, built=BUILT, dtype="fp32",
                                         patches=False, manifest="m", backbone_code={"v": 1}, task_code={"v": 2},
                                         core={"extraction": "1", "files": None})

    assert feature_key("timm/resnet10t") == MAIN_FEATURE_KEY
    assert feature_key("timm/resnet10t?pool=auto&img_size=176") == MAIN_FEATURE_KEY  # both at their defaults
    assert _identity.memo_key(resolve_backbone("timm/resnet10t").id, "random", {"v": 1}, "fp32") == MAIN_MEMO_KEY
    keys = {feature_key(f"timm/resnet10t?pool={pool}") for pool in ("avg", "max", "avgmax")}
    assert len(keys) == 3 and MAIN_FEATURE_KEY not in keys
    assert feature_key("timm/resnet10t?img_size=224") != MAIN_FEATURE_KEY
