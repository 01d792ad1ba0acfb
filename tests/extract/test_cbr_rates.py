"""CBR daily rates: XML_daily.asp parsing on a real published document (golden/README.md),
refusal of unusable documents, quarantine of bad Valutes, and the request on the wire."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import GOLDEN, FakeClock, Reply, ScriptedServer

from extract.cbr_rates import (
    DAILY_PATH,
    extract_cbr_rates,
    parse_document,
    publication_rows,
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
    nominal: str = "1",
    value: str = "85,4963",
    name: str = "Доллар США",
) -> str:
    return (
        f'<Valute ID="{cbr_id}"><NumCode>840</NumCode><CharCode>{code}</CharCode>'
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
        (document(valute(), day="2025-04-01"), "not a DD.MM.YYYY date"),
        (document(valute(), day="31.02.2025"), "not a real date"),
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
    friday = document(valute(), day="28.03.2025")
    monday = document(valute(value="86,0000"), day="31.03.2025")
    server.script(DAILY_PATH, [Reply(200, friday), Reply(200, friday), Reply(200, monday)])
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract_cbr_rates(
        SourceConnection(server.url, None),
        landing,
        date_from=date(2025, 3, 29),
        date_to=date(2025, 3, 31),
        client=client_for(server, clock),
    )

    assert [request.query for request in server.requests] == [
        {"date_req": ["29/03/2025"]},
        {"date_req": ["30/03/2025"]},
        {"date_req": ["31/03/2025"]},
    ]
    assert all("Authorization" not in request.headers for request in server.requests)
    assert counts == {"daily_rates": 2}
    rows = pq.read_table(landing.entity_dir("daily_rates")).to_pylist()
    assert [(r["rate_date"], r["requested_date"], r["value"]) for r in rows] == [
        (date(2025, 3, 28), date(2025, 3, 29), Decimal("85.4963")),
        (date(2025, 3, 31), date(2025, 3, 31), Decimal("86.0000")),
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
