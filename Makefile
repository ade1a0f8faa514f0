# duban: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= duban.toml
HOST   ?= 127.0.0.1
PORT   ?= 8080
DEMO_OFFICE ?= 段红梅

.PHONY: run test system-packages lint typecheck check bench wheelhouse clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: set up, create the demo (sandbox groups, demo roster) if needed, print a console sign-in link, and serve
run: $(STAMP)
	$(BIN)/duban --config $(CONFIG) init --demo --if-missing
	@DUBAN_SERVER__HOST=$(HOST) DUBAN_SERVER__PORT=$(PORT) $(BIN)/duban --config $(CONFIG) console link --as $(DEMO_OFFICE) \
		|| echo "（未能生成控制台登录链接：可运行 .venv/bin/duban console link --as 姓名）"
	$(BIN)/duban --config $(CONFIG) serve --host $(HOST) --port $(PORT)

## system-packages: the Debian packages the tests drive for real (browser, office suite, proxy, CJK font)
system-packages:
	deploy/install-system-packages

## test: set up and run the whole test suite (PostgreSQL cases run where a server answers)
test: $(STAMP) system-packages
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench.inbound

## wheelhouse: duban and every package it needs as wheels in ./wheelhouse, for a host with no package index
## (build on the same Debian release and Python version as the target; install there with
##  `python3 -m pip install --no-index --find-links wheelhouse duban`)
wheelhouse: $(STAMP)
	rm -rf wheelhouse
	$(BIN)/python -m pip wheel --quiet --wheel-dir wheelhouse .
	@ls wheelhouse | wc -l | xargs -I{} echo "wheelhouse/: {} wheels"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
