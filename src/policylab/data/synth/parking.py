"""Parking sessions: per-lot demand, weekday and hour profiles, the 2025 tariff change's planted effect.
"""
from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

from policylab.data.synth import truth
from policylab.data.synth.people import fake_plates
from policylab.data.synth.places import LOTS, SEASON, calendar, lot_id, lot_tariff

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
# LOT_DEMAND's volumes are relative (complaints use them as weights); sessions are this many times
# them at every lot but the free-to-paid lot and its comparison lots, whose additive daily model
# carries the planted DiD effect and whose parks stay quiet.
DEMAND_SCALE = 3.0


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
            mu[i] = DEMAND_SCALE * base * dow * season * (1 + 0.03 * years)
        if kind == "노상":  # kerbside lots operate Monday to Saturday, not on holidays
            mu[i] = np.where(cal["offday"].to_numpy(), 0.0, mu[i])
    return np.clip(mu, 0, None)


def _admitted(lot_idx: np.ndarray, entry: np.ndarray, exit_: np.ndarray) -> np.ndarray:
    """Which arrivals find a free space: busy lots fill at weekday peaks and turn the rest away."""
    spaces = np.array([lot[6] for lot in LOTS])
    keep = np.ones(len(lot_idx), bool)
    for i in range(len(LOTS)):
        at = np.flatnonzero(lot_idx == i)
        at = at[np.argsort(entry[at], kind="stable")]
        parked: list[int] = []  # exit times of the cars inside (a heap)
        cap = spaces[i]
        for j, start, end in zip(at, entry[at].tolist(), exit_[at].tolist()):
            while parked and parked[0] <= start:
                heapq.heappop(parked)
            if len(parked) >= cap:
                keep[j] = False
            else:
                heapq.heappush(parked, end)
    return keep


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

    # a full lot turns cars away (만차): they leave no record
    admitted = _admitted(lot_idx, entry_at.astype(np.int64), exit_at.astype(np.int64))
    lot_idx, day_idx, days, months, moy = (a[admitted] for a in (lot_idx, day_idx, days, months, moy))
    minutes, entry_at, exit_at, long_ = (a[admitted] for a in (minutes, entry_at, exit_at, long_))
    n = len(lot_idx)

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


