"""Raw synthetic tables, deterministic from one seed.

The raw tables look like the corporation's operational records *before* a data steward
anonymizes them: they carry fake plates, names, phone numbers and birth dates.
``policylab.data.publish`` turns them into ``datasets/``. Every planted effect comes from
``policylab.data.truth``; nothing here hard-codes an effect size.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from policylab.data import truth

CITY = "한빛시"
AGENCY = "한빛시설관리공단"

DONGS = ("중앙동", "한빛1동", "한빛2동", "새내동", "솔뫼동", "가람동",
         "누리동", "다솜동", "별빛동", "은하동", "미르동", "하늘동")

# lot number, name, 노외/노상, 행정동, road address, 급지, spaces, role
#   role: A = paid lot that switched to per-5-minute pricing, C = paid lot on the old tariff,
#         N = the lot that goes from free to paid, F = free throughout
LOTS = (
    (1, "중앙시장 공영주차장", "노외", "중앙동", "중앙로 41", "1급지", 210, "A"),
    (2, "시청앞 노상주차장", "노상", "중앙동", "시청로 12", "1급지", 40, "A"),
    (3, "한빛역 환승주차장", "노외", "한빛1동", "한빛대로 300", "1급지", 320, "A"),
    (4, "한빛1동 행정복지센터 주차장", "노외", "한빛1동", "한빛대로 152", "2급지", 60, "A"),
    (5, "문화의전당 주차장", "노외", "한빛2동", "예술로 25", "2급지", 150, "A"),
    (6, "한빛2동 먹자골목 노상주차장", "노상", "한빛2동", "맛길 8", "2급지", 35, "A"),
    (7, "새내천 노상주차장", "노상", "새내동", "새내천로 77", "2급지", 30, "A"),
    (8, "새내 종합운동장 주차장", "노외", "새내동", "체육공원로 100", "2급지", 180, "A"),
    (9, "솔뫼 전통시장 주차장", "노외", "솔뫼동", "솔뫼로 63", "2급지", 90, "A"),
    (10, "가람 도서관 주차장", "노외", "가람동", "가람로 210", "3급지", 45, "C"),
    (11, "가람로 노상주차장", "노상", "가람동", "가람로 54", "3급지", 25, "C"),
    (12, "누리 체육공원 주차장", "노외", "누리동", "누리공원길 15", "3급지", 120, "C"),
    (13, "다솜 어린이공원 주차장", "노외", "다솜동", "다솜로 88", "3급지", 40, "N"),
    (14, "별빛 근린공원 주차장", "노외", "별빛동", "별빛로 120", "3급지", 45, "F"),
    (15, "은하 하천변 주차장", "노외", "은하동", "은하수길 31", "3급지", 50, "F"),
    (16, "미르마을 공영주차장", "노외", "미르동", "미르길 9", "3급지", 40, "F"),
    (17, "하늘 산책로 노상주차장", "노상", "하늘동", "하늘숲길 22", "3급지", 20, "F"),
    (18, "솔뫼로 노상주차장", "노상", "솔뫼동", "솔뫼로 140", "3급지", 30, "C"),
    (19, "누리 행정복지센터 노상주차장", "노상", "누리동", "누리로 71", "3급지", 18, "C"),
    (20, "중앙 공영주차빌딩", "노외", "중앙동", "중앙로 5", "1급지", 280, "A"),
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


# --- Fake personal details (raw tables only) ------------------------------------------------

SURNAMES = ("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 전 홍 고 문 양 손 배 백 허 유 남 "
            "심 노 하 곽 성 차 주 우 구 민 진 나 지 엄 채 원 천 방 공 현 남궁 제갈 선우 황보").split()
SURNAME_WEIGHTS = np.array([21.5, 14.7, 8.4, 4.7, 4.3, 2.4, 2.1, 2.1, 2.0, 1.7, 1.5, 1.5, 1.5, 1.5, 1.4,
                            1.4, 1.3, 1.3, 1.1, 1.1, 1.1, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.6,
                            0.6, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                            0.3, 0.3, 0.2, 0.2, 0.1, 0.06, 0.05, 0.05, 0.03])
GIVEN_SYLLABLES = list("민서준지윤현우하은도예수진영연성호재희정아유시주원나경태혜승동채")
PLATE_USE = list("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주")
ROADS = ("중앙로", "시청로", "한빛대로", "예술로", "맛길", "새내천로", "체육공원로", "솔뫼로",
         "가람로", "누리로", "다솜로", "별빛로", "은하수길", "미르길", "하늘숲길")


def fake_names(rng: np.random.Generator, n: int) -> np.ndarray:
    p = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
    sur = rng.choice(np.array(SURNAMES, dtype=object), size=n, p=p)
    syl = np.array(GIVEN_SYLLABLES, dtype=object)
    return sur + rng.choice(syl, n) + rng.choice(syl, n)


def fake_mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random 010 numbers (middle part starting with 0, a block not handed out to people)."""
    mid = rng.integers(0, 1000, n)
    end = rng.integers(0, 10000, n)
    return np.array([f"010-0{m:03d}-{e:04d}" for m, e in zip(mid, end)], dtype=object)


def fake_plates(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct plates, new ('123가4567') and old ('12가3456') formats."""
    plates: list[str] = []
    seen: set[str] = set()
    while len(plates) < n:
        m = (n - len(plates)) * 2
        long_ = rng.random(m) < 0.55
        head = np.where(long_, rng.integers(100, 700, m), rng.integers(10, 70, m))
        syl = rng.choice(np.array(PLATE_USE, dtype=object), m)
        tail = rng.integers(1000, 10000, m)
        for h, s, t in zip(head, syl, tail):
            plate = f"{h}{s}{t}"
            if plate not in seen:
                seen.add(plate)
                plates.append(plate)
                if len(plates) == n:
                    break
    return np.array(plates, dtype=object)


def fake_rrn(birth: dt.date, male: bool, serial: int) -> str:
    """A resident-registration-number look-alike whose check digit is deliberately wrong,
    so it can never be a real number issued before 2020."""
    century = 0 if birth.year < 2000 else 2
    gender = 1 + century + (0 if male else 1)
    body = f"{birth:%y%m%d}{gender}{serial % 100000:05d}"
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(body, weights)) % 11) % 10
    wrong = (check + 1 + serial % 9) % 10
    return f"{body[:6]}-{body[6:]}{wrong}"


# --- Parking sessions ---------------------------------------------------------------------

# lot number -> (weekday entries per day, demand profile, share of stays over 4 h in 2023-01)
LOT_DEMAND = {
    1: (34, "market", 0.14), 2: (12, "office", 0.10), 3: (44, "commuter", 0.30), 4: (11, "office", 0.12),
    5: (22, "leisure", 0.12), 6: (9, "market", 0.08), 7: (8, "leisure", 0.10), 8: (20, "leisure", 0.16),
    9: (18, "market", 0.10), 10: (7, "office", 0.15), 11: (6, "market", 0.09), 12: (11, "leisure", 0.18),
    13: (16, "leisure", 0.20), 14: (15, "leisure", 0.20), 15: (18, "leisure", 0.22), 16: (14, "leisure", 0.20),
    17: (5, "leisure", 0.12), 18: (6, "market", 0.10), 19: (5, "office", 0.11), 20: (40, "commuter", 0.26),
}
# multipliers Monday … Sunday
DOW = {"commuter": (1.05, 1.05, 1.05, 1.05, 1.1, 0.6, 0.45), "office": (1.1, 1.05, 1.05, 1.05, 1.05, 0.5, 0.3),
       "market": (0.9, 0.9, 0.95, 0.95, 1.1, 1.35, 1.2), "leisure": (0.85, 0.85, 0.85, 0.9, 1.0, 1.45, 1.45)}
# additive seasonal pattern of the long-stay share (Jan … Dec)
LONG_SEASON = np.array([0.010, 0.010, 0.0, -0.010, -0.010, 0.0, 0.015, 0.020, -0.005, -0.010, -0.010, -0.010])
HOUR_SHORT = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.5, 1.5, 3, 5, 7, 8, 9, 10, 9, 9, 9, 9, 8, 8, 7, 5, 4, 3, 2], float)
HOUR_LONG = np.array([0.5, 0.2, 0.1, 0.1, 0.2, 1, 4, 10, 12, 8, 5, 4, 3, 2.5, 2, 1.5, 1.5, 1.5, 2, 2, 1.5, 1.2, 1, 0.8], float)
VEHICLE_CLASSES = ("관내", "관외", "사업자")
VEHICLE_CLASS_P = (0.62, 0.30, 0.08)
DISCOUNTS = {"일반": 0.0, "경차": 0.5, "저공해": 0.5, "장애인": 0.8, "국가유공자": 0.5, "65세이상": 0.2, "다자녀": 0.5}
DISCOUNT_P = (0.795, 0.07, 0.06, 0.03, 0.01, 0.02, 0.015)
N_VEHICLES = 60_000


def _daily_entries(rng: np.random.Generator, cal: pd.DataFrame) -> np.ndarray:
    """Expected entries per lot (rows) and day (columns)."""
    mu = np.zeros((len(LOTS), len(cal)))
    weekend = ((cal["dow"] >= 5) | cal["holiday"]).to_numpy()
    season = SEASON[cal["month"].to_numpy() - 1]
    years = cal["years"].to_numpy()
    did_lots = {int(truth.FREE_TO_PAID_LOT[-6:]), *(int(x[-6:]) for x in truth.FREE_TO_PAID_COMPARISON)}
    paid_from = (cal["day"] >= pd.Timestamp(truth.FREE_TO_PAID_DATE)).to_numpy()
    for i, (number, _, kind, *_rest) in enumerate(LOTS):
        base, profile, _ = LOT_DEMAND[number]
        if number in did_lots:
            # additive: a common day effect shared by the newly paid lot and its comparison lots
            shared = (4.0 * weekend + 20.0 * (season - 1.0)
                      + truth.FREE_LOTS_DAILY_ENTRIES_TREND * (years - years.mean()))
            mu[i] = base + shared
            if lot_id(number) == truth.FREE_TO_PAID_LOT:
                mu[i] += truth.FREE_TO_PAID_DAILY_ENTRIES * paid_from
        else:
            dow = np.array(DOW[profile])[cal["dow"].to_numpy()]
            dow = np.where(cal["holiday"].to_numpy(), DOW[profile][6], dow)
            mu[i] = base * dow * season * (1 + 0.03 * years)
        if kind == "노상":  # kerbside lots operate Monday to Saturday, not on holidays
            mu[i] = np.where(cal["offday"].to_numpy(), 0.0, mu[i])
    return np.clip(mu, 0, None)


def make_parking_sessions(rng: np.random.Generator) -> pd.DataFrame:
    """주차 입출차 기록 (raw: with plates): one row per parking session."""
    cal = calendar()
    counts = rng.poisson(_daily_entries(rng, cal))
    lot_idx, day_idx = np.nonzero(counts)
    reps = counts[lot_idx, day_idx]
    lot_idx, day_idx = np.repeat(lot_idx, reps), np.repeat(day_idx, reps)
    n = len(lot_idx)
    roles = np.array([lot[7] for lot in LOTS])[lot_idx]
    on_street = np.array([lot[2] == "노상" for lot in LOTS])[lot_idx]
    days = cal["day"].to_numpy()[day_idx]
    months = cal["months"].to_numpy()[day_idx]
    moy = cal["month"].to_numpy()[day_idx]

    # duration: long stays (over 4 h) with a planted drop at the per-5-minute lots
    base_long = np.array([LOT_DEMAND[number][2] for number, *_ in LOTS])[lot_idx]
    reform = (roles == "A") & (days >= np.datetime64(truth.PER5_PRICING_DATE))
    p_long = (base_long + truth.LONG_STAY_SHARE_TREND * months + LONG_SEASON[moy - 1]
              + truth.LONG_STAY_SHARE_CHANGE * reform)
    long_ = rng.random(n) < p_long
    short_min = np.clip(np.round(np.exp(rng.normal(np.log(55), 0.8, n))), 1, truth.LONG_STAY_MINUTES - 1)
    long_min = truth.LONG_STAY_MINUTES + 1 + np.minimum(np.round(rng.gamma(2.0, 90.0, n)), 470)
    minutes = np.where(long_, long_min, short_min).astype(np.int64)

    # entry time of day: hourly profiles; kerbside lots only between 09:00 and 21:00
    hour = np.where(long_, rng.choice(24, n, p=HOUR_LONG / HOUR_LONG.sum()),
                    rng.choice(24, n, p=HOUR_SHORT / HOUR_SHORT.sum()))
    entry = hour * 60 + rng.integers(0, 60, n)
    window = np.maximum(12 * 60 - minutes, 0)
    entry = np.where(on_street, 9 * 60 + np.floor(rng.random(n) * (window + 1)).astype(np.int64), entry)
    entry_at = days + entry.astype("timedelta64[m]")
    exit_at = entry_at + minutes.astype("timedelta64[m]")

    # vehicles: each has a home lot it mostly uses, a fee class and a discount class
    volume = np.array([LOT_DEMAND[number][0] for number, *_ in LOTS], float)
    home = rng.choice(len(LOTS), N_VEHICLES, p=volume / volume.sum())
    activity = rng.pareto(1.5, N_VEHICLES) + 1.0
    vehicle = np.empty(n, dtype=np.int64)
    for i in range(len(LOTS)):
        at = np.flatnonzero(lot_idx == i)
        pool = np.flatnonzero(home == i)
        local = rng.random(len(at)) < 0.8
        w = activity[pool] / activity[pool].sum()
        vehicle[at[local]] = rng.choice(pool, local.sum(), p=w)
        vehicle[at[~local]] = rng.choice(N_VEHICLES, (~local).sum(), p=activity / activity.sum())
    plates = fake_plates(rng, N_VEHICLES)
    v_class = rng.choice(len(VEHICLE_CLASSES), N_VEHICLES, p=VEHICLE_CLASS_P)
    v_disc = rng.choice(len(DISCOUNTS), N_VEHICLES, p=DISCOUNT_P)
    # personal discounts (disabled, veteran, 65+, large family) never apply to business vehicles
    v_disc = np.where((v_class == 2) & (v_disc >= 3), 0, v_disc)

    # fees under the tariff in force that day
    fee = np.zeros(n)
    period = (days >= np.datetime64(truth.FREE_TO_PAID_DATE)).astype(int) + 2 * (
        days >= np.datetime64(truth.PER5_PRICING_DATE))
    probe = {0: truth.PERIOD_START, 1: truth.FREE_TO_PAID_DATE, 3: truth.PER5_PRICING_DATE}
    for i, (number, *_r) in enumerate(LOTS):
        for key, on in probe.items():
            at = (lot_idx == i) & (period == key)
            bm, bf, um, uf, day_pass, _ = lot_tariff(number, on)
            if bf == 0 or not at.any():
                continue
            m = minutes[at]
            f = bf + np.ceil(np.maximum(m - bm, 0) / um) * uf
            f = np.minimum(f, day_pass) if day_pass else f
            fee[at] = np.where(m <= 10, 0, f)  # the first 10 minutes are free (회차)
    rate = np.array(list(DISCOUNTS.values()))[v_disc[vehicle]]
    fee = (np.floor(fee * (1 - rate) / 10) * 10).astype(np.int64)
    p_unpaid = np.array([0.02, 0.05, 0.01])[v_class[vehicle]]
    unpaid = ((fee > 0) & (rng.random(n) < p_unpaid)).astype(np.int64)

    out = pd.DataFrame({
        "주차장관리번호": [lot_id(x) for x in range(1, len(LOTS) + 1)],
    }).iloc[lot_idx].reset_index(drop=True)
    out["입차일시"] = pd.Series(entry_at).dt.strftime("%Y-%m-%d %H:%M")
    out["출차일시"] = pd.Series(exit_at).dt.strftime("%Y-%m-%d %H:%M")
    out["주차시간"] = minutes
    out["차량번호"] = plates[vehicle]
    out["요금구분"] = np.array(VEHICLE_CLASSES, dtype=object)[v_class[vehicle]]
    out["감면구분"] = np.array(list(DISCOUNTS), dtype=object)[v_disc[vehicle]]
    out["부과요금"] = fee
    out["미납여부"] = unpaid
    order = np.lexsort((out["주차장관리번호"].to_numpy(), entry_at))
    return out.iloc[order].reset_index(drop=True)


# --- SMS reminder trial --------------------------------------------------------------------

SMS_CASES = 12_000


def make_sms_trial(rng: np.random.Generator) -> pd.DataFrame:
    """미납 안내문자 실험 (raw: with plates and phone numbers): one row per unpaid-fee case,
    randomized in equal thirds to no message, a plain SMS or a simplified SMS."""
    n = SMS_CASES
    paid_lots = [number for number, *_r, role in LOTS if role in "ACN"]
    volume = np.array([LOT_DEMAND[x][0] for x in paid_lots], float)
    lot = np.array(paid_lots)[rng.choice(len(paid_lots), n, p=volume / volume.sum())]
    fee_class = rng.choice(len(VEHICLE_CLASSES), n, p=(0.50, 0.42, 0.08))
    amount = (np.round(np.exp(rng.normal(np.log(4000), 0.7, n)) / 100) * 100).clip(500, 60000).astype(np.int64)
    prior = np.minimum(rng.poisson(0.6, n), 6)
    arm = rng.permutation(np.repeat(np.arange(len(truth.SMS_ARMS)), n // len(truth.SMS_ARMS)))
    effect = np.array([0.0] + [truth.SMS_EFFECT[a] for a in truth.SMS_ARMS[1:]])[arm]
    # covariates shift each case's chance, centred so the control arm stays at the baseline
    local = (fee_class == 0).astype(float)
    shift = 0.08 * (local - local.mean()) - 0.05 * (np.log(amount) - np.log(amount).mean()) \
        - 0.04 * (prior - prior.mean())
    p = np.clip(truth.SMS_BASELINE_PAID_30D + effect + shift, 0.02, 0.98)
    paid30 = rng.random(n) < p
    days = np.where(paid30, 1 + np.floor(29 * rng.beta(1.0, 2.5, n)),
                    np.where(rng.random(n) < 0.45, 31 + np.floor(rng.exponential(20, n)), np.nan))
    days = np.where(days > 180, np.nan, days)
    workdays = pd.bdate_range("2025-09-01", "2025-11-28")
    workdays = workdays[~workdays.isin([pd.Timestamp(h) for h in HOLIDAYS])]
    sent = workdays[rng.integers(0, len(workdays), n)]
    order = np.argsort(sent.to_numpy(), kind="stable")
    out = pd.DataFrame({
        "사건번호": [f"UNP-2025-{i + 1:06d}" for i in range(n)],
        "차량번호": fake_plates(rng, n),
        "휴대전화": fake_mobiles(rng, n),
        "발송일": sent.strftime("%Y-%m-%d"),
        "배정군": np.array(truth.SMS_ARMS, dtype=object)[arm],
        "주차장관리번호": [lot_id(x) for x in lot],
        "요금구분": np.array(VEHICLE_CLASSES, dtype=object)[fee_class],
        "미납금액": amount,
        "과거미납횟수": prior,
        "납부소요일": pd.array(days, dtype="Int64"),
    }).iloc[order].reset_index(drop=True)
    out["사건번호"] = [f"UNP-2025-{i + 1:06d}" for i in range(n)]
    return out


# --- Sports enrolments --------------------------------------------------------------------

FACILITIES = (("한빛스포츠센터", "중앙동", True), ("새내국민체육센터", "새내동", True), ("누리체육관", "누리동", False))
# name, senior discount applies, pool programme, monthly fee (won), classes per month, share female
PROGRAMMES = (
    ("수영강습", True, True, 60000, 12, 0.55), ("아쿠아로빅", True, True, 55000, 12, 0.85),
    ("헬스", True, False, 40000, 26, 0.40), ("요가", True, False, 45000, 8, 0.80),
    ("탁구", True, False, 35000, 12, 0.45), ("배드민턴", True, False, 35000, 12, 0.50),
    ("필라테스", False, False, 90000, 8, 0.85), ("골프", False, False, 120000, 8, 0.35),
)
SPORTS_AGES = np.arange(16, 91)
MEMBERS_PER_BIRTH_MONTH = 4


def _age_profile(discounted: bool) -> np.ndarray:
    """Relative applications by age: log-linear from 50 to 80 (the RD window) and smooth outside."""
    a = SPORTS_AGES.astype(float)
    if discounted:
        log_h = np.where(a < 50, -0.006 * (50 - a), -0.012 * (a - 50))
    else:
        log_h = np.where(a < 35, 0.02 * (a - 35), -0.045 * (a - 35))
    log_h = np.where(a > 80, log_h - 0.10 * (a - 80), log_h)
    return np.exp(log_h)


def make_sports_enrolments(rng: np.random.Generator) -> pd.DataFrame:
    """체육시설 수강 등록 (raw: with names, birth dates and phones): one row per member,
    programme and month applied for (enrolled or waitlisted)."""
    months = month_starts()
    restructured = months >= pd.Timestamp(truth.POOL_RESTRUCTURE_DATE)
    pool_season = np.array([-0.04, -0.04, 0.0, 0.0, 0.02, 0.05, 0.08, 0.08, 0.0, -0.02, -0.04, -0.05])
    pieces = []
    for f, (facility, _dong, has_pool) in enumerate(FACILITIES):
        for prog, discounted, pool, fee, classes, female in PROGRAMMES:
            if pool and not has_pool:
                continue
            scale = (5.4 if pool else 2.9) * (0.8 if f == 2 else 1.0)
            h = _age_profile(discounted)
            jump = np.where(discounted & (SPORTS_AGES >= truth.SENIOR_AGE),
                            1 + truth.SENIOR_DISCOUNT_ENROLMENT_JUMP, 1.0)
            for sex, share in (("여", female), ("남", 1 - female)):
                season = SEASON[months.month - 1] * (1 + (0.25 if pool else 0.0) * (months.month.isin([6, 7, 8])))
                mu = scale * share * np.outer(season, h * jump)  # months × ages
                counts = rng.poisson(mu)
                mi, ai = np.nonzero(counts)
                reps = counts[mi, ai]
                pieces.append(pd.DataFrame({
                    "month": np.repeat(mi, reps), "age": np.repeat(SPORTS_AGES[ai], reps),
                    "facility": f, "prog": prog, "sex": sex}))
    rows = pd.concat(pieces, ignore_index=True)
    n = len(rows)
    prog_info = {p[0]: p for p in PROGRAMMES}

    # members: a pool per (birth month, sex, facility); age is completed years at the month's end
    abs_month = truth.PERIOD_START.year * 12 + truth.PERIOD_START.month - 1 + rows["month"].to_numpy()
    birth_abs = abs_month - 12 * rows["age"].to_numpy() - rng.integers(0, 12, n)
    slot = rng.integers(0, MEMBERS_PER_BIRTH_MONTH, n)
    sex_code = (rows["sex"] == "남").to_numpy().astype(np.int64)
    key = ((birth_abs * 2 + sex_code) * len(FACILITIES) + rows["facility"].to_numpy()) * MEMBERS_PER_BIRTH_MONTH + slot
    uniq, member = np.unique(key, return_inverse=True)
    n_members = len(uniq)
    m_birth_abs = uniq // (MEMBERS_PER_BIRTH_MONTH * len(FACILITIES) * 2)
    m_day = rng.integers(1, 29, n_members)
    m_birth = [dt.date(int(b // 12), int(b % 12) + 1, int(d)) for b, d in zip(m_birth_abs, m_day)]
    m_names = fake_names(rng, n_members)
    m_phone = fake_mobiles(rng, n_members)
    m_special = rng.choice(3, n_members, p=(0.96, 0.03, 0.01))  # none, 장애인, 국가유공자
    m_attend = rng.beta(6, 2.5, n_members)
    m_order = rng.permutation(n_members)  # membership numbers are not in birth order

    prog = rows["prog"].to_numpy()
    discounted = np.array([prog_info[p][1] for p in prog])
    pool = np.array([prog_info[p][2] for p in prog])
    base_fee = np.array([prog_info[p][3] for p in prog])
    classes = np.array([prog_info[p][4] for p in prog])
    senior = rows["age"].to_numpy() >= truth.SENIOR_AGE
    special = m_special[member]
    kind = np.where(~discounted, "일반",
                    np.where(special == 1, "장애인", np.where(special == 2, "국가유공자",
                                                             np.where(senior, "경로", "일반"))))
    paid_fee = np.where(kind == "일반", base_fee, base_fee // 2)

    moy = months.month.to_numpy()[rows["month"].to_numpy()]
    p_wait = np.where(pool, 0.30 + pool_season[moy - 1]
                      + truth.POOL_WAITLIST_SHARE_CHANGE * restructured[rows["month"].to_numpy()], 0.04)
    waitlisted = rng.random(n) < p_wait
    attendance = rng.binomial(classes, m_attend[member])
    out = pd.DataFrame({
        "회원번호": [f"H{m_order[m] + 100001:06d}" for m in member],
        "성명": m_names[member],
        "생년월일": [m_birth[m].isoformat() for m in member],
        "휴대전화": m_phone[member],
        "성별": rows["sex"].to_numpy(),
        "시설명": np.array([f[0] for f in FACILITIES], dtype=object)[rows["facility"].to_numpy()],
        "프로그램": prog,
        "수강월": months.strftime("%Y-%m").to_numpy()[rows["month"].to_numpy()],
        "감면구분": kind,
        "수강료": np.where(waitlisted, 0, paid_fee).astype(np.int64),
        "출석일수": np.where(waitlisted, 0, attendance).astype(np.int64),
        "대기여부": waitlisted.astype(np.int64),
    })
    order = np.lexsort((out["회원번호"].to_numpy(), out["프로그램"].to_numpy(),
                        out["시설명"].to_numpy(), out["수강월"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


# --- Civil complaints (고객의소리) -----------------------------------------------------------

COMPLAINT_TYPES = {  # type: (department, complaints per month, facility kind)
    "주차질서": ("주차운영팀", None, "lot"), "주차요금": ("주차운영팀", 28, "lot"),
    "주차시설": ("주차시설팀", 22, "lot"), "체육강습": ("체육사업팀", 24, "sports"),
    "체육시설": ("체육시설팀", 18, "sports"), "직원응대": ("고객지원팀", 9, "any"), "기타": ("고객지원팀", 7, "any"),
}
COMPLAINT_TEXT = {
    "주차질서": ("{place} 주변 골목에 불법주차 차량이 많아 통행이 어렵습니다. 단속을 요청합니다.",
                 "{place} 근처 이면도로에 장기 주차된 차량 때문에 아이들 통학길이 위험합니다.",
                 "{place} 앞 도로 양쪽에 차가 세워져 있어 소방차 진입이 걱정됩니다."),
    "주차요금": ("{place} 요금이 너무 비쌉니다. 요금 체계를 설명해 주세요.",
                 "{place}에서 할인 적용이 안 되었습니다. 환불 절차를 알려 주세요.",
                 "{place} 정산기에서 카드 결제가 두 번 되었습니다."),
    "주차시설": ("{place} 출구 차단기가 자주 고장 납니다.",
                 "{place} 조명이 어두워 밤에 이용하기 무섭습니다.",
                 "{place} 바닥 주차선이 지워져 주차가 어렵습니다."),
    "체육강습": ("{place} 수강 신청이 너무 빨리 마감됩니다. 추첨제를 검토해 주세요.",
                 "{place} 강습 시간표를 평일 저녁에도 늘려 주세요.",
                 "{place} 강사 변경 안내가 늦었습니다."),
    "체육시설": ("{place} 샤워실 온수가 자주 끊깁니다.",
                 "{place} 탈의실 사물함이 부족합니다.",
                 "{place} 운동기구 고장이 오래 방치되어 있습니다."),
    "직원응대": ("{place} 직원분이 친절하게 안내해 주셔서 감사합니다.",
                 "{place} 전화 응대가 불친절했습니다.",
                 "{place} 안내 내용이 직원마다 달랐습니다."),
    "기타": ("{place} 분실물을 찾고 싶습니다.", "{place} 이용 시간을 알려 주세요.",
             "{place} 주변 쓰레기 정리를 부탁드립니다."),
}
PII_SENTENCES = (" 연락처는 {phone}입니다.", " 답변은 {email}로 보내 주세요.", " 차량 {plate} 차주에게 연락 부탁드립니다.",
                 " 제 차량번호는 {plate}입니다.", " 급하면 {phone}로 전화 주세요.", " 본인 확인용 주민번호 {rrn} 남깁니다.")


def make_complaints(rng: np.random.Generator) -> pd.DataFrame:
    """고객의소리 (raw: with writers' names and personal details in the text): one row per complaint."""
    months = month_starts()
    n_m = len(months)
    t = np.arange(n_m)
    season = np.array([-0.6, -0.6, 0.0, 0.3, 0.6, 0.6, 0.4, 0.4, 0.3, 0.3, -0.2, -0.6])[months.month - 1]
    paid = months >= pd.Timestamp(truth.FREE_TO_PAID_DATE)
    lot_volume = np.array([LOT_DEMAND[x[0]][0] for x in LOTS], float)
    pieces = []
    # 주차질서 by 행정동: additive dong level + shared month effect + planted change in one dong
    for d, dong in enumerate(DONGS):
        level = 2.0 + 3.0 * rng.random()
        mu = level + season + 0.03 * (t - t.mean())
        if dong == truth.COMPLAINT_DONG:
            mu = mu + truth.COMPLAINT_PARKING_MONTHLY_CHANGE * paid
        counts = rng.poisson(np.clip(mu, 0.1, None))
        lots_here = [x for x in LOTS if x[3] == dong]
        place = lots_here[0][1] if lots_here else f"{dong} 행정복지센터"
        pieces.append(pd.DataFrame({"month": np.repeat(t, counts), "유형": "주차질서",
                                    "행정동": dong, "시설명": place}))
    for kind, (_dept, per_month, facility_kind) in COMPLAINT_TYPES.items():
        if per_month is None:
            continue
        counts = rng.poisson(per_month * SEASON[months.month - 1])
        n = counts.sum()
        if facility_kind == "lot":
            pick = rng.choice(len(LOTS), n, p=lot_volume / lot_volume.sum())
            place, dong = [LOTS[i][1] for i in pick], [LOTS[i][3] for i in pick]
        elif facility_kind == "sports":
            pick = rng.choice(len(FACILITIES), n, p=(0.45, 0.35, 0.20))
            place, dong = [FACILITIES[i][0] for i in pick], [FACILITIES[i][1] for i in pick]
        else:
            everything = [(x[1], x[3]) for x in LOTS] + [(f[0], f[1]) for f in FACILITIES]
            pick = rng.choice(len(everything), n)
            place, dong = [everything[i][0] for i in pick], [everything[i][1] for i in pick]
        pieces.append(pd.DataFrame({"month": np.repeat(t, counts), "유형": kind, "행정동": dong, "시설명": place}))
    rows = pd.concat(pieces, ignore_index=True)
    n = len(rows)
    start = months[rows["month"].to_numpy()]
    day = start + pd.to_timedelta(np.floor(rng.random(n) * start.days_in_month).astype(int), unit="D")
    answer = day + pd.to_timedelta(1 + rng.negative_binomial(2, 0.3, n), unit="D")
    answer = answer.where(answer <= pd.Timestamp(truth.PERIOD_END), pd.NaT)  # still open at the snapshot
    names = fake_names(rng, n)
    template = rng.integers(0, 3, n)
    texts = [COMPLAINT_TEXT[k][i].format(place=p) for k, i, p in zip(rows["유형"], template, rows["시설명"])]
    pii = rng.random(n) < 0.12
    which = rng.choice(len(PII_SENTENCES), n, p=(0.3, 0.15, 0.25, 0.15, 0.12, 0.03))
    phones, plates = fake_mobiles(rng, n), fake_plates(rng, n)
    for i in np.flatnonzero(pii):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 20000)))
        texts[i] += PII_SENTENCES[which[i]].format(
            phone=phones[i], plate=plates[i], email=f"voc{i:05d}@example.com",
            rrn=fake_rrn(birth, bool(rng.random() < 0.5), i))
    out = pd.DataFrame({
        "접수일": day.strftime("%Y-%m-%d"),
        "답변일": pd.Series(answer.strftime("%Y-%m-%d")).where(np.asarray(answer.notna())).to_numpy(),
        "유형": rows["유형"].to_numpy(),
        "시설명": rows["시설명"].to_numpy(),
        "담당부서": [COMPLAINT_TYPES[k][0] for k in rows["유형"]],
        "행정동": rows["행정동"].to_numpy(),
        "작성자": names,
        "내용": texts,
    })
    out = out.iloc[np.lexsort((out["유형"].to_numpy(), out["행정동"].to_numpy(), out["접수일"].to_numpy()))]
    out = out.reset_index(drop=True)
    out.insert(0, "접수번호", [f"VOC-{d[:4]}-{i + 1:05d}" for i, d in enumerate(out["접수일"])])
    return out


# --- Facility energy ----------------------------------------------------------------------

ENERGY_TYPES = {  # type: (count, floor area range m², kWh per m² per month, log-change per 100 HDD, per 100 CDD)
    "체육센터": (6, (5000, 9000), 11.0, 0.060, 0.100), "주차빌딩": (5, (8000, 15000), 2.2, 0.010, 0.030),
    "도서관": (5, (2000, 5000), 6.0, 0.030, 0.120), "문화시설": (4, (3000, 8000), 6.5, 0.035, 0.110),
    "청사": (4, (2000, 4000), 7.0, 0.030, 0.130), "복지관": (6, (1500, 4000), 5.5, 0.045, 0.100),
}
HDD_NORMAL = np.array([640, 520, 380, 180, 50, 5, 0, 0, 20, 150, 370, 600], float)
CDD_NORMAL = np.array([0, 0, 0, 5, 30, 90, 180, 210, 70, 5, 0, 0], float)
LED_COHORTS = ("2023-10", "2024-04", "2024-10", "2025-04", "2025-10")
PRICE_PER_KWH = {2023: 148.0, 2024: 156.0, 2025: 163.0, 2026: 168.0}


def make_energy_monthly(rng: np.random.Generator) -> pd.DataFrame:
    """시설 에너지 사용량: one row per facility and month."""
    months = month_starts()
    n_m = len(months)
    moy = months.month.to_numpy() - 1
    hdd = np.round(HDD_NORMAL[moy] * (1 + rng.normal(0, 0.10, n_m)), 1).clip(0)
    cdd = np.round(CDD_NORMAL[moy] * (1 + rng.normal(0, 0.15, n_m)), 1).clip(0)
    common = rng.normal(0, 0.015, n_m) + 0.002 * np.arange(n_m)
    facilities = []
    k = 0
    for kind, (count, (lo, hi), intensity, heat, cool) in ENERGY_TYPES.items():
        for _ in range(count):
            k += 1
            dong = DONGS[(k * 5) % len(DONGS)]  # 5 and 12 are coprime: no name repeats within a type
            facilities.append((f"E{k:02d}", f"{dong} {kind}", kind, dong,
                               int(np.round(rng.uniform(lo, hi), -1)), intensity, heat, cool))
    cohorts = np.array(list(LED_COHORTS) * 5 + [None] * 5, dtype=object)[rng.permutation(len(facilities))]
    rows = []
    for (code, name, kind, dong, area, intensity, heat, cool), cohort in zip(facilities, cohorts):
        level = np.log(area * intensity) + rng.normal(0, 0.08)
        if cohort:
            year, month = map(int, cohort.split("-"))
            done = dt.date(year, month, int(rng.integers(1, 29)))
            in_service = months > pd.Timestamp(done)
        else:
            done, in_service = None, np.zeros(n_m, bool)
        log_kwh = (level + common + heat * hdd / 100 + cool * cdd / 100
                   + np.log1p(truth.LED_ELECTRICITY_CHANGE) * in_service + rng.normal(0, 0.035, n_m))
        kwh = np.round(np.exp(log_kwh)).astype(np.int64)
        price = np.array([PRICE_PER_KWH[y] for y in months.year])
        cost = np.round(kwh * price + area * 55, -1).astype(np.int64)
        for i in range(n_m):
            rows.append((code, name, kind, dong, area, months[i].strftime("%Y-%m"), kwh[i], cost[i],
                         hdd[i], cdd[i], done.isoformat() if done else None, int(in_service[i])))
    return pd.DataFrame(rows, columns=["시설코드", "시설명", "시설유형", "행정동", "연면적", "연월",
                                       "전력사용량", "전기요금", "난방도일", "냉방도일", "LED교체일", "LED적용"])


# --- Citizen survey -----------------------------------------------------------------------

SURVEY_TARGET = 1200
SURVEY_MIN_CELL = 6
OLDER_DONGS = ("다솜동", "미르동", "하늘동", "솔뫼동")


def make_survey_margins(rng: np.random.Generator) -> pd.DataFrame:
    """시민만족도 조사 모집단: adult residents by 행정동, sex and age band (resident register)."""
    rows = []
    for dong in DONGS:
        total = int(rng.integers(14000, 38000))
        age_w = np.array([0.18, 0.16, 0.18, 0.26, 0.22]) if dong in OLDER_DONGS else \
            np.array([0.22, 0.19, 0.19, 0.24, 0.16])
        age_w = age_w * np.exp(rng.normal(0, 0.06, 5))
        age_w /= age_w.sum()
        for band, w in zip(truth.SURVEY_AGE_BANDS, age_w):
            female = 0.57 if band == "65+" else 0.50 + rng.normal(0, 0.01)
            for sex, share in (("남", 1 - female), ("여", female)):
                rows.append({"행정동": dong, "성별": sex, "연령대": band, "인구수": int(round(total * w * share))})
    return pd.DataFrame(rows)


def make_survey(rng: np.random.Generator, margins: pd.DataFrame) -> pd.DataFrame:
    """시민만족도 조사 (raw: with phone numbers and exact ages): one row per respondent.
    Quota per 행정동 × 성별 × 연령대 cell, proportional to population, 65+ over-sampled."""
    factor = np.where(margins["연령대"] == "65+", truth.SURVEY_OVERSAMPLE_65, 1.0)
    share = margins["인구수"] * factor
    quota = np.maximum(np.round(SURVEY_TARGET * share / share.sum()), SURVEY_MIN_CELL).astype(int)
    cells = margins.loc[margins.index.repeat(quota), ["행정동", "성별", "연령대"]].reset_index(drop=True)
    n = len(cells)
    p = np.array([truth.survey_satisfied_probability(d, s, a)
                  for d, s, a in zip(cells["행정동"], cells["성별"], cells["연령대"])])
    satisfied = rng.random(n) < p
    overall = np.where(satisfied, rng.choice([4, 5], n, p=(0.62, 0.38)), rng.choice([1, 2, 3], n, p=(0.08, 0.3, 0.62)))

    def item(shift: float) -> np.ndarray:
        latent = overall + shift + rng.normal(0, 0.9, n)
        return np.clip(np.round(latent), 1, 5).astype(np.int64)

    lo = {"18-29": 18, "30-39": 30, "40-49": 40, "50-64": 50, "65+": 65}
    hi = {"18-29": 29, "30-39": 39, "40-49": 49, "50-64": 64, "65+": 92}
    age = np.array([rng.integers(lo[a], hi[a] + 1) for a in cells["연령대"]])
    days = pd.date_range("2025-10-01", "2025-10-31", freq="D")
    order = rng.permutation(n)
    out = pd.DataFrame({
        "휴대전화": fake_mobiles(rng, n),
        "조사일": days[rng.integers(0, len(days), n)].strftime("%Y-%m-%d"),
        "행정동": cells["행정동"].to_numpy(),
        "성별": cells["성별"].to_numpy(),
        "나이": age,
        "종합만족도": overall.astype(np.int64),
        "주차장만족도": item(-0.3),
        "체육시설만족도": item(0.1),
        "민원응대만족도": item(0.0),
    }).iloc[order].reset_index(drop=True)
    return out


# --- The raw sample with fake personal data (privacy lesson) ------------------------------------

RAW_SAMPLE_ROWS = 300
MEMO = ("{facility} 이용 문의.", "주차요금 감면 신청. 연락처 {phone}", "환불 요청, 계좌 확인 후 {phone_plain}로 회신",
        "차량 {plate} 정기권 갱신", "수강 대기 문의 ({email})", "본인확인 {rrn} 확인함", "특이사항 없음",
        "집 {landline}로 연락 요망", "{plate_spaced} 차량 미납 안내 완료")


def make_raw_sample(rng: np.random.Generator) -> pd.DataFrame:
    """가상 원본 샘플: a few hundred FAKE records with names, resident registration numbers,
    phones, e-mails, addresses and plates. ``df.attrs['planted']`` lists every identifier
    hidden in the free-text memo as (row, kind, value)."""
    n = RAW_SAMPLE_ROWS
    names = fake_names(rng, n)
    male = rng.random(n) < 0.5
    birth = [dt.date(1945, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 365 * 62, n)]
    rrn = [fake_rrn(b, m, int(s)) for b, m, s in zip(birth, male, rng.integers(0, 100000, n))]
    phones = fake_mobiles(rng, n)
    area = rng.choice(["042", "02", "031", "044"], n)
    landline = np.array([f"{a}-0{rng.integers(10, 100)}-{rng.integers(0, 10000):04d}" for a in area], dtype=object)
    landline[rng.random(n) < 0.4] = None
    plates = fake_plates(rng, n)
    local = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6)) for _ in range(n)]
    emails = [f"{u}{i:03d}@{rng.choice(['example.com', 'example.org', 'example.net'])}" for i, u in enumerate(local)]
    addresses = [f"{CITY} {rng.choice(ROADS)} {rng.integers(1, 300)}, {rng.integers(101, 112)}동 "
                 f"{rng.integers(1, 25)}{rng.integers(1, 5):02d}호 ({rng.choice(DONGS)})" for _ in range(n)]
    places = [x[1] for x in LOTS] + [f[0] for f in FACILITIES]
    facility = rng.choice(places, n)
    use_day = pd.Timestamp(truth.PERIOD_START) + pd.to_timedelta(rng.integers(0, 1200, n), unit="D")
    amount = rng.choice([0, 1200, 3500, 8000, 12300, 35000, 60000], n)
    memo_kind = rng.integers(0, len(MEMO), n)
    memos, planted = [], []
    kinds = {"phone": "휴대전화번호", "phone_plain": "휴대전화번호", "plate": "차량번호", "plate_spaced": "차량번호",
             "email": "이메일", "rrn": "주민등록번호", "landline": "유선전화번호"}
    for i, k in enumerate(memo_kind):
        plate_spaced = plates[i][:-4] + " " + plates[i][-4:]
        values = {"facility": facility[i], "phone": phones[i], "phone_plain": phones[i].replace("-", ""),
                  "plate": plates[i], "plate_spaced": plate_spaced, "email": emails[i], "rrn": rrn[i],
                  "landline": landline[i] or f"042-0{i % 90 + 10}-{i:04d}"}
        template = MEMO[k]
        memos.append(template.format(**values))
        for field, kind in kinds.items():
            if "{" + field + "}" in template:
                planted.append((i, kind, values[field]))
    out = pd.DataFrame({
        "구분": "가상(FAKE) 데이터 - 실존 인물 아님",
        "성명": names,
        "주민등록번호": rrn,
        "생년월일": [b.isoformat() for b in birth],
        "성별": np.where(male, "남", "여"),
        "휴대전화": phones,
        "집전화": landline,
        "이메일": emails,
        "주소": addresses,
        "차량번호": plates,
        "이용시설": facility,
        "이용일": use_day.strftime("%Y.%m.%d"),
        "결제금액": [f"{a:,}원" for a in amount],
        "메모": memos,
    })
    out.attrs["planted"] = planted
    return out


# --- Everything --------------------------------------------------------------------------

def table_rng(seed: int, table: str) -> np.random.Generator:
    """An independent stream per table, so changing one table never shifts another's values."""
    return np.random.default_rng([seed, *table.encode("utf-8")])


def generate_raw(*, seed: int = truth.SEED) -> dict[str, pd.DataFrame]:
    """Every raw table, keyed by name. Deterministic: the same seed gives the same tables."""
    margins = make_survey_margins(table_rng(seed, "survey_margins"))
    return {
        "parking_lots": make_parking_lots(table_rng(seed, "parking_lots")),
        "parking_tariffs": make_parking_tariffs(),
        "parking_sessions": make_parking_sessions(table_rng(seed, "parking_sessions")),
        "sms_trial": make_sms_trial(table_rng(seed, "sms_trial")),
        "sports_enrolments": make_sports_enrolments(table_rng(seed, "sports_enrolments")),
        "complaints": make_complaints(table_rng(seed, "complaints")),
        "energy_monthly": make_energy_monthly(table_rng(seed, "energy_monthly")),
        "survey": make_survey(table_rng(seed, "survey"), margins),
        "survey_margins": margins,
        "raw_sample": make_raw_sample(table_rng(seed, "raw_sample")),
    }
