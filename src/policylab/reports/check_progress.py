"""A learner's own checks before submitting, module by module: how the answers moved over attempts.

The learner report shows it to that learner only (checks are never a grade and never compared
with peers); the aggregate view of checks is the trainers' item analysis (reports.items).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def check_progress(checks: "pd.DataFrame | None", learner_id: str) -> "pd.DataFrame":
    """One row per module this learner checked: ``checks`` (how many), ``first_right`` and ``last_right``
    (questions right at the first and the last check), ``questions``, and ``still_named`` (the bank ids
    the last check still named, comma-separated)."""
    import pandas as pd

    columns = ["module", "checks", "first_right", "last_right", "questions", "still_named"]
    if checks is None or checks.empty:
        return pd.DataFrame(columns=columns)
    mine = checks[checks["learner_id"] == learner_id]  # ``attempt`` is a number: the snapshot reader checks it
    rows = []
    for module, group in mine.groupby("module", sort=True):
        first, last = group[group["attempt"] == group["attempt"].min()], group[group["attempt"] == group["attempt"].max()]
        named = last.loc[last["verdict"] == "named", "misconception"]
        rows.append({"module": module, "checks": group["attempt"].nunique(),
                     "first_right": int((first["verdict"] == "right").sum()),
                     "last_right": int((last["verdict"] == "right").sum()), "questions": len(last),
                     "still_named": ", ".join(sorted(set(named) - {""}))})
    return pd.DataFrame(rows, columns=columns)
