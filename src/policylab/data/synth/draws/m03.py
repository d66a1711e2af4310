"""m03's draw: one learner's own parking lots, parking sessions and civil complaints (the shared schema).

Varies per learner: how many lots (10–15) and their names, sizes, grades and fees; the data period
(it starts in 2022 and ends part-way through a month of 2025, so the last year and the last month
are incomplete); each lot's complaint rate per parking space (small lots with high rates, big lots
with many complaints but low rates); entries per day and how much the per-5-minute tariff of
2025-01-01 raised them at the grade 1–2 paid lots; each department's answering times; a few
complaints of the last full year never answered.

The exercise reads: the lots (names, sizes, grade, fee), the sessions (entry time and minutes only) and the
complaints (received, answered, type, facility, department). Draws are rejected unless every banked
mistake gives a different answer from the right one (the lot with the most complaints is not the
one with the highest rate, exactly one lot has none in the last full year, no two rates tie, some
complaints of that year are unanswered).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.data.synth.places import AGENCY, CITY, HOLIDAYS

STEMS = ("가온", "나래", "다온", "라온", "마루", "바름", "새봄", "아라", "온새", "하람", "한울", "해솔",
         "누리", "도담", "보람", "솔빛", "예솜", "이룸", "초롱", "푸름", "윤슬", "늘봄", "여울", "시루")
OFF_STREET = ("공영주차장", "시장 공영주차장", "근린공원 주차장", "체육공원 주차장", "행정복지센터 주차장",
              "도서관 주차장", "환승주차장", "문화센터 주차장")
SPORTS = ("국민체육센터", "수영장", "다목적체육관")
COLUMNS = ["주차장관리번호", "주차장명", "주차장구분", "주차장유형", "행정동", "소재지도로명주소", "급지구분",
           "주차구획수", "운영요일", "평일운영시작시각", "평일운영종료시각", "요금정보", "주차기본시간", "주차기본요금",
           "추가단위시간", "추가단위요금", "1일주차권요금", "월정기권요금", "결제방법", "관리기관명", "위도", "경도",
           "데이터기준일자"]
TARIFF = {"1급지": (30, 1000, 5, 200), "2급지": (30, 600, 5, 150), "3급지": (30, 400, 10, 150)}
DEPARTMENTS = {"주차질서": "주차운영팀", "주차요금": "주차운영팀", "주차시설": "주차시설팀",
               "체육강습": "체육사업팀", "체육시설": "체육시설팀", "직원응대": "고객지원팀", "기타": "고객지원팀"}
LOT_TYPES = (("주차질서", 0.35), ("주차요금", 0.30), ("주차시설", 0.25), ("직원응대", 0.06), ("기타", 0.04))
SEASON = np.array([0.85, 0.85, 1.0, 1.05, 1.1, 1.1, 1.05, 1.05, 1.0, 1.0, 0.95, 0.85])
REFORM = pd.Timestamp("2025-01-01")
FULL_YEAR = 2024  # every draw ends in 2025: its last full calendar year is 2024 (never the lesson's 2025)


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    for _ in range(200):
        tables, truth, days = _draw(rng)
        if _separates(tables):  # the sessions (the slow part) only for a draw that is kept
            lots = tables["parking_lots.csv"]
            tables["parking_sessions.csv.gz"] = _sessions(rng, lots, days, truth["params"]["reform_entries_lift"])
            return tables, truth
    raise RuntimeError("no m03 draw separates the misconceptions in 200 tries")


def _separates(tables: dict[str, pd.DataFrame]) -> bool:
    lots, complaints = tables["parking_lots.csv"], tables["complaints.csv"]
    year = complaints[complaints["접수일"].str[:4] == str(FULL_YEAR)]
    counts = year["시설명"].value_counts().reindex(lots["주차장명"], fill_value=0)
    rates = counts.to_numpy() / lots["주차구획수"].to_numpy() * 100
    unanswered = year["답변일"].isna().sum()
    return (counts.idxmax() != lots["주차장명"].iloc[int(np.argmax(rates))]
            and (counts == 0).sum() == 1
            and len(np.unique(np.round(rates, 9))) == len(rates)
            and len(np.unique(counts)) > 3
            and not np.all(np.diff(rates) <= 0)              # the lots table is not already in rank order
            and unanswered >= 3)


def _lots(rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    n = int(rng.integers(10, 16))
    stems = rng.choice(STEMS, size=n, replace=False)
    kinds = np.where(rng.random(n) < 0.35, "노상", "노외")
    grades = rng.choice(["1급지", "2급지", "3급지"], size=n, p=[0.3, 0.4, 0.3])
    free = rng.random(n) < 0.12
    reform = (grades != "3급지") & ~free
    if reform.sum() < 3 or (~reform).sum() < 3:   # enough lots on each side of the reform
        idx = rng.permutation(n)
        grades[idx[:3]], free[idx[:3]] = "1급지", False
        grades[idx[3:6]] = "3급지"
    spaces = np.where(kinds == "노상", rng.integers(12, 45, n), np.round(rng.lognormal(4.8, 0.6, n), -1))
    spaces = np.clip(spaces, 12, 520).astype(int)
    numbers = rng.choice(np.arange(100, 999), size=n, replace=False)
    rows = []
    for i in range(n):
        name = f"{stems[i]} {'노상주차장' if kinds[i] == '노상' else rng.choice(OFF_STREET)}"
        basic_min, basic_fee, unit_min, unit_fee = (0, 0, 0, 0) if free[i] else TARIFF[grades[i]]
        street = kinds[i] == "노상"
        rows.append([f"351-2-{int(numbers[i]):06d}", name, "공영", kinds[i], f"{stems[i]}동",
                     f"{CITY} {stems[i]}로 {int(rng.integers(1, 300))}", grades[i], int(spaces[i]),
                     "평일+토요일" if street else "평일+토요일+공휴일", "09:00" if street else "00:00",
                     "21:00" if street else "24:00", "무료" if free[i] else "유료", basic_min, basic_fee, unit_min,
                     unit_fee, None if free[i] else basic_fee * 20, None if free[i] else basic_fee * 150,
                     "해당없음" if free[i] else "신용카드+교통카드", AGENCY,
                     round(36.33 + rng.uniform(0, 0.06), 6), round(127.35 + rng.uniform(0, 0.07), 6),
                     end.strftime("%Y-%m-%d")])
    lots = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("1일주차권요금", "월정기권요금"):
        lots[col] = lots[col].astype("Int64")
    return lots


def _sessions(rng: np.random.Generator, lots: pd.DataFrame, days: pd.DatetimeIndex, lift: float) -> pd.DataFrame:
    n_days = len(days)
    dow = days.day_of_week.to_numpy()
    holiday = np.array([d.date() in HOLIDAYS for d in days])
    after = np.asarray(days >= REFORM)
    season = SEASON[days.month.to_numpy() - 1]
    parts = []
    for lot in lots.itertuples(index=False):
        reform = lot.요금정보 == "유료" and lot.급지구분 in ("1급지", "2급지")
        street = lot.주차장유형 == "노상"
        open_day = ((dow != 6) & ~holiday) if street else np.ones(n_days, bool)
        lam = min(lot.주차구획수, 120) * rng.uniform(0.03, 0.06) * season * open_day
        lam = lam * np.where(reform & after, 1 + lift, 1.0)
        n = rng.poisson(lam)
        day_idx = np.repeat(np.arange(n_days), n)
        total = int(n.sum())
        mean_stay = rng.uniform(70, 110) if street else rng.uniform(110, 190)
        mean = np.where(reform & after[day_idx], mean_stay * (1 - 0.6 * lift), mean_stay)
        stay = np.maximum(np.round(rng.gamma(1.6, mean / 1.6)), 3).astype(np.int64)
        lo, hi = (9 * 60, 20 * 60) if street else (6 * 60, 23 * 60)
        entry = days.values[day_idx] + rng.integers(lo, hi, total).astype("timedelta64[m]")
        parts.append(pd.DataFrame({"주차장관리번호": lot.주차장관리번호, "입차일시": entry, "주차시간": stay}))
    sessions = pd.concat(parts, ignore_index=True).sort_values(["입차일시", "주차장관리번호"], kind="stable")
    sessions["입차일시"] = sessions["입차일시"].dt.strftime("%Y-%m-%d %H:%M")
    return sessions.reset_index(drop=True)


def _complaints(rng: np.random.Generator, lots: pd.DataFrame, days: pd.DatetimeIndex, end: pd.Timestamp,
                waits: dict[str, float]) -> pd.DataFrame:
    months = pd.date_range(days[0], days[-1], freq="MS")
    season = SEASON[months.month.to_numpy() - 1]
    # complaints per 100 spaces per month: small lots often have high rates, big ones many complaints
    size = lots["주차구획수"].to_numpy(float)
    rate = np.exp(rng.normal(0, 0.6, len(lots))) * np.clip(60 / size, 0.25, 3.0) * rng.uniform(0.7, 1.3)
    monthly = np.outer(season, rate * size / 100 * 1.4)
    zero_lot = int(rng.integers(0, len(lots)))
    places, kinds, dates = [], [], []
    for j in range(len(lots)):
        counts = rng.poisson(monthly[:, j])
        for m, c in zip(months, counts):
            if c == 0 or (j == zero_lot and m.year == FULL_YEAR):
                continue
            places += [lots["주차장명"].iloc[j]] * int(c)
            kinds += list(rng.choice([k for k, _ in LOT_TYPES], size=c, p=[p for _, p in LOT_TYPES]))
            dates += list(m + pd.to_timedelta(rng.integers(0, m.days_in_month, c), unit="D"))
    stems = [str(x).split()[0] for x in lots["주차장명"]]
    facilities = [f"{rng.choice(stems)} {s}" for s in SPORTS]
    for m, s in zip(months, season):
        c = int(rng.poisson(26 * s))
        places += list(rng.choice(facilities, size=c))
        kinds += list(rng.choice(["체육강습", "체육시설", "직원응대", "기타"], size=c, p=[0.45, 0.35, 0.12, 0.08]))
        dates += list(m + pd.to_timedelta(rng.integers(0, m.days_in_month, c), unit="D"))
    received = pd.DatetimeIndex(dates)
    keep = received <= end
    received, places, kinds = received[keep], np.array(places)[keep], np.array(kinds)[keep]
    dept = np.array([DEPARTMENTS[k] for k in kinds])
    mean_wait = np.array([waits[d] for d in dept])
    wait = 1 + rng.negative_binomial(2, 2 / (2 + mean_wait))
    answered = received + pd.to_timedelta(wait, unit="D")
    answer = pd.Series(answered.strftime("%Y-%m-%d"), dtype=object)
    answer[np.asarray(answered > end)] = None                     # still open when the data was taken
    in_year = np.flatnonzero(received.year == FULL_YEAR)
    lost = rng.choice(in_year, size=int(rng.integers(3, 9)), replace=False)
    answer[lost] = None                                           # never answered (lost in a handover)
    dong = {name: f"{name.split()[0]}동" for name in set(places)}
    out = pd.DataFrame({"접수일": received.strftime("%Y-%m-%d"), "답변일": answer.to_numpy(), "유형": kinds,
                        "시설명": places, "담당부서": dept, "행정동": [dong[p] for p in places]})
    out = out.sort_values(["접수일", "유형", "시설명"], kind="stable").reset_index(drop=True)
    digits = rng.integers(0, 16, size=(len(out), 12))
    out.insert(0, "민원ID", ["Q" + "".join(f"{d:x}" for d in row) for row in digits])
    return out


def _draw(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict, pd.DatetimeIndex]:
    start = pd.Timestamp(2022, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 13)))
    last_month = pd.Timestamp(2025, int(rng.integers(3, 12)), 1)
    end = last_month + pd.Timedelta(days=int(rng.integers(9, 24)))  # part-way through the last month
    days = pd.date_range(start, end, freq="D")
    lots = _lots(rng, end)
    lift = float(np.round(rng.uniform(0.08, 0.25), 3))
    waits = {d: float(np.round(rng.uniform(3, 12), 1)) for d in sorted(set(DEPARTMENTS.values()))}
    tables = {"parking_lots.csv": lots, "complaints.csv": _complaints(rng, lots, days, end, waits)}
    truth = {"params": {"period": [start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")], "lots": len(lots),
                        "full_year": FULL_YEAR, "reform_entries_lift": lift, "mean_wait_days": waits},
             "effects": []}
    return tables, truth, days
