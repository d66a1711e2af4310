"""m08's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; the file is read once here.
The question is what extending a facility's operating hours (운영시간) does to its electricity use:
the facility type is the confounder (controlled), the visitors (이용객수) a consequence of the hours
(not controlled for the total effect; Q6 asks for the visitor-held-fixed part on purpose).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

FORMULA = "np.log(전력사용량) ~ 운영시간 + np.log(연면적) + C(시설유형) + 난방도일 + 냉방도일"
EXTRA_HOURS = 40   # Q5: every library opens 40 more hours a month, for 12 months


def _pct(log_points) -> float:
    return float(100 * np.expm1(log_points))


def reference(data: Path) -> dict:
    energy = pd.read_csv(Path(data) / "energy_monthly.csv")

    # Q1: the simple level regression, kWh a month per 100 more hours open
    naive = smf.ols("전력사용량 ~ 운영시간", data=energy).fit()

    # Q2–Q4: log outcome, type controlled, visitors left out; HC3 errors; per 100 hours in %
    fit = smf.ols(FORMULA, data=energy).fit(cov_type="HC3")
    b = float(fit.params["운영시간"])
    low, high = fit.conf_int().loc["운영시간"]

    # Q5: every library 40 hours more a month for a year, on each library's own monthly average
    library_kwh = energy[energy["시설유형"] == "도서관"].groupby("시설코드")["전력사용량"].mean()
    extra = float(12 * np.expm1(EXTRA_HOURS * b) * library_kwh.sum())

    # Q6: the same model holding the visitors fixed (what is left when the visitors' channel is shut)
    direct = smf.ols(FORMULA + " + np.log(이용객수)", data=energy).fit(cov_type="HC3")
    d = float(direct.params["운영시간"])
    d_low, d_high = direct.conf_int().loc["운영시간"]

    return {
        "q1": {"naive_per100h": float(100 * naive.params["운영시간"])},
        "q2": {"hours_pct": _pct(100 * b), "b": b, "r2": float(fit.rsquared)},
        "q3": {"hours_se": float(fit.bse["운영시간"])},
        "q4": {"hours_ci_pct": [_pct(100 * low), _pct(100 * high)], "ci_pct": [_pct(100 * low), _pct(100 * high)]},
        "q5": {"library_extra_kwh": extra, "libraries": int(len(library_kwh))},
        "q6": {"direct_pct": _pct(100 * d), "ci_pct": [_pct(100 * d_low), _pct(100 * d_high)],
               "via_visitors_share": float(1 - d / b), "r2": float(direct.rsquared)},
    }
