"""Central Bank of Russia daily rates imitation: `/scripts/XML_daily.asp`.

Serves `Dataset.currency_rates` as the CBR does (https://www.cbr.ru/development/sxml/):
a windows-1251 XML document per publication, `Value` with a decimal comma and four
places, `VunitRate` = Value / Nominal, under `application/xml; charset=windows-1251`.
A day without a publication is answered with the last publication before it, under that
publication's own `Date`; no `date_req` answers the latest publication (documented).

Choices where the real service's answer is unverified:
- a day before the first publication: an empty `ValCurs` dated the first publication
  day (third-party client tests show an empty `ValCurs Date="01.07.1992"`, the first day
  of the CBR's series);
- a `date_req` that is not a DD/MM/YYYY date: answered as if it were absent;
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
XML_CONTENT_TYPE = "application/xml; charset=windows-1251"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
ENCODING = "windows-1251"
XML_DECLARATION = f'<?xml version="1.0" encoding="{ENCODING}"?>'.encode()
MARKET_NAME = "Foreign Currency Market"
VALUTE_FIELDS = ("NumCode", "CharCode", "Nominal", "Name", "Value")
VALUE_PLACES = 4  # the CBR prints every Value with four decimals


def start_cbr_rates(dataset: Dataset, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `dataset.currency_rates` at `{url}/scripts/XML_daily.asp`; port 0 picks a free
    port."""
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
) -> None:
    """Just before the `before_request`-th request from now to XML_daily.asp, the Valute
    `char_code` of the publication of `rate_date` gets `text` as its `field` element
    (sent verbatim), or loses the element when `text` is None."""
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

    server.on_request(DAILY_PATH, before_request, plant)


class CbrRatesApi:
    def __init__(self, dataset: Dataset) -> None:
        by_day: dict[str, list[Json]] = defaultdict(list)
        for row in dataset.currency_rates:
            by_day[row["Date"]].append(row)  # the same dicts: planted changes show through
        if not by_day:
            raise ValueError("the dataset has no currency rates to serve")
        self._publications = dict(sorted(by_day.items()))
        self._days = list(self._publications)  # ISO dates sort as text

    def handle(self, request: Request) -> Response:
        if request.path != DAILY_PATH:
            return self.error(404, f"no page at {request.path}")
        if request.method != "GET":
            return self.error(405, f"{request.method} is not allowed here")
        return _document(*self._publication_for(_requested_day(request.query)))

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


def _requested_day(query: dict[str, list[str]]) -> str | None:
    """`date_req` as an ISO date; None when absent or not a DD/MM/YYYY date."""
    values = query.get("date_req")
    if not values:
        return None
    try:
        return datetime.strptime(values[0], "%d/%m/%Y").date().isoformat()
    except ValueError:
        return None


def _document(published: str, rows: list[Json]) -> Response:
    root = ET.Element("ValCurs", Date=date.fromisoformat(published).strftime("%d.%m.%Y"))
    root.set("name", MARKET_NAME)
    for row in rows:
        valute = ET.SubElement(root, "Valute", ID=row["ID"])
        for field in VALUTE_FIELDS:
            if field in row:
                ET.SubElement(valute, field).text = _wire_text(field, row[field])
        if isinstance(row.get("Value"), Decimal) and isinstance(row.get("Nominal"), int):
            ET.SubElement(valute, "VunitRate").text = _comma(row["Value"] / row["Nominal"])
    body = XML_DECLARATION + ET.tostring(
        root, encoding=ENCODING, xml_declaration=False, short_empty_elements=False
    )
    return Response(200, body, {"Content-Type": XML_CONTENT_TYPE})


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
