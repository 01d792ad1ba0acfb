"""CBR rates: XML_daily.asp and XML_dynamic.asp parsing on real published answers
(golden/README.md), refusal of unusable documents, quarantine of bad Valutes and Records,
and the requests on the wire."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import GOLDEN, FakeClock, Received, Reply, ScriptedServer

from extract.cbr_rates import (
    DAILY_PATH,
    DYNAMIC_PATH,
    Currency,
    dynamic_rows,
    extract_cbr_rates,
    parse_document,
    parse_dynamic,
    publication_rows,
    range_currencies,
)
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy, SourceResponseError
from extract.landing import RawLanding

GOLDEN_DAY = date(2025, 4, 1)
DECLARATION = '<?xml version="1.0" encoding="windows-1251"?>'


def golden_document() -> bytes:
    return (GOLDEN / "cbr_rates_xml_daily_2025-04-01.xml").read_bytes()


def document(valutes: str, *, day: str = "01.04.2025", encoding: str = "windows-1251") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<ValCurs Date="{day}" name="Foreign Currency Market">{valutes}</ValCurs>'
    )
    return text.encode(encoding)


def valute(
    code: str = "USD",
    *,
    cbr_id: str = "R01235",
    num_code: str = "840",
    nominal: str = "1",
    value: str = "85,4963",
    name: str = "Доллар США",
) -> str:
    return (
        f'<Valute ID="{cbr_id}"><NumCode>{num_code}</NumCode><CharCode>{code}</CharCode>'
        f"<Nominal>{nominal}</Nominal><Name>{name}</Name><Value>{value}</Value></Valute>"
    )


class Quarantine:
    def __init__(self) -> None:
        self.records: list[tuple[str | None, str, str]] = []

    def __call__(self, record_id: str | None, reason: str, payload: str) -> None:
        self.records.append((record_id, reason, payload))


def rows_of(body: bytes, requested: date = GOLDEN_DAY, **options) -> list[dict]:
    quarantine = Quarantine()
    rows = publication_rows(parse_document(body, requested), requested, quarantine, **options)
    assert quarantine.records == []
    return rows


def test_golden_document_lands_every_currency_with_exact_values_and_nominals():
    rows = rows_of(golden_document(), requested=date(2025, 4, 1))
    assert len(rows) == 43
    by_code = {row["currency"]: row for row in rows}
    assert len(by_code) == 43
    assert by_code["USD"] == {
        "rate_date": GOLDEN_DAY,
        "requested_date": GOLDEN_DAY,
        "currency": "USD",
        "num_code": "840",
        "cbr_id": "R01235",
        "nominal": 1,
        "value": Decimal("85.4963"),
        "name": "Доллар США",  # decoded by the declared windows-1251, not guessed
        "_payload": (
            '<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode>'
            "<Nominal>1</Nominal><Name>Доллар США</Name><Value>85,4963</Value>"
            "<VunitRate>85,4963</VunitRate></Valute>"
        ),
    }
    # quoted per 100 and per 10,000 units: the value stays per nominal, as published
    assert (by_code["KZT"]["nominal"], by_code["KZT"]["value"]) == (100, Decimal("16.9831"))
    assert (by_code["JPY"]["nominal"], by_code["JPY"]["value"]) == (100, Decimal("57.1958"))
    assert (by_code["VND"]["nominal"], by_code["VND"]["value"]) == (10000, Decimal("34.4230"))
    assert by_code["AUD"]["num_code"] == "036"  # a code, leading zero kept
    assert by_code["XDR"]["name"] == "СДР (специальные права заимствования)"


def test_a_weekend_request_keeps_the_document_date_and_the_day_asked():
    (row,) = rows_of(document(valute(), day="29.03.2025"), requested=date(2025, 3, 31))
    assert (row["rate_date"], row["requested_date"]) == (date(2025, 3, 29), date(2025, 3, 31))


def test_the_xml_declaration_decides_the_encoding():
    (row,) = rows_of(document(valute(name="Евро", code="EUR"), encoding="utf-8"))
    assert row["name"] == "Евро"


def test_currencies_keep_only_those_char_codes():
    rows = rows_of(golden_document(), currencies=frozenset({"USD", "EUR", "KZT"}))
    assert sorted(row["currency"] for row in rows) == ["EUR", "KZT", "USD"]


def test_an_empty_document_has_no_rates_whatever_its_date():
    early = parse_document(document("", day="01.07.1992"), date(1990, 1, 1))
    assert (early.rate_date, early.valutes) == (date(1992, 7, 1), [])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"<html><body>Service Unavailable</body></html>", "<html>"),
        (b"", "not usable XML"),
        (document(valute())[:-30], "not usable XML"),  # cut off midway
        (DECLARATION.encode() + b"<Error>Error in parameters</Error>", "<Error>"),
        (document(valute(), day="2025-04-01"), "'2025-04-01' is not a real DD.MM.YYYY date"),
        (document(valute(), day="31.02.2025"), "'31.02.2025' is not a real DD.MM.YYYY date"),
        (document(valute(), day="02.04.2025"), "a later day"),
        (
            b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x "USD">]>'
            b'<ValCurs Date="01.04.2025"><Valute><CharCode>&x;</CharCode></Valute></ValCurs>',
            "DOCTYPE",
        ),
    ],
)
def test_an_unusable_document_is_a_source_error_naming_the_day(body: bytes, detail: str):
    with pytest.raises(SourceResponseError, match="for 2025-04-01") as error:
        parse_document(body, GOLDEN_DAY)
    assert detail in str(error.value)


def test_bad_valutes_are_quarantined_with_date_id_and_field_and_the_rest_land():
    body = document(
        valute("USD")
        + valute("EUR", cbr_id="R01239", value="92.4276")  # a point, not the comma
        + valute("KZT", cbr_id="R01335", nominal="0", value="16,9831")
        + valute("", cbr_id="R01820")  # no CharCode
        + valute("CNY", cbr_id="R01375", value="11,71361234")  # beyond decimal(18, 6)
        + valute("USD", cbr_id="R01235X", value="85,5000")  # a second USD
        + valute("GBP", cbr_id="R01035", value="110,6408")
    )
    quarantine = Quarantine()
    rows = publication_rows(parse_document(body, GOLDEN_DAY), GOLDEN_DAY, quarantine)

    assert [(row["currency"], row["value"]) for row in rows] == [
        ("USD", Decimal("85.4963")),
        ("GBP", Decimal("110.6408")),
    ]
    assert [record_id for record_id, _, _ in quarantine.records] == [
        "2025-04-01:R01239",
        "2025-04-01:R01335",
        "2025-04-01:R01820",
        "2025-04-01:R01375",
        "2025-04-01:R01235X",
    ]
    reasons = [reason for _, reason, _ in quarantine.records]
    for reason, cbr_id, field in zip(
        reasons,
        ["R01239", "R01335", "R01820", "R01375", "R01235X"],
        ["Value '92.4276'", "Nominal '0'", "CharCode is missing", "Value '11,71361234'", "USD"],
        strict=True,
    ):
        assert "2025-04-01" in reason
        assert cbr_id in reason
        assert field in reason
    assert "appears twice" in reasons[-1]
    assert "<Value>92.4276</Value>" in quarantine.records[0][2]  # the Valute as received


# --- the request on the wire, against a scripted server -----------------------------------


def client_for(server: ScriptedServer, clock: FakeClock) -> HttpClient:
    return HttpClient(
        "cbr_rates",
        base_url=server.url,
        token=None,
        pacer=Pacer(1000, 1.0, clock=clock.monotonic, sleep=clock.sleep),
        retry=RetryPolicy(max_attempts=3),
        sleep=clock.sleep,
    )


def test_each_day_is_asked_as_dd_mm_yyyy_without_credentials_and_a_repeat_lands_once(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    # the CBR dates no document Sunday or Monday: both are answered with Saturday's
    saturday = document(valute(), day="29.03.2025")
    tuesday = document(valute(value="86,0000"), day="01.04.2025")
    server.script(DAILY_PATH, [Reply(200, saturday), Reply(200, saturday), Reply(200, tuesday)])
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract_cbr_rates(
        SourceConnection(server.url, None),
        landing,
        date_from=date(2025, 3, 30),
        date_to=date(2025, 4, 1),
        client=client_for(server, clock),
    )

    assert [request.query for request in server.requests] == [
        {"date_req": ["30/03/2025"]},
        {"date_req": ["31/03/2025"]},
        {"date_req": ["01/04/2025"]},
    ]
    assert all("Authorization" not in request.headers for request in server.requests)
    assert counts == {"daily_rates": 2}
    rows = pq.read_table(landing.entity_dir("daily_rates")).to_pylist()
    assert [(r["rate_date"], r["requested_date"], r["value"]) for r in rows] == [
        (date(2025, 3, 29), date(2025, 3, 30), Decimal("85.4963")),
        (date(2025, 4, 1), date(2025, 4, 1), Decimal("86.0000")),
    ]


def test_an_unusable_answer_fails_the_run_naming_its_day(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    server.script(DAILY_PATH, [Reply(200, document(valute())), Reply(200, b"<html>busy</html>")])
    landing = RawLanding(tmp_path, "cbr_rates", "manual")
    with pytest.raises(SourceResponseError, match="for 2025-04-02"):
        extract_cbr_rates(
            SourceConnection(server.url, None),
            landing,
            date_from=date(2025, 4, 1),
            date_to=date(2025, 4, 2),
            client=client_for(server, clock),
        )


def test_a_reversed_range_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="after date_to"):
        extract_cbr_rates(
            SourceConnection("http://127.0.0.1:9", None),
            RawLanding(tmp_path, "cbr_rates", "manual"),
            date_from=date(2025, 4, 2),
            date_to=date(2025, 4, 1),
        )


# --- XML_dynamic.asp ----------------------------------------------------------------------

DEC_1, DEC_5 = date(2025, 12, 1), date(2025, 12, 5)
USD = Currency("R01235", "USD", "840", "Доллар США")
TRY = Currency("R01700J", "TRY", "949", "Турецких лир")


def golden_series() -> bytes:
    return (GOLDEN / "cbr_rates_xml_dynamic_usd_2025-12-01_2025-12-05.xml").read_bytes()


def series(records: str, *, cbr_id: str = "R01235") -> bytes:
    return (
        f'{DECLARATION}<ValCurs ID="{cbr_id}" DateRange1="01.12.2025" DateRange2="05.12.2025" '
        f'name="Foreign Currency Market Dynamic">{records}</ValCurs>'
    ).encode("windows-1251")


def record(day: str, *, value: str = "77,7027", nominal: str = "1", cbr_id: str = "R01235") -> str:
    return (
        f'<Record Date="{day}" Id="{cbr_id}"><Nominal>{nominal}</Nominal>'
        f"<Value>{value}</Value></Record>"
    )


def series_rows(
    body: bytes, currency: Currency = USD, first: date = DEC_1, last: date = DEC_5
) -> tuple[list[dict], Quarantine]:
    quarantine = Quarantine()
    records = parse_dynamic(body, currency.cbr_id, first, last)
    return dynamic_rows(records, currency, first, last, quarantine), quarantine


def test_golden_series_lands_each_record_under_its_own_date_named_by_the_daily_document():
    # The Record carries no CharCode, NumCode or Name: they come from the daily document.
    (usd,) = range_currencies([parse_document(golden_document(), GOLDEN_DAY)], frozenset({"USD"}))
    rows, quarantine = series_rows(golden_series(), usd)

    assert quarantine.records == []
    assert [(row["rate_date"], row["value"]) for row in rows] == [
        (date(2025, 12, 2), Decimal("77.7027")),  # Monday Dec 1 has no Record
        (date(2025, 12, 3), Decimal("77.4631")),
        (date(2025, 12, 4), Decimal("77.9556")),
        (date(2025, 12, 5), Decimal("76.9708")),
    ]
    assert rows[0] == {
        "rate_date": date(2025, 12, 2),
        "requested_date": date(2025, 12, 2),
        "currency": "USD",
        "num_code": "840",
        "cbr_id": "R01235",
        "nominal": 1,
        "value": Decimal("77.7027"),
        "name": "Доллар США",
        "_payload": (
            '<Record Date="02.12.2025" Id="R01235"><Nominal>1</Nominal>'
            "<Value>77,7027</Value><VunitRate>77,7027</VunitRate></Record>"
        ),
    }


def test_each_record_keeps_its_own_nominal_when_it_changes_within_the_range():
    body = series(
        record("30.12.2025", nominal="10", value="18,2377", cbr_id="R01700J")
        + record("13.01.2026", nominal="1", value="1,8455", cbr_id="R01700J"),
        cbr_id="R01700J",
    )
    rows, _ = series_rows(body, TRY, date(2025, 12, 30), date(2026, 1, 13))
    assert [(row["rate_date"], row["nominal"], row["value"]) for row in rows] == [
        (date(2025, 12, 30), 10, Decimal("18.2377")),
        (date(2026, 1, 13), 1, Decimal("1.8455")),
    ]


def test_an_empty_series_is_no_error():
    # as a client recorded the answer for Sunday-Monday Sep 2-3, 2018
    body = (
        b'<?xml version="1.0" encoding="windows-1251"?>\n<ValCurs ID="R01235" '
        b'DateRange1="02.09.2018" DateRange2="03.09.2018" '
        b'name="Foreign Currency Market Dynamic">\n</ValCurs>\n'
    )
    rows, quarantine = series_rows(body, USD, date(2018, 9, 2), date(2018, 9, 3))
    assert (rows, quarantine.records) == ([], [])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"<html><body>Service Unavailable</body></html>", "<html>"),
        (series(record("02.12.2025"))[:-30], "not usable XML"),
        (series(record("02.12.2025", cbr_id="R01239"), cbr_id="R01239"), "ValCurs ID 'R01239'"),
        (golden_series().replace(b' ID="R01235"', b""), "ValCurs ID None"),
        (
            b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x "1">]>'
            b'<ValCurs ID="R01235"><Record Date="02.12.2025" Id="R01235">'
            b"<Nominal>&x;</Nominal></Record></ValCurs>",
            "DOCTYPE",
        ),
    ],
)
def test_an_unusable_series_is_a_source_error_naming_the_request(body: bytes, detail: str):
    with pytest.raises(
        SourceResponseError, match=r"XML_dynamic\.asp for R01235 from 2025-12-01 to 2025-12-05"
    ) as error:
        parse_dynamic(body, "R01235", DEC_1, DEC_5)
    assert detail in str(error.value)


def test_bad_records_are_quarantined_with_date_id_and_field_and_the_rest_land():
    body = series(
        record("02.12.2025")
        + record("03.12.2025", value="77.4631")  # a point, not the comma
        + record("04.12.2025", nominal="0")
        + record("2025-12-05")
        + record("05.12.2025", cbr_id="R01239")  # another currency's Record
        + record("05.12.2025", value="76,9708")
        + record("05.12.2025", value="76,9999")  # the same day twice
    )
    rows, quarantine = series_rows(body)

    assert [(row["rate_date"], row["value"]) for row in rows] == [
        (date(2025, 12, 2), Decimal("77.7027")),
        (date(2025, 12, 5), Decimal("76.9708")),
    ]
    assert [record_id for record_id, _, _ in quarantine.records] == [
        "2025-12-03:R01235",
        "2025-12-04:R01235",
        "2025-12-05:R01235",  # unparsed, the Date as sent
        "2025-12-05:R01235",
        "2025-12-05:R01235",
    ]
    reasons = [reason for _, reason, _ in quarantine.records]
    for reason, day, field in zip(
        reasons,
        ["03.12.2025", "04.12.2025", "2025-12-05", "05.12.2025", "05.12.2025"],
        [
            "Value '77.4631'",
            "Nominal '0'",
            "Record Date '2025-12-05' is not a real DD.MM.YYYY date",
            "Record Id 'R01239'",
            "appears twice",
        ],
        strict=True,
    ):
        assert f"Record Date '{day}'" in reason
        assert "Valute ID 'R01235' (USD)" in reason
        assert field in reason
    assert "<Value>77.4631</Value>" in quarantine.records[0][2]  # the Record as received


def test_a_record_outside_the_range_asked_is_a_source_error():
    body = series(record("02.12.2025") + record("06.12.2025"))
    with pytest.raises(SourceResponseError, match=r"a Record of 2025-12-06, outside the range"):
        series_rows(body)


def test_range_currencies_are_both_ends_valutes_by_id_named_as_the_first_names_them():
    first = parse_document(
        document(
            valute("USD")
            + valute("EUR", cbr_id="R01239", num_code="978", name="Евро")
            + valute("", cbr_id="R01820")  # no CharCode: quarantined by the daily rows
            + valute("USD", cbr_id="R01235X")  # a second USD: likewise
        ),
        GOLDEN_DAY,
    )
    last = parse_document(
        document(
            valute("USD", name="renamed")
            + valute("AMD", cbr_id="R01060", num_code="051", nominal="100", name="Драмов")
            + valute("EUR", cbr_id="R01239", num_code="978", name="Евро"),
            day="10.04.2025",
        ),
        date(2025, 4, 10),
    )

    assert range_currencies([first, last]) == [
        USD,
        Currency("R01239", "EUR", "978", "Евро"),
        Currency("R01060", "AMD", "051", "Драмов"),
    ]
    assert range_currencies([first, last], frozenset({"AMD", "GBP"})) == [
        Currency("R01060", "AMD", "051", "Драмов")
    ]


def test_a_range_past_two_weeks_asks_one_series_per_currency_after_the_first_publication(
    tmp_path: Path, server: ScriptedServer, clock: FakeClock
):
    first, last = date(2025, 11, 30), date(2025, 12, 14)  # 15 days, Sunday to Sunday

    def daily_document(request: Received) -> Reply:
        # a Sunday is answered with Saturday's document
        before = document(
            valute(value="78,0000") + valute("EUR", cbr_id="R01239"), day="29.11.2025"
        )
        latest = document(valute(value="76,1000"), day="13.12.2025")
        return Reply(200, before if request.query["date_req"] == ["30/11/2025"] else latest)

    server.route(DAILY_PATH, daily_document)
    server.script(DYNAMIC_PATH, [Reply(200, golden_series())])
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract_cbr_rates(
        SourceConnection(server.url, None),
        landing,
        date_from=first,
        date_to=last,
        currencies=["usd"],
        client=client_for(server, clock),
    )

    assert [(request.path, request.query) for request in server.requests] == [
        (DAILY_PATH, {"date_req": ["30/11/2025"]}),
        (DAILY_PATH, {"date_req": ["14/12/2025"]}),
        (
            DYNAMIC_PATH,
            {"date_req1": ["30/11/2025"], "date_req2": ["14/12/2025"], "VAL_NM_RQ": ["R01235"]},
        ),
    ]
    assert counts == {"daily_rates": 5}
    rows = pq.read_table(landing.entity_dir("daily_rates")).to_pylist()
    assert [(r["rate_date"], r["requested_date"], r["currency"], r["value"]) for r in rows] == [
        (date(2025, 11, 29), first, "USD", Decimal("78.0000")),  # from the daily document
        (date(2025, 12, 2), date(2025, 12, 2), "USD", Decimal("77.7027")),
        (date(2025, 12, 3), date(2025, 12, 3), "USD", Decimal("77.4631")),
        (date(2025, 12, 4), date(2025, 12, 4), "USD", Decimal("77.9556")),
        (date(2025, 12, 5), date(2025, 12, 5), "USD", Decimal("76.9708")),
    ]
