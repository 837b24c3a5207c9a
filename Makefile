# Shortcuts; each target calls dev.py, which creates .venv and starts embedded
# PostgreSQL/Redis when DATABASE_URL/REDIS_URL are unset.
PYTHON ?= python3

.PHONY: run test lint format migrations check client
run:
	$(PYTHON) dev.py run

test:
	$(PYTHON) dev.py test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

migrations:
	$(PYTHON) dev.py manage makemigrations

check:
	$(PYTHON) dev.py manage makemigrations --check --dry-run
	$(PYTHON) dev.py manage check

client:
	$(PYTHON) dev.py client
