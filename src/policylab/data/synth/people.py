"""Fake personal details (names, mobiles, plates, resident numbers) and the raw sample that carries them.

Only raw tables use these; ``policylab.data.publish`` removes or pseudonymizes them, and the raw
sample for the privacy lesson is the one published file that keeps fake ones, named as such.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from policylab.data.synth import truth
from policylab.data.synth.places import CITY, DONGS, FACILITIES, LOTS

# --- Fake personal details (raw tables only) ------------------------------------------------

SURNAMES = ("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 전 홍 고 문 양 손 배 백 허 유 남 "
            "심 노 하 곽 성 차 주 우 구 민 진 나 지 엄 채 원 천 방 공 현 남궁 제갈 선우 황보").split()
SURNAME_WEIGHTS = np.array([21.5, 14.7, 8.4, 4.7, 4.3, 2.4, 2.1, 2.1, 2.0, 1.7, 1.5, 1.5, 1.5, 1.5, 1.4,
                            1.4, 1.3, 1.3, 1.1, 1.1, 1.1, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.6,
                            0.6, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                            0.3, 0.3, 0.2, 0.2, 0.1, 0.06, 0.05, 0.05, 0.03])
GIVEN_SYLLABLES = list("민서준지윤현우하은도예수진영연성호재희정아유시주원나경태혜승동채")
PLATE_USE = list("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주")
ROADS = ("중앙로", "시청로", "한빛대로", "예술로", "맛길", "새내천로", "체육공원로", "솔뫼로",
         "가람로", "누리로", "다솜로", "별빛로", "은하수길", "미르길", "하늘숲길")


def fake_names(rng: np.random.Generator, n: int) -> np.ndarray:
    p = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
    sur = rng.choice(np.array(SURNAMES, dtype=object), size=n, p=p)
    syl = np.array(GIVEN_SYLLABLES, dtype=object)
    return sur + rng.choice(syl, n) + rng.choice(syl, n)


def fake_mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random 010 numbers (middle part starting with 0, a block not handed out to people)."""
    mid = rng.integers(0, 1000, n)
    end = rng.integers(0, 10000, n)
    return np.array([f"010-0{m:03d}-{e:04d}" for m, e in zip(mid, end)], dtype=object)


def fake_plates(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct plates, new ('123가4567') and old ('12가3456') formats."""
    plates: list[str] = []
    seen: set[str] = set()
    while len(plates) < n:
        m = (n - len(plates)) * 2
        long_ = rng.random(m) < 0.55
        head = np.where(long_, rng.integers(100, 700, m), rng.integers(10, 70, m))
        syl = rng.choice(np.array(PLATE_USE, dtype=object), m)
        tail = rng.integers(1000, 10000, m)
        for h, s, t in zip(head, syl, tail):
            plate = f"{h}{s}{t}"
            if plate not in seen:
                seen.add(plate)
                plates.append(plate)
                if len(plates) == n:
                    break
    return np.array(plates, dtype=object)


def fake_rrn(birth: dt.date, male: bool, serial: int) -> str:
    """A resident-registration-number look-alike whose check digit is deliberately wrong,
    so it can never be a real number issued before 2020."""
    century = 0 if birth.year < 2000 else 2
    gender = 1 + century + (0 if male else 1)
    body = f"{birth:%y%m%d}{gender}{serial % 100000:05d}"
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(body, weights)) % 11) % 10
    wrong = (check + 1 + serial % 9) % 10
    return f"{body[:6]}-{body[6:]}{wrong}"


# --- The raw sample with fake personal data (privacy lesson) ------------------------------------

RAW_SAMPLE_ROWS = 300
MEMO = ("{facility} 이용 문의.", "주차요금 감면 신청. 연락처 {phone}", "환불 요청, 계좌 확인 후 {phone_plain}로 회신",
        "차량 {plate} 정기권 갱신", "수강 대기 문의 ({email})", "본인확인 {rrn} 확인함", "특이사항 없음",
        "집 {landline}로 연락 요망", "{plate_spaced} 차량 미납 안내 완료")


def make_raw_sample(rng: np.random.Generator) -> pd.DataFrame:
    """가상 원본 샘플: a few hundred FAKE records with names, resident registration numbers,
    phones, e-mails, addresses and plates. ``df.attrs['planted']`` lists every identifier
    hidden in the free-text memo as (row, kind, value)."""
    n = RAW_SAMPLE_ROWS
    names = fake_names(rng, n)
    male = rng.random(n) < 0.5
    birth = [dt.date(1945, 1, 1) + dt.timedelta(days=int(x)) for x in rng.integers(0, 365 * 62, n)]
    rrn = [fake_rrn(b, m, int(s)) for b, m, s in zip(birth, male, rng.integers(0, 100000, n))]
    phones = fake_mobiles(rng, n)
    area = rng.choice(["042", "02", "031", "044"], n)
    landline = np.array([f"{a}-0{rng.integers(10, 100)}-{rng.integers(0, 10000):04d}" for a in area], dtype=object)
    landline[rng.random(n) < 0.4] = None
    plates = fake_plates(rng, n)
    local = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6)) for _ in range(n)]
    emails = [f"{u}{i:03d}@{rng.choice(['example.com', 'example.org', 'example.net'])}" for i, u in enumerate(local)]
    addresses = [f"{CITY} {rng.choice(ROADS)} {rng.integers(1, 300)}, {rng.integers(101, 112)}동 "
                 f"{rng.integers(1, 25)}{rng.integers(1, 5):02d}호 ({rng.choice(DONGS)})" for _ in range(n)]
    places = [x[1] for x in LOTS] + [f[0] for f in FACILITIES]
    facility = rng.choice(places, n)
    use_day = pd.Timestamp(truth.PERIOD_START) + pd.to_timedelta(rng.integers(0, 1200, n), unit="D")
    amount = rng.choice([0, 1200, 3500, 8000, 12300, 35000, 60000], n)
    memo_kind = rng.integers(0, len(MEMO), n)
    memos, planted = [], []
    kinds = {"phone": "휴대전화번호", "phone_plain": "휴대전화번호", "plate": "차량번호", "plate_spaced": "차량번호",
             "email": "이메일", "rrn": "주민등록번호", "landline": "유선전화번호"}
    for i, k in enumerate(memo_kind):
        plate_spaced = plates[i][:-4] + " " + plates[i][-4:]
        values = {"facility": facility[i], "phone": phones[i], "phone_plain": phones[i].replace("-", ""),
                  "plate": plates[i], "plate_spaced": plate_spaced, "email": emails[i], "rrn": rrn[i],
                  "landline": landline[i] or f"042-0{i % 90 + 10}-{i:04d}"}
        template = MEMO[k]
        memos.append(template.format(**values))
        for field, kind in kinds.items():
            if "{" + field + "}" in template:
                planted.append((i, kind, values[field]))
    out = pd.DataFrame({
        "구분": "가상(FAKE) 데이터 - 실존 인물 아님",
        "성명": names,
        "주민등록번호": rrn,
        "생년월일": [b.isoformat() for b in birth],
        "성별": np.where(male, "남", "여"),
        "휴대전화": phones,
        "집전화": landline,
        "이메일": emails,
        "주소": addresses,
        "차량번호": plates,
        "이용시설": facility,
        "이용일": use_day.strftime("%Y.%m.%d"),
        "결제금액": [f"{a:,}원" for a in amount],
        "메모": memos,
    })
    out.attrs["planted"] = planted
    return out


