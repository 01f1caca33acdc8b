# The two commands of the README. Both set up a fresh machine first (see scripts/bootstrap.sh).
.PHONY: run test bench setup clean package package-test platform-test

run:
	@scripts/bootstrap.sh run
	.venv/bin/zerostream $(ARGS)

test:
	@scripts/bootstrap.sh test
	scripts/test.sh $(PYTEST_ARGS)

# The generated web apps in a fresh Python 3.11 environment, run as Databricks Apps runs them (minutes).
platform-test:
	@scripts/bootstrap.sh test
	ZEROSTREAM_PLATFORM_TEST=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/platform

package:
	scripts/package.sh

package-test:
	scripts/package_test.sh

bench:
	@scripts/bootstrap.sh test
	PYTHONPATH=. .venv/bin/python bench/bench_fleet.py
	PYTHONPATH=. .venv/bin/python bench/bench_localbus.py
	PYTHONPATH=. .venv/bin/python bench/bench_stream.py
	PYTHONPATH=. .venv/bin/python bench/bench_upkeep.py
	PYTHONPATH=. .venv/bin/python bench/bench_analytics.py
	PYTHONPATH=. .venv/bin/python bench/bench_ui.py
	PYTHONPATH=. .venv/bin/python bench/bench_webapps.py
	@echo; .venv/bin/python bench/results.py

clean:
	rm -rf .venv .venv311 build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
