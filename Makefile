# The README's two commands: `make demo` and `make test`. Both create .venv and install the pinned
# dependencies (requirements.lock is a pip constraints file) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench install hosts clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c requirements.lock -e ".[all,test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stereofoley demo --out demo-out

# The real host programs the tests run against (Debian's Ardour 7), installed when missing.
hosts:
	./installers/test-hosts.sh

test: $(STAMP) hosts
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache
