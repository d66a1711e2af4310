"""The privacy rules of every page: quartiles only, cells under ``MIN_GROUP`` learners suppressed.

A learner's report describes other learners only through ``cohort_quartiles``; the dashboard
shows counts and means only through ``suppress_cells`` (with secondary suppression, so a hidden
cell cannot be recovered from a total). Kept apart from rendering so the rules can be read,
and tested, in one place.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from policylab.snapshot import STATES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MIN_GROUP = 5
"""Smallest number of learners an aggregate may describe (DESIGN §4, §6)."""

STATE_LABELS = {
    "graded": "채점 완료",
    "timed_out": "시간 초과",
    "kernel_died": "실행 중단(커널 종료)",
    "limit_exceeded": "자원 한도 초과(메모리·CPU·출력 등)",
    "unreadable": "파일을 읽을 수 없음",
    "tampered": "보호된 셀 수정(원본 복원 후 채점)",
    "missing": "미제출",
}
assert set(STATE_LABELS) == set(STATES), "the snapshot contract and the report labels must list the same states"
COMPLETED_STATES = ("graded", "tampered")
"""A module counts as completed when it was submitted and graded in full (tampered cells are
restored from the source before grading)."""


def cohort_quartiles(frame: "pd.DataFrame", by: str | list[str], value: str, *, min_n: int = MIN_GROUP) -> "pd.DataFrame":
    """Q1, median and Q3 of ``value`` per group, with ``n``; groups under ``min_n`` get no quartiles.

    Only these three numbers ever describe other learners in a learner's report.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, group in frame.dropna(subset=[value]).groupby(keys, sort=False):
        values = group[value]
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key), n=len(values))
        if len(values) >= min_n:
            row.update(q1=values.quantile(0.25), median=values.quantile(0.5), q3=values.quantile(0.75))
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*keys, "n", "q1", "median", "q3"])
    return out.astype({"n": "int64", "q1": "float64", "median": "float64", "q3": "float64"})


def suppress_cells(values: "pd.DataFrame", counts: "pd.DataFrame", *, min_n: int = MIN_GROUP) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Hide every cell whose ``counts`` (learners it describes) is between 1 and ``min_n - 1``.

    A column total shown elsewhere would let a reader recover a single hidden cell by
    subtraction, so in each column further cells are hidden, smallest first, until the
    hidden cells together describe at least ``min_n`` learners (secondary suppression).
    Returns (values with hidden cells as NaN, a status frame: "" shown, "small" hidden because
    it describes too few learners, "secondary" hidden to protect another cell, "empty" no learners).
    """
    import pandas as pd

    counts = counts.reindex(index=values.index, columns=values.columns).fillna(0)
    status = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    status[counts == 0] = "empty"
    small = (counts > 0) & (counts < min_n)
    status[small] = "small"
    for column in values.columns:
        hidden = status[column] == "small"
        if not hidden.any():
            continue
        covered = counts.loc[hidden, column].sum()
        candidates = counts.loc[status[column] == "", column].sort_values(kind="stable")
        for index, count in candidates.items():
            if covered >= min_n and hidden.sum() >= 2:
                break
            status.loc[index, column] = "secondary"
            hidden[index] = True
            covered += count
    shown = values.astype("float64").where(status == "")
    return shown, status


def skill_mastery(questions: "pd.DataFrame") -> "pd.DataFrame":
    """Points earned / points possible per learner × skill tag, over graded questions only.

    A question tagged with several skills (``data-loading;python-basics``) counts for each;
    questions without a score yet (written answers a trainer has not graded) are left out.
    """
    graded = questions.dropna(subset=["score", "max_score"])
    tags = graded.assign(skill=graded["skills"].str.split(";")).explode("skill")
    tags["skill"] = tags["skill"].str.strip()
    tags = tags[tags["skill"].notna() & (tags["skill"] != "")]
    out = tags.groupby(["learner_id", "skill"], as_index=False)[["score", "max_score"]].sum()
    out = out[out["max_score"] > 0]
    return out.assign(pct=100.0 * out["score"] / out["max_score"]).reset_index(drop=True)


SUPPRESSION_NOTE = {"small": "비공개¹", "secondary": "비공개²", "empty": "–"}
SUPPRESSION_FOOTNOTE = (
    f"비공개¹: {MIN_GROUP}명 미만의 학습자를 묘사하는 칸입니다. "
    "비공개²: 전체 값에서 빼서 비공개¹ 칸을 알아낼 수 없도록 함께 가린 칸입니다. –: 해당 학습자가 없습니다."
)


def format_cells(shown: "pd.DataFrame", status: "pd.DataFrame", fmt: str = "{:.0f}") -> "pd.DataFrame":
    """Text for a table: numbers formatted, hidden cells labelled with why."""
    out = shown.copy().astype(object)
    for column in shown.columns:
        for index in shown.index:
            reason = status.loc[index, column]
            value = shown.loc[index, column]
            out.loc[index, column] = SUPPRESSION_NOTE[reason] if reason else fmt.format(value)
    return out

