"""The HTML report format: one self-contained page, rendered from a real results store through the CLI, then driven
in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which ``make test`` apt-installs) with
the network refused: rows and values, sorting, a filter, a task panel with its chart. The screenshot is kept in
the test's tmp_path and, when ``BIOBENCH_ARTEFACTS`` is set, in that folder."""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from biobench_core.contract._tasks import Prediction
from biobench_core.results._store import ExperimentKey, ExperimentRecord, ResultsStore

N = 80
#: (backbone, weights, skill, skill on the prior-work task): the page's rows, ranked otherwise on the prior-work
#: task so that sorting by it reorders them; one id holds markup that must come out escaped.
BACKBONES = (("kit/vit_small.a", "pretrained", 0.92, 0.6), ("kit/resnet50", "pretrained", 0.75, 0.95),
             ("other/ViT-B-16:openai", "openai", 0.6, 0.3), ("kit/evil<script>net", "random", 0.4, 0.8))
#: (task, metric, in the benchmark mean, group splits)
TASKS = (("kit/acc", "accuracy", True, True), ("kit/f1", "macro-f1", True, False),
         ("kit/prior", "accuracy", False, False))


def _records() -> list[ExperimentRecord]:
    rng = np.random.default_rng(7)
    y_true = np.arange(N) % 4
    records = []
    for backbone, weights, skill, prior_skill in BACKBONES:
        for task, metric, in_mean, with_splits in TASKS:
            right = rng.random(N) < (skill if in_mean else prior_skill)
            y_pred = np.where(right, y_true, (y_true + 1) % 4)
            examples = [Prediction.of(f"ex{i}", label=int(t), pred=int(p), score=float(t == p))
                        for i, (t, p) in enumerate(zip(y_true, y_pred))]
            splits = {"site <A>": float(right[::2].mean()), "site B": float(right[1::2].mean())} if with_splits else {}
            key = ExperimentKey(backbone, weights, task, "probe=logreg,dtype=fp32", data="0123456789abcdef")
            records.append(ExperimentRecord(
                key=key, comparable=True, score=float(right.mean()), examples=examples, splits=splits,
                metric=metric, column_settings={"probe": "logreg"}, in_benchmark_mean=in_mean,
                argv=["biobench", "run", "--backbone", backbone], versions={"biobench-core": "0.1.0"},
                device="cpu", images_per_second=123.4))
    return records


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "results"
    with ResultsStore(path) as results:
        for record in _records():
            results.save(record)
    return path


@pytest.fixture(scope="module")
def page(store, tmp_path_factory) -> Path:
    """The page ``biobench report --format html --out`` writes for the store."""
    from biobench_core.testing import cli_in_process

    out = tmp_path_factory.mktemp("page") / "board.html"
    proc = cli_in_process("report", "--results", str(store), "--format", "html", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def board(store):
    from biobench_core.results._leaderboard import build_leaderboard

    with ResultsStore(store, readonly=True) as results:
        return build_leaderboard(results.experiments())


def test_the_kit_checks_the_html_format():
    from biobench_core.testing import check_format

    check_format("html").assert_ok()


def test_the_page_is_one_self_contained_escaped_file(page, board):
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and len(text.encode()) < 2_000_000
    assert not re.search(r"https?://", text), "the page names a network address"
    assert not re.search(r"\b(src|href)\s*=\s*(?![\"']?#)", text), "the page loads an external resource"
    assert "<link" not in text and "@import" not in text
    assert "evil<script>net" not in text and "evil&lt;script&gt;net" in text
    assert "site &lt;A&gt;" in text  # a split's name, escaped too
    for note in board.notes:  # every note and the caption's tie method are on the page
        assert note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") \
            .replace("'", "&#x27;") in text
    assert "bootstrap step-down" in text and "Clopper-Pearson" in text


def test_an_empty_store_says_what_the_table_says(tmp_path, run_cli):
    from biobench_core.formats._table import NO_RESULTS

    with ResultsStore(tmp_path / "empty"):
        pass
    html_page = run_cli("report", "--results", str(tmp_path / "empty"), "--format", "html", check=True).stdout
    table = run_cli("report", "--results", str(tmp_path / "empty"), check=True).stdout
    assert table.strip() == NO_RESULTS.strip() and NO_RESULTS.strip().replace("'", "&#x27;") in html_page
    assert "<table" not in html_page


def test_an_undefined_score_is_n_a_in_the_table_and_left_out_of_the_chart_with_a_reason(board):
    import copy

    from biobench_core.formats import render

    broken = copy.deepcopy(board)
    cell = broken.cell(("kit/resnet50", "pretrained"), "kit/f1")
    cell.score = cell.ci_low = cell.ci_high = math.nan
    cell.best = cell.tied_with_best = False
    cell.undefined = "metric 'macro-f1' is undefined on these examples"
    text = render(broken, "html")
    table = render(broken, "table")
    assert "n/a" in table and "NaN" not in text and not re.search(r"[>\"]nan\b", text)
    row = re.search(r'<tr data-plugin="kit" data-family="resnet".*?</tr>', text).group(0)
    assert '<td class="num na" data-v="" title="metric &#x27;macro-f1&#x27; is undefined on these examples">n/a</td>' \
        in row
    panel = re.search(r'<section class="panel" id="panel-(\d+)">.*?</section>', text[text.index("<h2>kit/f1</h2>")
                      - 200:], re.S).group(0)
    assert panel.count('<g class="mark">') == len(BACKBONES) - 1
    assert "not drawn (score undefined): kit/resnet50 [pretrained, fp32]: metric &#x27;macro-f1&#x27; is undefined" \
        in panel


# -- in a real browser ------------------------------------------------------------------------------------------


def _driver():
    """Headless Chromium through chromedriver, network refused: every request goes to a proxy on a closed port,
    and the DevTools protocol puts the page offline."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.fail("headless Chromium is needed: chromium or chromedriver is missing; `make browser-install` "
                    "(or as root: apt-get install chromium chromium-driver) installs them; `make test` does")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--no-first-run", "--disable-background-networking"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    return driver


def _visible_backbones(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [tr.find_elements(By.TAG_NAME, "td")[0].text for tr in
            driver.find_elements(By.CSS_SELECTOR, "#board tbody tr") if tr.is_displayed()]


def test_the_page_works_in_headless_chromium_offline(page, board, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from biobench_core.formats import render

    driver = _driver()
    try:
        driver.get(page.resolve().as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0

        # the rows and the values: the leaderboard's order, each cell the table format's text
        names = [r[0] for r in board.rows]
        assert _visible_backbones(driver) == names
        table = render(board, "table")
        cells = driver.find_elements(By.CSS_SELECTOR, "#board tbody tr:first-child td")
        best_row = board.rows[0]
        acc = board.cell(best_row, "kit/acc")
        assert f"{acc.score:.3f} [{acc.ci_low:.3f}, {acc.ci_high:.3f}]" in cells[3].text
        for td in cells[3:]:
            assert td.text in table, td.text
        assert driver.find_element(By.ID, "shown").text == f"{len(names)} of {len(names)} rows shown"

        # sorting by a column: the prior-work task, highest first, then lowest first
        prior = {r[0]: board.cell(r, "kit/prior").score for r in board.rows}
        header = driver.find_element(By.CSS_SELECTOR, "#board thead tr:nth-child(2) th:last-child button.sort")
        assert header.text.startswith("kit/prior")
        header.click()
        descending = sorted(prior, key=lambda b: (-prior[b], names.index(b)))
        assert _visible_backbones(driver) == descending and descending != names
        header.click()
        assert _visible_backbones(driver) == sorted(prior, key=lambda b: (prior[b], names.index(b)))

        # a filter hides rows
        Select(driver.find_element(By.ID, "filter-plugin")).select_by_value("other")
        assert _visible_backbones(driver) == ["other/ViT-B-16:openai"]
        assert driver.find_element(By.ID, "shown").text == f"1 of {len(names)} rows shown"
        Select(driver.find_element(By.ID, "filter-plugin")).select_by_value("")
        Select(driver.find_element(By.ID, "filter-family")).select_by_value("vit")  # vit_small and ViT-B-16
        assert sorted(_visible_backbones(driver)) == ["kit/vit_small.a", "other/ViT-B-16:openai"]
        Select(driver.find_element(By.ID, "filter-family")).select_by_value("")
        Select(driver.find_element(By.ID, "filter-weights")).select_by_value("random")
        assert _visible_backbones(driver) == ["kit/evil<script>net"]  # the id, escaped, reads back as it is
        Select(driver.find_element(By.ID, "filter-weights")).select_by_value("")

        # a task panel opens on click and shows its chart: one mark per backbone, and the group splits
        index = board.tasks.index("kit/acc")
        panel = driver.find_element(By.ID, f"panel-{index}")
        assert not panel.is_displayed()
        driver.find_element(By.CSS_SELECTOR, f"#board a.open[href='#panel-{index}']").click()
        assert panel.is_displayed()
        svg = panel.find_element(By.CSS_SELECTOR, "svg.chart")
        assert svg.is_displayed() and svg.size["height"] > 50
        assert len(svg.find_elements(By.CSS_SELECTOR, "g.mark circle")) == len(names)
        assert "site <A>" in panel.find_element(By.CSS_SELECTOR, "table.splits").text
        summary = panel.find_element(By.CSS_SELECTOR, "details summary")
        summary.click()
        assert "biobench run --backbone" in panel.find_element(By.CSS_SELECTOR, "details[open] dl.prov").text

        shot = tmp_path / "report_html.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 0
        artefacts = os.environ.get("BIOBENCH_ARTEFACTS")
        if artefacts:
            Path(artefacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(artefacts) / shot.name)
    finally:
        driver.quit()
