"""m06's draw: one learner's own citizen satisfaction survey (survey.csv, the shared schema).

Varies per learner: how many people answered (about 650–1,400), how strongly the quota over-samples
residents aged 65+, each item's satisfaction by age band, how many left an item blank (무응답: people
who never used the sports facilities or never filed a complaint leave those items empty), and the size
of the small subgroup the exercise asks about (새내동 residents aged 18-29).

Scores come from an ordered-probit model: item score = 1 + the number of cut-points a normal latent
(mean by age band, and for parking by 행정동) exceeds, so every population share and mean is known
exactly. The planted values (``truth["effects"]``) are the population quantities the exercise's
intervals estimate, for respondents who answer the item (blanks are independent of the score given
the age band), so the reference's intervals must cover them.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from policylab.data.synth.places import DONGS

BANDS = ("18-29", "30-39", "40-49", "50-64", "65+")
COLUMNS = ["응답자ID", "조사일", "행정동", "성별", "연령대", "종합만족도", "주차장만족도", "체육시설만족도",
           "민원응대만족도"]
ITEMS = ("종합만족도", "주차장만족도", "체육시설만족도", "민원응대만족도")
SMALL_DONG, SMALL_BAND = "새내동", "18-29"          # the exercise's small subgroup (Q3)
OLD, YOUNG = "65+", "18-29"                          # the exercise's two groups (Q4)
Z95 = 1.959963984540054


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _shares(mu: float, cuts) -> np.ndarray:
    """P(score = 1 … 5) for a latent N(mu, 1) cut at ``cuts``."""
    above = np.array([1.0] + [1 - _phi(c - mu) for c in cuts] + [0.0])
    return above[:-1] - above[1:]


def _satisfied(mu: float, cuts) -> float:
    return float(_shares(mu, cuts)[3:].sum())


def _net(mu: float, cuts) -> float:
    s = _shares(mu, cuts)
    return float(s[3:].sum() - s[:2].sum())


def _mean(mu: float, cuts) -> float:
    return float((_shares(mu, cuts) * np.arange(1, 6)).sum())


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    """A survey where every question's answer tells the right method from each banked mistake."""
    for _ in range(200):
        tables, truth = _draw(rng)
        if _separates(tables["survey.csv"]):
            return tables, truth
    raise RuntimeError("no m06 draw separates the misconceptions in 200 tries")


def _separates(s: pd.DataFrame) -> bool:
    s = s.astype({item: float for item in ITEMS})  # as a learner reads the CSV: blanks are NaN in float columns
    sports = s["체육시설만족도"]
    answered = sports.dropna()
    share = float((answered >= 4).mean())
    share_all = float((sports >= 4).mean())
    old = s.loc[s["연령대"] == OLD, "체육시설만족도"].dropna()
    young = s.loc[s["연령대"] == YOUNG, "체육시설만족도"].dropna()
    gap = float((old >= 4).mean() - (young >= 4).mean())
    se_old = math.sqrt((old >= 4).mean() * (1 - (old >= 4).mean()) / len(old))
    se_young = math.sqrt((young >= 4).mean() * (1 - (young >= 4).mean()) / len(young))
    group = s[(s["행정동"] == SMALL_DONG) & (s["연령대"] == SMALL_BAND)]
    parking = group["주차장만족도"]
    whole_dong = s.loc[s["행정동"] == SMALL_DONG, "주차장만족도"].dropna()
    complaints = s["민원응대만족도"]
    rate = len(answered) / len(s)
    raw = Z95**2 * share * (1 - share) / 0.03**2
    return (0.12 < share < 0.88 and abs(share - share_all) > 0.02
            and abs(share - float((answered > 4).mean())) > 0.02
            and abs(share - float((s["종합만족도"] >= 4).mean())) > 0.01
            and 8 <= parking.notna().sum() <= 24 and parking.isna().sum() >= 1
            and parking.dropna().nunique() >= 3 and parking.dropna().std() > 0.3
            and abs(parking.mean() - whole_dong.mean()) > 0.02
            and abs(parking.mean() - group["종합만족도"].mean()) > 0.02
            and abs(gap) > 0.03 and abs(se_old - se_young) > 0.003
            and abs(gap - float((s.loc[s["연령대"] == OLD, "체육시설만족도"] >= 4).mean()
                                - (s.loc[s["연령대"] == YOUNG, "체육시설만족도"] >= 4).mean())) > 0.01
            and math.ceil(raw / rate) - math.ceil(raw) > 20
            and complaints.isna().sum() > 50
            and abs(float((complaints.dropna() >= 4).mean() - (complaints.dropna() <= 2).mean())
                    - float((complaints >= 4).mean() - (complaints <= 2).mean())) > 0.02)


def _draw(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    n_target = int(rng.integers(650, 1400))
    oversample = float(rng.uniform(1.6, 2.6))
    # population shares of each 행정동 × 연령대 (resident register shape), 65+ over-sampled
    dong_w = rng.uniform(0.6, 1.4, len(DONGS))
    age_w = np.array([0.21, 0.18, 0.19, 0.25, 0.17]) * np.exp(rng.normal(0, 0.08, 5))
    cells = []
    for d, dong in enumerate(DONGS):
        for b, band in enumerate(BANDS):
            for sex, f in (("남", 0.49), ("여", 0.51)):
                w = dong_w[d] * age_w[b] * f * (oversample if band == OLD else 1.0)
                cells.append((dong, band, sex, w))
    total_w = sum(c[3] for c in cells)
    quota = {(dong, band, sex): max(3, int(round(n_target * w / total_w))) for dong, band, sex, w in cells}
    small = int(rng.integers(10, 25))  # the small subgroup: 새내동 18-29, both sexes
    quota[(SMALL_DONG, SMALL_BAND, "남")] = small // 2
    quota[(SMALL_DONG, SMALL_BAND, "여")] = small - small // 2
    keys = [k for k, q in quota.items() for _ in range(q)]
    n = len(keys)
    dong = np.array([k[0] for k in keys])
    band = np.array([k[1] for k in keys])
    sex = np.array([k[2] for k in keys])

    # latent means by item and age band; parking also by 행정동 (parking pressure differs)
    cuts = np.sort(np.array([-1.55, -0.7, 0.15, 1.15]) + rng.normal(0, 0.08, 4))
    trend = {item: rng.uniform(-0.08, 0.16) for item in ITEMS}        # per age band step
    level = {item: rng.uniform(-0.25, 0.35) for item in ITEMS}
    mu = {item: {bd: level[item] + trend[item] * (i - 2) + rng.normal(0, 0.06) for i, bd in enumerate(BANDS)}
          for item in ITEMS}
    mu["체육시설만족도"][OLD] += rng.choice([-1, 1]) * rng.uniform(0.1, 0.35)   # the 65+ vs 18-29 gap has either sign
    dong_shift = {dg: rng.normal(0, 0.2) for dg in DONGS}
    person = rng.normal(0, 1, n)
    rho = 0.6
    data = {}
    for item in ITEMS:
        m = np.array([mu[item][bd] for bd in band])
        if item == "주차장만족도":
            m = m + np.array([dong_shift[dg] for dg in dong])
        latent = m + rho * person + math.sqrt(1 - rho**2) * rng.normal(0, 1, n)
        data[item] = (1 + (latent[:, None] > cuts[None, :]).sum(axis=1)).astype(float)

    # 무응답 (blank): independent of the score given the age band
    blank = {"주차장만족도": {bd: rng.uniform(0.05, 0.14) for bd in BANDS},
             "체육시설만족도": {bd: rng.uniform(0.12, 0.3) + (0.15 if bd == OLD else 0.0) for bd in BANDS},
             "민원응대만족도": {bd: rng.uniform(0.4, 0.62) for bd in BANDS}}
    for item, by_band in blank.items():
        p = np.array([by_band[bd] for bd in band])
        data[item][rng.random(n) < p] = np.nan

    days = pd.date_range("2025-10-01", "2025-10-31", freq="D").strftime("%Y-%m-%d")
    order = rng.permutation(n)
    survey = pd.DataFrame({"응답자ID": "", "조사일": days[rng.integers(0, len(days), n)], "행정동": dong,
                           "성별": sex, "연령대": band, **data}).iloc[order].reset_index(drop=True)
    survey["응답자ID"] = [f"R{i + 1:04d}" for i in range(n)]
    survey["종합만족도"] = survey["종합만족도"].astype(np.int64)
    for item in ITEMS[1:]:
        survey[item] = survey[item].astype("Int64")
    survey = survey[COLUMNS]

    truth = _truth(survey, mu, dong_shift, cuts)
    truth["params"].update({"respondents": n, "oversample_65": round(oversample, 3), "small_group": small,
                            "cuts": [round(float(c), 4) for c in cuts], "blank_rates": blank})
    return {"survey.csv": survey}, truth


def _truth(survey: pd.DataFrame, mu: dict, dong_shift: dict, cuts) -> dict:
    """Population values of what each question's interval estimates, given who answered."""
    def answered_by_band(item):
        counts = survey.loc[survey[item].notna(), "연령대"].value_counts()
        return {bd: int(counts.get(bd, 0)) for bd in BANDS}

    sports = answered_by_band("체육시설만족도")
    sports_share = sum(sports[bd] * _satisfied(mu["체육시설만족도"][bd], cuts) for bd in BANDS) / sum(sports.values())
    gap = _satisfied(mu["체육시설만족도"][OLD], cuts) - _satisfied(mu["체육시설만족도"][YOUNG], cuts)
    young_mean = _mean(mu["주차장만족도"][SMALL_BAND] + dong_shift[SMALL_DONG], cuts)
    comp = answered_by_band("민원응대만족도")
    net = sum(comp[bd] * _net(mu["민원응대만족도"][bd], cuts) for bd in BANDS) / sum(comp.values())
    params = {"satisfied_by_band": {item: {bd: round(_satisfied(mu[item][bd], cuts), 4) for bd in BANDS}
                                    for item in ITEMS}}
    effects = [
        {"name": "체육시설 문항 응답자의 만족 비율 (응답자 연령 구성 기준)", "value": sports_share,
         "question": "q2", "interval": "ci90"},
        {"name": f"{SMALL_DONG} {SMALL_BAND} 주차장만족도 평균", "value": young_mean, "question": "q3",
         "interval": "ci"},
        {"name": "체육시설 만족 비율 차이 (65+ − 18-29)", "value": gap, "question": "q4", "interval": "ci"},
        {"name": "민원응대 순만족도 (응답자 연령 구성 기준)", "value": net, "question": "q6", "interval": "ci"},
    ]
    return {"params": params, "effects": effects}
