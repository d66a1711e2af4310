"""m11's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; the file is read once here.
The youth discount (감면구분 '청년') is given *below* the cut-off: treated = age < cutoff, and the
jump is the treated side's line minus the untreated side's line at the cut-off.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import statsmodels.formula.api as smf

TOP_CODE = 85
TEEN_AGE = 19        # 청소년 discount under 19: the window must not reach below it
PLACEBO_SHIFT = 5    # the placebo cut-off: 5 years into the untreated side, bandwidth 5


def _by_age(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows[rows["나이"] < TOP_CODE]
    return rows.groupby("나이").size().rename("n").rename_axis("age").reset_index()


def _window(counts: pd.DataFrame, cutoff: int, h: int) -> pd.DataFrame:
    w = counts[(counts["age"] >= cutoff - h) & (counts["age"] < cutoff + h)].copy()
    w["x"] = w["age"] - cutoff
    w["treated"] = (w["age"] < cutoff).astype(int)
    return w.reset_index(drop=True)


def _fit(window: pd.DataFrame):
    return smf.ols("n ~ treated + x + treated:x", data=window).fit(cov_type="HC3")


def reference(data: Path) -> dict:
    sports = pd.read_csv(Path(data) / "sports_enrolments.csv.gz", usecols=["나이", "프로그램", "감면구분"])

    youth_rows = sports[sports["감면구분"] == "청년"]
    youth_programmes = sorted(youth_rows["프로그램"].unique().tolist())
    cutoff = int(youth_rows["나이"].max()) + 1

    counts = _by_age(sports[sports["프로그램"].isin(youth_programmes)])
    bandwidth = cutoff - TEEN_AGE
    rd_data = _window(counts, cutoff, bandwidth)
    fit = _fit(rd_data)
    jump = float(fit.params["treated"])
    low, high = fit.conf_int().loc["treated"]

    other_counts = _by_age(sports[~sports["프로그램"].isin(youth_programmes)])
    density = _fit(_window(other_counts, cutoff, bandwidth))
    placebo_cutoff = cutoff + PLACEBO_SHIFT
    placebo = _fit(_window(counts, placebo_cutoff, PLACEBO_SHIFT))

    return {
        "q1": {"youth_programmes": youth_programmes, "cutoff": cutoff},
        "q2": {"counts": counts},
        "q3": {"bandwidth": bandwidth, "rd_data": rd_data},
        "q4": {"jump": jump, "ci": [float(low), float(high)]},
        "q5": {"relative_jump": float(jump / fit.params["Intercept"]), "jump_ci": [float(low), float(high)]},
        "q6": {"other_counts": other_counts, "density_jump": float(density.params["treated"]),
               "density_p": float(density.pvalues["treated"])},
        "q7": {"placebo_cutoff": placebo_cutoff, "placebo_jump": float(placebo.params["treated"]),
               "placebo_p": float(placebo.pvalues["treated"])},
        "q8": {"for_whom": "C"},
    }
