"""m13's expected values on one datasets folder (a learner's draw), for every question card.

The learner picks a card in the notebook's ``question`` cell; the hidden tests ask for their card's
part (``_expected("m13")["q2"][question]``). Trainer-side, never released; each file is read once.
Keys per question: ``q1`` ``<card>_rows``, ``<card>_y_mean`` (and ``tariff_post_months``);
``q2`` / ``q3`` ``<card>``: the main effect / its 95% interval; ``q4`` ``<card>_<check>``: the
robustness check's estimate of the same term.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

SMS_TERM = 'C(배정군, Treatment("미발송"))[T.간편문자]'
NO_DISCOUNT = ["필라테스", "골프"]
HAC = {"cov_type": "HAC", "cov_kwds": {"maxlags": 3}}
PLACEBO_MONTHS_BEFORE = 6


def _sms(trial: pd.DataFrame) -> dict:
    d = trial.copy()
    d["y"] = d["30일내납부"]
    rhs = 'C(배정군, Treatment("미발송"))'
    main = smf.ols("y ~ " + rhs, data=d).fit(cov_type="HC1")
    cov = smf.ols("y ~ " + rhs + " + C(요금구분) + np.log(미납금액) + 과거미납횟수", data=d).fit(cov_type="HC1")
    lot = smf.ols("y ~ " + rhs + " + C(주차장관리번호)", data=d).fit(cov_type="HC1")
    return {"table": d, "fit": main, "term": SMS_TERM,
            "checks": {"covariates": cov.params[SMS_TERM], "lot_fe": lot.params[SMS_TERM]}}


def reform_of(tariffs: pd.DataFrame) -> tuple[list[str], str]:
    """The lots whose tariff became 5-minute units and the month it applied ('YYYY-MM')."""
    t = tariffs.sort_values(["주차장관리번호", "적용시작일"])
    later = t[t.duplicated("주차장관리번호", keep="first")]       # a period that began a new tariff
    new5 = later[later["추가단위시간"] == 5]
    return sorted(new5["주차장관리번호"].unique()), str(new5["적용시작일"].min())[:7]


def _its(d: pd.DataFrame, start: str):
    d = d.copy()
    d["t"] = np.arange(len(d))
    d["post"] = (d["월"] >= start).astype(int)
    d["t_post"] = np.where(d["post"] == 1, d["t"] - d.loc[d["post"] == 1, "t"].min(), 0)
    d["month"] = d["월"].str[5:7].astype(int)
    return d, smf.ols("y ~ t + post + t_post + C(month)", data=d).fit(**HAC)


def _tariff(tariffs: pd.DataFrame, sessions: pd.DataFrame) -> dict:
    s = sessions.copy()
    s["월"] = s["입차일시"].str[:7]
    s["long"] = (s["주차시간"] > 240).astype(float)
    lots, reform = reform_of(tariffs)
    monthly = s[s["주차장관리번호"].isin(lots)].groupby("월", as_index=False)["long"].mean()
    monthly = monthly.rename(columns={"long": "y"})
    table, fit = _its(monthly, reform)
    periods = tariffs.groupby("주차장관리번호").size()
    never = s[s["주차장관리번호"].isin(periods[periods == 1].index)].groupby("월")["long"].mean()
    _, comparison = _its(monthly.assign(y=monthly["y"] - monthly["월"].map(never)), reform)
    fake = (pd.Period(reform, "M") - PLACEBO_MONTHS_BEFORE).strftime("%Y-%m")
    _, placebo = _its(monthly[monthly["월"] < reform].reset_index(drop=True), fake)
    plain = smf.ols("y ~ t + post + t_post + C(month)", data=table).fit()
    return {"table": table, "fit": fit, "term": "post", "plain_ci": [float(v) for v in plain.conf_int().loc["post"]],
            "checks": {"comparison": comparison.params["post"], "placebo_date": placebo.params["post"]}}


def _led(energy: pd.DataFrame) -> dict:
    def fit(d):
        return smf.ols("y ~ LED적용 + C(시설코드) + C(연월)", data=d).fit(
            cov_type="cluster", cov_kwds={"groups": d["시설코드"]})

    d = energy.copy()
    d["y"] = np.log(d["전력사용량"])
    ever = d[d.groupby("시설코드")["LED적용"].transform("max") == 1].reset_index(drop=True)
    dropped = d[d["LED교체일"].str[:7] != d["연월"]].reset_index(drop=True)
    return {"table": d, "fit": fit(d), "term": "LED적용",
            "checks": {"ever_treated": fit(ever).params["LED적용"],
                       "drop_retrofit_month": fit(dropped).params["LED적용"]}}


def by_age(rows: pd.DataFrame, half_width: int) -> pd.DataFrame:
    table = rows.groupby("나이").size().rename("n").reset_index()
    table = table[(table["나이"] >= 65 - half_width) & (table["나이"] <= 64 + half_width)].reset_index(drop=True)
    table["y"] = np.log(table["n"])
    table["c"] = table["나이"] - 65
    table["above"] = (table["나이"] >= 65).astype(int)
    return table


def _senior(sports: pd.DataFrame) -> dict:
    def fit(d):
        return smf.ols("y ~ above + c + above:c", data=d).fit(cov_type="HC1")

    placebo = sports["프로그램"].isin(NO_DISCOUNT)
    table = by_age(sports[~placebo], 10)
    return {"table": table, "fit": fit(table), "term": "above",
            "checks": {"bandwidth_5": fit(by_age(sports[~placebo], 5)).params["above"],
                       "placebo_outcome": fit(by_age(sports[placebo], 10)).params["above"]}}


def reference(data: Path) -> dict:
    data = Path(data)
    cards = {
        "sms": _sms(pd.read_csv(data / "sms_trial.csv")),
        "tariff": _tariff(pd.read_csv(data / "parking_tariffs.csv"),
                          pd.read_csv(data / "parking_sessions.csv.gz", usecols=["주차장관리번호", "입차일시", "주차시간"])),
        "led": _led(pd.read_csv(data / "energy_monthly.csv")),
        "senior": _senior(pd.read_csv(data / "sports_enrolments.csv.gz", usecols=["나이", "프로그램"])),
    }
    q1, q2, q3, q4 = {}, {}, {}, {}
    for card, r in cards.items():
        q1[f"{card}_rows"] = int(len(r["table"]))
        q1[f"{card}_y_mean"] = float(r["table"]["y"].mean())
        q2[card] = float(r["fit"].params[r["term"]])
        low, high = r["fit"].conf_int(alpha=0.05).loc[r["term"]]
        q3[card] = [float(low), float(high)]
        for check, value in r["checks"].items():
            q4[f"{card}_{check}"] = float(value)
    q1["tariff_post_months"] = int(cards["tariff"]["table"]["post"].sum())
    # for the planted-effect gate only (tests/test_quality_gates.py): with some 40 months and 15 terms, the
    # card's HAC(3) interval is about half as wide as the estimate's real spread on this recipe (measured
    # over 60 draws); the classical interval of the same fit is not, so the recipe's tariff effect is held to it
    recovery = {"tariff_plain_ci": cards["tariff"]["plain_ci"]}
    return {"q1": q1, "q2": q2, "q3": q3, "q4": q4, "recovery": recovery}
