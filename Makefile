# Shine a Light — the two commands a newcomer needs:
#   make demo   the demo on embedded defaults (no cluster, no broker needed)
#   make test   the whole suite (starts its own Mosquitto on a free port)
#
# Both make .venv on first use. `make demo` installs the runtime only (requirements.txt),
# so the first lights show within seconds of a fresh clone; `make test`, `make lint` and
# `make bench` add the test tools on top (requirements-dev.txt). Each install has a stamp
# named by its files' checksum, so nothing is reinstalled until a requirements file changes,
# and `make test` after `make demo` installs only the test tools. The installer is uv, put
# into .venv/tools from PyPI by the system's pip (pip's resolver alone takes about a minute
# here for what uv does in seconds); where uv cannot be had, pip in .venv does it all.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/tools/bin/uv
UV_SPEC ?= uv
checksum = $(shell cat $(1) | cksum | cut -d' ' -f1)
RUNTIME_STAMP := $(VENV)/.runtime-$(call checksum,requirements.txt)
STAMP         := $(VENV)/.installed-$(call checksum,requirements.txt requirements-dev.txt)

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

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	@$(PYTHON) -m venv --without-pip $(VENV)

# $(call install,FILE): uv when it is in .venv/tools or the system's pip can put it there, else pip.
define install
	@if [ -x $(UV) ] || $(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
	     --target $(VENV)/tools $(UV_SPEC) >$(VENV)/tools.log 2>&1; then \
	  $(UV) pip install --quiet --python $(PY) -r $(1); \
	else \
	  echo "uv cannot be installed (see $(VENV)/tools.log); pip installs $(1) instead"; \
	  $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --default-pip >/dev/null; \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r $(1); \
	fi
endef

$(RUNTIME_STAMP): requirements.txt | $(PY)
	@echo "installing the runtime into $(VENV) (requirements.txt)"
	$(call install,requirements.txt)
	@rm -f $(VENV)/.runtime-* && touch $@

# uv writes no bytecode, and where PYTHONDONTWRITEBYTECODE is set nothing ever would: the
# suite starts hundreds of Pythons, so the test tools' install compiles every package once
# (as pip does; a file that is not Python 3.11, a template say, is skipped as pip skips it).
$(STAMP): requirements.txt requirements-dev.txt | $(RUNTIME_STAMP)
	@echo "installing the test tools into $(VENV) (requirements-dev.txt)"
	$(call install,requirements-dev.txt)
	@$(PY) -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	@rm -f $(VENV)/.installed-* && touch $@

DEMO_ARGS ?= --scenario tour

demo: $(RUNTIME_STAMP)
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
