# Shine a Light — the two commands a newcomer needs:
#   make demo   the demo on embedded defaults (no cluster, no broker needed)
#   make test   the whole suite (starts its own Mosquitto on a free port)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench clean node_modules esphome homeassistant

# npm packages the device tests run under Node.js (MicroPython's WebAssembly port, mqtt.js),
# from package.json + package-lock.json, installed once per lock file.
NODE_STAMP := node_modules/.installed-$(shell cksum < package-lock.json | cut -d' ' -f1)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-* && touch $(NODE_STAMP)

node_modules: $(NODE_STAMP)

# ESPHome, in a venv of its own (it pins its own paho-mqtt), for `esphome config` in the tests.
# Built once; when it cannot be built here the ESPHome test says why and is skipped.
esphome:
	-@devices/esphome/ensure-esphome >/dev/null

# Home Assistant's MQTT integration, in a venv of its own (Python 3.13, pins of its own), which
# judges the watcher's discovery payloads in the tests; skipped with the reason when it cannot be built.
homeassistant:
	-@tests/watcher/homeassistant/ensure-homeassistant >/dev/null

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

DEMO_ARGS ?= --scenario tour

demo: $(STAMP)
	$(PY) -m demo $(DEMO_ARGS) $(ARGS)

test: $(STAMP) $(NODE_STAMP) esphome homeassistant
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile

bench: $(STAMP)
	$(PY) -m bench.pipeline $(ARGS)

clean:
	rm -rf $(VENV) .venv-esphome .venv-homeassistant node_modules .pytest_cache .mypy_cache .ruff_cache
