# ANNICAS - the two commands a student needs are `make lab` and `make test`.
# Both create .venv on first use and install everything the course needs into it.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2
LAB_PORT ?= 8888
# pytest already runs one notebook per core; a multi-threaded BLAS inside each would only fight over them.
TEST_ENV := MPLBACKEND=Agg OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# JupyterLab refuses to run as root unless told; CI and containers run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: help setup lab test test-unit test-notebooks export check-export exercises check-exercises check test-browser test-setup book bench clean

help:
	@echo "make lab     - set up (first time) and open the course in JupyterLab"
	@echo "make test    - set up (first time) and run every test: library, export drift, notebooks"
	@echo "make export  - write annicas_lib/ from the notebooks' '#| export' cells"
	@echo "make exercises - write exercises/ from solutions/ (student versions)"
	@echo "make check NB=exercises/06_backpropagation.ipynb - check a notebook's exercises and print a table"
	@echo "make bench   - print the speed benchmarks"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "ANNICAS needs Python 3.10 or newer; this is " + sys.version.split()[0]'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[course,test]'
	@touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)
	$(PY) -m jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(LAB_PORT) $(ROOT_FLAG) \
	  $(if $(DISPLAY),,--no-browser) $(LAB_ARGS)

export: $(STAMP)
	$(PY) tools/export.py

check-export:
	$(PYTHON) tools/export.py --check

exercises:
	$(PYTHON) tools/make_exercises.py

check-exercises:
	$(PYTHON) tools/make_exercises.py --check

NB ?= exercises
check: $(STAMP)
	$(PY) -m annicas_lib.check $(NB)

test: $(STAMP) check-export check-exercises
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider \
	  --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
	  tests notebooks solutions

test-unit: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider tests

test-notebooks: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider \
	  --nbval-lax --nbval-current-env --nbval-cell-timeout=600 notebooks

# Real-browser test: installs Debian's chromium (never a downloaded browser) and playwright.
test-browser: $(STAMP) book
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }
	$(PY) -c 'import playwright, jupyter_server_mathjax' 2>/dev/null || $(PY) -m pip install --quiet -e '.[course,test,browser,book]'
	$(PY) -m pytest -p no:cacheprovider system_tests/test_jupyterlab.py system_tests/test_book.py

# A fresh clone runs the README's two commands; environment.yml builds a working environment.
test-setup: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider system_tests/test_clean_machine.py

# The course as a static website in _book/ (open _book/index.html).
book: $(STAMP)
	$(PY) -c 'import jupyter_server_mathjax' 2>/dev/null || $(PY) -m pip install --quiet -e '.[course,test,book]'
	$(PY) tools/build_book.py

bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
