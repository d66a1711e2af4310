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

# The grading sandbox runs learner kernels in bubblewrap (Debian's bubblewrap package).
BWRAP_HINT := The grading sandbox needs bubblewrap: sudo apt-get install bubblewrap

test: $(STAMP)
	command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; } || { echo "$(BWRAP_HINT)" >&2; exit 1; }
	$(BIN)/pytest -n 2 --dist loadgroup -q --durations=25

lab: $(STAMP)
	$(BIN)/jupyter lab

clean:
	rm -rf $(VENV) grading/submitted grading/autograded grading/feedback grading/out grading/gradebook.db
