"""The install story: one dependency list in two files, and CI running the README's command."""
from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement


def _normalize(spec: str) -> tuple[str, str]:
    req = Requirement(spec)
    return re.sub(r"[-_.]+", "-", req.name).lower(), str(req.specifier)


def test_environment_yml_declares_the_same_dependencies_as_pyproject(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((repo / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    declared = conda + [p for p in pip if not p.startswith("-e")]
    assert sorted(map(_normalize, declared)) == sorted(map(_normalize, wanted))
    assert "-e ." in pip, "environment.yml must install the policylab package itself (pip: -e .)"


def test_ci_runs_exactly_the_readme_test_command(repo):
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and "make demo" in readme
    commands = [line.strip() for line in (repo / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]


def test_run_outputs_are_ignored_but_templates_are_tracked(repo):
    import subprocess

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=repo).returncode == 0

    for produced in ("grading/gradebook.db", "grading/submitted/a/m01/m01.ipynb",
                     "grading/autograded/a/m01/m01.ipynb", "grading/out/index.html", ".venv/bin/python"):
        assert ignored(produced), produced
    for tracked in ("grading/reports/learner_report.ipynb", "grading/roster.example.csv"):
        assert not ignored(tracked), tracked


def test_our_processes_skip_jsonschemas_slow_optional_import_and_still_validate_notebooks():
    """policylab/__init__.py keeps rfc3987_syntax (a Lark grammar compiled on import, ~0.9 s of CPU) out of
    every process that imports policylab first: the checker, grading workers, trial kernels. Notebook
    validation, which never checks "iri" formats, works as before."""
    import subprocess
    import sys

    code = ("import sys, policylab.grading.checks, nbformat\n"
            "nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')]))\n"
            "print(sys.modules['rfc3987_syntax'] is None, 'jsonschema' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"], out.stdout
