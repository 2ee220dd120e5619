# biobench: `make demo` and `make test` work on a fresh machine (Python 3.10+ and pip; no uv, no poetry).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --constraint constraints.txt
STAMP := $(VENV)/.installed
PACKAGES := pyproject.toml plugins/biobench-timm/pyproject.toml plugins/biobench-openclip/pyproject.toml \
	plugins/biobench-tasks/pyproject.toml plugins/biobench-slurm/pyproject.toml \
	examples/biobench-effnet-lite/pyproject.toml constraints.txt requirements-test.txt

export HF_HUB_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

# `make dist`: wheels and sdists of the core and every first-party plugin, into $(DIST) (a wheel is built from its
# sdist, so a broken sdist fails here). Installable without an index: pip install --no-index --find-links dist ...
DIST ?= dist
DIST_PROJECTS := . plugins/biobench-timm plugins/biobench-openclip plugins/biobench-tasks plugins/biobench-slurm \
	examples/biobench-effnet-lite

.PHONY: install slurm-install latex-install browser-install slurm-start slurm-stop demo test bench bench-gpu dist clean

install: $(STAMP)

$(STAMP): $(PACKAGES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) torch==2.14.1 torchvision==0.29.1
	$(PIP) -e ".[run]" -e plugins/biobench-timm -e plugins/biobench-openclip -e plugins/biobench-tasks \
		-e plugins/biobench-slurm -e examples/biobench-effnet-lite -r requirements-test.txt
	# animal-mnist's metadata wrongly pulls tensorflow; biobench reads its data files directly.
	$(PIP) --no-deps animal-mnist==0.4
	touch $(STAMP)

demo: install
	$(VENV)/bin/biobench run --config examples/demo.toml
	$(VENV)/bin/biobench report --results results/demo

# The Slurm tests (plugins/biobench-slurm/tests) run a real single-node cluster: `slurm-install` apt-installs Slurm,
# slurmdbd, munge and MariaDB when missing (as root; otherwise it says why and the Slurm tests fail), and the tests'
# `slurm_cluster` fixture starts it, and stops it at the end if it started it and no other session uses it. See
# docs/slurm-dev.md.
test: install slurm-install latex-install browser-install
	$(PY) -m pytest -q

SLURM_CLUSTER := plugins/biobench-slurm/scripts/cluster.sh

slurm-install:
	bash $(SLURM_CLUSTER) install

slurm-start: slurm-install
	bash $(SLURM_CLUSTER) start

slurm-stop:
	bash $(SLURM_CLUSTER) stop

# The LaTeX report's test (tests/test_report_latex.py) compiles the table with pdflatex: `latex-install` apt-installs
# TeX Live's LaTeX (booktabs is in the recommended set) when pdflatex or booktabs is missing: as root, about 48 MB
# to download, 145 MB installed, a minute or so; otherwise it says why and the compile test fails until then.
LATEX_PACKAGES := texlive-latex-base texlive-latex-recommended

latex-install:
	@bash scripts/apt-ensure.sh latex-install "command -v pdflatex && kpsewhich booktabs.sty" $(LATEX_PACKAGES)

# The HTML report's test (tests/test_report_html.py) drives the page in a real headless Chromium through selenium:
# `browser-install` apt-installs Debian's chromium and chromium-driver when either is missing (as root; otherwise
# it says why and the browser test fails until then).
BROWSER_PACKAGES := chromium chromium-driver

browser-install:
	@bash scripts/apt-ensure.sh browser-install "command -v chromium && command -v chromedriver" $(BROWSER_PACKAGES)

bench: install
	$(PY) benchmarks/run_all.py

bench-gpu: install
	$(PY) benchmarks/bench_gpu_extraction.py

dist: install
	mkdir -p $(DIST)
	rm -f $(DIST)/biobench_*.whl $(DIST)/biobench_*.tar.gz
	# Stale *.egg-info (left by `pip install -e`) would leak old file lists into the sdists: start clean.
	for project in $(DIST_PROJECTS); do \
		rm -rf $$project/*.egg-info && \
		$(PY) -m build --quiet --no-isolation --outdir $(abspath $(DIST)) $$project || exit 1; \
	done
	ls $(DIST)

clean:
	rm -rf $(VENV) results .bench dist
