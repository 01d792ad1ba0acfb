"""Central Bank of Russia rates imitation: `/scripts/XML_daily.asp` and
`/scripts/XML_dynamic.asp`.

Serves `Dataset.currency_rates` as the CBR does (https://www.cbr.ru/development/sxml/),
in windows-1251 XML under `application/xml; charset=windows-1251`, `Value` with a decimal
comma and four places, `VunitRate` = Value / Nominal:
- XML_daily.asp: a document per publication. A day without a publication is answered
  with the last publication before it, under that publication's own `Date`; no
  `date_req` answers the latest publication (documented).
- XML_dynamic.asp: the series of one Valute ID (`VAL_NM_RQ`) from `date_req1` to
  `date_req2`, `<ValCurs ID DateRange1 DateRange2 name="Foreign Currency Market Dynamic">`
  with a `<Record Date Id>` (Nominal, Value, VunitRate) per publication day in the range
  only. A range without a publication, and an ID not quoted in it, get an empty
  `ValCurs` with the same attributes (a client's recorded answer; pycbrf's live tests).

Choices where the real service's answer is unverified:
- XML_daily for a day before the first publication: an empty `ValCurs` dated the first
  publication day (third-party client tests show an empty `ValCurs Date="01.07.1992"`,
  the first day of the CBR's series);
- a `date_req` that is not a DD/MM/YYYY date: answered as if it were absent;
- XML_dynamic with `date_req1` after `date_req2`: an empty series with those dates;
  with a date that is missing or not DD/MM/YYYY, or no `VAL_NM_RQ`: an empty `ValCurs`
  with that attribute empty (no quoted answer was found);
- the ID is matched as sent, case included;
- errors (injected faults, unknown paths): a short HTML page with the status.

Rows are read from the dataset at request time, so a test may change one just before
the n-th request (`plant_valute_field`) to make the service send a malformed Valute.
"""

import html
import xml.etree.ElementTree as ET
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from http import HTTPStatus

from sandbox.generator import Dataset, Json
from sandbox.server import Request, Response, RunningServer

DAILY_PATH = "/scripts/XML_daily.asp"
DYNAMIC_PATH = "/scripts/XML_dynamic.asp"
XML_CONTENT_TYPE = "application/xml; charset=windows-1251"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
ENCODING = "windows-1251"
XML_DECLARATION = f'<?xml version="1.0" encoding="{ENCODING}"?>'.encode()
MARKET_NAME = "Foreign Currency Market"
DYNAMIC_NAME = "Foreign Currency Market Dynamic"
VALUTE_FIELDS = ("NumCode", "CharCode", "Nominal", "Name", "Value")
RECORD_FIELDS = ("Nominal", "Value")
VALUE_PLACES = 4  # the CBR prints every Value with four decimals


def start_cbr_rates(dataset: Dataset, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `dataset.currency_rates` at `{url}/scripts/XML_daily.asp` and
    `{url}/scripts/XML_dynamic.asp`; port 0 picks a free port."""
    return RunningServer(CbrRatesApi(dataset), host, port)


def plant_valute_field(
    server: RunningServer,
    dataset: Dataset,
    *,
    rate_date: date,
    char_code: str,
    field: str,
    text: str | None,
    before_request: int = 1,
    path: str = DAILY_PATH,
) -> None:
    """Just before the `before_request`-th request from now to `path` (XML_daily.asp or
    XML_dynamic.asp), the rate of `char_code` published on `rate_date` gets `text` as its
    `field` element (sent verbatim), or loses the element when `text` is None. A Record
    carries only Nominal and Value of the fields."""
    if path not in (DAILY_PATH, DYNAMIC_PATH):
        raise ValueError(f"the sandbox serves no {path}")
    row = next(
        (
            row
            for row in dataset.currency_rates
            if row["Date"] == rate_date.isoformat() and row["CharCode"] == char_code
        ),
        None,
    )
    if row is None:
        raise ValueError(f"the dataset has no {char_code} rate published on {rate_date}")

    def plant() -> None:
        if text is None:
            row.pop(field, None)
        else:
            row[field] = text

    server.on_request(path, before_request, plant)


class CbrRatesApi:
    def __init__(self, dataset: Dataset) -> None:
        by_day: dict[str, list[Json]] = defaultdict(list)
        by_id: dict[str, list[Json]] = defaultdict(list)
        for row in dataset.currency_rates:  # the same dicts: planted changes show through
            by_day[row["Date"]].append(row)
            by_id[row["ID"]].append(row)
        if not by_day:
            raise ValueError("the dataset has no currency rates to serve")
        self._publications = dict(sorted(by_day.items()))
        self._days = list(self._publications)  # ISO dates sort as text
        self._series = {
            cbr_id: sorted(rows, key=lambda row: row["Date"]) for cbr_id, rows in by_id.items()
        }

    def handle(self, request: Request) -> Response:
        if request.path not in (DAILY_PATH, DYNAMIC_PATH):
            return self.error(404, f"no page at {request.path}")
        if request.method != "GET":
            return self.error(405, f"{request.method} is not allowed here")
        if request.path == DYNAMIC_PATH:
            return self._dynamic(request.query)
        return _document(*self._publication_for(_requested_day(request.query, "date_req")))

    def error(self, status: int, detail: str) -> Response:
        phrase = _phrase(status)
        page = (
            f"<html><head><title>{status} {phrase}</title></head>"
            f"<body><h1>{status} {phrase}</h1><p>{html.escape(detail)}</p></body></html>"
        )
        return Response(status, page.encode(), {"Content-Type": HTML_CONTENT_TYPE})

    def _publication_for(self, day: str | None) -> tuple[str, list[Json]]:
        """The last publication on or before `day` (the latest without one); before the
        first, no rates under the first publication's date."""
        if day is None:
            latest = self._days[-1]
            return latest, self._publications[latest]
        index = bisect_right(self._days, day)
        if index == 0:
            return self._days[0], []
        published = self._days[index - 1]
        return published, self._publications[published]

    def _dynamic(self, query: dict[str, list[str]]) -> Response:
        """The series of `VAL_NM_RQ` from `date_req1` to `date_req2`, both included."""
        cbr_id = (query.get("VAL_NM_RQ") or [""])[0]
        first = _requested_day(query, "date_req1")
        last = _requested_day(query, "date_req2")
        rows: list[Json] = []
        if cbr_id and first and last:
            rows = [row for row in self._series.get(cbr_id, []) if first <= row["Date"] <= last]
        return _series(cbr_id, first, last, rows)


def _requested_day(query: dict[str, list[str]], name: str) -> str | None:
    """The parameter `name` as an ISO date; None when absent or not a DD/MM/YYYY date."""
    values = query.get(name)
    if not values:
        return None
    try:
        return datetime.strptime(values[0], "%d/%m/%Y").date().isoformat()
    except ValueError:
        return None


def _document(published: str, rows: list[Json]) -> Response:
    root = ET.Element("ValCurs", Date=_dotted(published))
    root.set("name", MARKET_NAME)
    for row in rows:
        _add_rate(ET.SubElement(root, "Valute", ID=row["ID"]), row, VALUTE_FIELDS)
    return _xml_response(root)


def _series(cbr_id: str, first: str | None, last: str | None, rows: list[Json]) -> Response:
    root = ET.Element("ValCurs", ID=cbr_id)
    root.set("DateRange1", _dotted(first) if first else "")
    root.set("DateRange2", _dotted(last) if last else "")
    root.set("name", DYNAMIC_NAME)
    for row in rows:
        record = ET.SubElement(root, "Record", Date=_dotted(row["Date"]))
        record.set("Id", row["ID"])
        _add_rate(record, row, RECORD_FIELDS)
    return _xml_response(root)


def _add_rate(element: ET.Element, row: Json, fields: tuple[str, ...]) -> None:
    """The row's `fields` it still has, then VunitRate while Value and Nominal are numbers."""
    for field in fields:
        if field in row:
            ET.SubElement(element, field).text = _wire_text(field, row[field])
    if isinstance(row.get("Value"), Decimal) and isinstance(row.get("Nominal"), int):
        ET.SubElement(element, "VunitRate").text = _comma(row["Value"] / row["Nominal"])


def _xml_response(root: ET.Element) -> Response:
    body = XML_DECLARATION + ET.tostring(
        root, encoding=ENCODING, xml_declaration=False, short_empty_elements=False
    )
    return Response(200, body, {"Content-Type": XML_CONTENT_TYPE})


def _dotted(iso_day: str) -> str:
    """An ISO date as the CBR writes dates in its documents: DD.MM.YYYY."""
    return date.fromisoformat(iso_day).strftime("%d.%m.%Y")


def _wire_text(field: str, value: object) -> str:
    """A dataset value as the CBR prints it; planted text goes out as it is."""
    if field == "Value" and isinstance(value, Decimal):
        return f"{value:.{VALUE_PLACES}f}".replace(".", ",")
    return str(value)


def _comma(number: Decimal) -> str:
    """VunitRate's form: trailing zeros dropped (`23,488`, `0,0034423`)."""
    return format(number.normalize(), "f").replace(".", ",")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
