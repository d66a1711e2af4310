"""m09's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; each file is read once here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

WINDOW = 4  # the exercise's event window: −4 … 4 months, the ends binned


def _month_number(yyyymm: pd.Series) -> pd.Series:
    return yyyymm.str[:4].astype(float) * 12 + yyyymm.str[5:7].astype(float)


def _pct(log_points) -> float:
    return float((np.exp(log_points) - 1) * 100)


def reference(data: Path) -> dict:
    data = Path(data)
    tariffs = pd.read_csv(data / "parking_tariffs.csv")
    lots = pd.read_csv(data / "parking_lots.csv")
    sessions = pd.read_csv(data / "parking_sessions.csv.gz", usecols=["주차장관리번호", "입차일시", "주차시간"])
    energy = pd.read_csv(data / "energy_monthly.csv")

    # Q1: the lot whose base fee rose, the day the new tariff applied, never-changed lots of its type
    tariffs = tariffs.sort_values(["주차장관리번호", "적용시작일"])
    rose = tariffs.groupby("주차장관리번호")["주차기본요금"].diff() > 0
    treated_lot = str(tariffs.loc[rose, "주차장관리번호"].iloc[0])
    switch_date = str(tariffs.loc[rose, "적용시작일"].iloc[0])
    n_rows = tariffs.groupby("주차장관리번호").size()
    never_changed = set(n_rows[n_rows == 1].index)
    treated_type = lots.loc[lots["주차장관리번호"] == treated_lot, "주차장유형"].iloc[0]
    comparison = sorted(str(x) for x in lots.loc[lots["주차장관리번호"].isin(never_changed)
                                                  & (lots["주차장유형"] == treated_type), "주차장관리번호"])

    # Q2: lot × entry day, the mean stay of that day's entries
    study = sessions[sessions["주차장관리번호"].isin([treated_lot] + comparison)].copy()
    study["날짜"] = study["입차일시"].str[:10]
    daily = study.groupby(["주차장관리번호", "날짜"])["주차시간"].mean().reset_index(name="avg_stay")
    daily["treated"] = (daily["주차장관리번호"] == treated_lot).astype(int)
    daily["post"] = (daily["날짜"] >= switch_date).astype(int)

    # Q3, Q4: 2×2 difference in differences of the lot-day means, by hand and by regression
    means = daily.groupby(["treated", "post"])["avg_stay"].mean()
    did = float((means[1, 1] - means[1, 0]) - (means[0, 1] - means[0, 0]))
    fit = smf.ols("avg_stay ~ treated * post", data=daily).fit()
    low, high = fit.conf_int().loc["treated:post"]

    # Q5, Q6: two-way fixed effects, errors clustered by facility
    energy["log_kwh"] = np.log(energy["전력사용량"])
    cluster = {"cov_type": "cluster", "cov_kwds": {"groups": energy["시설코드"]}}
    twfe = smf.ols("log_kwh ~ LED적용 + C(시설코드) + C(연월)", data=energy).fit(**cluster)
    b = float(twfe.params["LED적용"])
    led_low, led_high = twfe.conf_int().loc["LED적용"]

    # Q7, Q8: event study around the first month the LEDs were in use, −1 the reference, ends binned
    first_led = energy[energy["LED적용"] == 1].groupby("시설코드")["연월"].min()
    event_time = _month_number(energy["연월"]) - _month_number(energy["시설코드"].map(first_led))
    binned = event_time.clip(-WINDOW, WINDOW)
    names = {}
    for k in range(-WINDOW, WINDOW + 1):
        if k != -1:
            names[k] = f"ev{k + WINDOW}"
            energy[names[k]] = (binned == k).astype(int)
    event = smf.ols("log_kwh ~ " + " + ".join(names.values()) + " + C(시설코드) + C(연월)", data=energy).fit(**cluster)
    coefs = pd.Series({k: (0.0 if k == -1 else float(event.params[names[k]])) for k in range(-WINDOW, WINDOW + 1)})

    return {
        "q1": {"treated_lot": treated_lot, "switch_date": switch_date, "comparison_lots": comparison},
        "q2": {"daily": daily[["주차장관리번호", "날짜", "avg_stay", "treated", "post"]].reset_index(drop=True),
               "lots": {treated_lot, *comparison}},
        "q3": {"did": did},
        "q4": {"did": float(fit.params["treated:post"]), "nobs": int(fit.nobs),
               "pct": float(fit.params["treated:post"] / means[1, 0] * 100), "ci": [float(low), float(high)]},
        "q5": {"led_pct": _pct(b), "b": b},
        "q6": {"se": float(twfe.bse["LED적용"]), "ci_pct": [_pct(led_low), _pct(led_high)]},
        "q7": {"event_coefs": coefs},
        "q8": {"pre_avg_pct": _pct(coefs[coefs.index <= -2].mean()),
               "post_avg_pct": _pct(coefs[coefs.index >= 0].mean())},
    }
