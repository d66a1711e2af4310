"""Each planted effect is recovered from the shipped data by the reference method the course
teaches (statsmodels), its 95% interval containing the value in policylab.data.synth.truth; and the
naive estimate the lessons warn about misses it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from policylab.data.synth import truth

POOL_PROGRAMMES = ["수영강습", "아쿠아로빅"]
DISCOUNTED = ["수영강습", "아쿠아로빅", "헬스", "요가", "탁구", "배드민턴"]


def contains(ci, value) -> bool:
    lo, hi = ci
    return lo <= value <= hi


@pytest.fixture(scope="module")
def datasets(repo):
    return repo / "datasets"


@pytest.fixture(scope="module")
def sessions(datasets) -> pd.DataFrame:
    s = pd.read_csv(datasets / "parking_sessions.csv.gz", usecols=["주차장관리번호", "입차일시", "주차시간"])
    s["날짜"] = s["입차일시"].str[:10]
    s["연월"] = s["입차일시"].str[:7]
    return s


@pytest.fixture(scope="module")
def sports(datasets) -> pd.DataFrame:
    return pd.read_csv(datasets / "sports_enrolments.csv.gz", usecols=["나이", "프로그램", "수강월", "대기여부"])


def segmented(monthly: pd.DataFrame, month_col: str, start: str) -> pd.DataFrame:
    """Add time, level-change and slope-change terms and the calendar month for an ITS."""
    m = monthly.sort_values(month_col).reset_index(drop=True)
    m["t"] = np.arange(len(m))
    m["post"] = (m[month_col] >= start).astype(int)
    m["t_post"] = (m["t"] - m.loc[m["post"] == 1, "t"].min()) * m["post"]
    m["moy"] = m[month_col].str[5:7]
    return m


# --- Parking: interrupted time series at the per-5-minute lots ----------------------------------

@pytest.fixture(scope="module")
def long_stay_monthly(sessions, datasets) -> pd.DataFrame:
    tariffs = pd.read_csv(datasets / "parking_tariffs.csv")
    reform = truth.PER5_PRICING_DATE.isoformat()
    affected = tariffs.loc[(tariffs["적용시작일"] == reform) & (tariffs["추가단위시간"] == 5), "주차장관리번호"]
    assert 5 <= affected.nunique() < 20
    at = sessions[sessions["주차장관리번호"].isin(affected)]
    share = (at["주차시간"] > truth.LONG_STAY_MINUTES).groupby(at["연월"]).mean().rename("share").reset_index()
    return segmented(share, "연월", reform[:7])


def test_its_recovers_the_drop_in_long_stays_after_per_5_minute_pricing(long_stay_monthly):
    fit = smf.ols("share ~ t + post + t_post + C(moy)", long_stay_monthly).fit(
        cov_type="HAC", cov_kwds={"maxlags": 3})
    assert contains(fit.conf_int().loc["post"], truth.LONG_STAY_SHARE_CHANGE), fit.conf_int().loc["post"]


def test_naive_before_after_understates_the_drop_in_long_stays(long_stay_monthly):
    fit = smf.ols("share ~ post", long_stay_monthly).fit(cov_type="HAC", cov_kwds={"maxlags": 3})
    lo, hi = fit.conf_int().loc["post"]
    assert lo > truth.LONG_STAY_SHARE_CHANGE, "the naive before/after should be biased toward zero"


# --- Parking: difference-in-differences at the lot that became paid -----------------------------

@pytest.fixture(scope="module")
def daily_entries(sessions) -> pd.DataFrame:
    lots = [truth.FREE_TO_PAID_LOT, *truth.FREE_TO_PAID_COMPARISON]
    days = pd.date_range(truth.PERIOD_START, truth.PERIOD_END).strftime("%Y-%m-%d")
    counts = sessions[sessions["주차장관리번호"].isin(lots)].groupby(["주차장관리번호", "날짜"]).size()
    grid = pd.MultiIndex.from_product([lots, days], names=["주차장관리번호", "날짜"])
    return counts.reindex(grid, fill_value=0).rename("n").unstack(0)  # one column per lot


def test_did_recovers_the_fall_in_entries_at_the_newly_paid_lot(daily_entries):
    # The treated-minus-comparison gap per day; the DiD is its change at the switch (HAC errors).
    gap = pd.DataFrame({
        "gap": daily_entries[truth.FREE_TO_PAID_LOT] - daily_entries[list(truth.FREE_TO_PAID_COMPARISON)].mean(axis=1),
        "post": (daily_entries.index >= truth.FREE_TO_PAID_DATE.isoformat()).astype(int)})
    fit = smf.ols("gap ~ post", gap).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    assert contains(fit.conf_int().loc["post"], truth.FREE_TO_PAID_DAILY_ENTRIES), fit.conf_int().loc["post"]


def test_did_two_way_fixed_effects_agrees(daily_entries):
    long = daily_entries.stack().rename("n").reset_index()
    long["treated_post"] = ((long["주차장관리번호"] == truth.FREE_TO_PAID_LOT)
                            & (long["날짜"] >= truth.FREE_TO_PAID_DATE.isoformat())).astype(int)
    # within-day demeaning is the date fixed effect; lot dummies are the lot fixed effect
    for col in ("n", "treated_post"):
        long[col + "_w"] = long[col] - long.groupby("날짜")[col].transform("mean")
    fit = smf.ols("n_w ~ treated_post_w + C(주차장관리번호)", long).fit()
    assert abs(fit.params["treated_post_w"] - truth.FREE_TO_PAID_DAILY_ENTRIES) < 1.0


def test_naive_before_after_at_the_newly_paid_lot_is_biased(daily_entries):
    treated = pd.DataFrame({"n": daily_entries[truth.FREE_TO_PAID_LOT],
                            "post": (daily_entries.index >= truth.FREE_TO_PAID_DATE.isoformat()).astype(int)})
    fit = smf.ols("n ~ post", treated).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    lo, hi = fit.conf_int().loc["post"]
    assert lo > truth.FREE_TO_PAID_DAILY_ENTRIES, "demand rose at every lot: before/after should understate the fall"


# --- SMS reminder trial ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def trial(datasets) -> pd.DataFrame:
    return pd.read_csv(datasets / "sms_trial.csv")


def test_sms_trial_recovers_each_arms_effect_and_the_baseline(trial):
    fit = smf.ols("Q('30일내납부') ~ C(배정군, Treatment('미발송'))", trial).fit(cov_type="HC2")
    ci = fit.conf_int()
    assert contains(ci.loc["Intercept"], truth.SMS_BASELINE_PAID_30D)
    for arm, effect in truth.SMS_EFFECT.items():
        term = f"C(배정군, Treatment('미발송'))[T.{arm}]"
        assert contains(ci.loc[term], effect), (arm, ci.loc[term].tolist())


def test_sms_trial_is_balanced_and_equally_allocated(trial):
    from scipy import stats

    sizes = trial["배정군"].value_counts()
    assert set(sizes.index) == set(truth.SMS_ARMS) and sizes.nunique() == 1
    assert stats.chi2_contingency(pd.crosstab(trial["배정군"], trial["요금구분"]))[1] > 0.01
    groups = [g["미납금액"].to_numpy() for _, g in trial.groupby("배정군")]
    assert stats.f_oneway(*groups).pvalue > 0.01
    assert (trial["30일내납부"] == (trial["납부소요일"].fillna(999) <= 30)).all()


# --- Sports: regression discontinuity at 65 and the pool waitlist ITS --------------------------------

def rd_counts(sports: pd.DataFrame, programmes: list[str], bandwidth: int = 10) -> pd.DataFrame:
    counts = sports[sports["프로그램"].isin(programmes)].groupby("나이").size().rename("n").reset_index()
    c = counts[(counts["나이"] >= truth.SENIOR_AGE - bandwidth) & (counts["나이"] < truth.SENIOR_AGE + bandwidth)].copy()
    c["x"] = c["나이"] - truth.SENIOR_AGE
    c["above"] = (c["x"] >= 0).astype(int)
    return c


def test_rd_recovers_the_jump_in_discounted_enrolments_at_65(sports):
    fit = smf.glm("n ~ x * above", rd_counts(sports, DISCOUNTED), family=sm.families.Poisson()).fit()
    jump_ci = np.exp(fit.conf_int().loc["above"]) - 1
    assert contains(jump_ci, truth.SENIOR_DISCOUNT_ENROLMENT_JUMP), jump_ci.tolist()


def test_rd_finds_no_jump_in_programmes_without_the_discount(sports):
    others = sorted(set(sports["프로그램"]) - set(DISCOUNTED))
    fit = smf.glm("n ~ x * above", rd_counts(sports, others), family=sm.families.Poisson()).fit()
    assert contains(fit.conf_int().loc["above"], 0.0)


def test_its_recovers_the_fall_in_the_pool_waitlist_after_the_restructure(sports):
    pool = sports[sports["프로그램"].isin(POOL_PROGRAMMES)]
    monthly = pool.groupby("수강월")["대기여부"].mean().rename("share").reset_index()
    m = segmented(monthly, "수강월", truth.POOL_RESTRUCTURE_DATE.isoformat()[:7])
    fit = smf.ols("share ~ t + post + t_post + C(moy)", m).fit(cov_type="HAC", cov_kwds={"maxlags": 3})
    assert contains(fit.conf_int().loc["post"], truth.POOL_WAITLIST_SHARE_CHANGE), fit.conf_int().loc["post"]


# --- Complaints: DiD in the newly paid lot's neighbourhood ---------------------------------------

def test_did_recovers_the_rise_in_parking_complaints_near_the_newly_paid_lot(datasets):
    voc = pd.read_csv(datasets / "complaints.csv", usecols=["접수일", "유형", "행정동"])
    voc["연월"] = voc["접수일"].str[:7]
    counts = voc[voc["유형"] == "주차질서"].groupby(["행정동", "연월"]).size()
    grid = pd.MultiIndex.from_product([sorted(voc["행정동"].unique()), sorted(voc["연월"].unique())],
                                      names=["행정동", "연월"])
    panel = counts.reindex(grid, fill_value=0).rename("n").reset_index()
    panel["treated_post"] = ((panel["행정동"] == truth.COMPLAINT_DONG)
                             & (panel["연월"] >= truth.FREE_TO_PAID_DATE.isoformat()[:7])).astype(int)
    fit = smf.ols("n ~ treated_post + C(행정동) + C(연월)", panel).fit(cov_type="HC1")
    ci = fit.conf_int().loc["treated_post"]
    assert contains(ci, truth.COMPLAINT_PARKING_MONTHLY_CHANGE), ci.tolist()


# --- Energy: staggered LED retrofits ---------------------------------------------------------

def test_twfe_recovers_the_led_saving(datasets):
    energy = pd.read_csv(datasets / "energy_monthly.csv")
    energy["log_kwh"] = np.log(energy["전력사용량"])
    types = sorted(energy["시설유형"].unique())
    weather = []
    for i, kind in enumerate(types[1:]):  # type-specific weather slopes (first type is the base)
        energy[f"hdd{i}"] = energy["난방도일"] * (energy["시설유형"] == kind)
        energy[f"cdd{i}"] = energy["냉방도일"] * (energy["시설유형"] == kind)
        weather += [f"hdd{i}", f"cdd{i}"]
    formula = "log_kwh ~ LED적용 + C(시설코드) + C(연월) + " + " + ".join(weather)
    fit = smf.ols(formula, energy).fit(cov_type="cluster", cov_kwds={"groups": energy["시설코드"]})
    saving_ci = np.exp(fit.conf_int().loc["LED적용"]) - 1
    assert contains(saving_ci, truth.LED_ELECTRICITY_CHANGE), saving_ci.tolist()
    assert energy.groupby("시설코드")["LED교체일"].first().isna().sum() >= 3, "need never-treated facilities"


# --- Survey: raking fixes the over-sampled 65+ -------------------------------------------------

def rake(sample: pd.DataFrame, margins: pd.DataFrame, columns: list[str], iterations: int = 100) -> np.ndarray:
    weights = np.ones(len(sample))
    for _ in range(iterations):
        for col in columns:
            target = margins.groupby(col)["인구수"].sum()
            current = pd.Series(weights).groupby(sample[col].to_numpy()).sum()
            weights = weights * sample[col].map(target / current).to_numpy()
    return weights


@pytest.fixture(scope="module")
def survey(datasets):
    sample = pd.read_csv(datasets / "survey.csv")
    sample["satisfied"] = (sample["종합만족도"] >= 4).astype(float)
    margins = pd.read_csv(datasets / "survey_margins.csv")
    return sample, margins, truth.survey_population_share(margins)


def test_raked_satisfaction_covers_the_population_share(survey):
    sample, margins, target = survey
    weights = rake(sample, margins, ["행정동", "성별", "연령대"])
    assert abs(weights.sum() - margins["인구수"].sum()) < 1
    fit = sm.WLS(sample["satisfied"], np.ones(len(sample)), weights=weights).fit(cov_type="HC1")
    assert contains(fit.conf_int().iloc[0], target), (fit.conf_int().iloc[0].tolist(), target)


def test_unweighted_satisfaction_is_biased_upward(survey):
    sample, margins, target = survey
    fit = sm.OLS(sample["satisfied"], np.ones(len(sample))).fit()
    lo, hi = fit.conf_int().iloc[0]
    assert lo > target, "over-sampling the satisfied 65+ should push the unweighted share above the truth"
    pop_65 = margins.loc[margins["연령대"] == "65+", "인구수"].sum() / margins["인구수"].sum()
    assert (sample["연령대"] == "65+").mean() > 1.5 * pop_65
