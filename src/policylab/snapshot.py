"""The snapshot contract between grading and reports (docs/snapshot.md).

Grading's ``export_snapshot`` writes these CSV files and columns; the reports read nothing
else. Both import the names from here, so the two sides cannot drift, and neither imports
the other. Plain data only: this module imports nothing.
"""
from __future__ import annotations

STATES = ("graded", "timed_out", "kernel_died", "limit_exceeded", "unreadable", "tampered", "missing")
"""Every state a learner × module can end in (policylab.grading.states defines what each means)."""

ROSTER_COLUMNS = ("learner_id", "department", "cohort", "start_date", "name")
RESULTS_COLUMNS = (
    "learner_id", "department", "cohort", "module", "state", "reason", "score", "max_score",
    "auto_score", "auto_max", "manual_score", "manual_max", "submitted_at", "graded_at",
)
QUESTIONS_COLUMNS = ("learner_id", "module", "question", "title", "skills", "kind", "score", "max_score",
                     "misconception", "mistake")
"""``misconception``: the bank id the grader named for a wrong autograded answer ("" when the answer
was right, or wrong in a way the bank does not know); ``mistake``: its Korean explanation."""
COMMENTS_COLUMNS = ("learner_id", "module", "question", "comment")
CHECKS_COLUMNS = ("learner_id", "module", "attempt", "checked_at", "question", "verdict", "misconception")
"""One row per question of every check before submitting (`policylab check`, grading/checks/): ``verdict``
is right, named, unexplained or not_run; ``misconception`` the bank id named. Never a grade."""

SNAPSHOT_COLUMNS: dict[str, tuple[str, ...]] = {
    "roster.csv": ROSTER_COLUMNS,
    "results.csv": RESULTS_COLUMNS,
    "questions.csv": QUESTIONS_COLUMNS,
    "comments.csv": COMMENTS_COLUMNS,
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"checks.csv": CHECKS_COLUMNS}
"""Tables a snapshot from before they existed lacks: read as empty."""
NUMERIC_COLUMNS = frozenset({"score", "max_score", "auto_score", "auto_max", "manual_score", "manual_max",
                             "attempt"})
