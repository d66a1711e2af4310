"""m10's per-learner draw: a day-pass price rise at a group of lots, on the learner's own date.

Same story and schema as the shared ``datasets/`` (parking_tariffs.csv, parking_sessions.csv.gz):
a tariff history (the lots whose 1일주차권요금 rose on the reform day, a decoy lot that went from free
to paid on another day, lots whose tariff never changed) and one row per parking session with only
the columns the exercise reads (lot, entry time, minutes). The weekly share of stays over 240 minutes
at the affected lots carries a trend, a seasonal wave, and the planted level and slope change.

The reform day is never a Wednesday (the lesson's weeks, W-TUE, would then be right by accident) nor a
Monday (pandas' default weeks would be); a draw is kept only when a before/after mean, a fit without
seasonality and a placebo fitted on the whole series each miss the planted change.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

FIRST, LAST = "2023-01-01", "2026-06-30"
PLACES = ("가온", "나래", "도담", "라온", "마루", "바름", "보람", "초롱", "푸름", "해솔", "이음", "윤슬",
          "늘봄", "새봄", "한울", "다온", "별솔", "솔빛", "온새", "가람", "누리", "미르", "은하", "하늘")
TARIFF_COLUMNS = ["주차장관리번호", "적용시작일", "적용종료일", "요금정보", "주차기본시간", "주차기본요금",
                  "추가단위시간", "추가단위요금", "1일주차권요금", "월정기권요금"]
LONG = 240  # minutes: a stay longer than this is a long stay


def _date(d) -> str:
    return pd.Timestamp(d).strftime("%Y-%m-%d")


def _ols(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(x, y, rcond=None)[0]


def _weekly(days: pd.DatetimeIndex, n: np.ndarray, k: np.ndarray, anchor: int):
    """Full 7-day weeks starting on day index ``anchor`` (mod 7): (start day index, sessions, long)."""
    offset = anchor % 7
    n_weeks = (len(days) - offset) // 7
    idx = offset + 7 * np.arange(n_weeks)
    nn = n[offset:offset + 7 * n_weeks].reshape(n_weeks, 7).sum(1)
    kk = k[offset:offset + 7 * n_weeks].reshape(n_weeks, 7).sum(1)
    return idx, nn, kk


def _design(months: np.ndarray, post: np.ndarray, season: bool) -> np.ndarray:
    t = np.arange(len(post), dtype=float)
    t_post = np.where(post == 1, t - t[post == 1].min(), 0.0)
    cols = [np.ones_like(t), t, post.astype(float), t_post]
    if season:
        cols += [(months == m).astype(float) for m in range(2, 13)]
    return np.column_stack(cols)


def _separates(days, n_aff, k_aff, n_comp, k_comp, n_dec, k_dec, reform: int, level: float, slope: float) -> bool:
    idx, nn, kk = _weekly(days, n_aff, k_aff, reform)
    share = kk / nn
    months = days.month.to_numpy()[idx]
    post = (idx >= reform).astype(int)
    full = _ols(share, _design(months, post, True))
    if abs(full[2] - level) > 0.008 or abs(full[3] - slope) > 0.0003:   # the method recovers the planted changes
        return False
    naive = share[post == 1].mean() - share[post == 0].mean()
    if abs(naive - level) < max(0.012, 0.25 * abs(level)):      # a before/after mean must miss
        return False
    no_season = _ols(share, _design(months, post, False))
    if abs(no_season[2] - full[2]) < 0.004:          # ignoring seasonality must matter
        return False
    # a placebo fitted on the whole series (the reform inside the "pre-period") must find a change
    mid = int(np.searchsorted(idx, reform)) // 2
    placebo_post = (np.arange(len(idx)) >= mid).astype(int)
    on_all = _ols(share, _design(months, placebo_post, True))[2]
    pre = post == 0
    on_pre = _ols(share[pre], _design(months[pre], placebo_post[pre], True))[2]
    if abs(on_all - on_pre) < 0.004:
        return False
    # the comparison series: with the decoy lot it must differ from without it
    _, cn, ck = _weekly(days, n_comp, k_comp, reform)
    _, dn, dk = _weekly(days, n_dec, k_dec, reform)
    gap = share - ck / cn
    gap_decoy = share - (ck + dk) / (cn + dn)
    g = _ols(gap, _design(months, post, True))[2]
    g_decoy = _ols(gap_decoy, _design(months, post, True))[2]
    return abs(g - g_decoy) >= 0.002 and abs(g - full[2]) >= 0.001


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    days = pd.date_range(FIRST, LAST, freq="D")
    n_days = len(days)
    dow = days.day_of_week.to_numpy()                     # Monday 0 … Sunday 6
    doy = days.day_of_year.to_numpy()
    # the reform: a Tuesday, Thursday, Friday, Saturday or Sunday in 2025 (two years before it for the placebo)
    window = (days >= "2025-01-15") & (days <= "2025-10-31") & np.isin(dow, [1, 3, 4, 5, 6])
    candidates = np.flatnonzero(window)
    n_aff = int(rng.integers(3, 6))
    n_comp = int(rng.integers(2, 5))
    numbers = rng.choice(np.arange(20, 99999), size=n_aff + n_comp + 1, replace=False)
    lot_ids = [f"351-2-{x:06d}" for x in numbers]
    aff_ids, comp_ids, decoy_id = lot_ids[:n_aff], lot_ids[n_aff:n_aff + n_comp], lot_ids[-1]

    for _attempt in range(200):
        reform = int(rng.choice(candidates))
        decoy_choices = np.flatnonzero((days >= "2023-09-01") & (days <= "2026-03-31") & (dow < 5)
                                       & (np.abs(np.arange(n_days) - reform) >= 70))
        decoy = int(rng.choice(decoy_choices))
        level = -float(np.round(rng.uniform(0.03, 0.08), 3))
        slope = float(np.round(rng.choice([-1, 1]) * rng.uniform(0.0001, 0.0005), 5))   # per week
        trend = float(np.round(rng.choice([-1, 1]) * rng.uniform(0.0001, 0.0004), 5))   # per week
        amp = float(np.round(rng.uniform(0.02, 0.05), 3))
        peak = int(rng.integers(1, 366))
        season = amp * np.cos(2 * np.pi * (doy - peak) / 365.25)
        month_bump = rng.normal(0, 0.008, 12)[days.month.to_numpy() - 1]
        shock = np.repeat(rng.normal(0, 0.006, n_days // 7 + 1), 7)[:n_days]      # weeks that run long
        weeks = np.arange(n_days) / 7
        common = trend * weeks + season + month_bump + shock
        after = np.arange(n_days) >= reform
        effect = np.where(after, level + slope * np.floor((np.arange(n_days) - reform) / 7), 0.0)
        decoy_effect = float(np.round(rng.uniform(0.03, 0.07), 3)) * (np.arange(n_days) >= decoy)

        counts, longs = {}, {}
        for i, lot in enumerate(lot_ids):
            role = "aff" if lot in aff_ids else "decoy" if lot == decoy_id else "comp"
            base = rng.uniform(0.12, 0.25)
            p = base + common + (effect if role == "aff" else decoy_effect if role == "decoy" else 0.0)
            p = np.clip(p + rng.normal(0, 0.01, n_days), 0.02, 0.7)
            lam = rng.uniform(10, 18) * (1 + 0.15 * (dow >= 5)) * (1 + 0.08 * np.sin(2 * np.pi * doy / 365.25))
            counts[lot] = rng.poisson(lam)
            longs[lot] = rng.binomial(counts[lot], p)
        n_a = sum(counts[x] for x in aff_ids)
        k_a = sum(longs[x] for x in aff_ids)
        n_c = sum(counts[x] for x in comp_ids)
        k_c = sum(longs[x] for x in comp_ids)
        if _separates(days, n_a, k_a, n_c, k_c, counts[decoy_id], longs[decoy_id], reform, level, slope):
            break
    else:  # pragma: no cover - every seed tried so far separates within a few attempts
        raise RuntimeError("m10 draw: no separating draw in 200 attempts")

    # tariff history
    old_pass = int(rng.choice([8000, 10000, 12000]))
    new_pass = old_pass + int(rng.choice([4000, 5000, 6000, 8000]))
    base_fee, unit_fee, month_pass = (int(rng.choice([400, 600])), int(rng.choice([150, 200])),
                                      int(rng.choice([60000, 80000, 100000])))
    rows = []
    for lot in aff_ids:
        rows.append((lot, FIRST, _date(days[reform] - pd.Timedelta(days=1)), "유료", 30, base_fee, 10, unit_fee,
                     old_pass, month_pass))
        rows.append((lot, _date(days[reform]), None, "유료", 30, base_fee, 10, unit_fee, new_pass, month_pass))
    for lot in comp_ids:
        rows.append((lot, FIRST, None, "유료", 30, base_fee, 10, unit_fee, old_pass, month_pass))
    rows.append((decoy_id, FIRST, _date(days[decoy] - pd.Timedelta(days=1)), "무료", 0, 0, 0, 0, None, None))
    rows.append((decoy_id, _date(days[decoy]), None, "유료", 30, 300, 10, 100, 6000, 50000))
    tariffs = pd.DataFrame(rows, columns=TARIFF_COLUMNS).sort_values(["주차장관리번호", "적용시작일"])
    for col in ("1일주차권요금", "월정기권요금"):
        tariffs[col] = tariffs[col].astype("Int64")
    tariffs = tariffs.reset_index(drop=True)

    # sessions: k long and n - k short stays per lot and day
    parts = []
    for lot in lot_ids:
        n, k = counts[lot], longs[lot]
        day_idx = np.repeat(np.arange(n_days), n)
        rank = np.arange(len(day_idx)) - np.repeat(np.cumsum(n) - n, n)
        is_long = rank < np.repeat(k, n)
        stay = np.where(is_long, LONG + 1 + np.round(rng.gamma(2.0, 110, len(day_idx))),
                        np.clip(np.round(rng.gamma(2.0, 40, len(day_idx))), 5, LONG)).astype(np.int64)
        stay = np.minimum(stay, 1200)
        entry = days.values[day_idx] + rng.integers(6 * 60, 22 * 60, len(day_idx)).astype("timedelta64[m]")
        parts.append(pd.DataFrame({"주차장관리번호": lot, "입차일시": entry, "주차시간": stay}))
    sessions = pd.concat(parts, ignore_index=True).sort_values(["입차일시", "주차장관리번호"], kind="stable")
    sessions["입차일시"] = sessions["입차일시"].dt.strftime("%Y-%m-%d %H:%M")
    sessions = sessions.reset_index(drop=True)

    params = {"period": [FIRST, LAST], "reform_date": _date(days[reform]),
              "reform_weekday": ["월", "화", "수", "목", "금", "토", "일"][int(dow[reform])],
              "affected_lots": sorted(aff_ids), "comparison_lots": sorted(comp_ids),
              "decoy_lot": decoy_id, "decoy_date": _date(days[decoy]), "day_pass": [old_pass, new_pass],
              "trend_per_week": trend, "season_amplitude": amp, "season_peak_day": peak,
              "level_change": level, "slope_change_per_week": slope}
    truth = {"params": params,
             "effects": [{"name": "long_stay_share_level_change", "value": level, "question": "q5",
                          "interval": "level_ci"},
                         {"name": "long_stay_share_slope_change_per_week", "value": slope, "question": "q5",
                          "interval": "slope_ci"}]}
    return {"parking_tariffs.csv": tariffs, "parking_sessions.csv.gz": sessions}, truth
