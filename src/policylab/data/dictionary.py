"""The data dictionary: every published table and column in Korean and English.

``publish`` writes ``datasets/README.md`` from this module, and a test checks that every
column of every published file is documented here. Planted effect sizes never appear here:
learners must estimate them. Policy *dates* are public facts and do appear.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    alias: str  # English alias (snake_case)
    ko: str
    en: str


@dataclass(frozen=True)
class TableDoc:
    title_ko: str
    title_en: str
    row_ko: str  # what one row is
    row_en: str
    about_ko: str
    about_en: str
    columns: tuple[Column, ...]


def _cols(*rows: tuple[str, str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*r) for r in rows)


LOT_ID = ("주차장관리번호", "lot_id", "주차장 관리번호 (전국 주차장 표준데이터 형식)", "Parking-lot number (national standard-data format)")

TABLES: dict[str, TableDoc] = {
    "parking_lots": TableDoc(
        "주차장 목록", "Parking lots",
        "주차장 1곳", "one public parking lot",
        "공단이 운영하는 공영주차장 20곳의 현황입니다. 전국 주차장 표준데이터의 열 이름과 형식을 따르며, "
        "요금은 데이터기준일자 현재의 요금입니다(과거 요금은 parking_tariffs.csv). "
        "`parking_lots_cp949.csv`는 같은 내용을 공공데이터포털처럼 CP949로 인코딩한 파일입니다 "
        "(`pd.read_csv(..., encoding=\"cp949\")`).",
        "The 20 public lots the corporation runs, in the shape of the national parking-lot standard data; "
        "fees are those in force on the reference date (history: parking_tariffs.csv). "
        "`parking_lots_cp949.csv` is the same table encoded in CP949, as a public data portal ships it.",
        _cols(LOT_ID,
              ("주차장명", "lot_name", "주차장 이름", "Lot name"),
              ("주차장구분", "ownership", "공영/민영 구분 (모두 공영)", "Public or private (all public)"),
              ("주차장유형", "lot_type", "노외(별도 부지) 또는 노상(도로 위)", "Off-street (노외) or on-street (노상)"),
              ("행정동", "dong", "주차장이 있는 행정동", "Administrative neighbourhood (행정동) of the lot"),
              ("소재지도로명주소", "address", "주차장(시설)의 도로명 주소", "Road address of the facility"),
              ("급지구분", "fee_zone", "요금 급지 (1급지가 가장 비쌈)", "Fee zone (1급지 dearest)"),
              ("주차구획수", "spaces", "주차면 수 (면)", "Number of parking spaces"),
              ("운영요일", "open_days", "운영 요일", "Days of operation"),
              ("평일운영시작시각", "open_from", "평일 운영 시작 시각 (HH:MM)", "Weekday opening time (HH:MM)"),
              ("평일운영종료시각", "open_until", "평일 운영 종료 시각 (HH:MM, 24:00은 종일)", "Weekday closing time (24:00 = all day)"),
              ("요금정보", "paid", "유료 또는 무료", "Paid (유료) or free (무료)"),
              ("주차기본시간", "base_minutes", "기본요금이 적용되는 시간 (분, 무료는 0)", "Minutes covered by the base fee (0 if free)"),
              ("주차기본요금", "base_fee", "기본요금 (원)", "Base fee (won)"),
              ("추가단위시간", "unit_minutes", "기본시간 이후 요금 단위 시간 (분)", "Billing unit after the base time (minutes)"),
              ("추가단위요금", "unit_fee", "추가 단위시간당 요금 (원)", "Fee per additional unit (won)"),
              ("1일주차권요금", "day_pass", "1일 주차권 요금 (원, 없으면 빈칸). 하루 요금의 상한", "Day-pass price (won; blank if none); caps a day's fee"),
              ("월정기권요금", "month_pass", "월 정기권 요금 (원, 없으면 빈칸)", "Monthly pass price (won; blank if none)"),
              ("결제방법", "payment", "결제 수단", "Payment methods"),
              ("관리기관명", "operator", "관리 기관", "Operating body"),
              ("위도", "lat", "위도 (WGS84)", "Latitude (WGS84)"),
              ("경도", "lon", "경도 (WGS84)", "Longitude (WGS84)"),
              ("데이터기준일자", "as_of", "데이터 기준일 (YYYY-MM-DD)", "Reference date (YYYY-MM-DD)")),
    ),
    "parking_tariffs": TableDoc(
        "주차요금 이력", "Parking tariff history",
        "주차장 1곳의 요금 적용 기간 1개", "one tariff period of one lot",
        "주차장별 요금이 언제 바뀌었는지 보여 줍니다. 2025-01-01부터 1·2급지 유료 주차장은 5분 단위 요금제로 바뀌었고, "
        "다솜 어린이공원 주차장(351-2-000013)은 2024-07-01부터 유료로 바뀌었습니다. 나머지 무료 주차장은 계속 무료입니다. "
        "기본시간 이후 요금 = 기본요금 + 올림((주차시간-기본시간)/추가단위시간) × 추가단위요금이며, "
        "10분 이내 출차(회차)는 무료, 하루 요금은 1일주차권요금을 넘지 않습니다.",
        "When each lot's fees changed. From 2025-01-01 the paid lots of fee zones 1 and 2 bill per 5 minutes; "
        "lot 351-2-000013 went from free to paid on 2024-07-01; the other free lots stayed free. "
        "Fee = base fee + ceil((minutes - base minutes) / unit minutes) x unit fee; exits within 10 minutes are free; "
        "a day's fee never exceeds the day pass.",
        _cols(LOT_ID,
              ("적용시작일", "valid_from", "이 요금의 적용 시작일", "First day this tariff applied"),
              ("적용종료일", "valid_to", "적용 종료일 (현재 요금이면 빈칸)", "Last day (blank if still in force)"),
              ("요금정보", "paid", "유료 또는 무료", "Paid or free"),
              ("주차기본시간", "base_minutes", "기본시간 (분)", "Base minutes"),
              ("주차기본요금", "base_fee", "기본요금 (원)", "Base fee (won)"),
              ("추가단위시간", "unit_minutes", "추가 단위시간 (분)", "Billing unit (minutes)"),
              ("추가단위요금", "unit_fee", "추가 단위요금 (원)", "Fee per unit (won)"),
              ("1일주차권요금", "day_pass", "1일 주차권 요금 (원)", "Day-pass price (won)"),
              ("월정기권요금", "month_pass", "월 정기권 요금 (원)", "Monthly pass price (won)")),
    ),
    "parking_sessions": TableDoc(
        "주차 입출차 기록", "Parking sessions",
        "주차 1건 (차량 1대의 입차부터 출차까지)", "one parking session (one vehicle, entry to exit)",
        "2023-01-01부터 2026-06-30까지 모든 공영주차장의 입출차 기록입니다. 차량번호는 키가 있는 가명(HMAC-SHA256)인 "
        "차량ID로 바꾸었습니다. 노상주차장은 월~토 09:00~21:00에만 운영하며 일요일과 공휴일에는 기록이 없습니다. "
        "드문 감면구분은 재식별을 막기 위해 '기타감면'으로 묶었고, 그래도 같은 조합의 차량이 5대 미만인 "
        "기록 몇 건은 공개본에서 뺐습니다. 부과요금은 그날의 요금표(parking_tariffs.csv)로 계산한 요금에서 감면율"
        "(경차·저공해·다자녀·국가유공자 50%, 장애인 80%, 65세이상 20%)만큼 빼고 10원 미만을 버린 금액입니다.",
        "Every session at every public lot from 2023-01-01 to 2026-06-30. Plates are replaced by a keyed "
        "(HMAC-SHA256) pseudonym. On-street lots run Monday-Saturday 09:00-21:00, so they have no records on "
        "Sundays and public holidays. Rare discount classes are grouped as '기타감면' against re-identification, "
        "and the few records whose combination still covers fewer than 5 vehicles are left out. The fee is the "
        "day's tariff (parking_tariffs.csv) less the discount (50% compact, low-emission, large-family and veteran; "
        "80% disabled; 20% aged 65+), rounded down to 10 won.",
        _cols(LOT_ID,
              ("입차일시", "entry_at", "입차 일시 (YYYY-MM-DD HH:MM)", "Entry time"),
              ("출차일시", "exit_at", "출차 일시 (YYYY-MM-DD HH:MM)", "Exit time"),
              ("주차시간", "minutes", "주차 시간 (분)", "Length of stay (minutes)"),
              ("차량ID", "vehicle_id", "차량 가명 ID (같은 차량은 모든 기록에서 같은 값)", "Vehicle pseudonym (the same car has the same id throughout)"),
              ("요금구분", "fee_class", "관내(시내 등록 차량), 관외, 사업자", "Vehicle class: local (관내), non-local (관외), business (사업자)"),
              ("감면구분", "discount", "요금 감면 유형: 일반(감면 없음), 경차, 저공해, 장애인, 65세이상, 다자녀, 기타감면",
               "Discount class: none (일반), compact car, low-emission, disabled, 65+, large family, other"),
              ("부과요금", "fee", "감면 후 부과된 요금 (원)", "Fee charged after discounts (won)"),
              ("미납여부", "unpaid", "요금을 내지 않고 출차했으면 1", "1 if the car left without paying")),
    ),
    "sms_trial": TableDoc(
        "미납 안내문자 실험", "SMS reminder trial",
        "미납 사건 1건 (실험 대상 차량 1대)", "one unpaid-fee case (one vehicle in the trial)",
        "2025년 9~11월 주차요금 미납 사건을 무작위로 세 집단(미발송, 일반문자, 간편문자)에 같은 수씩 배정하고 "
        "30일 안에 냈는지 추적했습니다. 간편문자는 납부 링크와 금액만 담은 짧은 문자입니다. "
        "사건번호는 가명 사건ID로 바꾸었고 차량번호와 전화번호는 공개하지 않습니다.",
        "Unpaid parking fees from September-November 2025, randomized in equal thirds to no message (미발송), "
        "a plain SMS (일반문자) or a simplified SMS with just the amount and a payment link (간편문자), and followed "
        "for payment. Case numbers are pseudonymized; plates and phone numbers are not published.",
        _cols(("사건ID", "case_id", "미납 사건 가명 ID", "Case pseudonym"),
              ("발송일", "sent_on", "배정·발송 기준일 (YYYY-MM-DD)", "Assignment / send date"),
              ("배정군", "arm", "무작위 배정 집단: 미발송, 일반문자, 간편문자", "Randomized arm: none, plain SMS, simplified SMS"),
              LOT_ID,
              ("요금구분", "fee_class", "관내, 관외, 사업자", "Vehicle class"),
              ("미납금액", "amount", "미납 금액 (원)", "Amount owed (won)"),
              ("과거미납횟수", "prior_unpaid", "지난 1년간 미납 횟수", "Unpaid cases in the previous year"),
              ("납부소요일", "days_to_pay", "발송일부터 납부까지 걸린 일수 (180일 안에 안 냈으면 빈칸)", "Days from sending to payment (blank if unpaid after 180 days)"),
              ("30일내납부", "paid_30d", "30일 안에 냈으면 1", "1 if paid within 30 days")),
    ),
    "sports_enrolments": TableDoc(
        "체육시설 수강 신청", "Sports-programme enrolments",
        "회원 1명이 한 달에 한 프로그램에 낸 신청 1건 (등록 또는 대기)", "one member's application to one programme for one month (enrolled or waitlisted)",
        "체육시설 3곳의 월별 강습 신청 기록입니다. 감면 대상 프로그램(수영강습, 아쿠아로빅, 헬스, 요가, 탁구, 배드민턴)은 "
        "만 65세 이상(경로), 장애인, 국가유공자에게 수강료 50%를 감면합니다. 필라테스와 골프는 감면이 없습니다. "
        "2023-07-01에 수영장 강습 반 편성을 개편했습니다. 성명·생년월일·전화번호는 공개하지 않고, "
        "생년월일은 수강월 말일 기준 만 나이로 바꾸었으며 85세 이상은 85로 표기합니다.",
        "Monthly programme applications at three sports centres. Discounted programmes (swimming, aqua aerobics, gym, "
        "yoga, table tennis, badminton) cost half for people aged 65 or over (경로), disabled people and veterans; "
        "pilates and golf have no discount. Pool classes were restructured on 2023-07-01. Names, birth dates and "
        "phones are not published; birth dates became age in completed years at the end of the month, top-coded at 85.",
        _cols(("회원ID", "member_id", "회원 가명 ID", "Member pseudonym"),
              ("나이", "age", "수강월 말일 기준 만 나이 (85 = 85세 이상)", "Age in completed years at the month's end (85 = 85+)"),
              ("성별", "sex", "남 또는 여", "Sex (남 male, 여 female)"),
              ("시설명", "facility", "체육시설 이름", "Sports centre"),
              ("프로그램", "programme", "강습 프로그램", "Programme"),
              ("수강월", "month", "수강 월 (YYYY-MM)", "Month (YYYY-MM)"),
              ("감면구분", "discount", "일반, 경로(65세 이상), 장애인, 국가유공자", "Discount: none, senior (65+), disabled, veteran"),
              ("수강료", "fee", "낸 수강료 (원, 대기는 0)", "Fee paid (won; 0 if waitlisted)"),
              ("출석일수", "days_attended", "그 달 출석 일수 (대기는 0)", "Days attended that month (0 if waitlisted)"),
              ("대기여부", "waitlisted", "정원이 차서 대기자로 남았으면 1", "1 if waitlisted (class full)")),
    ),
    "complaints": TableDoc(
        "고객의소리", "Civil complaints (고객의소리)",
        "민원 1건", "one complaint",
        "고객의소리로 접수된 민원입니다. 작성자는 성만 남기고 가렸으며(이**), 같은 행정동에 드문 성은 *** 로 가렸습니다. "
        "내용 속 전화번호·차량번호·이메일·주민등록번호는 [휴대전화번호]처럼 바꾸었습니다. 답변일이 빈칸이면 "
        "데이터기준일(2026-06-30)까지 답변하지 않은 민원입니다.",
        "Complaints received through the corporation's 고객의소리 channel. Writers are masked to the surname (이**), "
        "and rare surnames within a 행정동 to ***. Phone numbers, plates, e-mails and registration numbers in the text "
        "are replaced by tags such as [휴대전화번호]. A blank answer date means still open on 2026-06-30.",
        _cols(("민원ID", "complaint_id", "민원 가명 ID", "Complaint pseudonym"),
              ("접수일", "received_on", "접수일 (YYYY-MM-DD)", "Date received"),
              ("답변일", "answered_on", "답변일 (YYYY-MM-DD, 미답변은 빈칸)", "Date answered (blank if open)"),
              ("유형", "category", "민원 유형: 주차질서(불법·장기 주차), 주차요금, 주차시설, 체육강습, 체육시설, 직원응대, 기타",
               "Category: parking order (illegal/long parking), parking fees, parking facilities, sports classes, sports facilities, staff, other"),
              ("시설명", "facility", "관련 시설", "Facility concerned"),
              ("담당부서", "department", "처리 부서", "Department in charge"),
              ("행정동", "dong", "민원 발생 행정동", "행정동 where the issue arose"),
              ("작성자", "writer", "가린 작성자 이름 (성만 공개)", "Masked writer (surname only)"),
              ("내용", "text", "민원 요지 (개인정보를 지운 짧은 글)", "Summary text, scrubbed of personal details")),
    ),
    "energy_monthly": TableDoc(
        "시설 에너지 사용량", "Monthly facility energy use",
        "시설 1곳의 한 달", "one facility-month",
        "공단 시설 30곳의 월별 전력 사용량과 요금입니다. LED 조명 교체는 시설마다 다른 시기에 했고(일부는 아직 안 함), "
        "교체한 다음 달부터 LED적용이 1입니다. `energy_monthly.xlsx`는 같은 자료를 2단 병합 머리글로 만든 엑셀 보고서 형식입니다: "
        "1행은 묶음(시설 정보, 연월, 전력, 기상, LED 조명 교체), 2행은 세부 항목이고, 연월은 '2024.03', 교체일은 '2024.03.15', "
        "전기요금은 '1,234,560원' 같은 글자, LED적용은 Y/N입니다 (`pd.read_excel(..., header=[0, 1])`). "
        "연월 머리글은 두 행에 걸쳐 병합되어 있고, pandas는 '2023.10' 같은 글자를 숫자 2023.1로 바꿔 읽으므로 "
        "연월은 `dtype=str`로 읽어야 합니다.",
        "Monthly electricity use and cost of 30 facilities. LED retrofits were done at different times (some not yet); "
        "LED적용 is 1 from the month after the retrofit. `energy_monthly.xlsx` holds the same data as an Excel report "
        "with a two-row merged header (row 1 groups, row 2 items); there the month is text like '2024.03', the retrofit "
        "date '2024.03.15', the cost '1,234,560원', and LED적용 Y/N. The month header spans both rows, and pandas turns "
        "text like '2023.10' into the number 2023.1 unless the column is read with `dtype=str`.",
        _cols(("시설코드", "facility_id", "시설 코드", "Facility code"),
              ("시설명", "facility", "시설 이름", "Facility name"),
              ("시설유형", "facility_type", "체육센터, 주차빌딩, 도서관, 문화시설, 청사, 복지관", "Facility type"),
              ("행정동", "dong", "시설이 있는 행정동", "행정동 of the facility"),
              ("연면적", "floor_area", "연면적 (㎡)", "Gross floor area (m²)"),
              ("연월", "month", "연월 (YYYY-MM)", "Month (YYYY-MM)"),
              ("전력사용량", "kwh", "월 전력 사용량 (kWh)", "Electricity used (kWh)"),
              ("전기요금", "cost", "월 전기요금 (원)", "Electricity cost (won)"),
              ("난방도일", "hdd", "난방도일 (기준 18℃, 그 달 합계)", "Heating degree days (base 18 °C, monthly sum)"),
              ("냉방도일", "cdd", "냉방도일 (기준 24℃, 그 달 합계)", "Cooling degree days (base 24 °C, monthly sum)"),
              ("LED교체일", "led_date", "LED 조명 교체 완료일 (안 했으면 빈칸)", "LED retrofit completion date (blank if none)"),
              ("LED적용", "led", "그 달에 LED 조명을 썼으면 1 (교체 다음 달부터)", "1 if LED lighting was in service that month")),
    ),
    "survey": TableDoc(
        "시민만족도 조사", "Citizen satisfaction survey",
        "응답자 1명", "one respondent",
        "2025년 10월 시민만족도 조사 응답입니다. 행정동·성별·연령대별 할당 표본이며 65세 이상을 인구 비율보다 많이 뽑았으므로, "
        "시민 전체의 만족도를 추정하려면 survey_margins.csv의 인구 분포로 가중치를 만들어야 합니다. "
        "만족도는 1(매우 불만족)~5(매우 만족) 척도이고, 4 또는 5를 '만족'으로 봅니다. 나이는 연령대로 바꾸어 공개합니다.",
        "Responses to the October 2025 citizen satisfaction survey: a quota sample by 행정동, sex and age band that "
        "over-represents residents aged 65+, so estimates for all citizens need weights from survey_margins.csv. "
        "Ratings run from 1 (very dissatisfied) to 5 (very satisfied); 4 or 5 counts as satisfied. Ages are published as bands.",
        _cols(("응답자ID", "respondent_id", "응답자 일련번호 (개인과 연결되지 않음)", "Respondent serial (not linked to any person)"),
              ("조사일", "surveyed_on", "조사일 (YYYY-MM-DD)", "Interview date"),
              ("행정동", "dong", "거주 행정동", "행정동 of residence"),
              ("성별", "sex", "남 또는 여", "Sex"),
              ("연령대", "age_band", "18-29, 30-39, 40-49, 50-64, 65+", "Age band"),
              ("종합만족도", "overall", "공단 서비스 종합 만족도 (1~5)", "Overall satisfaction (1-5)"),
              ("주차장만족도", "parking", "공영주차장 만족도 (1~5)", "Satisfaction with public parking (1-5)"),
              ("체육시설만족도", "sports", "체육시설 만족도 (1~5)", "Satisfaction with sports facilities (1-5)"),
              ("민원응대만족도", "complaints", "민원 응대 만족도 (1~5)", "Satisfaction with complaint handling (1-5)")),
    ),
    "survey_margins": TableDoc(
        "조사 모집단 인구", "Survey population margins",
        "행정동 × 성별 × 연령대 1칸", "one 행정동 × sex × age-band cell",
        "2025년 9월 말 주민등록 기준 만 18세 이상 인구입니다. 설문 가중치(사후층화, 레이킹)의 기준이 됩니다. "
        "공개 집계표이므로 5명 미만 칸은 가립니다(이 표에는 해당 칸이 없습니다).",
        "Residents aged 18+ on the resident register at the end of September 2025: the targets for survey weights "
        "(post-stratification, raking). As a published aggregate, cells under 5 would be suppressed (none are).",
        _cols(("행정동", "dong", "행정동", "행정동"),
              ("성별", "sex", "남 또는 여", "Sex"),
              ("연령대", "age_band", "18-29, 30-39, 40-49, 50-64, 65+", "Age band"),
              ("인구수", "population", "인구 (명)", "Residents (persons)")),
    ),
    "raw_sample": TableDoc(
        "가상 원본 샘플 (가짜 개인정보)", "Raw sample with FAKE personal data",
        "가상의 시설 이용자 1명의 이용 기록 1건", "one use of a facility by one fictitious person",
        "**모든 값이 무작위로 만든 가짜입니다. 실존 인물의 정보가 아닙니다.** 개인정보 보호 수업(m04)에서 직접 식별자를 "
        "찾고 가명처리·일반화를 연습하기 위한 유일한 '원본 모양' 파일입니다. 주민등록번호는 검증번호를 일부러 틀리게 만들었고, "
        "이메일은 예시용 도메인(example.com/.org/.net)만 씁니다. 메모 열에는 식별자가 섞여 있습니다. "
        "이용일과 결제금액은 '2024.03.01', '12,300원'처럼 정리가 필요한 형식입니다.",
        "**Every value is randomly generated; no real person is described.** The only raw-looking file, for the privacy "
        "lesson (m04): find the direct identifiers, pseudonymize and generalize. Registration numbers have deliberately "
        "wrong check digits; e-mails use the reserved example domains. The memo column hides identifiers in free text. "
        "Dates and amounts need cleaning ('2024.03.01', '12,300원').",
        _cols(("구분", "marker", "가상 데이터 표시", "Marks the row as fake"),
              ("성명", "name", "가짜 이름", "Fake name"),
              ("주민등록번호", "rrn", "가짜 주민등록번호", "Fake resident registration number"),
              ("생년월일", "birth_date", "생년월일 (YYYY-MM-DD)", "Birth date"),
              ("성별", "sex", "남 또는 여", "Sex"),
              ("휴대전화", "mobile", "가짜 휴대전화 번호", "Fake mobile number"),
              ("집전화", "landline", "가짜 유선전화 번호 (없으면 빈칸)", "Fake landline (blank if none)"),
              ("이메일", "email", "가짜 이메일 주소", "Fake e-mail address"),
              ("주소", "address", "가짜 상세주소 (도로명, 동·호수, 괄호 안 행정동)", "Fake full address (road, flat, 행정동 in brackets)"),
              ("차량번호", "plate", "가짜 차량번호", "Fake vehicle plate"),
              ("이용시설", "facility", "이용한 시설", "Facility used"),
              ("이용일", "used_on", "이용일 (YYYY.MM.DD 글자)", "Date of use (text YYYY.MM.DD)"),
              ("결제금액", "amount", "결제 금액 ('12,300원' 형식의 글자)", "Amount paid (text such as '12,300원')"),
              ("메모", "memo", "직원 메모 (식별자가 섞인 자유 입력)", "Staff memo (free text containing identifiers)")),
    ),
}
