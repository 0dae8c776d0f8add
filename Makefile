# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint venv install install-dev migrate seed train logins serve worker beat clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

venv install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --no-input

seed: migrate
	@mkdir -p var
	$(PY) manage.py seed_demo | tee var/seed_demo.log

train: install
	$(PY) manage.py train_models

serve: install
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py runserver $(HOST):$(PORT)

logins:
	@echo "" && echo "Demo logins (new passwords on every seed):"
	@grep -E "admin / |shopper / |Support agent:|Advertiser login" var/seed_demo.log | sed 's/^ */  /'
	@echo "Shop: http://$(HOST):$(PORT)/   admin: http://$(HOST):$(PORT)/admin/" && echo ""

## make demo: venv, install, migrate, load demo data, train the models, serve on 127.0.0.1:8000
demo: seed train logins serve

## make test: the whole suite (SQLite + eager Celery by default; CI sets DATABASE_URL and CELERY_BROKER_URL)
test: install-dev
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "The browser tests need /usr/bin/chromium: sudo apt-get install chromium"; exit 1; fi; }
	$(PY) -m pytest $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A ecommerce worker -Q default,ml -l info --concurrency 2

beat: install
	$(VENV)/bin/celery -A ecommerce beat -l info

clean:
	rm -rf $(VENV) var staticfiles screenshots .pytest_cache

## make lint: what CI checks before the tests (ruff lint + format, no missing migration)
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
