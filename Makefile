# The two commands of README.md.  Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --config-settings editable_mode=compat -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/twistd --pidfile= -n jabberd $(if $(CONFIG),--config $(CONFIG),)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
