"""m10's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; each file is read once here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

LONG = 240           # minutes: a stay longer than this is a long stay
HAC = {"cov_type": "HAC", "cov_kwds": {"maxlags": 4}}
FORMULA = "share ~ t + post + t_post + C(month)"
PLACEBO_MARGIN = 26  # a placebo week leaves at least this many pre-period weeks on each side


def _segments(frame: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    out = frame.copy()
    out["t"] = np.arange(len(out))
    out["post"] = (out["week"] >= start).astype(int)
    out["t_post"] = np.where(out["post"] == 1, out["t"] - out.loc[out["post"] == 1, "t"].min(), 0)
    out["month"] = out["week"].dt.month
    return out


def reference(data: Path) -> dict:
    data = Path(data)
    tariffs = pd.read_csv(data / "parking_tariffs.csv")
    sessions = pd.read_csv(data / "parking_sessions.csv.gz", usecols=["주차장관리번호", "입차일시", "주차시간"])

    # Q1: the lots whose day pass rose, and the day the new price applied
    history = tariffs.sort_values(["주차장관리번호", "적용시작일"])
    before = history.groupby("주차장관리번호")["1일주차권요금"].shift()
    rose = (history["1일주차권요금"] > before).fillna(False).astype(bool)
    reform_date = str(history.loc[rose, "적용시작일"].iloc[0])
    affected = sorted(str(x) for x in history.loc[rose, "주차장관리번호"].unique())
    reform = pd.Timestamp(reform_date)

    # Q2: weeks that start on the reform's weekday, full weeks only
    day = pd.to_datetime(sessions["입차일시"].str[:10])
    sessions["week"] = day - pd.to_timedelta((day - reform).dt.days % 7, unit="D")
    sessions["long"] = sessions["주차시간"] > LONG
    full = (sessions["week"] >= day.min()) & (sessions["week"] + pd.Timedelta(days=6) <= day.max())

    def weekly_share(lots) -> pd.DataFrame:
        rows = sessions[full & sessions["주차장관리번호"].isin(lots)]
        return (rows.groupby("week").agg(share=("long", "mean"), n_sessions=("long", "size"))
                .reset_index().sort_values("week").reset_index(drop=True))

    weekly = weekly_share(affected)

    # Q3, Q4, Q5: segmented regression with month dummies, HAC errors
    its = _segments(weekly, reform)
    fit = smf.ols(FORMULA, data=its).fit(**HAC)
    level_low, level_high = fit.conf_int().loc["post"]
    slope_low, slope_high = fit.conf_int().loc["t_post"]
    naive = float(its.loc[its["post"] == 1, "share"].mean() - its.loc[its["post"] == 0, "share"].mean())

    # Q6: a placebo at every admissible pre-period week, fitted on the pre-period only
    pre = its[its["week"] < reform].reset_index(drop=True)
    pre_design = _segments(pre, pre["week"].iloc[0] + pd.Timedelta(days=7))
    base = smf.ols(FORMULA, data=pre_design)  # the design once; post and t_post are redone per week
    y, x = base.endog, pd.DataFrame(base.exog, columns=base.exog_names)
    placebo = {}
    for i in range(PLACEBO_MARGIN, len(pre) - PLACEBO_MARGIN + 1):
        x["post"] = (np.arange(len(pre)) >= i).astype(float)
        x["t_post"] = np.where(x["post"] == 1, np.arange(len(pre)) - i, 0).astype(float)
        p_fit = sm.OLS(y, x).fit(**HAC)
        placebo[pre["week"].iloc[i].strftime("%Y-%m-%d")] = {"change": float(p_fit.params["post"]),
                                                              "p": float(p_fit.pvalues["post"])}

    # Q7: never-changed lots as the comparison series, the gap's level change
    n_rows = tariffs.groupby("주차장관리번호").size()
    comparison = sorted(str(x) for x in n_rows[n_rows == 1].index)
    comp = weekly_share(comparison)[["week", "share"]].rename(columns={"share": "share_comparison"})
    gap = its.merge(comp, on="week", how="left")
    gap["gap"] = gap["share"] - gap["share_comparison"]
    gap_fit = smf.ols(FORMULA.replace("share ~", "gap ~"), data=gap).fit(**HAC)

    return {
        "q1": {"reform_date": reform_date, "affected_lots": affected},
        "q2": {"weekly": weekly, "first_week": weekly["week"].iloc[0].strftime("%Y-%m-%d"),
               "weekday": int(reform.day_of_week)},
        "q3": {"its_data": its[["week", "share", "n_sessions", "t", "post", "t_post", "month"]]},
        "q4": {"level_change": float(fit.params["post"]), "slope_change": float(fit.params["t_post"]),
               "naive": naive, "nobs": int(fit.nobs)},
        "q5": {"level_se": float(fit.bse["post"]), "level_ci": [float(level_low), float(level_high)],
               "slope_ci": [float(slope_low), float(slope_high)]},
        "q6": {"placebo": placebo, "pre_weeks": len(pre)},
        "q7": {"comparison_lots": comparison, "gap_change": float(gap_fit.params["post"])},
    }
