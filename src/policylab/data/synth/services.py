"""The corporation's other operations: the SMS reminder trial, sports enrolments (the age-65 discount),
civil complaints, monthly facility energy (the staggered LED retrofit) and the citizen survey.

Each maker takes its own random stream and plants only the effects ``policylab.data.synth.truth`` records.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from policylab.data.synth import truth
from policylab.data.synth.parking import LOT_DEMAND, VEHICLE_CLASSES
from policylab.data.synth.people import fake_mobiles, fake_names, fake_plates, fake_rrn
from policylab.data.synth.places import (
    DONGS,
    FACILITIES,
    HOLIDAYS,
    LOTS,
    SEASON,
    lot_id,
    month_starts,
)

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


