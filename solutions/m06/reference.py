"""m06's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; survey.csv is read once here.
Blank answers (무응답) are left out of every denominator: each question is about the people who
answered its item.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

SMALL_DONG, SMALL_BAND = "새내동", "18-29"
OLD, YOUNG = "65+", "18-29"
Z95, Z90 = 1.959963984540054, 1.6448536269514722
BOOT_SEED, BOOT_N = 606, 2000
MARGIN = 0.03


def _share_se(x: pd.Series) -> tuple[float, float, int]:
    n = int(x.notna().sum())
    p = float((x.dropna() >= 4).mean())
    return p, math.sqrt(p * (1 - p) / n), n


def _net(x: np.ndarray) -> float:
    return float((x >= 4).mean() - (x <= 2).mean())


def reference(data: Path) -> dict:
    survey = pd.read_csv(Path(data) / "survey.csv")

    # Q1, Q2: satisfied share among those who answered the sports item, and its 90% interval
    sports = survey["체육시설만족도"]
    p, se, n = _share_se(sports)
    answered = survey[sports.notna()].assign(sat=lambda d: (d["체육시설만족도"] >= 4).astype(int))
    ci90_ols = tuple(float(v) for v in smf.ols("sat ~ 1", data=answered).fit().conf_int(alpha=0.1).loc["Intercept"])

    # Q3: mean parking score of the small subgroup, 95% t interval (statsmodels)
    group = survey[(survey["행정동"] == SMALL_DONG) & (survey["연령대"] == SMALL_BAND)]
    parking = group[["주차장만족도"]].dropna()
    fit = smf.ols("주차장만족도 ~ 1", data=parking).fit()

    # Q4: 65+ minus 18-29, satisfied share of the sports item, SE of a difference
    p_old, se_old, _ = _share_se(survey.loc[survey["연령대"] == OLD, "체육시설만족도"])
    p_young, se_young, _ = _share_se(survey.loc[survey["연령대"] == YOUNG, "체육시설만족도"])
    gap, se_gap = p_old - p_young, math.sqrt(se_old**2 + se_young**2)

    # Q5: people to survey for a ±3%p margin (95%) among those who answer the sports item
    rate = n / len(survey)
    sizes = set()
    for z in (1.96, Z95):
        raw = z**2 * p * (1 - p) / MARGIN**2
        sizes |= {math.ceil(raw / rate), math.ceil(math.ceil(raw) / rate)}

    # Q6: bootstrap of the complaint item's net satisfaction (4–5 share minus 1–2 share) among answerers
    scores = survey["민원응대만족도"].dropna().to_numpy()
    rng = np.random.default_rng(BOOT_SEED)
    boot = np.array([_net(rng.choice(scores, size=len(scores), replace=True)) for _ in range(BOOT_N)])

    return {
        "q1": {"sports_n": n, "sports_share": p},
        "q2": {"ci90": (p - Z90 * se, p + Z90 * se), "ci90_ols": ci90_ols},
        "q3": {"young_n": len(parking), "young_mean": float(fit.params["Intercept"]),
               "ci": tuple(float(v) for v in fit.conf_int(alpha=0.05).loc["Intercept"])},
        "q4": {"gap": gap, "ci": (gap - Z95 * se_gap, gap + Z95 * se_gap), "se": se_gap},
        "q5": {"n_to_survey": sorted(sizes), "rate": rate},
        "q6": {"net": _net(scores), "boot": boot, "ci": tuple(float(v) for v in np.percentile(boot, [2.5, 97.5]))},
        "q7": {"answer": "나"},
    }
