"""m02's expected values on one datasets folder (a learner's draw). Trainer-side, never released.

Called once per draw by ``policylab.grading.reference.expected``; each file is read once here.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

# October 2025: public holidays (개천절, 추석 연휴, 대체공휴일, 한글날), stated in the exercise
HOLIDAYS = pd.to_datetime(["2025-10-03", "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-08", "2025-10-09"])
OCTOBER = pd.date_range("2025-10-01", "2025-10-31")
OFFDAYS = OCTOBER[(OCTOBER.day_of_week == 6) | OCTOBER.isin(HOLIDAYS)]
WORKDAYS = OCTOBER[(OCTOBER.day_of_week < 5) & ~OCTOBER.isin(HOLIDAYS)]
LONG_STAY = 240  # minutes: a stay of four hours or more


def _minutes(hhmm: pd.Series) -> pd.Series:
    return hhmm.str[:2].astype(int) * 60 + hhmm.str[3:].astype(int)


def read_energy(path: Path) -> pd.DataFrame:
    """The report with one header row, 연월 as dates, 요금 in won (NaN where the bill is not in yet)."""
    energy = pd.read_excel(path, header=[0, 1], dtype=str)
    energy.columns = [low if not str(low).startswith("Unnamed") else top for top, low in energy.columns]
    energy["요금"] = pd.to_numeric(energy["요금"].str.replace(r"[^0-9]", "", regex=True), errors="coerce")
    energy["연월"] = pd.to_datetime(energy["연월"], format="%Y.%m")
    return energy


def reference(data: Path) -> dict:
    data = Path(data)
    lots = pd.read_csv(data / "parking_lots_cp949.csv", encoding="cp949")
    energy = read_energy(data / "energy_monthly.xlsx")
    sessions = pd.read_csv(data / "parking_sessions.csv.gz", usecols=["주차장관리번호", "입차일시", "주차시간", "요금구분"])
    sessions["입차일시"] = pd.to_datetime(sessions["입차일시"], format="%Y-%m-%d %H:%M")

    # Q3: 2025, billed months only, a facility's average monthly bill by type
    billed = energy[(energy["연월"].dt.year == 2025) & energy["요금"].notna()]
    avg_bill = billed.groupby("시설유형")["요금"].mean()

    # Q4: entries in October 2025
    octo = sessions[(sessions["입차일시"] >= "2025-10-01") & (sessions["입차일시"] < "2025-11-01")].copy()
    day = octo["입차일시"].dt.normalize()

    # Q5: share of stays of four hours or more, by lot type
    typed = octo.merge(lots[["주차장관리번호", "주차장유형"]], on="주차장관리번호", how="left", validate="many_to_one")
    long_share = (typed["주차시간"] >= LONG_STAY).groupby(typed["주차장유형"]).mean() * 100

    # Q6: entries on Sundays and public holidays, every lot (0 where none)
    off = octo[day.isin(OFFDAYS)].groupby("주차장관리번호").size()
    offday = {k: int(off.get(k, 0)) for k in lots["주차장관리번호"]}

    # Q7: working days (Mon–Fri, no holiday): average entries per day by hour × 요금구분
    work = octo[day.isin(WORKDAYS)].copy()
    work["입차시"] = work["입차일시"].dt.hour
    hourly = pd.pivot_table(work, index="입차시", columns="요금구분", values="주차시간", aggfunc="count",
                            fill_value=0) / len(WORKDAYS)
    hourly.index = [int(h) for h in hourly.index]
    hourly.columns = [str(c) for c in hourly.columns]

    # Q8: turnover and occupancy per lot, each lot's own open days and hours
    use = octo.groupby("주차장관리번호").agg(n=("주차시간", "size"), m=("주차시간", "sum"))
    t = lots.set_index("주차장관리번호").join(use).fillna({"n": 0, "m": 0})
    days = t["주차장유형"].map({"노외": len(OCTOBER), "노상": len(OCTOBER) - len(OFFDAYS)})
    open_min = _minutes(t["평일운영종료시각"]) - _minutes(t["평일운영시작시각"])
    turnover = t["n"] / (t["주차구획수"] * days)
    occupancy = t["m"] / (t["주차구획수"] * days * open_min)
    busiest, quietest = occupancy.idxmax(), occupancy.idxmin()
    peak = hourly.sum(axis=1)

    return {
        "q1": {"shape": lots.shape, "columns": list(lots.columns), "names": list(lots["주차장명"]),
               "spaces": [int(x) for x in lots["주차구획수"]]},
        "q2": {"n_rows": len(energy), "n_unbilled": int(energy["요금"].isna().sum()),
               "bills": energy[["시설코드", "연월", "요금"]].sort_values(["시설코드", "연월"]).reset_index(drop=True)},
        "q3": {"avg_bill": {str(k): float(v) for k, v in avg_bill.items()}},
        "q4": {"n": len(octo)},
        "q5": {"pct": {str(k): float(v) for k, v in long_share.items()}},
        "q6": {"counts": offday},
        "q7": {"table": hourly},
        "q8": {"turnover": {k: float(v) for k, v in turnover.items()},
               "occupancy": {k: float(v) for k, v in occupancy.items()},
               "busiest_name": str(t.loc[busiest, "주차장명"])},
        "w1": {"busiest": str(t.loc[busiest, "주차장명"]), "busiest_occupancy_pct": round(float(occupancy[busiest]) * 100, 1),
               "busiest_turnover": round(float(turnover[busiest]), 2),
               "quietest": str(t.loc[quietest, "주차장명"]),
               "quietest_occupancy_pct": round(float(occupancy[quietest]) * 100, 1),
               "quietest_turnover": round(float(turnover[quietest]), 2),
               "workday_peak_hour": int(peak.idxmax()), "workday_peak_entries_per_day": round(float(peak.max()), 1),
               "long_share_pct_off_street": round(float(long_share.get("노외", float("nan"))), 1),
               "long_share_pct_on_street": round(float(long_share.get("노상", float("nan"))), 1)},
    }
