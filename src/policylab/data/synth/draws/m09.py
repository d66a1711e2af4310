"""m09's per-learner draw: a parking-fee rise at one lot (with a decoy lot that changed at another
date) and the staggered LED retrofit, on the learner's own lots, facilities, dates and effect sizes.

Same story and schema as the shared ``datasets/`` (places.py, services.py): a lot's tariff history,
the lot list, one row per parking session (only the columns the exercise reads), one row per
facility and month. The exercise asks for the fee rise's effect on the average stay (minutes), so
stays carry the planted effect additively; the LED effect is a log change, as in the shared data.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from policylab.data.synth.places import AGENCY, CITY, HOLIDAYS
from policylab.data.synth.services import CDD_NORMAL, ENERGY_TYPES, HDD_NORMAL

PLACES = ("가온", "나래", "도담", "라온", "마루", "바름", "보람", "초롱", "푸름", "해솔", "이음", "윤슬",
          "늘봄", "새봄", "한울", "다온", "별솔", "솔빛", "온새", "가람", "누리", "미르", "은하", "하늘",
          "새내", "솔뫼", "다솜", "별빛", "꽃뫼", "물빛", "여울", "시루", "한결", "두레", "모아", "아라")
OFF_STREET = ("공영주차장", "근린공원 주차장", "체육공원 주차장", "전통시장 주차장", "행정복지센터 주차장",
              "도서관 주차장", "하천변 주차장", "문화센터 주차장")
GRADES = {"1급지": (1000, 300, 20000, 150000), "2급지": (600, 200, 12000, 100000), "3급지": (400, 150, 8000, 60000)}
PRICE_PER_KWH = 160.0


def _date(d) -> str:
    return pd.Timestamp(d).strftime("%Y-%m-%d")


def _parking(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    start = pd.Timestamp(2024, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 18)))
    days = pd.date_range(start, periods=365, freq="D")
    n_days = len(days)
    treated_type = str(rng.choice(["노외", "노상"]))
    other_type = "노상" if treated_type == "노외" else "노외"
    n_same = int(rng.integers(4, 7))      # treated + decoy + 2…4 never-changed lots of the same type
    n_other = int(rng.integers(3, 5))
    types = [treated_type] * n_same + [other_type] * n_other
    numbers = rng.choice(np.arange(1000, 99999), size=len(types), replace=False)
    places = rng.choice(PLACES, size=len(types), replace=False)
    # switch dates on working days (every lot is open, so the switch day is in every lot's data):
    # the fee rise between day 110 and 250, the decoy at least 45 days away
    working = [d for d in range(n_days) if days[d].day_of_week < 5 and days[d].date() not in HOLIDAYS]
    switch = int(rng.choice([d for d in working if 110 <= d <= 250]))
    decoy_switch = int(rng.choice([d for d in working if 60 <= d <= 305 and abs(d - switch) >= 45]))

    lot_rows, tariff_rows, session_parts, lot_info = [], [], [], []
    season = 1 + 0.08 * np.sin(2 * np.pi * (days.day_of_year.to_numpy() - 100) / 365.25)
    stay_season = 8 * np.sin(2 * np.pi * (days.day_of_year.to_numpy() - 60) / 365.25)
    dow = days.day_of_week.to_numpy()
    holiday = np.array([d.date() in HOLIDAYS for d in days])
    effect = float(-np.round(rng.uniform(10, 35), 1))            # minutes of average stay
    decoy_effect = float(-np.round(rng.uniform(5, 20), 1))
    for i, (kind, number, place) in enumerate(zip(types, numbers, places)):
        lot = f"351-2-{number:06d}"
        role = "treated" if i == 0 else "decoy" if i == 1 else "never"
        grade = str(rng.choice(list(GRADES)))
        base_fee, unit_fee, day_pass, month_pass = GRADES[grade]
        if kind == "노외":
            name = f"{place} {rng.choice(OFF_STREET)}"
            spaces = int(rng.integers(4, 30) * 10)
            hours, days_open = ("00:00", "24:00"), "평일+토요일+공휴일"
            open_day = np.ones(n_days, bool)
            lam = rng.uniform(22, 60)
            stay_base = rng.uniform(90, 200)
            entry_lo, entry_hi = 6 * 60, 23 * 60
        else:
            name = f"{place}로 노상주차장"
            spaces = int(rng.integers(15, 45))
            hours, days_open = ("09:00", "21:00"), "평일+토요일"
            open_day = (dow != 6) & ~holiday
            lam = rng.uniform(12, 35)
            stay_base = rng.uniform(60, 100)  # above the largest planted drop plus the season's dip
            entry_lo, entry_hi = 9 * 60, 19 * 60
        fee = (30, base_fee, 10, unit_fee, day_pass, month_pass)
        first_end = None
        if role == "treated":
            new = (30, base_fee * 2, 10, unit_fee, day_pass, month_pass)
            at = switch
        elif role == "decoy":
            new = (30, base_fee, 10, unit_fee + 100, day_pass + 4000, month_pass)
            at = decoy_switch
        if role in ("treated", "decoy"):
            first_end = _date(days[at] - pd.Timedelta(days=1))
            tariff_rows.append((lot, _date(days[0] - pd.DateOffset(years=1)), first_end, "유료", *fee))
            tariff_rows.append((lot, _date(days[at]), None, "유료", *new))
        else:
            tariff_rows.append((lot, _date(days[0] - pd.DateOffset(years=1)), None, "유료", *fee))
        current = new if role in ("treated", "decoy") else fee
        lot_rows.append((lot, name, "공영", kind, f"{place}동", f"{CITY} {place}로 {int(rng.integers(1, 300))}", grade,
                         spaces, days_open, hours[0], hours[1], "유료", *current, "신용카드+교통카드", AGENCY,
                         round(36.30 + rng.uniform(0, 0.12), 6), round(127.30 + rng.uniform(0, 0.15), 6),
                         _date(days[-1])))
        lot_info.append({"lot": lot, "type": kind, "role": role})

        # sessions: entries per open day, stays in minutes with the planted changes added
        weekend = (dow >= 5) | holiday
        n = rng.poisson(lam * season * np.where(weekend & (kind == "노외"), 1.25, 1.0) * open_day)
        mu = stay_base + stay_season + np.where(weekend & (kind == "노외"), 15.0, 0.0) + rng.normal(0, 4, n_days)
        if role == "treated":
            mu = mu + effect * (np.arange(n_days) >= switch)
        elif role == "decoy":
            mu = mu + decoy_effect * (np.arange(n_days) >= decoy_switch)
        day_idx = np.repeat(np.arange(n_days), n)
        total = int(n.sum())
        shape = 4.0
        mu = np.maximum(mu, 10.0)  # a rare very quiet day: a stay is never shorter than minutes
        stay = np.maximum(np.round(rng.gamma(shape, mu[day_idx] / shape)), 5).astype(np.int64)
        entry_min = rng.integers(entry_lo, entry_hi, total)
        entry = days.values[day_idx] + entry_min.astype("timedelta64[m]")
        session_parts.append(pd.DataFrame({"주차장관리번호": lot, "입차일시": entry,
                                           "출차일시": entry + stay.astype("timedelta64[m]"), "주차시간": stay}))

    lots = pd.DataFrame(lot_rows, columns=[
        "주차장관리번호", "주차장명", "주차장구분", "주차장유형", "행정동", "소재지도로명주소", "급지구분", "주차구획수",
        "운영요일", "평일운영시작시각", "평일운영종료시각", "요금정보", "주차기본시간", "주차기본요금", "추가단위시간",
        "추가단위요금", "1일주차권요금", "월정기권요금", "결제방법", "관리기관명", "위도", "경도", "데이터기준일자"])
    lots = lots.sort_values("주차장관리번호").reset_index(drop=True)   # ids are random: the treated lot is anywhere
    tariffs = pd.DataFrame(tariff_rows, columns=[
        "주차장관리번호", "적용시작일", "적용종료일", "요금정보", "주차기본시간", "주차기본요금", "추가단위시간",
        "추가단위요금", "1일주차권요금", "월정기권요금"]).sort_values(["주차장관리번호", "적용시작일"]).reset_index(drop=True)
    for col in ("1일주차권요금", "월정기권요금"):
        tariffs[col] = tariffs[col].astype("Int64")
    sessions = pd.concat(session_parts, ignore_index=True).sort_values(["입차일시", "주차장관리번호"], kind="stable")
    sessions["입차일시"] = sessions["입차일시"].dt.strftime("%Y-%m-%d %H:%M")
    sessions["출차일시"] = sessions["출차일시"].dt.strftime("%Y-%m-%d %H:%M")
    sessions = sessions.reset_index(drop=True)
    params = {"period": [_date(days[0]), _date(days[-1])], "treated_type": treated_type,
              "treated_lot": lot_info[0]["lot"], "switch_date": _date(days[switch]),
              "decoy_lot": lot_info[1]["lot"], "decoy_switch_date": _date(days[decoy_switch]),
              "decoy_effect_minutes": decoy_effect,
              "comparison_lots": sorted(x["lot"] for x in lot_info if x["role"] == "never" and x["type"] == treated_type),
              "n_lots": len(lot_info)}
    tables = {"parking_lots.csv": lots, "parking_tariffs.csv": tariffs, "parking_sessions.csv.gz": sessions}
    return tables, {"params": params, "effect": effect}


def _energy(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    first = pd.Timestamp(2022, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 19)))
    months = pd.date_range(first, periods=int(rng.integers(36, 43)), freq="MS")
    n_m = len(months)
    moy = months.month.to_numpy() - 1
    hdd = np.round(HDD_NORMAL[moy] * (1 + rng.normal(0, 0.10, n_m)), 1).clip(0)
    cdd = np.round(CDD_NORMAL[moy] * (1 + rng.normal(0, 0.15, n_m)), 1).clip(0)
    common = rng.normal(0, 0.015, n_m) + rng.uniform(0.0, 0.004) * np.arange(n_m)
    n_fac = int(rng.integers(20, 37))
    kinds = list(ENERGY_TYPES)
    places = rng.choice(PLACES, size=n_fac, replace=False)
    # cohorts: 3–5 retrofit months, 4–8 months apart, the first 8–14 months into the panel
    n_cohorts = int(rng.integers(3, 6))
    gaps = rng.integers(4, 9, n_cohorts - 1)
    offsets = int(rng.integers(8, 15)) + np.concatenate([[0], np.cumsum(gaps)])
    offsets = offsets[offsets <= n_m - 7]
    cohort_months = [months[o] for o in offsets]
    n_never = int(rng.integers(4, 9))
    assign = np.array([None] * n_never + [cohort_months[i % len(cohort_months)] for i in range(n_fac - n_never)],
                      dtype=object)[rng.permutation(n_fac)]
    led = float(np.round(rng.uniform(-0.15, -0.05), 3))     # planted proportional change in kWh
    noise = float(np.round(rng.uniform(0.025, 0.05), 3))
    codes, names, types, dongs, areas, done_dates, kwh_rows, in_rows = [], [], [], [], [], [], [], []
    for k in range(n_fac):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        _count, (lo, hi), intensity, heat, cool = ENERGY_TYPES[kind]
        name = f"{places[k]}동 {kind}"
        area = int(np.round(rng.uniform(lo, hi), -1))
        level = np.log(area * intensity) + rng.normal(0, 0.08)
        cohort = assign[k]
        if cohort is not None:
            done = dt.date(cohort.year, cohort.month, int(rng.integers(1, 29)))
            in_service = months > pd.Timestamp(done)
        else:
            done, in_service = None, np.zeros(n_m, bool)
        log_kwh = (level + common + heat * hdd / 100 + cool * cdd / 100
                   + np.log1p(led) * in_service + rng.normal(0, noise, n_m))
        codes.append(f"E{k + 1:02d}")
        names.append(name)
        types.append(kind)
        dongs.append(f"{places[k]}동")
        areas.append(area)
        done_dates.append(done.isoformat() if done else None)
        kwh_rows.append(np.round(np.exp(log_kwh)).astype(np.int64))
        in_rows.append(in_service.astype(int))
    rep = lambda values: np.repeat(np.array(values, dtype=object), n_m)  # noqa: E731
    kwh = np.concatenate(kwh_rows)
    energy = pd.DataFrame({
        "시설코드": rep(codes), "시설명": rep(names), "시설유형": rep(types), "행정동": rep(dongs),
        "연면적": np.repeat(areas, n_m), "연월": np.tile(months.strftime("%Y-%m"), n_fac),
        "전력사용량": kwh, "전기요금": np.round(kwh * PRICE_PER_KWH + np.repeat(areas, n_m) * 55, -1).astype(np.int64),
        "난방도일": np.tile(hdd, n_fac), "냉방도일": np.tile(cdd, n_fac), "LED교체일": rep(done_dates),
        "LED적용": np.concatenate(in_rows)})
    params = {"months": [months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")], "n_facilities": n_fac,
              "cohorts": [m.strftime("%Y-%m") for m in cohort_months], "n_never": n_never,
              "led_log_change": float(np.log1p(led)), "noise_sd": noise}
    return energy, {"params": params, "led": led}


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    tables, parking = _parking(rng)
    energy, led = _energy(rng)
    tables["energy_monthly.csv"] = energy
    truth = {
        "params": {"parking": parking["params"], "energy": led["params"]},
        "effects": [
            {"name": "fee_rise_average_stay_minutes", "value": parking["effect"], "question": "q4",
             "interval": "ci"},
            {"name": "led_electricity_pct", "value": round(led["led"] * 100, 1), "question": "q6", "interval": "ci_pct"},
        ],
    }
    return tables, truth
