"""m04's draw: one learner's own raw sample with FAKE personal data (raw_sample_FAKE_PII.csv, the shared schema).

Varies per learner: the fake people (people.py's generators: names, mobiles, plates, resident-number
look-alikes whose check digit is wrong, example.com e-mails), how many visit how often (one person may
have several rows, so k counts people, not rows), which few 행정동 they live in, their ages, and the
ways staff wrote identifiers in the memo: mobiles with hyphens, dots, spaces, none or the +82 form,
old and new plates with or without spaces, two numbers in one memo, the person's own name in the
sentence. The plate column itself is written with or without a space, as at a counter.

Every value is fake and the file keeps the shared sample's FAKE marking (the 구분 column and the
file name); ``df.attrs['planted']`` lists each identifier hidden in the memo. The draw is rejected
unless every banked mistake (a lesson-only regex, counting rows for numbers, masking the first
occurrence, rows for people, the wrong quasi-identifiers …) changes an answer.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

import numpy as np
import pandas as pd

from policylab.data.synth.people import ROADS, fake_mobiles, fake_names, fake_plates, fake_rrn
from policylab.data.synth.places import CITY, DONGS, FACILITIES, LOTS

FILE = "raw_sample_FAKE_PII.csv"
FAKE_MARK = "가상(FAKE) 데이터 - 실존 인물 아님"
COLUMNS = ["구분", "성명", "주민등록번호", "생년월일", "성별", "휴대전화", "집전화", "이메일", "주소", "차량번호",
           "이용시설", "이용일", "결제금액", "메모"]
PLATE_SYLLABLES = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주아바사자배하허호육해공국합"
KEY = b"m04-exercise-DEMO-key--FAKE-data-only--never-use-on-real-records"  # the exercise's published demo key

# The exercise's identifiers (the reference's and the draw's check): look-arounds, never \b (Hangul is \w).
_SEP = r"[-.\s]?"
PATTERNS = {
    "주민등록번호": re.compile(r"(?<!\d)\d{6}-?[1-8]\d{6}(?!\d)"),
    "휴대전화번호": re.compile(r"(?<![\d+])(?:\+82" + _SEP + r"1[016789]|01[016789])" + _SEP + r"\d{3,4}" + _SEP
                         + r"\d{4}(?!\d)"),
    "유선전화번호": re.compile(r"(?<!\d)0(?:2|[3-6][1-5])" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}(?!\d)"),
    "차량번호": re.compile(r"(?<!\d)\d{2,3}\s?[" + PLATE_SYLLABLES + r"]\s?\d{4}(?!\d)"),
    "이메일": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
}
# The lesson's patterns (notebooks/m04_privacy.ipynb): a learner who copies them misses the new mobile forms.
LESSON_MOBILE = re.compile(r"(?<!\d)01[016789]-?\d{3,4}-?\d{4}(?!\d)")
BOUNDARY_MOBILE = re.compile(r"\b(?:\+82" + _SEP + r"1[016789]|01[016789])" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}\b")
WIDTHS = (5, 10, 20)  # the age-band widths the exercise's Q7 chooses from

# How a memo writes a mobile '010-0123-4567': the lesson's two forms, and the ones it never showed.
OLD_FORMS = ("{a}-{b}-{c}", "{a}{b}{c}")
NEW_FORMS = ("{a} {b} {c}", "{a}.{b}.{c}", "+82-{a1}-{b}-{c}", "+82 {a1} {b} {c}", "+82{a1}{b}{c}", "+82-{a1}.{b}.{c}")

MEMOS = (
    "{facility} 이용 문의.",
    "특이사항 없음",
    "주차요금 감면 신청. 연락처 {mobile}",
    "환불 요청, 계좌 확인 후 {mobile}로 회신",
    "{name}님 요청: {mobile} 또는 보호자 {mobile2}로 연락",
    "{name} 고객 전화 부재({mobile}), {name} 고객께 문자 발송",
    "차량 {plate} 정기권 갱신",
    "{plate_spaced} 차량 미납 안내 완료",
    "차량 {plate}, {plate2} 두 대 등록 요청",
    "수강 대기 문의 ({email})",
    "본인확인 {rrn} 확인함",
    "집 {landline}로 연락 요망",
    "{name} 고객 본인 방문, 자택 {dongho}로 우편 발송",
    "접수번호 {receipt} 처리 완료, 회신 {mobile}",
)
MEMO_WEIGHTS = np.array([6, 6, 6, 6, 3, 3, 5, 4, 2, 4, 4, 4, 3, 3], dtype=float)


def make(rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], dict]:
    """A raw sample where every question's answer tells the right method from each banked mistake."""
    for _ in range(200):
        table, truth = _draw(rng)
        if _separates(table):
            return {FILE: table}, truth
    raise RuntimeError("no m04 draw separates the misconceptions in 200 tries")


# --- What the exercise computes (the reference uses the same definitions) -----------------------------

def mask_memo(raw: pd.DataFrame, patterns=None, *, count: int = 0, names: bool = True) -> list[str]:
    """The memo with the row's own name and every identifier replaced by its tag, in the exercise's order."""
    out = []
    for memo, name in zip(raw["메모"], raw["성명"]):
        text = memo.replace(name, "[성명]") if names else memo
        for kind, pattern in (patterns or PATTERNS).items():
            text = pattern.sub(f"[{kind}]", text, count=count)
        out.append(text)
    return out


def vehicle_pseudonym(plate: str) -> str:
    return "V" + hmac.new(KEY, re.sub(r"\s", "", plate).encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def ages(raw: pd.DataFrame) -> pd.Series:
    used = pd.to_datetime(raw["이용일"], format="%Y.%m.%d")
    birth = pd.to_datetime(raw["생년월일"], format="%Y-%m-%d")
    return (used.dt.strftime("%Y%m%d").astype("int64") - birth.dt.strftime("%Y%m%d").astype("int64")) // 10000


def release_of(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "차량ID": raw["차량번호"].map(vehicle_pseudonym),
        "성별": raw["성별"],
        "연령대": (ages(raw) // 10 * 10).astype("str") + "대",
        "행정동": raw["주소"].str.extract(r"\(([^)]+)\)")[0],
        "이용시설": raw["이용시설"],
        "결제금액": raw["결제금액"].str.replace(r"[^0-9]", "", regex=True).astype("int64"),
    })


def people_per_class(release: pd.DataFrame, quasi: list[str], *, people: bool = True) -> pd.Series:
    """Per row: how many people (distinct 차량ID) — or rows — share its quasi-identifier values."""
    group = release.groupby(quasi)["차량ID"]
    return group.transform("nunique") if people else group.transform("size")


def band_choice(release: pd.DataFrame, age: pd.Series, quasi_extra: list[str], *, people: bool = True,
                k: int = 5) -> tuple[int | None, list[int]]:
    """The narrowest width in WIDTHS whose bands with ``quasi_extra`` reach k people, and the sizes of its
    classes (people, smallest first); (None, []) when no width does."""
    for width in WIDTHS:
        table = release.assign(연령대=(age // width * width).astype("str"))
        group = table.groupby(["연령대", *quasi_extra])["차량ID"]
        sizes = sorted(int(x) for x in (group.nunique() if people else group.size()))
        if sizes[0] >= k:
            return width, sizes
    return None, []


def people_table(release: pd.DataFrame) -> pd.DataFrame:
    return release.groupby(["행정동", "연령대"])["차량ID"].nunique().unstack(fill_value=0)


# --- The draw ------------------------------------------------------------------------------------

def _mobile_in(form: str, mobile: str) -> str:
    a, b, c = mobile.split("-")
    return form.format(a=a, a1=a[1:], b=b, c=c)


def _draw(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    n = int(rng.integers(150, 231))
    names = fake_names(rng, n)
    while len(set(names)) < n:  # one name, one person: the memo names its own row's person
        dup = pd.Series(names).duplicated().to_numpy()
        names[dup] = fake_names(rng, int(dup.sum()))
    male = rng.random(n) < rng.uniform(0.4, 0.6)
    first = rng.integers(0, 1000, n)  # each person's visits fall within a few months of the first
    age0 = 20 + np.floor(rng.beta(rng.uniform(0.9, 2.5), rng.uniform(0.9, 2.5), n) * 60).astype(int)
    start = pd.Timestamp("2023-01-01")
    days = [(start + pd.Timedelta(days=int(f))).date() for f in first]
    born = [dt.date(d.year - int(a), d.month, min(d.day, 28)) - dt.timedelta(days=int(back))  # age a on the first visit
            for d, a, back in zip(days, age0, rng.integers(0, 365, n))]
    rrn = [fake_rrn(b, m, int(s)) for b, m, s in zip(born, male, rng.integers(0, 100000, n))]
    mobiles = fake_mobiles(rng, n)
    area = rng.choice(["042", "02", "031", "044"], n)
    landline = np.array([f"{a}-0{rng.integers(10, 100)}-{rng.integers(0, 10000):04d}" for a in area], dtype=object)
    landline[rng.random(n) < 0.4] = None
    plates = fake_plates(rng, 2 * n)
    plates, second = plates[:n], plates[n:]
    local = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6)) for _ in range(n)]
    emails = [f"{u}{i:03d}@{rng.choice(['example.com', 'example.org', 'example.net'])}" for i, u in enumerate(local)]
    dongs = [str(d) for d in rng.choice(DONGS, size=int(rng.integers(4, 7)), replace=False)]
    home = rng.choice(dongs, n, p=rng.dirichlet(np.full(len(dongs), 2.0)))
    addresses = [f"{CITY} {rng.choice(ROADS)} {rng.integers(1, 300)}, {rng.integers(101, 112)}동 "
                 f"{rng.integers(1, 25)}{rng.integers(1, 5):02d}호 ({d})" for d in home]
    visits = rng.choice([1, 2, 3, 4], n, p=[0.5, 0.3, 0.14, 0.06])
    person = np.repeat(np.arange(n), visits)
    rows = len(person)
    places = [x[1] for x in LOTS] + [f[0] for f in FACILITIES]
    facility = rng.choice(places, rows)
    use_day = start + pd.to_timedelta(first[person] + rng.integers(0, 200, rows), unit="D")
    amount = rng.choice([0, 1200, 3500, 8000, 12300, 35000, 60000], rows)
    spaced_column = rng.random(rows) < rng.uniform(0.15, 0.35)  # the plate column as typed at the counter
    plate_col = [f"{plates[p][:-4]} {plates[p][-4:]}" if s else plates[p] for p, s in zip(person, spaced_column)]
    forms = OLD_FORMS + tuple(rng.choice(NEW_FORMS, size=int(rng.integers(2, 5)), replace=False))
    form_p = np.array([3, 2] + [1.5] * (len(forms) - 2))
    memo_kind = rng.choice(len(MEMOS), rows, p=MEMO_WEIGHTS / MEMO_WEIGHTS.sum())
    memos, planted = [], []
    for i, p in enumerate(person):
        template = MEMOS[memo_kind[i]]
        pick = lambda: forms[rng.choice(len(forms), p=form_p / form_p.sum())]  # noqa: E731
        other = mobiles[rng.integers(0, n)]
        values = {"facility": facility[i], "name": names[p], "mobile": _mobile_in(pick(), mobiles[p]),
                  "mobile2": _mobile_in(pick(), other), "plate": plates[p],
                  "plate_spaced": rng.choice([f"{plates[p][:-4]} {plates[p][-4:]}",
                                              f"{plates[p][:-5]} {plates[p][-5]} {plates[p][-4:]}"]),
                  "plate2": second[p], "email": emails[p], "rrn": rrn[p],
                  "landline": landline[p] or f"042-0{p % 90 + 10}-{p % 10000:04d}",
                  "dongho": f"{rng.integers(101, 112)}동 {rng.integers(1, 25)}{rng.integers(1, 5):02d}호",
                  "receipt": f"{use_day[i].year}-{rng.integers(1, 1000000):06d}"}
        memos.append(template.format(**values))
        for field, kind in (("mobile", "휴대전화번호"), ("mobile2", "휴대전화번호"), ("plate", "차량번호"),
                            ("plate_spaced", "차량번호"), ("plate2", "차량번호"), ("email", "이메일"),
                            ("rrn", "주민등록번호"), ("landline", "유선전화번호")):
            planted += [(i, kind, values[field])] * template.count("{" + field + "}")
    out = pd.DataFrame({
        "구분": FAKE_MARK,
        "성명": names[person],
        "주민등록번호": np.array(rrn, dtype=object)[person],
        "생년월일": [born[p].isoformat() for p in person],
        "성별": np.where(male[person], "남", "여"),
        "휴대전화": mobiles[person],
        "집전화": landline[person],
        "이메일": np.array(emails, dtype=object)[person],
        "주소": np.array(addresses, dtype=object)[person],
        "차량번호": plate_col,
        "이용시설": facility,
        "이용일": use_day.strftime("%Y.%m.%d"),
        "결제금액": [f"{a:,}원" for a in amount],
        "메모": memos,
    }, columns=COLUMNS)
    order = rng.permutation(rows)  # visits of one person are not next to each other
    out = out.iloc[order].reset_index(drop=True)
    out.attrs["planted"] = [(int(np.flatnonzero(order == i)[0]), kind, value) for i, kind, value in planted]
    truth = {"params": {"people": n, "rows": rows, "dongs": dongs, "mobile_forms": [str(f) for f in forms],
                        "spaced_plate_rows": int(spaced_column.sum()), "ages": [int(age0.min()), int(age0.max())]},
             "effects": []}
    return out, truth


# --- Rejection: each banked mistake must change an answer on this draw ---------------------------

SHARED = {"rows": 300, "q7": None}  # the lesson's shared sample: its row count and Q7's answer on it


def _count(memos: pd.Series, pattern) -> int:
    return int(memos.str.count(pattern).sum())


def _separates(raw: pd.DataFrame) -> bool:
    memos = raw["메모"]
    if len(raw) == SHARED["rows"]:
        return False
    release, age = release_of(raw), ages(raw)  # Q7 first: the check most draws fail
    q7 = band_choice(release, age, ["성별"])
    if q7[0] is None or q7[0] == SHARED["q7"]:
        return False
    planted = raw.attrs["planted"]
    for kind in ("휴대전화번호", "차량번호"):  # the exercise's patterns find exactly what was planted
        found = sorted((i, m.group(0)) for i, text in memos.items() for m in PATTERNS[kind].finditer(text))
        if found != sorted((i, v) for i, k, v in planted if k == kind):
            return False
    mobile = _count(memos, PATTERNS["휴대전화번호"])
    q1 = {mobile, _count(memos, LESSON_MOBILE), _count(memos, BOUNDARY_MOBILE),
          int(memos.str.contains(PATTERNS["휴대전화번호"]).sum())}
    plate = PATTERNS["차량번호"]
    q2 = {_count(memos, plate), _count(memos, r"(?<!\d)\d{2,3}[" + PLATE_SYLLABLES + r"]\d{4}(?!\d)"),
          _count(memos, r"(?<!\d)\d{2,3}\s?[가-힣]\s?\d{4}(?!\d)"),
          _count(memos, r"(?<!\d)\d{2}\s?[" + PLATE_SYLLABLES + r"]\s?\d{4}(?!\d)"),
          int(memos.str.contains(plate).sum())}
    if len(q1) < 4 or len(q2) < 5:
        return False
    right = mask_memo(raw)
    if (mask_memo(raw, count=1) == right or mask_memo(raw, names=False) == right
            or mask_memo(raw, {**PATTERNS, "휴대전화번호": LESSON_MOBILE}) == right):
        return False
    if raw["차량번호"].str.contains(" ").sum() == 0:
        return False
    by_year = pd.to_datetime(raw["이용일"], format="%Y.%m.%d").dt.year - pd.to_datetime(raw["생년월일"]).dt.year
    if ((by_year // 10) == (age // 10)).all():
        return False
    quasi = ["연령대", "성별", "행정동"]
    people, rows = people_per_class(release, quasi), people_per_class(release, quasi, people=False)
    answers6 = {(int(people.min()), int((people < 5).sum())),
                (int(rows.min()), int((rows < 5).sum())),
                (int(people_per_class(release, ["연령대", "성별"]).min()),
                 int((people_per_class(release, ["연령대", "성별"]) < 5).sum())),
                (int(people_per_class(release, [*quasi, "이용시설"]).min()),
                 int((people_per_class(release, [*quasi, "이용시설"]) < 5).sum()))}
    if len(answers6) < 4 or not 0 < (people < 5).sum() < len(raw):
        return False
    table = people_table(release)
    visits = release.groupby(["행정동", "연령대"]).size().unstack(fill_value=0)
    kept = table.mask((table > 0) & (table < 5))
    return (((table > 0) & (table < 5)).any().any() and (table == 5).any().any() and (table == 0).any().any()
            and not kept.equals(visits.mask((visits > 0) & (visits < 5))))
