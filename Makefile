# The README's two commands are `make demo` and `make test`; both set everything up first.
VENV := .venv
XPHA := $(VENV)/bin/xpha
PYTEST := $(VENV)/bin/pytest

.PHONY: setup demo test test-long bench bench-scale lint clean-var

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
	$(PYTEST) -m benchmark -s -p no:cacheprovider --ignore=tests/test_bench_scale.py

# 50M synthetic sources served end to end (XPHA_BENCH_SCALE_ROWS to change; ~35 GB, < 1 h)
bench-scale: setup
	$(PYTEST) -m benchmark -s -p no:cacheprovider tests/test_bench_scale.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff format --check .

clean-var:
	-$(XPHA) db stop
	rm -rf var
