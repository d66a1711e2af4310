"""m12's draw: one learner's own spring follow-up wave of the citizen survey (2026년 4월 2차 조사) and
the adult population it is weighted to (survey.csv and survey_margins.csv, the shared schemas).

The lesson weighted the October wave, whose skew came from the design (65+ over-sampled on purpose).
This wave was a simple random sample of the resident register, and the skew comes from non-response:
response rates differ by 행정동, 연령대 and 성별 (multiplicatively, so raking on the three margins
undoes it in expectation), and those rates are tied to parking satisfaction in either direction per
draw, so the unweighted share overstates or understates. A few 행정동 × 성별 × 연령대 cells have no
respondent at all, so post-stratifying on the 120 cells cannot reproduce the population; raking can.

Varies per learner: the population (dong sizes, age and sex shares), how many answered (about
800–1,500), the response rates, and parking satisfaction by 행정동, 연령대 and 성별 (an ordered-probit
latent, additive in the three). The planted value (``truth["effects"]``) is the population share of
adults satisfied (4·5) with public parking, Σ N_c p_c / N, which the raked estimate's interval covers.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from policylab.data.synth.places import DONGS

BANDS = ("18-29", "30-39", "40-49", "50-64", "65+")
SEXES = ("남", "여")
COLUMNS = ["응답자ID", "조사일", "행정동", "성별", "연령대", "종합만족도", "주차장만족도", "체육시설만족도",
           "민원응대만족도"]
MARGIN_COLUMNS = ["행정동", "성별", "연령대", "인구수"]
ITEM = "주차장만족도"          # the exercise's item (the lesson worked 종합만족도)
VARS = ("행정동", "성별", "연령대")


def _phi(x):
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x, dtype=float) / math.sqrt(2)))


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    """A wave where the raked answer differs from every banked shortcut (unweighted, one margin, …)."""
    for _ in range(300):
        tables, truth = _draw(rng)
        if _separates(tables["survey.csv"], tables["survey_margins.csv"], truth):
            return tables, truth
    raise RuntimeError("no m12 draw separates the misconceptions in 300 tries")


def rake(survey: pd.DataFrame, margins: pd.DataFrame, variables=VARS, sweeps: int = 100) -> pd.Series:
    """Raking from equal weights to the population margins of ``variables`` (numpy, for speed)."""
    codes, targets = [], []
    for v in variables:
        target = margins.groupby(v)["인구수"].sum()
        codes.append(pd.Categorical(survey[v], categories=target.index).codes)
        targets.append(target.to_numpy(dtype=float))
    w = np.ones(len(survey))
    for _ in range(sweeps):
        for code, target in zip(codes, targets):
            w = w * (target / np.bincount(code, weights=w, minlength=len(target)))[code]
    return pd.Series(w, index=survey.index)


def _post(survey: pd.DataFrame, margins: pd.DataFrame, keys: list[str]) -> pd.Series:
    pop = margins.groupby(keys)["인구수"].sum()
    n = survey.groupby(keys).size()
    cell = (pop / n).dropna()
    return survey.set_index(keys).index.map(cell).to_series(index=survey.index).astype(float)


def _separates(s: pd.DataFrame, m: pd.DataFrame, truth: dict) -> bool:
    y = (s[ITEM] >= 4).astype(float)
    bad = (s[ITEM] <= 2).astype(float)
    w = rake(s, m)
    N = float(m["인구수"].sum())
    raked = float(np.average(y, weights=w))
    unweighted = float(y.mean())
    by_age = float(np.average(y, weights=_post(s, m, ["연령대"])))
    by_dong = float(np.average(y, weights=_post(s, m, ["행정동"])))
    no_sex = float(np.average(y, weights=rake(s, m, ("행정동", "연령대"))))
    ps = _post(s, m, list(VARS))
    post120 = float(np.average(y, weights=ps))
    n_eff = float(w.sum() ** 2 / (w ** 2).sum())
    total = float((w * bad).sum())
    value = truth["effects"][0]["value"]
    sample = s["행정동"].value_counts(normalize=True)
    pop = m.groupby("행정동")["인구수"].sum() / N
    ratio = (sample / pop).sort_values()
    overall = (s["종합만족도"] >= 4).mean()
    return (0.15 < raked < 0.85
            and abs(unweighted - raked) > 0.025 and abs(unweighted - value) > 0.02
            and abs(by_age - raked) > 0.008 and abs(by_dong - raked) > 0.008
            and abs(by_age - value) > 0.005 and abs(by_dong - value) > 0.005
            and abs(no_sex - raked) > 0.001
            and abs(post120 - raked) > 0.0005 and abs(ps.sum() - N) > 100
            and len(s) / n_eff > 1.12
            and abs(bad.mean() * N - total) > 0.01 * total
            and ratio.iloc[1] - ratio.iloc[0] > 0.03
            and abs(overall - unweighted) > 0.02)


def _draw(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    # ---- the population: adults by 행정동 × 성별 × 연령대 (resident register shape)
    adults = int(rng.integers(300_000, 380_000))
    dong_w = rng.uniform(0.45, 1.25, len(DONGS))
    dong_share = dong_w / dong_w.sum()
    age_share = np.array([0.205, 0.184, 0.185, 0.241, 0.185]) * np.exp(rng.normal(0, 0.08, 5))
    age_share /= age_share.sum()
    female = np.array([0.50, 0.50, 0.50, 0.50, 0.57]) + rng.normal(0, 0.01, 5)
    cells = []
    for d, dong in enumerate(DONGS):
        tilt = np.exp(rng.normal(0, 0.1, 5))  # each dong its own age profile
        for b, band in enumerate(BANDS):
            for sex in SEXES:
                f = female[b] if sex == "여" else 1 - female[b]
                cells.append((dong, sex, band, adults * dong_share[d] * age_share[b] * tilt[b] * f))
    margins = pd.DataFrame(cells, columns=MARGIN_COLUMNS)
    margins["인구수"] = np.maximum(200, np.round(margins["인구수"] * np.exp(rng.normal(0, 0.05, len(margins))))).astype(np.int64)

    # ---- parking satisfaction: ordered-probit latent additive in dong, age band and sex
    cuts = np.sort(np.array([-1.35, -0.5, 0.35, 1.35]) + rng.normal(0, 0.08, 4))
    level = rng.uniform(-0.35, 0.3)
    dong_eff = dict(zip(DONGS, rng.normal(0, 0.32, len(DONGS))))
    age_slope = rng.choice([-1, 1]) * rng.uniform(0.08, 0.2)
    age_eff = {bd: age_slope * (i - 2) + rng.normal(0, 0.05) for i, bd in enumerate(BANDS)}
    sex_eff = {"남": 0.0, "여": rng.choice([-1, 1]) * rng.uniform(0.06, 0.18)}
    mu = np.array([level + dong_eff[dg] + age_eff[bd] + sex_eff[sx]
                   for dg, sx, bd in margins[["행정동", "성별", "연령대"]].itertuples(index=False)])
    p_sat = 1 - _phi(cuts[2] - mu)
    p_bad = _phi(cuts[1] - mu)

    # ---- who answered: a register sample, response rates multiplicative in dong, age band and sex,
    # tied to satisfaction (either direction) through the dong and age effects
    link = rng.choice([-1, 1]) * rng.uniform(0.8, 1.6)
    r_dong = {dg: link * dong_eff[dg] + rng.normal(0, 0.2) for dg in DONGS}
    age_resp_slope = np.sign(age_slope) * rng.choice([-1, 1]) * rng.uniform(0.15, 0.35)
    r_age = {bd: age_resp_slope * (i - 2) + rng.normal(0, 0.08) for i, bd in enumerate(BANDS)}
    r_sex = {"남": 0.0, "여": rng.uniform(0.12, 0.35)}
    log_r = np.array([r_dong[dg] + r_age[bd] + r_sex[sx]
                      for dg, sx, bd in margins[["행정동", "성별", "연령대"]].itertuples(index=False)])
    contacted = rng.multinomial(int(rng.integers(3500, 6500)), margins["인구수"] / margins["인구수"].sum())
    target = rng.uniform(800, 1500)
    rate = np.exp(log_r)
    rate = np.minimum(0.9, rate * target / float((contacted * rate).sum()))
    answered = rng.binomial(contacted, rate)
    # a few cells where nobody answered (small cells with low response rates)
    expected = contacted * rate
    low = np.argsort(expected)[:12]
    answered[rng.choice(low, size=int(rng.integers(2, 5)), replace=False)] = 0

    rows = np.repeat(np.arange(len(margins)), answered)
    n = len(rows)
    dong = margins["행정동"].to_numpy()[rows]
    sex = margins["성별"].to_numpy()[rows]
    band = margins["연령대"].to_numpy()[rows]
    person = rng.normal(0, 1, n)
    rho = 0.55
    latent = mu[rows] + rng.normal(0, 1, n)
    data = {ITEM: (1 + (latent[:, None] > cuts[None, :]).sum(axis=1)).astype(float)}
    other_level = {"종합만족도": rng.uniform(-0.1, 0.4), "체육시설만족도": rng.uniform(-0.2, 0.4),
                   "민원응대만족도": rng.uniform(-0.3, 0.3)}
    for item, lv in other_level.items():
        m_item = lv + np.array([age_eff[bd] * rng.uniform(0.3, 1.2) for bd in BANDS])[
            np.searchsorted(np.array(BANDS), band)] + 0.35 * (latent - mu[rows])
        lat = m_item + rho * person + math.sqrt(1 - rho**2) * rng.normal(0, 1, n)
        data[item] = (1 + (lat[:, None] > cuts[None, :]).sum(axis=1)).astype(float)
    for item, (lo, hi) in {"체육시설만족도": (0.12, 0.3), "민원응대만족도": (0.4, 0.6)}.items():
        data[item][rng.random(n) < rng.uniform(lo, hi)] = np.nan

    days = pd.date_range("2026-04-06", "2026-04-24", freq="D").strftime("%Y-%m-%d")
    order = rng.permutation(n)
    survey = pd.DataFrame({"응답자ID": "", "조사일": days[rng.integers(0, len(days), n)], "행정동": dong,
                           "성별": sex, "연령대": band, **data}).iloc[order].reset_index(drop=True)
    survey["응답자ID"] = [f"S{i + 1:04d}" for i in range(n)]
    for item in ("종합만족도", ITEM):
        survey[item] = survey[item].astype(np.int64)
    for item in ("체육시설만족도", "민원응대만족도"):
        survey[item] = survey[item].astype("Int64")
    survey = survey[COLUMNS]

    N = float(margins["인구수"].sum())
    share = float((margins["인구수"] * p_sat).sum() / N)
    truth = {
        "params": {"respondents": n, "adults": int(N), "contacted": int(contacted.sum()),
                   "empty_cells": int((answered == 0).sum()),
                   "cuts": [round(float(c), 4) for c in cuts], "level": round(float(level), 4),
                   "dong_effect": {k: round(float(v), 4) for k, v in dong_eff.items()},
                   "age_effect": {k: round(float(v), 4) for k, v in age_eff.items()},
                   "sex_effect": {k: round(float(v), 4) for k, v in sex_eff.items()},
                   "response_log_rate": {"행정동": {k: round(float(v), 3) for k, v in r_dong.items()},
                                         "연령대": {k: round(float(v), 3) for k, v in r_age.items()},
                                         "성별": {k: round(float(v), 3) for k, v in r_sex.items()}},
                   "population_dissatisfied": round(float((margins["인구수"] * p_bad).sum()), 1)},
        "effects": [{"name": "18세 이상 시민 전체의 공영주차장 만족 비율 (4·5점)", "value": share,
                     "question": "q5", "interval": "ci"}],
    }
    return {"survey.csv": survey, "survey_margins.csv": margins}, truth
