# The two commands of the README:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# Torch must be the CPU build; where a local wheel folder exists it holds it.
WHEELS  = $(wildcard /opt/wheels)
PIPFLAGS = $(if $(WHEELS),--find-links $(WHEELS),)
OUT    ?= out/demo

.PHONY: setup demo test test-slow bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(PIPFLAGS) "torch==2.13.0"
	$(BIN)/pip install -q $(PIPFLAGS) -e ".[test,dask]"
	touch $@

demo: setup
	$(BIN)/qbdi demo --out $(OUT)

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: setup
	$(BIN)/python -m pytest -m "slow" -q

bench: setup
	for f in bench/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache
