"""m03's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; each file is read once here.
The figure questions' hidden tests read the learner's figure (exported as plain data) and compare
what it shows — the bars' categories and heights, the line's months and values, the boxes' values —
with the values below.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REFORM_DATE = "2025-01-01"  # per-5-minute tariff at the paid grade 1–2 lots (the course's story, not the data)


def last_full_year(dates: pd.Series) -> int:
    """The last calendar year whose twelve months all appear in ``dates`` ('YYYY-MM-DD' strings)."""
    months = set(dates.str[:7])
    years = sorted({int(m[:4]) for m in months}, reverse=True)
    return next(y for y in years if all(f"{y}-{k:02d}" in months for k in range(1, 13)))


def reference(data: Path) -> dict:
    data = Path(data)
    lots = pd.read_csv(data / "parking_lots.csv")
    sessions = pd.read_csv(data / "parking_sessions.csv.gz", usecols=["주차장관리번호", "입차일시", "주차시간"])
    complaints = pd.read_csv(data / "complaints.csv")

    # Q1, Q2: complaints per 100 spaces per lot in the last full year (every lot, none counts 0)
    year = last_full_year(complaints["접수일"])
    in_year = complaints[complaints["접수일"].str[:4] == str(year)]
    counts = in_year["시설명"].value_counts().reindex(lots["주차장명"], fill_value=0)
    table = pd.DataFrame({"주차장명": lots["주차장명"].to_numpy(), "민원건수": counts.to_numpy(),
                          "주차구획수": lots["주차구획수"].to_numpy()})
    table["100면당민원"] = table["민원건수"] / table["주차구획수"] * 100
    ranked = table.sort_values("100면당민원", ascending=False).reset_index(drop=True)

    # Q3, Q4: entries per day with data, by entry month, at the per-5-minute lots
    reform_ids = lots.loc[(lots["요금정보"] == "유료") & lots["급지구분"].isin(["1급지", "2급지"]), "주차장관리번호"]
    month = sessions["입차일시"].str[:7]
    days = sessions["입차일시"].str[:10].groupby(month).nunique()
    entries = month[sessions["주차장관리번호"].isin(reform_ids)].value_counts().reindex(days.index, fill_value=0)
    daily = pd.DataFrame({"월": pd.to_datetime(days.index, format="%Y-%m"),
                          "일평균입차": (entries / days).to_numpy(dtype=float)})
    by_year = daily.groupby(daily["월"].dt.year)["일평균입차"].mean()

    # Q5: days to answer, answered complaints received in that year, by department
    answered = in_year.dropna(subset=["답변일"])
    waited = (pd.to_datetime(answered["답변일"]) - pd.to_datetime(answered["접수일"])).dt.days
    by_dept = {str(d): np.sort(v.to_numpy(dtype=float)) for d, v in waited.groupby(answered["담당부서"])}
    medians = waited.groupby(answered["담당부서"]).median().sort_values(ascending=False)

    return {
        "q1": {"table": table, "year": year, "top_by_rate": ranked["주차장명"].iloc[0],
               "top_rate": float(ranked["100면당민원"].iloc[0]),
               "top_by_count": table.loc[table["민원건수"].idxmax(), "주차장명"],
               "top_count": int(table["민원건수"].max())},
        "q2": {"names": list(ranked["주차장명"]), "rates": ranked["100면당민원"].to_numpy(dtype=float)},
        "q3": {"daily": daily, "mean_2024": float(by_year.get(2024, np.nan)),
               "mean_2025": float(by_year.get(2025, np.nan))},
        "q4": {"months": list(daily["월"].dt.strftime("%Y-%m")), "values": daily["일평균입차"].to_numpy(dtype=float),
               "policy_date": REFORM_DATE},
        "q5": {"by_dept": by_dept, "slowest_dept": str(medians.index[0]),
               "slowest_median_days": float(medians.iloc[0]), "unanswered": int(in_year["답변일"].isna().sum())},
    }
