# The README's two commands are `make demo` and `make test`; both set everything up first.
VENV := .venv
XPHA := $(VENV)/bin/xpha
PYTEST := $(VENV)/bin/pytest

.PHONY: setup demo test test-long bench lint clean-var

setup:
	@bash .ci/setup.sh

demo: setup
	$(XPHA) demo

test: setup
	$(VENV)/bin/ruff check .
	$(PYTEST) -m "not slow and not benchmark"

test-long: setup
	$(PYTEST) -m slow

bench: setup
	$(PYTEST) -m benchmark -s -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff format --check .

clean-var:
	-$(XPHA) db stop
	rm -rf var
