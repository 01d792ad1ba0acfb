"""The CBR rates sandbox speaks XML_daily.asp as the CBR does, read with plain requests and
the standard XML parser; expected values come from the dataset."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import requests

from sandbox import Dataset, Fault, RunningServer, generate
from sandbox.cbr_rates import DAILY_PATH, plant_valute_field, start_cbr_rates


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
    response = daily(cbr, date_req="12/01/2026")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=windows-1251"
    assert response.content.startswith(b'<?xml version="1.0" encoding="windows-1251"?><ValCurs')
    assert "Доллар США".encode("cp1251") in response.content

    day, by_code = valutes(response)
    expected = published(dataset, "2026-01-12")
    assert day == "12.01.2026"
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
        ("01/01/2026", "2025-12-30"),  # Dec 31 and Jan 1-9 are holidays in the data
        ("10/01/2026", "2025-12-30"),  # the Saturday after them
        ("11/01/2026", "2025-12-30"),
        ("18/01/2026", "2026-01-16"),  # a Sunday: Friday's publication
        ("23/02/2026", "2026-02-20"),  # a holiday on a Monday
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
    assert requests.get(f"{cbr.url}/scripts/XML_dynamic.asp", timeout=5).status_code == 404
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
        rate_date=date(2026, 1, 12),
        char_code="USD",
        field="Value",
        text="78.25O0",
        before_request=2,
    )
    plant_valute_field(
        cbr, dataset, rate_date=date(2026, 1, 12), char_code="EUR", field="CharCode", text=None
    )
    assert valutes(daily(cbr, date_req="12/01/2026"))[1]["USD"]["Value"] != "78.25O0"
    by_code = valutes(daily(cbr, date_req="12/01/2026"))[1]
    assert by_code["USD"]["Value"] == "78.25O0"
    assert "VunitRate" not in by_code["USD"]  # no longer a number to divide
    assert "EUR" not in by_code and None in by_code  # the Valute lost its CharCode


def test_planting_on_a_day_without_that_rate_is_refused(cbr, dataset: Dataset):
    with pytest.raises(ValueError, match="no USD rate published on 2026-01-10"):
        plant_valute_field(
            cbr, dataset, rate_date=date(2026, 1, 10), char_code="USD", field="Value", text="x"
        )
