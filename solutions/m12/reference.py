"""m12's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; survey.csv and survey_margins.csv are
read once here. The exercise's item is 주차장만족도 (satisfied = 4·5, dissatisfied = 1·2); weights are
raked to the 행정동, 성별 and 연령대 population margins (some cells of the 120 have no respondent, so
post-stratifying on the cells cannot reproduce the population), summing to the adult population.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.stats import chi2_contingency
from statsmodels.stats.weightstats import DescrStatsW

ITEM = "주차장만족도"
VARS = ("행정동", "성별", "연령대")
Z95 = 1.959963984540054


def _rake(survey: pd.DataFrame, targets: dict, sweeps: int = 200) -> pd.Series:
    w = pd.Series(1.0, index=survey.index)
    for _ in range(sweeps):
        for v, target in targets.items():
            w = w * survey[v].map(target / w.groupby(survey[v]).sum())
    return w


def reference(data: Path) -> dict:
    data = Path(data)
    survey = pd.read_csv(data / "survey.csv")
    margins = pd.read_csv(data / "survey_margins.csv")
    N = float(margins["인구수"].sum())
    y = (survey[ITEM] >= 4).astype(int)
    bad = (survey[ITEM] <= 2).astype(int)

    # Q1: 행정동 composition, sample vs population; the dong the respondents under-represent most
    sample = survey["행정동"].value_counts(normalize=True)
    pop = margins.groupby("행정동")["인구수"].sum() / N
    ratio = (sample / pop).sort_values()

    # Q2: raked weights (all three margins, summing to the population)
    targets = {v: margins.groupby(v)["인구수"].sum() for v in VARS}
    w = _rake(survey, targets)

    # Q3–Q6: weighted share, Kish, the design-effect-adjusted 95% interval, dissatisfied citizens
    share = float(np.average(y, weights=w))
    n = len(survey)
    n_eff = float(w.sum() ** 2 / (w ** 2).sum())
    d = DescrStatsW(y, weights=w * n_eff / w.sum())
    half = Z95 * math.sqrt(share * (1 - share) / n_eff)
    fit = smf.wls("y ~ 1", data=pd.DataFrame({"y": y}), weights=w).fit(cov_type="HC1")
    ci = tuple(float(v) for v in d.tconfint_mean(alpha=0.05))

    # Q7: 행정동 × satisfied, respondent counts, chi-square test of independence
    table = pd.crosstab(survey["행정동"], y)
    test = chi2_contingency(table)

    return {
        "q1": {"sample_share": sample.to_dict(), "pop_share": pop.to_dict(),
               "most_underrepresented": str(ratio.index[0]), "lowest_ratio": float(ratio.iloc[0])},
        "q2": {"rake_weight": dict(zip(survey["응답자ID"], w.to_numpy())), "population": N,
               "targets": {v: t.to_dict() for v, t in targets.items()},
               "weight_min": float(w.min()), "weight_max": float(w.max())},
        "q3": {"share_unweighted": float(y.mean()), "share_weighted": share},
        "q4": {"n": n, "n_eff": n_eff, "deff": n / n_eff},
        "q5": {"ci": ci, "accepted": [list(ci), [float(v) for v in d.zconfint_mean(alpha=0.05)],
                                      [share - half, share + half],
                                      [float(v) for v in fit.conf_int(alpha=0.05).loc["Intercept"]]],
               "margin_pp": (ci[1] - ci[0]) / 2 * 100},
        "q6": {"n_dissatisfied": float((w * bad).sum())},
        "q7": {"dong_table": table.sort_index().to_numpy(dtype=float).tolist(),
               "dongs": [str(x) for x in table.sort_index().index],
               "chi2_stat": float(test.statistic), "chi2_p": float(test.pvalue), "dof": int(test.dof)},
    }
