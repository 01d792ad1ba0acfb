"""The CBR rates sandbox speaks XML_daily.asp and XML_dynamic.asp as the CBR does, read with
plain requests and the standard XML parser; expected values come from the dataset."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import requests

from sandbox import Dataset, Fault, RunningServer, generate
from sandbox.cbr_rates import DAILY_PATH, DYNAMIC_PATH, plant_valute_field, start_cbr_rates


@pytest.fixture
def dataset() -> Dataset:
    return generate(seed=7, n_leads=120)  # its own: planting changes the rows


@pytest.fixture
def cbr(dataset: Dataset) -> Iterator[RunningServer]:
    with start_cbr_rates(dataset) as server:
        yield server


def daily(server: RunningServer, **params: str) -> requests.Response:
    return requests.get(f"{server.url}{DAILY_PATH}", params=params, timeout=5)


def published(dataset: Dataset, day: str) -> dict[str, dict]:
    return {row["CharCode"]: row for row in dataset.currency_rates if row["Date"] == day}


def valutes(response: requests.Response) -> tuple[str, dict[str, dict[str, str]]]:
    root = ET.fromstring(response.content)
    assert root.tag == "ValCurs"
    assert root.get("name") == "Foreign Currency Market"
    by_code = {
        v.findtext("CharCode"): {child.tag: child.text for child in v} | {"ID": v.get("ID")}
        for v in root.findall("Valute")
    }
    return root.get("Date"), by_code


def test_a_publication_day_in_windows_1251_with_comma_decimals(cbr, dataset: Dataset):
    response = daily(cbr, date_req="13/01/2026")  # set on Monday 12, the first working day
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=windows-1251"
    assert response.content.startswith(b'<?xml version="1.0" encoding="windows-1251"?><ValCurs')
    assert "Доллар США".encode("cp1251") in response.content

    day, by_code = valutes(response)
    expected = published(dataset, "2026-01-13")
    assert day == "13.01.2026"
    assert set(by_code) == set(expected) == {"USD", "EUR", "CNY", "KZT", "JPY"}
    for code, row in expected.items():
        wire = by_code[code]
        assert wire["ID"] == row["ID"]
        assert wire["NumCode"] == row["NumCode"]
        assert wire["Nominal"] == str(row["Nominal"])
        assert wire["Name"] == row["Name"]
        assert wire["Value"] == f"{row['Value']:.4f}".replace(".", ",")
        unit_rate = Decimal(wire["VunitRate"].replace(",", "."))
        assert unit_rate == row["Value"] / row["Nominal"]
    assert by_code["KZT"]["Nominal"] == "100"


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        # Dec 31 and Jan 1-9 are holidays in the data: the rate set on Tuesday Dec 30
        # takes effect on Dec 31 and holds until the one set on Monday Jan 12 (dated 13)
        ("01/01/2026", "2025-12-31"),
        ("10/01/2026", "2025-12-31"),  # the Saturday after the holidays
        ("12/01/2026", "2025-12-31"),  # a working Monday: its rate is dated the next day
        ("18/01/2026", "2026-01-17"),  # a Sunday: Saturday's publication, set on Friday
        ("19/01/2026", "2026-01-17"),  # a Monday likewise
        ("23/02/2026", "2026-02-21"),  # a holiday on a Monday
        ("24/02/2026", "2026-02-21"),  # the day after it: nothing was set on the holiday
    ],
)
def test_a_day_without_publication_gets_the_last_one_before_it(
    cbr, dataset: Dataset, asked: str, answered: str
):
    day, by_code = valutes(daily(cbr, date_req=asked))
    assert day == date.fromisoformat(answered).strftime("%d.%m.%Y")
    expected = published(dataset, answered)
    assert expected  # the day is a publication of the dataset
    assert {code: wire["Value"] for code, wire in by_code.items()} == {
        code: f"{row['Value']:.4f}".replace(".", ",") for code, row in expected.items()
    }


def test_no_date_and_a_malformed_date_get_the_latest_publication(cbr, dataset: Dataset):
    latest = max(row["Date"] for row in dataset.currency_rates)
    expected = "{2}.{1}.{0}".format(*latest.split("-"))
    assert valutes(daily(cbr))[0] == expected
    assert valutes(daily(cbr, date_req="2026-01-12"))[0] == expected
    assert valutes(daily(cbr, date_req="31/02/2026"))[0] == expected


def test_a_day_before_the_first_publication_gets_an_empty_document(cbr, dataset: Dataset):
    first = min(row["Date"] for row in dataset.currency_rates)
    response = daily(cbr, date_req="01/01/2020")
    day, by_code = valutes(response)
    assert (day, by_code) == ("{2}.{1}.{0}".format(*first.split("-")), {})
    assert response.content.endswith(b"></ValCurs>")


def test_injected_faults_and_unknown_paths(cbr):
    cbr.inject(DAILY_PATH, [500, Fault.TRUNCATE])
    failed = daily(cbr, date_req="12/01/2026")
    assert failed.status_code == 500
    assert failed.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        daily(cbr, date_req="12/01/2026")
    assert daily(cbr, date_req="12/01/2026").status_code == 200
    assert requests.get(f"{cbr.url}/scripts/XML_valFull.asp", timeout=5).status_code == 404
    assert requests.post(f"{cbr.url}{DAILY_PATH}", timeout=5).status_code == 405


def test_a_timeout_fault_holds_the_answer_back(cbr):
    cbr.stall_seconds = 1.0
    cbr.schedule({1: Fault.TIMEOUT})
    with pytest.raises(requests.Timeout):
        requests.get(f"{cbr.url}{DAILY_PATH}", params={"date_req": "12/01/2026"}, timeout=0.3)


def test_a_planted_field_goes_out_verbatim_from_the_nth_request(cbr, dataset: Dataset):
    plant_valute_field(
        cbr,
        dataset,
        rate_date=date(2026, 1, 13),
        char_code="USD",
        field="Value",
        text="78.25O0",
        before_request=2,
    )
    plant_valute_field(
        cbr, dataset, rate_date=date(2026, 1, 13), char_code="EUR", field="CharCode", text=None
    )
    assert valutes(daily(cbr, date_req="13/01/2026"))[1]["USD"]["Value"] != "78.25O0"
    by_code = valutes(daily(cbr, date_req="13/01/2026"))[1]
    assert by_code["USD"]["Value"] == "78.25O0"
    assert "VunitRate" not in by_code["USD"]  # no longer a number to divide
    assert "EUR" not in by_code and None in by_code  # the Valute lost its CharCode


def test_planting_on_a_day_without_that_rate_is_refused(cbr, dataset: Dataset):
    with pytest.raises(ValueError, match="no USD rate published on 2026-01-12"):
        plant_valute_field(
            cbr, dataset, rate_date=date(2026, 1, 12), char_code="USD", field="Value", text="x"
        )


# --- XML_dynamic.asp ----------------------------------------------------------------------


def dynamic(server: RunningServer, first: str, last: str, cbr_id: str) -> requests.Response:
    params = {"date_req1": first, "date_req2": last, "VAL_NM_RQ": cbr_id}
    return requests.get(f"{server.url}{DYNAMIC_PATH}", params=params, timeout=5)


def series(response: requests.Response) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The ValCurs attributes, and each Record's attributes and elements."""
    root = ET.fromstring(response.content)
    assert root.tag == "ValCurs"
    records = [
        dict(record.attrib) | {child.tag: child.text for child in record}
        for record in root.findall("Record")
    ]
    assert len(records) == len(root)  # nothing but Records
    return dict(root.attrib), records


def test_a_series_has_a_record_per_publication_day_in_the_range_only(cbr, dataset: Dataset):
    response = dynamic(cbr, "27/12/2025", "13/01/2026", "R01335")  # KZT over the new year
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=windows-1251"
    assert response.content.startswith(b'<?xml version="1.0" encoding="windows-1251"?><ValCurs')

    attributes, records = series(response)
    assert list(attributes.items()) == [
        ("ID", "R01335"),
        ("DateRange1", "27.12.2025"),
        ("DateRange2", "13.01.2026"),
        ("name", "Foreign Currency Market Dynamic"),
    ]
    expected = sorted(
        (row for row in dataset.currency_rates if row["CharCode"] == "KZT"),
        key=lambda row: row["Date"],
    )
    expected = [row for row in expected if "2025-12-27" <= row["Date"] <= "2026-01-13"]
    assert [row["Date"] for row in expected] == [  # Saturday 27, no Monday, no holiday
        "2025-12-27",
        "2025-12-30",
        "2025-12-31",
        "2026-01-13",
    ]
    unit_rates = [Decimal(record.pop("VunitRate").replace(",", ".")) for record in records]
    assert records == [
        {
            "Date": date.fromisoformat(row["Date"]).strftime("%d.%m.%Y"),
            "Id": "R01335",
            "Nominal": "100",
            "Value": f"{row['Value']:.4f}".replace(".", ","),
        }
        for row in expected
    ]
    assert unit_rates == [row["Value"] / 100 for row in expected]


@pytest.mark.parametrize(
    ("first", "last", "cbr_id"),
    [
        ("01/01/2026", "12/01/2026", "R01235"),  # the new-year holidays and the Monday after
        ("01/01/2020", "31/12/2020", "R01235"),  # before the series
        ("12/01/2026", "13/01/2026", "R09999"),  # an ID the CBR does not quote
        ("13/01/2026", "12/01/2026", "R01235"),  # reversed
    ],
)
def test_a_series_without_publications_is_an_empty_valcurs(cbr, first: str, last: str, cbr_id: str):
    response = dynamic(cbr, first, last, cbr_id)
    assert response.status_code == 200
    attributes, records = series(response)
    assert records == []
    assert (attributes["ID"], attributes["DateRange1"], attributes["DateRange2"]) == (
        cbr_id,
        first.replace("/", "."),
        last.replace("/", "."),
    )
    assert response.content.endswith(b"></ValCurs>")


def test_malformed_dates_get_an_empty_series_with_that_range_end_blank(cbr):
    attributes, records = series(dynamic(cbr, "2026-01-12", "13/01/2026", "R01235"))
    assert (attributes["DateRange1"], attributes["DateRange2"], records) == ("", "13.01.2026", [])
    response = requests.get(f"{cbr.url}{DYNAMIC_PATH}", timeout=5)
    assert series(response) == ({**attributes, "ID": "", "DateRange2": ""}, [])


def test_series_faults_and_planted_fields(cbr, dataset: Dataset):
    cbr.inject(DYNAMIC_PATH, [500, Fault.TRUNCATE])
    plant_valute_field(
        cbr,
        dataset,
        rate_date=date(2026, 1, 14),
        char_code="USD",
        field="Nominal",
        text="10",
        before_request=3,
        path=DYNAMIC_PATH,
    )
    assert dynamic(cbr, "13/01/2026", "14/01/2026", "R01235").status_code == 500
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        dynamic(cbr, "13/01/2026", "14/01/2026", "R01235")
    _, records = series(dynamic(cbr, "13/01/2026", "14/01/2026", "R01235"))
    assert [(record["Date"], record["Nominal"]) for record in records] == [
        ("13.01.2026", "1"),
        ("14.01.2026", "10"),
    ]
    assert "VunitRate" not in records[1]  # a planted text is no number to divide
    assert daily(cbr, date_req="13/01/2026").status_code == 200  # XML_daily had no faults


def test_planting_on_a_path_the_sandbox_does_not_serve_is_refused(cbr, dataset: Dataset):
    with pytest.raises(ValueError, match=r"serves no /scripts/XML_val\.asp"):
        plant_valute_field(
            cbr,
            dataset,
            rate_date=date(2026, 1, 12),
            char_code="USD",
            field="Value",
            text="x",
            path="/scripts/XML_val.asp",
        )
