# kit: the two set-up commands (`make demo`, `make test`), `make lint` and `make lab`.
# Each creates .venv when missing and installs into it; nothing is assumed on the machine.
# `make lab ARGS="--no-browser --port 8888"` runs JupyterLab headless (it prints a URL with its token);
# it listens on 127.0.0.1 only and always asks for its token.

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := test,examples,dask

export PYTHONDONTWRITEBYTECODE :=
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL := WARNING
export PREFECT_SERVER_LOGGING_LEVEL := CRITICAL
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

.PHONY: demo test lint lab install system-packages clean bench

demo: $(STAMP)
	$(VENV)/bin/kit demo

test: $(STAMP) system-packages lint
	$(PY) -m pytest

# ruff (lint and format) and mypy, as configured in pyproject.toml; generated modules and flows too.
lint: $(STAMP)
	$(VENV)/bin/ruff check kit tests benchmarks modules flows
	$(VENV)/bin/ruff format --check kit tests benchmarks modules flows
	$(VENV)/bin/mypy kit

# Every benchmark, kit beside what users would run instead: prints one table, writes
# benchmarks/RESULTS.md (`make bench ARGS="cells widget"` runs some only). Not part of `make test`.
bench: $(STAMP) system-packages
	$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode -e '.[$(EXTRAS),bench]'
	$(PY) -m benchmarks $(ARGS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv || true
	if [ -x $(VENV)/bin/uv ]; then \
		$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode -e '.[$(EXTRAS)]'; \
	else \
		$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'; \
	fi
	touch $@

# The browser tests drive Debian's Chromium; the widget lays out with graphviz's dot when present.
system-packages:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

clean:
	rm -rf $(VENV) runs .prefect .pytest_cache
