"""nbgrader configuration for the PolicyLab course.

One course, one course directory: this repository. The folder names below map
nbgrader's steps onto the fixed layout described in README.md.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

_root = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = _root
c.CourseDirectory.course_id = "policylab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
# POLICYLAB_DB_URL lets a deployment point every trainer at one shared gradebook.
c.CourseDirectory.db_url = os.environ.get(
    "POLICYLAB_DB_URL", "sqlite:///" + os.path.join(_root, "grading", "gradebook.db")
)
# The misconception bank sits beside the source notebook but is never released.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "misconceptions.yml", "reference.py",
]

# Seconds a single cell may run during autograding before it is interrupted.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# Re-insert test cells that a learner deleted, so a deletion cannot earn points.
c.OverwriteCells.add_missing_cells = True
c.ClearSolutions.code_stub = {"python": "# 여기에 코드를 작성하세요\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "여기에 답을 작성하세요."

# A submission is untrusted data: every page nbgrader renders from it (formgrader's submission
# view for trainers, nbgrader's own feedback) shows learners' outputs and markdown inert —
# nbconvert's sanitizer (sanitize_html), with PolicyLab's reading allowlist and markdown cleaned
# after rendering (policylab/safe_html.py). formgrader builds its HTMLExporter from this config.
from policylab.safe_html import exporter_config as _page_safety  # noqa: E402

for _trait, _value in _page_safety().items():
    setattr(c.HTMLExporter, _trait, _value)
