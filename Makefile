# PolicyLab: each target creates .venv and installs on first use (needs only python3 and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lab clean

$(STAMP): pyproject.toml lab/overrides.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# Korean JupyterLab interface by default (jupyterlab-language-pack-ko-kr).
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp lab/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/policylab demo

test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q

lab: $(STAMP)
	$(BIN)/jupyter lab

clean:
	rm -rf $(VENV) grading/submitted grading/autograded grading/feedback grading/out grading/gradebook.db
