"""Attack fixtures for the grading sandbox, one module per attack, named after it.

Each module has a docstring saying what the attack tries, ``ENDS`` (how the sandbox must record
the notebook's execution: a key of ``policylab.grading.sandbox.configure.ENDINGS``) and ``build(release, ctx)``,
which returns the learner's submission: the released notebook (blank answers, so any point it
earns was earned by the trick) plus the attack. ``ctx`` tells the attacker what a curious learner
could know or guess: the course root's absolute path and a loopback port the test listens on.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

DAMAGE_AND_INTEGRITY = [
    "truncate_gradebook", "rewrite_other_submissions", "read_solutions", "read_gradebook",
    "read_hidden_tests_from_working_copy", "plant_symlinks", "phone_home",
    "patch_isclose", "patch_builtins", "set_custom_exc", "always_equal_object",
    "forge_metadata_points", "edit_test_cells", "rewrite_cells_at_runtime", "forge_partial_credit",
    "exit_kernel_in_tests", "read_truth_module",
]
# Submissions holding a link or a non-regular file: refused before anything is copied or run.
# These modules have ``plant(folder, ctx)`` (puts the link or FIFO in the learner's submitted folder)
# and ``REFUSED`` (the Korean reason the state record must carry) instead of ``ENDS``.
LINKS = ["link_to_source_notebook", "relative_link", "link_to_folder", "link_to_gradebook",
         "fifo_in_submission", "submission_folder_is_link"]
# Outputs that would run script in a page someone opens (feedback, formgrader, reports): graded and
# rendered in tests/test_page_attacks.py and tests/test_browser.py.
PAGES = ["html_script_output", "event_handler_output", "javascript_output"]
LIMITS = ["memory_bomb", "fork_bomb", "print_50mb", "print_100mb_at_once", "fill_disk", "write_huge_file", "cpu_burn"]


@dataclass(frozen=True)
class Context:
    root: Path
    port: int


def load(name: str):
    return importlib.import_module(f"attacks.{name}")


def all_names() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name != "course")
