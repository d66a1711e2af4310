"""m02's draw: one learner's own district: a handful of public lots (CP949 CSV, the shared schema), five
weeks of their parking sessions around October 2025, and the facility team's two-row-header Excel
report whose money column is messy in this learner's own way.

Demand is realistic: each lot has a use (commuters who stay all day, shoppers who stay an hour, a mix)
and a demand level; arrivals follow the use's hourly profile, and a car that finds the lot full is
turned away (never recorded), so busy lots sit near capacity at weekday peaks and quiet ones well
below. On-street lots close on Sundays and public holidays (October 2025 has six of them).
Rejected: draws whose busiest or quietest lot by 점유율 is within a rounding of the next one (2 and 1
percentage points), whose busiest by 점유율 is also the busiest by 회전율, or where the first or last
day of October has no entry (so a mis-written period always loses rows).
"""
from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

from policylab.data.files import Output, energy_xlsx, file_bytes
from policylab.data.synth.places import AGENCY, CITY, HOLIDAYS
from policylab.data.synth.services import CDD_NORMAL, ENERGY_TYPES, HDD_NORMAL

DAYS = pd.date_range("2025-09-29", "2025-11-02")          # Monday … Sunday: October and a few days either side
OCTOBER = pd.date_range("2025-10-01", "2025-10-31")
STEMS = ("가온", "나래", "도담", "라온", "마루", "바름", "보람", "초롱", "푸름", "해솔", "이음", "윤슬", "늘봄",
         "새봄", "한울", "다온", "별솔", "솔빛", "온새", "가람", "누리", "미르", "은하", "하늘", "여울", "시루")
OFF_NAMES = {"commuter": ("행정복지센터 주차장", "산업단지 공영주차장", "역 환승주차장"),
             "shopper": ("전통시장 공영주차장", "먹자골목 공영주차장"),
             "mixed": ("공영주차장", "근린공원 주차장", "문화센터 주차장", "체육공원 주차장")}
LOT_COLUMNS = ["주차장관리번호", "주차장명", "주차장구분", "주차장유형", "행정동", "소재지도로명주소", "급지구분",
               "주차구획수", "운영요일", "평일운영시작시각", "평일운영종료시각", "요금정보", "주차기본시간", "주차기본요금",
               "추가단위시간", "추가단위요금", "1일주차권요금", "월정기권요금", "결제방법", "관리기관명", "위도", "경도",
               "데이터기준일자"]
GRADES = {"1급지": (1000, 300, 20000, 150000), "2급지": (600, 200, 12000, 100000), "3급지": (400, 150, 8000, 60000)}

# hourly arrival weights (0 … 23 h), the stay's median (minutes) and spread, demand by day kind
USES = {
    "commuter": ([0, 0, 0, 0, 0, .2, 1.2, 4, 5, 2.5, 1, .7, .8, .7, .6, .5, .4, .4, .3, .2, .1, .05, .02, 0],
                 470, 0.30, {"weekday": 1.0, "saturday": 0.40, "offday": 0.25}),
    "shopper": ([0, 0, 0, 0, 0, 0, 0, .1, .3, .7, 1.2, 1.6, 1.7, 1.5, 1.3, 1.3, 1.4, 1.6, 1.5, 1.1, .6, .3, .1, 0],
                75, 0.55, {"weekday": 1.0, "saturday": 1.15, "offday": 0.85}),
    "mixed": ([0, 0, 0, 0, 0, 0, .2, .8, 1.2, 1.3, 1.2, 1.1, 1.2, 1.1, 1.0, 1.0, 1.0, 1.1, 1.0, .8, .5, .3, .1, 0],
              150, 0.65, {"weekday": 1.0, "saturday": 0.80, "offday": 0.60}),
}
LEVELS = {"busy": (1.10, 1.30), "mid": (0.45, 0.75), "quiet": (0.12, 0.22)}  # weekday peak demand ÷ spaces

# the facility team's money column: (format of a bill, marker of a month not billed yet), one per draw
MONEY = (("{:,}원", "미집계"), ("{:,}", "-"), ("{:,} 원", ""), ("₩{:,}", "미집계"), ("{}원", "-"), ("{:,}원", "N/A"))


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _day_kind(day: pd.Timestamp) -> str:
    if day.day_of_week == 6 or day.date() in HOLIDAYS:
        return "offday"
    return "saturday" if day.day_of_week == 5 else "weekday"


def _arrivals(rng, weights, open_min, close_min, n):
    """n arrival minutes within the opening hours, by the hourly profile."""
    w = np.array(weights, float)
    hours = np.arange(24)
    w[(hours * 60 + 59 < open_min) | (hours * 60 >= close_min - 15)] = 0.0
    hour = rng.choice(24, size=n, p=w / w.sum())
    minute = hour * 60 + rng.integers(0, 60, n)
    return np.clip(minute, open_min, close_min - 15)


def _stays(rng, median, sigma, arrival, close_min):
    stay = np.round(rng.lognormal(np.log(median), sigma, len(arrival)))
    if close_min < 1440:                                  # a lot that closes: out by closing time
        stay = np.minimum(stay, close_min - arrival)
    return np.maximum(stay, 5).astype(np.int64)


def _peak_per_arrival(rng, use, open_min, close_min) -> float:
    """Weekday peak of expected cars present per daily arrival (Monte Carlo on a minute grid)."""
    weights, median, sigma, _ = USES[use]
    n = 2000
    arrival = _arrivals(rng, weights, open_min, close_min, n)
    stay = _stays(rng, median, sigma, arrival, close_min)
    grid = np.zeros(2 * 1440 + 1)
    np.add.at(grid, arrival, 1)
    np.add.at(grid, np.minimum(arrival + stay, 2 * 1440), -1)
    present = np.cumsum(grid)[:2 * 1440]
    present = present[:1440] + present[1440:]           # yesterday's overnight stays
    return float(present.max()) / n


def _lots(rng) -> list[dict]:
    """Roles: the busiest lot holds its cars all day (high 점유율, low 회전율), a shoppers' lot turns over
    fastest, one lot stands quietest, the rest in between."""
    n = int(rng.integers(5, 8))
    n_street = int(rng.integers(2, 4))
    kinds = ["노상"] * n_street + ["노외"] * (n - n_street)
    kinds = [kinds[i] for i in rng.permutation(n)]
    street, off = [i for i, k in enumerate(kinds) if k == "노상"], [i for i, k in enumerate(kinds) if k == "노외"]
    star = int(rng.choice(street + off))
    turn = int(rng.choice([i for i in off if i != star]))  # open round the clock: many short stays
    quiet = int(rng.choice([i for i in range(n) if i not in (star, turn)]))
    stems = rng.choice(STEMS, size=n, replace=False)
    numbers = rng.choice(np.arange(100, 999), size=n, replace=False)
    out = []
    for i, kind in enumerate(kinds):
        if i == star:
            use, level = ("mixed" if kind == "노상" else "commuter"), "busy"
        elif i == turn:
            use, level = "shopper", "busy"
        elif i == quiet:
            use, level = str(rng.choice(["shopper", "mixed"] if kind == "노상" else list(USES))), "quiet"
        else:
            use, level = str(rng.choice(["shopper", "mixed"] if kind == "노상" else list(USES))), "mid"
        if kind == "노상":
            spaces, hours = int(rng.integers(12, 36)), ("09:00", "21:00")
            name = f"{stems[i]}로 노상주차장"
        else:
            spaces = int(rng.integers(6, 15)) * 5
            if i == star:
                hours = ("08:00", "20:00")
            elif i == turn:
                hours = ("00:00", "24:00")
            else:
                hours = ("07:00", "22:00") if rng.random() < 0.4 else ("00:00", "24:00")
            name = f"{stems[i]} {rng.choice(OFF_NAMES[use])}"
        out.append({"id": f"351-2-{int(numbers[i]):06d}", "name": name, "kind": kind, "use": use, "level": level,
                    "spaces": spaces, "hours": hours, "stem": str(stems[i]), "grade": str(rng.choice(list(GRADES)))})
    return out


def _sessions(rng, lot: dict, pool: np.ndarray, shared_pool: np.ndarray) -> pd.DataFrame:
    weights, median, sigma, by_day = USES[lot["use"]]
    open_min, close_min = _minutes(lot["hours"][0]), _minutes(lot["hours"][1])
    target = rng.uniform(*LEVELS[lot["level"]])
    daily = target * lot["spaces"] / _peak_per_arrival(rng, lot["use"], open_min, close_min)
    starts, stays = [], []
    for d, day in enumerate(DAYS):
        kind = _day_kind(day)
        if kind == "offday" and lot["kind"] == "노상":
            continue
        n = int(rng.poisson(daily * by_day[kind] * rng.uniform(0.9, 1.1)))
        arrival = _arrivals(rng, weights, open_min, close_min, n)
        starts.append(d * 1440 + arrival)
        stays.append(_stays(rng, median, sigma, arrival, close_min))
    start, stay = np.concatenate(starts), np.concatenate(stays)
    order = np.argsort(start, kind="stable")
    start, stay = start[order], stay[order]
    keep, present = np.zeros(len(start), bool), []
    for k in range(len(start)):                                   # a full lot turns the car away
        while present and present[0] <= start[k]:
            heapq.heappop(present)
        if len(present) < lot["spaces"]:
            heapq.heappush(present, start[k] + stay[k])
            keep[k] = True
    start, stay = start[keep], stay[keep]
    n = len(start)
    own = rng.random(n) < 0.85
    vehicle = np.where(own, rng.choice(pool, n), rng.choice(shared_pool, n))
    p_local = rng.uniform(0.55, 0.75)
    p_business = rng.uniform(0.04, 0.12)
    fee_class = rng.choice(["관내", "관외", "사업자"], size=n, p=[p_local, 1 - p_local - p_business, p_business])
    entry = DAYS[0] + pd.to_timedelta(start, unit="min")
    return pd.DataFrame({"주차장관리번호": lot["id"], "입차일시": entry,
                         "출차일시": entry + pd.to_timedelta(stay, unit="min"), "주차시간": stay,
                         "차량ID": vehicle, "요금구분": fee_class})


def _vehicle_ids(rng, n) -> np.ndarray:
    return np.array([f"V{v:016x}" for v in rng.integers(0, 2**63, n, dtype=np.int64)], dtype=object)


def _lot_table(rng, lots: list[dict]) -> pd.DataFrame:
    rows = []
    for lot in lots:
        base_fee, unit_fee, day_pass, month_pass = GRADES[lot["grade"]]
        street = lot["kind"] == "노상"
        rows.append([lot["id"], lot["name"], "공영", lot["kind"], f"{lot['stem']}동",
                     f"{CITY} {lot['stem']}로 {int(rng.integers(1, 300))}", lot["grade"], lot["spaces"],
                     "평일+토요일" if street else "평일+토요일+공휴일", lot["hours"][0], lot["hours"][1], "유료",
                     30, base_fee, 10, unit_fee, day_pass, month_pass,
                     "신용카드+교통카드" if street else "신용카드+교통카드+현금", AGENCY,
                     round(36.30 + rng.uniform(0, 0.12), 6), round(127.30 + rng.uniform(0, 0.15), 6), "2025-10-31"])
    return pd.DataFrame(rows, columns=LOT_COLUMNS).sort_values("주차장관리번호").reset_index(drop=True)


def _energy(rng) -> tuple[pd.DataFrame, dict]:
    first = pd.Timestamp(2023, 7, 1) + pd.DateOffset(months=int(rng.integers(0, 7)))
    months = pd.date_range(first, "2025-12-01", freq="MS")
    n_m = len(months)
    moy = months.month.to_numpy() - 1
    hdd = np.round(HDD_NORMAL[moy] * (1 + rng.normal(0, 0.10, n_m)), 1).clip(0)
    cdd = np.round(CDD_NORMAL[moy] * (1 + rng.normal(0, 0.15, n_m)), 1).clip(0)
    n_fac = int(rng.integers(8, 13))
    kinds = list(rng.choice(list(ENERGY_TYPES), size=4, replace=False))
    kinds = [kinds[k % 4] if k < 4 else str(rng.choice(kinds)) for k in range(n_fac)]
    stems = rng.choice(STEMS, size=n_fac, replace=False)
    price = np.where(months.year >= 2025, 163.0, 156.0)
    rows = []
    for k in range(n_fac):
        _count, (lo, hi), intensity, heat, cool = ENERGY_TYPES[kinds[k]]
        area = int(np.round(rng.uniform(lo, hi), -1))
        kwh = np.round(np.exp(np.log(area * intensity) + rng.normal(0, 0.08) + heat * hdd / 100 + cool * cdd / 100
                              + rng.normal(0, 0.04, n_m))).astype(np.int64)
        cost = np.round(kwh * price + area * 55, -1).astype(np.int64)
        for m in range(n_m):
            rows.append((f"E{k + 1:02d}", f"{stems[k]}동 {kinds[k]}", kinds[k], f"{stems[k]}동", area,
                         months[m].strftime("%Y-%m"), int(kwh[m]), int(cost[m]), float(hdd[m]), float(cdd[m])))
    energy = pd.DataFrame(rows, columns=["시설코드", "시설명", "시설유형", "행정동", "연면적", "연월", "전력사용량",
                                         "전기요금", "난방도일", "냉방도일"])
    # bills not in yet: a few facilities' last months of 2025, and one stray month earlier in 2025
    late = rng.choice(n_fac, size=int(rng.integers(2, 4)), replace=False)
    missing = set()
    for k in late:
        for month in ("2025-12", "2025-11")[:int(rng.integers(1, 3))]:
            missing.add((f"E{k + 1:02d}", month))
    missing.add((f"E{int(rng.integers(1, n_fac + 1)):02d}", f"2025-{int(rng.integers(3, 10)):02d}"))
    energy["미집계"] = [(c, m) in missing for c, m in zip(energy["시설코드"], energy["연월"])]
    return energy, {"months": [months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")], "facilities": n_fac,
                    "unbilled": sorted(f"{c} {m}" for c, m in missing)}


def _energy_xlsx(energy: pd.DataFrame, money: tuple[str, str]) -> bytes:
    """The facility team's report: the shared workbook's layout, this learner's money format and marker."""
    fmt, marker = money
    return energy_xlsx(
        [r.시설코드, r.시설명, r.시설유형, r.행정동, int(r.연면적), r.연월.replace("-", "."), int(r.전력사용량),
         (marker or None) if r.미집계 else fmt.format(int(r.전기요금)), float(r.난방도일), float(r.냉방도일), None, "N"]
        for r in energy.itertuples(index=False))


def _stats(lots: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """October 회전율 and 점유율 per lot, as the exercise defines them (for the rejection rules)."""
    entry = sessions["입차일시"]
    octo = sessions[(entry >= "2025-10-01") & (entry < "2025-11-01")]
    use = octo.groupby("주차장관리번호").agg(n=("주차시간", "size"), m=("주차시간", "sum"))
    t = lots.set_index("주차장관리번호").join(use).fillna({"n": 0, "m": 0})
    offdays = sum(_day_kind(d) == "offday" for d in OCTOBER)
    days = np.where(t["주차장유형"] == "노상", len(OCTOBER) - offdays, len(OCTOBER))
    open_min = t["평일운영종료시각"].map(_minutes) - t["평일운영시작시각"].map(_minutes)
    t["turnover"] = t["n"] / (t["주차구획수"] * days)
    t["occupancy"] = t["m"] / (t["주차구획수"] * days * open_min)
    return t


def _separates(lots: pd.DataFrame, sessions: pd.DataFrame) -> bool:
    t = _stats(lots, sessions)
    occ = np.sort((t["occupancy"] * 100).round(1).to_numpy())
    if occ[-1] - occ[-2] < 2.0 or occ[1] - occ[0] < 1.0:           # busiest and quietest clear after rounding
        return False
    if t["occupancy"].idxmax() == t["turnover"].idxmax():                 # 점유율 1위 ≠ 회전율 1위
        return False
    kinds = set(t["주차장유형"])
    if kinds != {"노외", "노상"}:
        return False
    entry = sessions["입차일시"]
    first_last = [((entry >= f"2025-10-{d:02d}") & (entry < pd.Timestamp(f"2025-10-{d:02d}") + pd.Timedelta(days=1))).sum()
                  for d in (1, 31)]
    return min(first_last) > 0


def make(rng: np.random.Generator) -> tuple[dict[str, object], dict]:
    for _ in range(60):
        lot_specs = _lots(rng)
        lots = _lot_table(rng, lot_specs)
        shared_pool = _vehicle_ids(rng, 400)
        parts = []
        for lot in lot_specs:
            size = lot["spaces"] * {"commuter": 2, "shopper": 30, "mixed": 10}[lot["use"]]
            parts.append(_sessions(rng, lot, _vehicle_ids(rng, size), shared_pool))
        sessions = pd.concat(parts, ignore_index=True).sort_values(["입차일시", "주차장관리번호"], kind="stable")
        sessions = sessions.reset_index(drop=True)
        # a stay of exactly four hours in October at each lot type (the long-stay cut-off is inclusive)
        octo = (sessions["입차일시"] >= "2025-10-01") & (sessions["입차일시"] < "2025-11-01")
        for kind in ("노외", "노상"):
            ids = lots.loc[lots["주차장유형"] == kind, "주차장관리번호"]
            rows = sessions.index[octo & sessions["주차장관리번호"].isin(ids) & (sessions["주차시간"] > 120)
                                  & (sessions["입차일시"].dt.hour < 16)]
            if len(rows):
                pick = rng.choice(rows, size=min(3, len(rows)), replace=False)
                sessions.loc[pick, "주차시간"] = 240
                sessions.loc[pick, "출차일시"] = sessions.loc[pick, "입차일시"] + pd.Timedelta(minutes=240)
        if _separates(lots, sessions):
            break
    else:
        raise RuntimeError("no m02 draw separates the misconceptions in 60 tries")
    t = _stats(lots, sessions)
    for col in ("입차일시", "출차일시"):
        sessions[col] = sessions[col].dt.strftime("%Y-%m-%d %H:%M")
    energy, energy_params = _energy(rng)
    money = MONEY[int(rng.integers(0, len(MONEY)))]
    params = {"lots": [{k: v for k, v in s.items() if k != "stem"} for s in lot_specs],
              "sessions": len(sessions), "period": [str(DAYS[0].date()), str(DAYS[-1].date())],
              "october_occupancy_pct": {lots.set_index("주차장관리번호").loc[i, "주차장명"]: round(float(o) * 100, 1)
                                        for i, o in t["occupancy"].items()},
              "money_format": money[0], "unbilled_marker": money[1] or "(빈칸)", "energy": energy_params}
    tables = {"parking_lots_cp949.csv": file_bytes(lots, Output("parking_lots_cp949.csv", encoding="cp949")),
              "parking_sessions.csv.gz": sessions,
              "energy_monthly.xlsx": _energy_xlsx(energy, money)}
    return tables, {"params": params, "effects": []}
