"""m08's per-learner draw: facility energy with operating hours and visitors (energy_monthly.csv).

The exercise asks what extending a facility's operating hours does to its electricity use, a question
the lesson (floor area, type, weather) did not work. Same story and column names as the shared
``energy_monthly.csv`` (services.py), without the LED columns the exercise does not read, plus two
columns of the corporation's operations records: ``운영시간`` (hours open that month) and ``이용객수``
(visitors that month; entries at a parking building).

- The facility type is the confounder: parking buildings are open all day and use little electricity
  per m², sports centres are open long and use a lot, so hours and kWh move together across types.
  Each draw's type intensities are jittered, so the bias of leaving the type out differs per learner.
- Visitors are post-treatment (a mediator): longer hours bring more visitors and visitors use
  electricity, so controlling for them removes part of the effect the corporation asks about.
- 전기요금 is the bill for the same kWh: controlling for it gives the highest R² and almost no effect.

log kWh = type level + log(area) + β·hours + γ·log(visitors) + weather + noise, and
log(visitors) = type level + ½·log(area) + δ·hours + noise, so the planted total effect of one more
hour a month is β + γδ (log points); truth["effects"] holds it per 100 hours in % (Q4's interval).
The direct effect β (Q6) is in params only: with the visitors' own facility-level noise its HC3
interval is too narrow to promise coverage (the exercise's W1 asks why).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from policylab.data.synth.services import CDD_NORMAL, ENERGY_TYPES, HDD_NORMAL

PLACES = ("가온", "나래", "도담", "라온", "마루", "바름", "보람", "초롱", "푸름", "해솔", "이음", "윤슬",
          "늘봄", "새봄", "한울", "다온", "별솔", "솔빛", "온새", "가람", "누리", "미르", "은하", "하늘",
          "새내", "솔뫼", "다솜", "별빛", "꽃뫼", "물빛", "여울", "시루", "한결", "두레", "모아", "아라")
# type: (daily hours range, share of a month's days open, can extend hours, visitors per month at a typical size)
OPERATION = {"체육센터": ((14.0, 16.0), 0.93, True, 25000), "주차빌딩": ((24.0, 24.0), 1.0, False, 18000),
             "도서관": ((9.0, 12.0), 0.93, True, 9000), "문화시설": ((9.0, 11.0), 0.85, True, 6000),
             "청사": ((9.0, 10.0), 0.70, True, 3000), "복지관": ((9.0, 10.0), 0.72, True, 4000)}
NOISE_SD = {"체육센터": 0.06, "주차빌딩": 0.11, "도서관": 0.04, "문화시설": 0.05, "청사": 0.035, "복지관": 0.045}
PRICE_PER_KWH = 160.0
BASE = "np.log(전력사용량) ~ 운영시간 + np.log(연면적) + 난방도일 + 냉방도일"
EXTRA_HOURS = 40      # Q5: every library opens 40 more hours a month
LIBRARY = "도서관"


def _pct(log_points: float) -> float:
    return float(100 * np.expm1(log_points))


def _draw(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    first = pd.Timestamp(2023, 1, 1) + pd.DateOffset(months=int(rng.integers(0, 13)))
    months = pd.date_range(first, periods=int(rng.integers(24, 37)), freq="MS")
    n_m = len(months)
    moy = months.month.to_numpy() - 1
    days = months.days_in_month.to_numpy()
    hdd = np.round(HDD_NORMAL[moy] * (1 + rng.normal(0, 0.10, n_m)), 1).clip(0)
    cdd = np.round(CDD_NORMAL[moy] * (1 + rng.normal(0, 0.15, n_m)), 1).clip(0)
    common = rng.normal(0, 0.015, n_m)

    beta = float(rng.uniform(0.0006, 0.0014))      # direct: log kWh per hour open
    gamma = float(rng.uniform(0.15, 0.35))         # elasticity of kWh to visitors
    delta = float(rng.uniform(0.0020, 0.0040))     # log visitors per hour open
    intensity = {k: v[2] * float(rng.uniform(0.75, 1.3)) for k, v in ENERGY_TYPES.items()}

    kinds = list(ENERGY_TYPES)
    n_fac = int(rng.integers(24, 35))
    counts = np.full(len(kinds), 2)                 # at least two facilities of every type
    counts += rng.multinomial(n_fac - counts.sum(), np.array([v[0] for v in ENERGY_TYPES.values()]) / 30)
    types = np.repeat(kinds, counts)[rng.permutation(n_fac)]
    places = rng.choice(PLACES, size=n_fac, replace=False)
    parts = []
    for k, kind in enumerate(types):
        _count, (lo, hi), _intensity, heat, cool = ENERGY_TYPES[kind]
        (h_lo, h_hi), open_share, extends, visitors = OPERATION[kind]
        area = int(np.round(rng.uniform(lo, hi), -1))
        daily = rng.uniform(h_lo, h_hi)
        hours = daily * np.round(days * open_share)
        if extends:                                 # evening extension in some months (야간 연장 운영)
            extended = rng.random(n_m) < rng.uniform(0.2, 0.7)
            hours = hours + extended * np.round(rng.uniform(20, 90, n_m))
        hours = np.round(hours).astype(int)
        typical_hours = float(np.mean([h_lo, h_hi])) * 30 * open_share
        log_vis = (np.log(visitors) + 0.5 * np.log(area / np.mean([lo, hi])) + delta * (hours - typical_hours)
                   + rng.normal(0, 0.05) + rng.normal(0, 0.10, n_m))
        vis = np.round(np.exp(log_vis)).astype(np.int64)
        log_kwh = (np.log(area * intensity[kind]) + rng.normal(0, 0.03) + beta * (hours - typical_hours)
                   + gamma * (np.log(vis) - np.log(visitors)) + common + heat * hdd / 100 + cool * cdd / 100
                   + rng.normal(0, NOISE_SD[kind], n_m))
        kwh = np.round(np.exp(log_kwh)).astype(np.int64)
        parts.append(pd.DataFrame({
            "시설코드": f"E{k + 1:02d}", "시설명": f"{places[k]}동 {kind}", "시설유형": kind, "행정동": f"{places[k]}동",
            "연면적": area, "연월": months.strftime("%Y-%m"), "운영시간": hours, "이용객수": vis,
            "전력사용량": kwh, "전기요금": np.round(kwh * PRICE_PER_KWH + area * 55, -1).astype(np.int64),
            "난방도일": hdd, "냉방도일": cdd}))
    energy = pd.concat(parts, ignore_index=True)
    params = {"months": [months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")], "n_facilities": n_fac,
              "type_counts": {k: int(c) for k, c in zip(kinds, counts)},
              "kwh_per_m2_by_type": {k: round(v, 2) for k, v in intensity.items()},
              "direct_log_per_hour": round(beta, 6), "visitor_elasticity": round(gamma, 4),
              "visitors_log_per_hour": round(delta, 6), "total_log_per_hour": round(beta + gamma * delta, 8)}
    return energy, params


def _separates(energy: pd.DataFrame) -> bool:
    """The banked mistakes give values of their own: leaving the type out or adding the visitors (the
    mediator) moves Q2's estimate well away from the total effect, and the ordinary standard error is not
    the robust one (Q3, Q4), on this draw's data."""
    fits = {name: smf.ols(BASE + extra, data=energy).fit() for name, extra in
            {"right": " + C(시설유형)", "no_type": "", "mediator": " + C(시설유형) + np.log(이용객수)"}.items()}
    b = {name: float(f.params["운영시간"]) for name, f in fits.items()}
    se = float(fits["right"].bse["운영시간"])
    if b["right"] <= 0 or se > 0.25 * b["right"]:
        return False
    hc3 = float(smf.ols(BASE + " + C(시설유형)", data=energy).fit(cov_type="HC3").bse["운영시간"])
    if abs(hc3 - se) < 0.02 * se:            # the ordinary and the robust error must differ (Q3, Q4)
        return False
    if abs(b["no_type"] - b["right"]) < max(0.3 * b["right"], 4 * se):
        return False
    if b["right"] - b["mediator"] < max(0.15 * b["right"], 2 * se):
        return False
    naive = float(smf.ols("전력사용량 ~ 운영시간", data=energy).fit().params["운영시간"])
    level = float(smf.ols("전력사용량 ~ 운영시간 + np.log(연면적) + 난방도일 + 냉방도일 + C(시설유형)",
                          data=energy).fit().params["운영시간"])
    return naive != 0 and level != 0 and (energy["시설유형"] == LIBRARY).sum() > 0


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    for _ in range(40):
        energy, params = _draw(rng)
        total = params["total_log_per_hour"]
        if _separates(energy):
            truth = {"params": params, "effects": [
                {"name": "hours_effect_pct_per_100h", "value": round(_pct(100 * total), 4), "question": "q4",
                 "interval": "ci_pct"},
            ]}
            return {"energy_monthly.csv": energy}, truth
    raise RuntimeError("no m08 draw separates the misconceptions in 40 tries")
