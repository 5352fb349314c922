# Two commands do all set-up on a fresh machine (see README.md):
#   make app    install the locked runtime, then open the web app on the bundled model and samples
#   make test   install the locked runtime and test tools (and Debian's Chromium), then run the tests
# `make lock` recompiles the lock files from the loose requirements*.in after a deliberate upgrade.
PYTHON ?= python3.11
PY := .venv/bin/python
APP_STAMP := .venv/.app-installed
DEV_STAMP := .venv/.dev-installed
# The editable install of mvcore itself: its dependencies come from the lock, never resolved anew.
INSTALL_SELF := $(PY) -m pip install -q --no-deps --no-build-isolation -e .

.PHONY: app test lock chromium bench-accuracy bench-speed

$(PY):
	$(PYTHON) -m venv .venv

$(APP_STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q --require-hashes -r requirements.txt
	$(INSTALL_SELF)
	touch $@

$(DEV_STAMP): requirements-dev.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q --require-hashes -r requirements-dev.txt
	$(INSTALL_SELF)
	touch $@ $(APP_STAMP)

lock: | $(PY)
	$(PY) -m pip install -q uv
	$(PY) -m uv pip compile -q --python-version 3.11 --generate-hashes requirements.in -o requirements.txt
	$(PY) -m uv pip compile -q --python-version 3.11 --generate-hashes requirements.in requirements-dev.in \
		-c requirements.txt -o requirements-dev.txt

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

app: $(APP_STAMP)
	$(PY) -m streamlit run app.py

test: $(DEV_STAMP) chromium
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=15 tests

bench-accuracy: $(APP_STAMP)
	$(PY) -m mvcore bench accuracy --seeds 1 2 --scale 0.5 1

bench-speed: $(APP_STAMP)
	$(PY) -m mvcore bench speed
