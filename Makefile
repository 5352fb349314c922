# Two commands do all set-up on a fresh machine (see README.md):
#   make app    install, then open the web app on the bundled model and samples
#   make test   install (with test tools and Debian's Chromium), then run the tests
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: app test chromium bench-accuracy bench-speed

$(STAMP): requirements.txt requirements-dev.txt
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

app: $(STAMP)
	$(PY) -m streamlit run app.py

test: $(STAMP) chromium
	$(PY) -m pytest -q tests

bench-accuracy: $(STAMP)
	$(PY) -m mvcore bench accuracy --seeds 1 2 --scale 0.5 1

bench-speed: $(STAMP)
	$(PY) -m mvcore bench speed
