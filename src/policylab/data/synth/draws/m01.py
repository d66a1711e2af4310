"""m01's draw: one learner's own table of public parking lots (parking_lots.csv, the shared schema).

Varies per learner: how many lots (24–33, never the shared table's 20 nor its 23 columns), their names, types, grades,
sizes (a long right tail, as in the shared data), each grade's tariff, which lots are free, and the
rule of the first row (the fee question reads it). The biggest paid on-street lot is unique, so
"the biggest" never depends on a tie-break.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.data.synth.places import AGENCY, CITY

DONG_STEMS = ("가온", "나래", "다온", "라온", "마루", "바름", "새봄", "아라", "온새", "하람", "한울", "해솔",
              "누리", "도담", "보람", "솔빛", "예솜", "이룸", "초롱", "푸름")
PLACES = ("시장", "행정복지센터", "근린공원", "체육센터", "도서관", "역", "하천변", "문화센터", "주민센터", "먹자골목")
ROADS = ("로", "길", "대로")
COLUMNS = ["주차장관리번호", "주차장명", "주차장구분", "주차장유형", "행정동", "소재지도로명주소", "급지구분",
           "주차구획수", "운영요일", "평일운영시작시각", "평일운영종료시각", "요금정보", "주차기본시간", "주차기본요금",
           "추가단위시간", "추가단위요금", "1일주차권요금", "월정기권요금", "결제방법", "관리기관명", "위도", "경도",
           "데이터기준일자"]


def _tariffs(rng: np.random.Generator) -> dict[str, tuple[int, int, int, int]]:
    """Per grade: (basic minutes, basic fee, unit minutes, unit fee); grade 1 dearest."""
    out = {}
    for grade, fees, units in (("1급지", (900, 1000, 1100, 1200), (150, 200, 250, 300)),
                               ("2급지", (500, 600, 700, 800), (100, 150, 200)),
                               ("3급지", (300, 400, 500), (50, 100, 150))):
        out[grade] = (int(rng.choice([30, 30, 60])), int(rng.choice(fees)), int(rng.choice([5, 10, 10, 15])),
                      int(rng.choice(units)))
    return out


LESSON_RULE = (30, 1000, 5, 200)  # the rule the lesson works with: a learner who copies it must be wrong


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    """A table where every question's answer tells the right method from each banked mistake."""
    for _ in range(200):
        tables, truth = _draw(rng)
        if _separates(tables["parking_lots.csv"]):
            return tables, truth
    raise RuntimeError("no m01 draw separates the misconceptions in 200 tries")


def _separates(lots: pd.DataFrame) -> bool:
    paid = lots[lots["요금정보"] == "유료"]
    street = paid[paid["주차장유형"] == "노상"]
    biggest = street.loc[street["주차구획수"].idxmax()]
    first = lots.iloc[0]
    rule = lambda row: tuple(int(row[c]) for c in ("주차기본시간", "주차기본요금", "추가단위시간", "추가단위요금"))  # noqa: E731
    fees = paid["주차기본요금"]
    return (rule(first) != LESSON_RULE and rule(first) != rule(biggest)
            and len({fees.median(), round(fees.mean(), 6), lots["주차기본요금"].median(),
                     round(lots["주차기본요금"].mean(), 6)}) == 4
            and paid["주차기본요금"].median() != paid["추가단위요금"].median()
            and abs(len(paid) / len(lots) - paid["주차구획수"].sum() / lots["주차구획수"].sum()) > 0.005
            and biggest["주차장명"] != paid.loc[paid["주차구획수"].idxmax(), "주차장명"])


def _draw(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    n = int(rng.integers(24, 34))  # never 23: a learner who counts columns (23) must be wrong
    stems = rng.choice(DONG_STEMS, size=n)
    kinds = np.where(rng.random(n) < 0.35, "노상", "노외")
    grades = rng.choice(["1급지", "2급지", "3급지"], size=n, p=[0.25, 0.35, 0.40])
    spaces = np.where(kinds == "노상", rng.integers(12, 61, n), np.round(rng.lognormal(4.3, 0.7, n))).astype(int)
    spaces = np.clip(spaces, 10, 520)
    free = rng.random(n) < 0.18
    free[0] = False                                   # the fee question reads the first row's rule
    if free.sum() < 2:
        free[rng.choice(np.arange(1, n), 2, replace=False)] = True
    street_paid = np.flatnonzero((kinds == "노상") & ~free)
    if len(street_paid) < 3:                          # enough paid on-street lots to ask for the biggest
        extra = rng.choice(np.flatnonzero(~free & (np.arange(n) > 0)), 3, replace=False)
        kinds[extra] = "노상"
        spaces[extra] = rng.integers(12, 61, 3)
        street_paid = np.flatnonzero((kinds == "노상") & ~free)
    top = street_paid[np.argmax(spaces[street_paid])]
    spaces[top] = spaces[street_paid].max() + int(rng.integers(3, 15))  # a clear biggest, no tie
    tariff = _tariffs(rng)
    numbers = rng.choice(np.arange(100, 999), size=n, replace=False)
    rows, used = [], set()
    for i in range(n):
        place = rng.choice(PLACES)
        name = f"{stems[i]} {place} {'노상주차장' if kinds[i] == '노상' else '공영주차장'}"
        while name in used:
            name = f"{stems[i]}{int(rng.integers(2, 9))} {place} {'노상주차장' if kinds[i] == '노상' else '공영주차장'}"
        used.add(name)
        basic_min, basic_fee, unit_min, unit_fee = (0, 0, 0, 0) if free[i] else tariff[grades[i]]
        if not free[i] and i > 0:  # lots of one grade differ a little (location, 조례 exceptions)
            basic_fee = max(100, basic_fee + int(rng.choice([-100, -50, 0, 0, 50, 100])))
        on_street = kinds[i] == "노상"
        rows.append([f"351-2-{int(numbers[i]):06d}", name, "공영", kinds[i], f"{stems[i]}동",
                     f"{CITY} {stems[i]}{rng.choice(ROADS)} {int(rng.integers(1, 300))}", grades[i], int(spaces[i]),
                     "평일+토요일" if on_street else "평일+토요일+공휴일", "09:00" if on_street else "00:00",
                     "21:00" if on_street else "24:00", "무료" if free[i] else "유료", basic_min, basic_fee, unit_min,
                     unit_fee, None if free[i] else basic_fee * 20, None if free[i] else basic_fee * 150,
                     "해당없음" if free[i] else ("신용카드+교통카드" if on_street else "신용카드+교통카드+현금"),
                     AGENCY, round(36.33 + rng.uniform(0, 0.06), 6), round(127.35 + rng.uniform(0, 0.07), 6),
                     "2026-06-30"])
    lots = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("1일주차권요금", "월정기권요금"):
        lots[col] = lots[col].astype("Int64")
    truth = {"params": {"lots": n, "free_lots": int(free.sum()), "tariffs": tariff,
                        "first_lot_rule": list(tariff[grades[0]]), "biggest_paid_street_lot": rows[top][1]},
             "effects": []}
    return {"parking_lots.csv": lots}, truth
