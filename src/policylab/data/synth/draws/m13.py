"""m13's per-learner draw: the capstone's four question cards, each on the learner's own data.

The learner picks one card (the notebook's ``question`` cell); every draw carries every card's files,
so the pick stays the learner's and a neighbour on the same card still has other numbers:

- ``sms``: ``sms_trial.csv``, a three-arm SMS trial on unpaid parking fees (arms of equal size); the
  learner's own base rate, arm effects, lots, months and sample size;
- ``tariff``: ``parking_tariffs.csv`` + ``parking_sessions.csv.gz`` (only the three columns the card
  reads): the 5-minute tariff reaches the learner's own lots in the learner's own month (never the
  shared data's 2025-01), a decoy lot changes its base fee at another month (so "not reformed" is not
  "never changed": the comparison series needs the latter), the rest never change;
- ``led``: ``energy_monthly.csv``, the staggered LED retrofit (m09's energy recipe);
- ``senior``: ``sports_enrolments.csv.gz``, applications by age with the learner's own jump at 65 in
  the discounted programmes and none in pilates and golf.

Truth: each card's planted main effect, in the card's effect unit (question ``q3``, the card's 95%
interval; the tariff card's against the classical interval of the same fit, ``recovery``: its HAC(3)
interval is too narrow on some 40 months, see reference.py). Draws are rejected where a banked mistake would give the right answer: the senior card's
"bandwidth chosen after looking" picking the pre-set ±10 years.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policylab.data.synth.draws.m09 import _energy
from policylab.data.synth.places import FACILITIES
from policylab.data.synth.services import PROGRAMMES

LESSON_REFORM = "2025-01"       # the shared data's (and the lesson's) reform month: never a draw's
ARMS = ("미발송", "일반문자", "간편문자")
NO_DISCOUNT = ("필라테스", "골프")
SENIOR_BANDWIDTHS = range(5, 16)  # what a learner who "tries a few and keeps the best" would try


def _month_starts(first: pd.Timestamp, n: int) -> pd.DatetimeIndex:
    return pd.date_range(first, periods=n, freq="MS")


def _entries(rng, months: pd.DatetimeIndex, month_idx: np.ndarray, lo_min: int, hi_min: int) -> np.ndarray:
    """'YYYY-MM-DD HH:MM' entry stamps, one per element of ``month_idx``, inside that month."""
    day = rng.integers(0, 28, len(month_idx)).astype("timedelta64[D]")
    minute = rng.integers(lo_min, hi_min, len(month_idx)).astype("timedelta64[m]")
    stamp = months.values.astype("datetime64[m]")[month_idx] + day + minute
    return np.datetime_as_string(stamp, unit="m").astype(object)


# ----------------------------------------------------------------------------- card A: sms
def _sms(rng) -> tuple[pd.DataFrame, dict]:
    per_arm = int(rng.integers(15, 41)) * 100
    n = per_arm * len(ARMS)
    first = pd.Timestamp(2025, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 9)))
    days = pd.date_range(first, first + pd.DateOffset(months=3) - pd.Timedelta(days=1), freq="D")
    days = days[days.day_of_week < 5]
    lots = [f"351-2-{x:06d}" for x in rng.choice(np.arange(1, 60), size=int(rng.integers(8, 17)), replace=False)]
    lot_shift = rng.normal(0, 0.35, len(lots))
    arm = rng.permutation(np.repeat(np.arange(len(ARMS)), per_arm))
    lot = rng.integers(0, len(lots), n)
    kind = rng.choice(["관내", "관외", "사업자"], size=n, p=[0.5, 0.42, 0.08])
    amount = np.clip(np.round(np.exp(rng.normal(8.3, 0.6, n)), -2), 500, 50000).astype(np.int64)
    past = np.minimum(rng.poisson(0.6, n), 5)
    base = float(rng.uniform(-0.6, 0.1))
    logit = (base + lot_shift[lot] + np.select([kind == "관외", kind == "사업자"], [-0.25, 0.3], 0.0)
             - 0.35 * np.log(amount / 4000) - 0.35 * past)
    p0 = 1 / (1 + np.exp(-logit))
    general = float(np.round(rng.uniform(0.0, 0.04), 3))
    simple = float(np.round(general + rng.uniform(0.015, 0.06), 3))
    p = np.clip(p0 + np.array([0.0, general, simple])[arm], 0.01, 0.99)
    paid = (rng.random(n) < p).astype(int)
    late = rng.random(n) < 0.55
    days_to_pay = np.where(paid == 1, rng.integers(1, 31, n),
                           np.where(late, rng.integers(31, 181, n), -1)).astype(float)
    days_to_pay[days_to_pay < 0] = np.nan
    sent = np.sort(rng.choice(days, size=n))
    ids = pd.Series(rng.integers(0, 16 ** 12, n)).map("C{:012x}".format)
    table = pd.DataFrame({"사건ID": ids, "발송일": pd.DatetimeIndex(sent).strftime("%Y-%m-%d"),
                          "배정군": np.array(ARMS, dtype=object)[arm], "주차장관리번호": np.array(lots, dtype=object)[lot],
                          "요금구분": kind, "미납금액": amount, "과거미납횟수": past,
                          "납부소요일": pd.array(days_to_pay, dtype="Int64"), "30일내납부": paid})
    # the planted effect on the probability scale, as realised on this draw's cases (the clip is rare)
    simple_effect = float(np.mean(np.clip(p0 + simple, 0.01, 0.99) - np.clip(p0, 0.01, 0.99)))
    params = {"cases_per_arm": per_arm, "months": [days[0].strftime("%Y-%m"), days[-1].strftime("%Y-%m")],
              "n_lots": len(lots), "general_sms_effect": general, "simple_sms_effect": simple}
    return table, {"params": params, "effect": simple_effect}


# ----------------------------------------------------------------------------- card B: tariff
def _tariff(rng) -> tuple[dict[str, pd.DataFrame], dict]:
    while True:
        pre, post = int(rng.integers(24, 31)), int(rng.integers(12, 19))
        first = pd.Timestamp(2022, 7, 1) + pd.DateOffset(months=int(rng.integers(0, 10)))
        months = _month_starts(first, pre + post)
        reform = months[pre].strftime("%Y-%m")
        if reform != LESSON_REFORM:       # a learner who keeps the lesson's month must be wrong
            break
    n_m = len(months)
    n_ref, n_never, n_decoy = int(rng.integers(4, 9)), int(rng.integers(3, 7)), int(rng.integers(1, 3))
    roles = ["reformed"] * n_ref + ["never"] * n_never + ["decoy"] * n_decoy
    numbers = rng.choice(np.arange(1, 100), size=len(roles), replace=False)
    t = np.arange(n_m)
    moy = months.month.to_numpy()
    trend = float(rng.uniform(0.0005, 0.0025))
    season = float(rng.uniform(0.01, 0.03)) * np.sin(2 * np.pi * (moy - 3) / 12)
    common = np.zeros(n_m)
    shocks = rng.normal(0, 0.004, n_m)
    for i in range(n_m):                       # month-to-month shocks that linger (autocorrelated)
        common[i] = (0.3 * common[i - 1] if i else 0.0) + shocks[i]
    effect = float(-np.round(rng.uniform(0.03, 0.09), 3))       # level change in the long-stay share
    slope = float(np.round(rng.uniform(-0.001, 0.001), 4))
    after = (t >= pre).astype(float)
    decoy_at = int(rng.choice([m for m in range(8, n_m - 6) if abs(m - pre) >= 6]))
    decoy_effect = float(-np.round(rng.uniform(0.03, 0.06), 3))
    tariff_rows, parts = [], []
    opened = f"{months[0].year - 1}-01-01"
    for role, number in zip(roles, numbers):
        lot = f"351-2-{number:06d}"
        fee = (30, 1000, 10, 300, 20000, 150000) if role == "reformed" else (30, 400, 10, 150, 8000, 60000)
        if role == "reformed":
            change_at, new = pre, (30, fee[1], 5, fee[3] * 2 // 3 // 10 * 10, fee[4], fee[5])
        elif role == "decoy":
            change_at, new = decoy_at, (30, fee[1] + 200, 10, fee[3], fee[4], fee[5])
        else:
            change_at, new = None, None
        if change_at is None:
            tariff_rows.append((lot, opened, None, "유료", *fee))
        else:
            tariff_rows.append((lot, opened, (months[change_at] - pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                                "유료", *fee))
            tariff_rows.append((lot, months[change_at].strftime("%Y-%m-%d"), None, "유료", *new))
        share = rng.uniform(0.12, 0.25) + trend * t + season + common + rng.normal(0, 0.004, n_m)
        if role == "reformed":
            share = share + effect * after + slope * after * (t - pre)
        elif role == "decoy":
            share = share + decoy_effect * (t >= decoy_at)
        share = np.clip(share, 0.02, 0.9)
        count = rng.poisson(rng.uniform(100, 180), n_m)
        month_idx = np.repeat(t, count)
        long = rng.random(len(month_idx)) < share[month_idx]
        stay = np.where(long, rng.integers(241, 901, len(month_idx)),
                        np.clip(np.round(rng.gamma(2.0, 45.0, len(month_idx))), 5, 240)).astype(np.int64)
        parts.append(pd.DataFrame({"주차장관리번호": lot, "입차일시": _entries(rng, months, month_idx, 6 * 60, 22 * 60),
                                   "주차시간": stay}))
    tariffs = pd.DataFrame(tariff_rows, columns=[
        "주차장관리번호", "적용시작일", "적용종료일", "요금정보", "주차기본시간", "주차기본요금", "추가단위시간",
        "추가단위요금", "1일주차권요금", "월정기권요금"]).sort_values(["주차장관리번호", "적용시작일"]).reset_index(drop=True)
    sessions = pd.concat(parts, ignore_index=True).sort_values(["입차일시", "주차장관리번호"], kind="stable")
    params = {"months": [months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")], "reform_month": reform,
              "placebo_month": months[pre - 6].strftime("%Y-%m"), "n_reformed_lots": n_ref,
              "n_never_changed_lots": n_never, "decoy_lots": n_decoy,
              "decoy_change_month": months[decoy_at].strftime("%Y-%m"), "decoy_effect": decoy_effect,
              "trend_per_month": trend, "slope_change": slope}
    return ({"parking_tariffs.csv": tariffs, "parking_sessions.csv.gz": sessions.reset_index(drop=True)},
            {"params": params, "effect": effect})


# ----------------------------------------------------------------------------- card D: senior
def _jump(log_n: np.ndarray, ages: np.ndarray, h: int) -> float:
    keep = (ages >= 65 - h) & (ages <= 64 + h)
    c = ages[keep] - 65.0
    above = (c >= 0).astype(float)
    x = np.column_stack([np.ones(keep.sum()), above, c, above * c])
    return float(np.linalg.lstsq(x, log_n[keep], rcond=None)[0][1])


def _senior(rng) -> tuple[pd.DataFrame, dict]:
    ages = np.arange(16, 86)
    c = ages - 65.0
    far = np.maximum(np.abs(c) - 10, 0)
    while True:
        jump = float(np.round(rng.uniform(0.08, 0.30), 3))
        log_d = (np.log(rng.uniform(250, 600)) + rng.uniform(-0.01, 0.02) * np.minimum(c, 0)
                 + rng.uniform(-0.06, -0.02) * np.maximum(c, 0) + jump * (c >= 0) - 0.004 * far ** 2
                 + rng.normal(0, 0.03, len(ages)))
        log_nd = (np.log(rng.uniform(60, 150)) + rng.uniform(-0.03, -0.005) * c - 0.004 * far ** 2
                  + rng.normal(0, 0.03, len(ages)))
        n_d, n_nd = rng.poisson(np.exp(log_d)), rng.poisson(np.exp(log_nd))
        # the pre-set bandwidth (±10) must not be the one a learner who looks first would keep
        by_h = {h: _jump(np.log(np.maximum(n_d, 1)), ages, h) for h in SENIOR_BANDWIDTHS}
        if max(by_h, key=lambda h: abs(by_h[h])) != 10 and (n_d > 0).all() and (n_nd > 0).all():
            break
    programmes = {p[0]: p for p in PROGRAMMES}
    discounted = [p for p in programmes if p not in NO_DISCOUNT]
    age = np.concatenate([np.repeat(ages, n_d), np.repeat(ages, n_nd)])
    prog = np.concatenate([rng.choice(discounted, size=int(n_d.sum()), p=[0.2, 0.2, 0.15, 0.15, 0.15, 0.15]),
                           rng.choice(list(NO_DISCOUNT), size=int(n_nd.sum()))]).astype(object)
    n = len(age)
    first = pd.Timestamp(2022, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 18)))
    months = _month_starts(first, int(rng.integers(36, 43))).strftime("%Y-%m")
    pool = np.isin(prog, ["수영강습", "아쿠아로빅"])
    pool_centres = [f[0] for f in FACILITIES if f[2]]
    centre = np.where(pool, rng.choice(pool_centres, size=n), rng.choice([f[0] for f in FACILITIES], size=n))
    other = rng.random(n)
    reduced = np.where(np.isin(prog, NO_DISCOUNT), "일반",
                       np.where(age >= 65, "경로", np.where(other < 0.025, "장애인",
                                                           np.where(other < 0.035, "국가유공자", "일반"))))
    fee = np.array([programmes[p][3] for p in prog])
    fee = np.where(reduced == "일반", fee, fee // 2)
    table = pd.DataFrame({"회원ID": pd.Series(rng.integers(0, 16 ** 12, n)).map("M{:012x}".format), "나이": age,
                          "성별": rng.choice(["여", "남"], size=n, p=[0.6, 0.4]), "시설명": centre, "프로그램": prog,
                          "수강월": rng.choice(months, size=n), "감면구분": reduced, "수강료": fee})
    table = table.sort_values(["수강월", "시설명", "프로그램"], kind="stable").reset_index(drop=True)
    params = {"months": [months[0], months[-1]], "jump_log_points": jump,
              "bandwidth_a_looker_keeps": max(by_h, key=lambda h: abs(by_h[h])),
              "applications": int(n)}
    return table, {"params": params, "effect": jump}


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    sms, sms_truth = _sms(rng)
    parking, tariff_truth = _tariff(rng)
    energy, led_truth = _energy(rng)
    sports, senior_truth = _senior(rng)
    tables = {"sms_trial.csv": sms, **parking, "energy_monthly.csv": energy, "sports_enrolments.csv.gz": sports}
    truth = {
        "params": {"sms": sms_truth["params"], "tariff": tariff_truth["params"], "led": led_truth["params"],
                   "senior": senior_truth["params"]},
        "effects": [
            {"name": "simple_sms_vs_none_share", "value": round(sms_truth["effect"], 4), "question": "q3",
             "interval": "sms"},
            {"name": "tariff_level_change_share", "value": tariff_truth["effect"], "question": "recovery",
             "interval": "tariff_plain_ci"},
            {"name": "led_log_change", "value": round(float(np.log1p(led_truth["led"])), 4), "question": "q3",
             "interval": "led"},
            {"name": "senior_jump_log_points", "value": senior_truth["effect"], "question": "q3",
             "interval": "senior"},
        ],
    }
    return tables, truth
