"""The city the data describes: its dongs, parking lots and tariffs, and the calendar (holidays, seasons).

Shared by every table maker; nothing random here, so tables agree on lots, dates and prices.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from policylab.data.synth import truth

CITY = "한빛시"
AGENCY = "한빛시설관리공단"

DONGS = ("중앙동", "한빛1동", "한빛2동", "새내동", "솔뫼동", "가람동",
         "누리동", "다솜동", "별빛동", "은하동", "미르동", "하늘동")

# lot number, name, 노외/노상, 행정동, road address, 급지, spaces, role
#   role: A = paid lot that switched to per-5-minute pricing, C = paid lot on the old tariff,
#         N = the lot that goes from free to paid, F = free throughout
LOTS = (
    (1, "중앙시장 공영주차장", "노외", "중앙동", "중앙로 41", "1급지", 30, "A"),
    (2, "시청앞 노상주차장", "노상", "중앙동", "시청로 12", "1급지", 13, "A"),
    (3, "한빛역 환승주차장", "노외", "한빛1동", "한빛대로 300", "1급지", 40, "A"),
    (4, "한빛1동 행정복지센터 주차장", "노외", "한빛1동", "한빛대로 152", "2급지", 15, "A"),
    (5, "문화의전당 주차장", "노외", "한빛2동", "예술로 25", "2급지", 30, "A"),
    (6, "한빛2동 먹자골목 노상주차장", "노상", "한빛2동", "맛길 8", "2급지", 10, "A"),
    (7, "새내천 노상주차장", "노상", "새내동", "새내천로 77", "2급지", 12, "A"),
    (8, "새내 종합운동장 주차장", "노외", "새내동", "체육공원로 100", "2급지", 30, "A"),
    (9, "솔뫼 전통시장 주차장", "노외", "솔뫼동", "솔뫼로 63", "2급지", 15, "A"),
    (10, "가람 도서관 주차장", "노외", "가람동", "가람로 210", "3급지", 20, "C"),
    (11, "가람로 노상주차장", "노상", "가람동", "가람로 54", "3급지", 18, "C"),
    (12, "누리 체육공원 주차장", "노외", "누리동", "누리공원길 15", "3급지", 30, "C"),
    (13, "다솜 어린이공원 주차장", "노외", "다솜동", "다솜로 88", "3급지", 15, "N"),
    (14, "별빛 근린공원 주차장", "노외", "별빛동", "별빛로 120", "3급지", 16, "F"),
    (15, "은하 하천변 주차장", "노외", "은하동", "은하수길 31", "3급지", 20, "F"),
    (16, "미르마을 공영주차장", "노외", "미르동", "미르길 9", "3급지", 16, "F"),
    (17, "하늘 산책로 노상주차장", "노상", "하늘동", "하늘숲길 22", "3급지", 15, "F"),
    (18, "솔뫼로 노상주차장", "노상", "솔뫼동", "솔뫼로 140", "3급지", 15, "C"),
    (19, "누리 행정복지센터 노상주차장", "노상", "누리동", "누리로 71", "3급지", 12, "C"),
    (20, "중앙 공영주차빌딩", "노외", "중앙동", "중앙로 5", "1급지", 34, "A"),
)

# Current (snapshot) tariffs: basic minutes, basic fee, unit minutes, unit fee, day pass, monthly pass.
TARIFF_NEW = {"1급지": (30, 1000, 5, 200, 20000, 150000),   # per-5-minute pricing since 2025-01-01
              "2급지": (30, 600, 5, 150, 12000, 100000)}
TARIFF_OLD = {"1급지": (30, 1000, 10, 300, 20000, 150000),  # until 2024-12-31
              "2급지": (30, 600, 10, 200, 12000, 100000),
              "3급지": (30, 400, 10, 150, 8000, 60000)}
TARIFF_NEWLY_PAID = (30, 300, 10, 100, 6000, 50000)
TARIFF_FREE = (0, 0, 0, 0, None, None)


def lot_id(number: int) -> str:
    """주차장관리번호 in the national standard shape, e.g. ``351-2-000001``."""
    return f"351-2-{number:06d}"


def lot_tariff(number: int, on: dt.date) -> tuple:
    """The tariff a lot charged on a date (basic min, basic fee, unit min, unit fee, day, month)."""
    lot = LOTS[number - 1]
    grade, role = lot[5], lot[7]
    if role == "F" or (role == "N" and on < truth.FREE_TO_PAID_DATE):
        return TARIFF_FREE
    if role == "N":
        return TARIFF_NEWLY_PAID
    if role == "A" and on >= truth.PER5_PRICING_DATE:
        return TARIFF_NEW[grade]
    return TARIFF_OLD[grade]


def make_parking_lots(rng: np.random.Generator) -> pd.DataFrame:
    """주차장 목록: one row per public parking lot, as on the snapshot date."""
    rows = []
    for number, name, kind, dong, road, grade, spaces, role in LOTS:
        basic_min, basic_fee, unit_min, unit_fee, day_pass, month_pass = lot_tariff(number, truth.SNAPSHOT_DATE)
        free = basic_fee == 0
        on_street = kind == "노상"
        rows.append({
            "주차장관리번호": lot_id(number),
            "주차장명": name,
            "주차장구분": "공영",
            "주차장유형": kind,
            "행정동": dong,
            "소재지도로명주소": f"{CITY} {road}",
            "급지구분": grade,
            "주차구획수": spaces,
            "운영요일": "평일+토요일" if on_street else "평일+토요일+공휴일",
            "평일운영시작시각": "09:00" if on_street else "00:00",
            "평일운영종료시각": "21:00" if on_street else "24:00",
            "요금정보": "무료" if free else "유료",
            "주차기본시간": basic_min,
            "주차기본요금": basic_fee,
            "추가단위시간": unit_min,
            "추가단위요금": unit_fee,
            "1일주차권요금": day_pass,
            "월정기권요금": month_pass,
            "결제방법": "해당없음" if free else ("신용카드+교통카드" if on_street else "신용카드+교통카드+현금"),
            "관리기관명": AGENCY,
            "위도": round(36.33 + rng.uniform(0, 0.06), 6),
            "경도": round(127.35 + rng.uniform(0, 0.07), 6),
            "데이터기준일자": truth.SNAPSHOT_DATE.isoformat(),
        })
    lots = pd.DataFrame(rows)
    for col in ("1일주차권요금", "월정기권요금"):
        lots[col] = lots[col].astype("Int64")
    return lots


def make_parking_tariffs() -> pd.DataFrame:
    """요금 이력: one row per lot and tariff period (the reform dates are public policy)."""
    cuts = sorted({truth.PERIOD_START, truth.FREE_TO_PAID_DATE, truth.PER5_PRICING_DATE})
    rows = []
    for number, *_ in LOTS:
        periods = []
        for start in cuts:
            tariff = lot_tariff(number, start)
            if periods and periods[-1][1] == tariff:
                continue
            periods.append((start, tariff))
        for i, (start, tariff) in enumerate(periods):
            end = periods[i + 1][0] - dt.timedelta(days=1) if i + 1 < len(periods) else None
            basic_min, basic_fee, unit_min, unit_fee, day_pass, month_pass = tariff
            rows.append({
                "주차장관리번호": lot_id(number),
                "적용시작일": start.isoformat(),
                "적용종료일": end.isoformat() if end else None,
                "요금정보": "무료" if basic_fee == 0 else "유료",
                "주차기본시간": basic_min, "주차기본요금": basic_fee,
                "추가단위시간": unit_min, "추가단위요금": unit_fee,
                "1일주차권요금": day_pass, "월정기권요금": month_pass,
            })
    out = pd.DataFrame(rows)
    for col in ("1일주차권요금", "월정기권요금"):
        out[col] = out[col].astype("Int64")
    return out


# --- Calendar -----------------------------------------------------------------------------

HOLIDAYS = frozenset(dt.date.fromisoformat(d) for d in (
    "2023-01-01 2023-01-21 2023-01-22 2023-01-23 2023-01-24 2023-03-01 2023-05-05 2023-05-27 "
    "2023-05-29 2023-06-06 2023-08-15 2023-09-28 2023-09-29 2023-09-30 2023-10-02 2023-10-03 "
    "2023-10-09 2023-12-25 2024-01-01 2024-02-09 2024-02-10 2024-02-11 2024-02-12 2024-03-01 "
    "2024-04-10 2024-05-05 2024-05-06 2024-05-15 2024-06-06 2024-08-15 2024-09-16 2024-09-17 "
    "2024-09-18 2024-10-01 2024-10-03 2024-10-09 2024-12-25 2025-01-01 2025-01-27 2025-01-28 "
    "2025-01-29 2025-01-30 2025-03-01 2025-03-03 2025-05-05 2025-05-06 2025-06-03 2025-06-06 "
    "2025-08-15 2025-10-03 2025-10-05 2025-10-06 2025-10-07 2025-10-08 2025-10-09 2025-12-25 "
    "2026-01-01 2026-02-16 2026-02-17 2026-02-18 2026-03-01 2026-03-02 2026-05-05 2026-05-24 "
    "2026-05-25 2026-06-03 2026-06-06").split())

# demand by calendar month (Jan … Dec), shared by the tables
SEASON = np.array([0.90, 0.90, 1.00, 1.05, 1.10, 1.05, 1.05, 1.10, 1.05, 1.10, 1.00, 0.95])


def calendar() -> pd.DataFrame:
    """One row per day of the study period with the covariates the generators share."""
    days = pd.date_range(truth.PERIOD_START, truth.PERIOD_END, freq="D")
    cal = pd.DataFrame({"day": days})
    cal["dow"] = days.dayofweek
    cal["month"] = days.month
    cal["holiday"] = [d.date() in HOLIDAYS for d in days]
    cal["offday"] = cal["holiday"] | (cal["dow"] == 6)
    cal["years"] = (days - pd.Timestamp(truth.PERIOD_START)).days / 365.25
    cal["months"] = (days.year - truth.PERIOD_START.year) * 12 + days.month - truth.PERIOD_START.month
    return cal


def month_starts() -> pd.DatetimeIndex:
    return pd.date_range(truth.PERIOD_START, truth.PERIOD_END, freq="MS")


# --- Sports facilities (name, dong, offers the age-based senior discount) ---------------------

FACILITIES = (("한빛스포츠센터", "중앙동", True), ("새내국민체육센터", "새내동", True), ("누리체육관", "누리동", False))
