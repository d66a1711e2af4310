"""m07's expected values on one datasets folder (a learner's draw of the court no-show reminder trial).

Trainer-side, never released: the hidden tests ask ``policylab.grading.reference.expected("m07")``.
The control arm is 통상안내 (the booking confirmation only); the primary outcome is 노쇼; the analysis
plan fixes each comparison's groups and direction (see the exercise's 사전등록 분석계획서).
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

CONTROL, REMIND, LINK = "통상안내", "알림문자", "알림+취소링크"
Z95 = 1.959963984540054
MDE = 0.03


def _wald(x1, n1, x0, n0) -> tuple[float, float]:
    low, high = confint_proportions_2indep(x1, n1, x0, n0, compare="diff", method="wald")
    return float(low), float(high)


def reference(data: Path) -> dict:
    trial = pd.read_csv(Path(data) / "facility_noshow_trial.csv")
    arm = trial["배정군"]
    counts = trial.groupby("배정군")["노쇼"].agg(["sum", "count"])
    x = {a: int(counts.loc[a, "sum"]) for a in counts.index}
    n = {a: int(counts.loc[a, "count"]) for a in counts.index}
    rate = {a: x[a] / n[a] for a in x}

    # Q2: the plain reminder against the control, Wald interval
    diff_remind = rate[REMIND] - rate[CONTROL]

    # Q3: registered one-sided: the link's no-show rate is lower than the plain reminder's
    p_link = float(proportions_ztest([x[LINK], x[REMIND]], [n[LINK], n[REMIND]], alternative="smaller")[1])

    # Q4: any reminder (both SMS arms pooled) against the control, two-sided
    x_any, n_any = x[REMIND] + x[LINK], n[REMIND] + n[LINK]
    diff_any = x_any / n_any - rate[CONTROL]
    p_any = float(proportions_ztest([x_any, x[CONTROL]], [n_any, n[CONTROL]])[1])

    # Q5: the count outcome, link vs control, two-sided test of two means (Welch; Student's t also taken)
    a = trial.loc[arm == LINK, "다음달예약건수"].to_numpy(float)
    b = trial.loc[arm == CONTROL, "다음달예약건수"].to_numpy(float)
    welch = stats.ttest_ind(a, b, equal_var=False)
    student = stats.ttest_ind(a, b, equal_var=True)
    gap = float(a.mean() - b.mean())
    se_gap = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))

    # Q6: next trial, link vs control, one-sided 5% (a reduction of MDE from the control's rate), power 80%
    p0 = rate[CONTROL]
    h = proportion_effectsize(p0 - MDE, p0)
    sizes = {math.ceil(NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0,
                                                    alternative="smaller")),
             math.ceil(NormalIndPower().solve_power(effect_size=-h, alpha=0.05, power=0.8, ratio=1.0,
                                                    alternative="larger")),
             math.ceil(2 * ((stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) / h) ** 2)}  # the same formula by hand

    return {
        "q1": {"noshow_rates": {a: float(r) for a, r in rate.items()}},
        "q2": {"diff": diff_remind, "ci": _wald(x[REMIND], n[REMIND], x[CONTROL], n[CONTROL])},
        "q3": {"p": p_link},
        "q4": {"diff": diff_any, "p": p_any, "ci": _wald(x_any, n_any, x[CONTROL], n[CONTROL])},
        "q5": {"p": [float(welch.pvalue), float(student.pvalue)], "gap": gap,
               "ci": (gap - Z95 * se_gap, gap + Z95 * se_gap)},
        "q6": {"n_per_arm": sorted(sizes), "base_rate": p0},
    }
