"""Central Bank of Russia daily exchange rates: one XML_daily.asp document per day, parsed
with the standard library and landed as `("cbr_rates", "daily_rates")`.

Wire format, checked against https://www.cbr.ru/development/sxml/ and real documents
quoted by open-source clients (see tests/extract/golden/README.md):
- `GET /scripts/XML_daily.asp?date_req=DD/MM/YYYY`; without `date_req` the service
  answers the latest publication (documented). The body is XML declared
  `encoding="windows-1251"` and served as `application/xml; charset=windows-1251`:
  `<ValCurs Date="DD.MM.YYYY" name="Foreign Currency Market"><Valute ID="R01235">
  <NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>…</Name>
  <Value>85,4963</Value><VunitRate>85,4963</VunitRate></Valute>…</ValCurs>`.
- `Value` is roubles per `Nominal` units (KZT, JPY per 100; VND per 10,000) with a decimal
  comma; `VunitRate` (Value / Nominal) is redundant and stays in `_payload` only.
- A day without a publication (weekend, holiday) is answered with the last publication
  before it, under that publication's own `Date`; pycbrf's tests show a Sunday answered
  with Saturday's document (the CBR dates a rate set on Friday for Saturday).

Unverified, handled defensively: the answer to a date before the series begins (an empty
`ValCurs`, judging by third-party client tests: lands nothing, logged), a document dated
after the day asked for (the service did not understand `date_req`, or answered the
latest: a source error rather than rates landed under the wrong day), and whether the
service refuses some User-Agents (a third-party client reports a 403 from its DDoS
protection). The feed documents no rate limit; requests are paced to a few per second.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, SourceResponseError, get_logger
from extract.landing import RawLanding, RecordParseError
from extract.progress import Progress

SOURCE = "cbr_rates"
ENTITY = "daily_rates"
DAILY_PATH = "/scripts/XML_daily.asp"
REQUESTS_PER_SECOND = 4  # public infrastructure without a documented limit: stay polite
DEFAULT_BATCH_SIZE = 10_000
VALUE_PLACES = 6  # the landing column is decimal(18, 6)
REQUEST_DATE_FORMAT = "%d/%m/%Y"  # date_req
DOCUMENT_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")  # ValCurs Date
COMMA_DECIMAL = re.compile(r"\d+(?:,\d+)?")
CHAR_CODE = re.compile(r"[A-Z]{3}")
BODY_EXCERPT_CHARS = 200

log = get_logger(__name__)

Quarantine = Callable[[str | None, str, str], None]


def make_client(conn: SourceConnection) -> HttpClient:
    """A client for the public feed: no credentials, a few requests per second."""
    return HttpClient(
        SOURCE, base_url=conn.base_url, token=None, pacer=Pacer(REQUESTS_PER_SECOND, 1.0)
    )


# --- fetch ------------------------------------------------------------------------------


def fetch_document(client: HttpClient, day: date) -> bytes:
    """The raw XML_daily.asp document for `day`; 5xx, timeouts and cut bodies are retried
    by the client."""
    response = client.request(
        "GET", DAILY_PATH, params={"date_req": day.strftime(REQUEST_DATE_FORMAT)}
    )
    return response.content


# --- parse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publication:
    """One XML_daily.asp document: the date it carries and its Valute elements."""

    rate_date: date
    valutes: list[ET.Element]


class _RefuseDoctype(ET.TreeBuilder):
    """Tree builder that rejects any DOCTYPE: the feed never sends one, and refusing it
    rules out entity expansion tricks before they start."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise ValueError(f"a DOCTYPE ({name}) is not allowed")


def parse_document(body: bytes, requested: date) -> Publication:
    """Parse a document asked for `requested`, decoding it by its XML declaration.

    Anything but a `ValCurs` with a valid `Date` no later than `requested`, or an empty one
    (no rates yet on that day), raises `SourceResponseError` naming the requested day.
    """
    root = _parse_xml(body, requested)
    if root.tag != "ValCurs":
        raise _document_error(requested, f"the root element is <{root.tag}>, not <ValCurs>")
    rate_date = _document_date(root.get("Date"), requested)
    valutes = root.findall("Valute")
    if valutes and rate_date > requested:
        raise _document_error(
            requested,
            f"it carries the rates of {rate_date}, a later day: the service did not "
            f"answer for the date asked",
        )
    return Publication(rate_date, valutes)


def _parse_xml(body: bytes, requested: date) -> ET.Element:
    parser = ET.XMLParser(target=_RefuseDoctype())
    try:
        parser.feed(body)
        return parser.close()
    except (ET.ParseError, ValueError) as exc:
        excerpt = body[:BODY_EXCERPT_CHARS].decode("ascii", errors="replace")
        raise _document_error(
            requested, f"the body is not usable XML ({exc}): {excerpt!r}"
        ) from None


def _document_date(text: str | None, requested: date) -> date:
    match = DOCUMENT_DATE.fullmatch(text or "")
    if match is None:
        raise _document_error(requested, f"ValCurs Date {text!r} is not a DD.MM.YYYY date")
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise _document_error(requested, f"ValCurs Date {text!r} is not a real date") from None


def _document_error(requested: date, detail: str) -> SourceResponseError:
    return SourceResponseError(f"{SOURCE}: XML_daily.asp for {requested}: {detail}")


def parse_valute(valute: ET.Element, rate_date: date, requested: date) -> dict[str, Any]:
    """One Valute as a `daily_rates` row (without `_payload`); RecordParseError names the
    field that does not parse."""
    return {
        "rate_date": rate_date,
        "requested_date": requested,
        "currency": _char_code(valute),
        "num_code": _text(valute, "NumCode"),
        "cbr_id": valute.get("ID"),
        "nominal": _nominal(valute),
        "value": _value(valute),
        "name": _text(valute, "Name"),
    }


def _text(valute: ET.Element, field: str) -> str | None:
    text = valute.findtext(field)
    return None if text is None else text.strip()


def _char_code(valute: ET.Element) -> str:
    code = _text(valute, "CharCode")
    if not code:
        raise RecordParseError("CharCode is missing")
    if not CHAR_CODE.fullmatch(code):
        raise RecordParseError(f"CharCode {code!r} is not three capital letters")
    return code


def _nominal(valute: ET.Element) -> int:
    text = _text(valute, "Nominal")
    if text is None:
        raise RecordParseError("Nominal is missing")
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        raise RecordParseError(f"Nominal {text!r} is not a positive whole number")
    return int(text)


def _value(valute: ET.Element) -> Decimal:
    text = _text(valute, "Value")
    if text is None:
        raise RecordParseError("Value is missing")
    if not COMMA_DECIMAL.fullmatch(text):
        raise RecordParseError(f"Value {text!r} is not a decimal with a comma")
    if len(text.partition(",")[2]) > VALUE_PLACES:
        raise RecordParseError(f"Value {text!r} has more than {VALUE_PLACES} decimal places")
    value = Decimal(text.replace(",", "."))
    if value == 0:
        raise RecordParseError(f"Value {text!r} is zero")
    return value


def publication_rows(
    publication: Publication,
    requested: date,
    quarantine: Quarantine,
    currencies: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """The rows (with `_payload`, the Valute's XML) of one publication, only `currencies`
    when given. A Valute that does not parse, or repeats a currency, is quarantined."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for valute in publication.valutes:
        code = _text(valute, "CharCode")
        if currencies is not None and code and code not in currencies:
            continue
        payload = ET.tostring(valute, encoding="unicode").strip()
        record_id = f"{publication.rate_date}:{valute.get('ID') or code}"
        try:
            row = parse_valute(valute, publication.rate_date, requested)
            if row["currency"] in seen:
                raise RecordParseError(f"CharCode {row['currency']} appears twice")
        except RecordParseError as exc:
            reason = (
                f"{SOURCE} {ENTITY} publication {publication.rate_date} "
                f"Valute ID {valute.get('ID')!r}: {exc}"
            )
            quarantine(record_id, reason, payload)
            continue
        seen.add(row["currency"])
        rows.append({**row, "_payload": payload})
    return rows


# --- extract ----------------------------------------------------------------------------


def extract_cbr_rates(
    conn: SourceConnection,
    landing: RawLanding,
    *,
    date_from: date,
    date_to: date,
    currencies: Collection[str] | None = None,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Ask XML_daily.asp for each day of [date_from, date_to] and land every publication
    the answers carry, once per run; return rows written per entity (`daily_rates`).

    The first day's answer may be a publication from before `date_from` (the last one on
    or before it), so every day of the range has its rate. `currencies` keeps only those
    CharCodes. `client` replaces the one built from `conn`.
    """
    if date_from > date_to:
        raise ValueError(f"{SOURCE}: date_from {date_from} is after date_to {date_to}")
    wanted = None if currencies is None else frozenset(code.upper() for code in currencies)
    http = client or make_client(conn)
    log.info("%s: daily rates %s .. %s", SOURCE, date_from, date_to)
    try:
        rows = _range_rows(http, landing, date_from, date_to, wanted)
        written = landing.write_rows(ENTITY, rows, batch_size=DEFAULT_BATCH_SIZE)
    finally:
        landing.flush()
        if client is None:
            http.close()
    return {ENTITY: written}


def _range_rows(
    http: HttpClient,
    landing: RawLanding,
    date_from: date,
    date_to: date,
    wanted: frozenset[str] | None,
) -> Iterator[dict[str, Any]]:
    """Rows of every publication the range's answers carry; a publication several days
    answer with (a weekend, a holiday) yields its rows once, for the first of them."""
    days = (date_to - date_from).days + 1
    landed: set[date] = set()
    progress = Progress(SOURCE, ENTITY)

    def quarantine(record_id: str | None, reason: str, payload: str) -> None:
        landing.quarantine(ENTITY, record_id, reason, payload)

    for offset in range(days):
        day = date_from + timedelta(days=offset)
        publication = parse_document(fetch_document(http, day), day)
        rows: list[dict[str, Any]] = []
        if publication.rate_date not in landed:
            landed.add(publication.rate_date)
            rows = publication_rows(publication, day, quarantine, wanted)
            _warn_of_gaps(publication, day, rows, wanted)
        yield from rows
        progress.page(len(rows), done=(offset + 1) / days)
    progress.finish()


def _warn_of_gaps(
    publication: Publication, day: date, rows: list[dict[str, Any]], wanted: frozenset[str] | None
) -> None:
    """Log what the marts will flag as a missing rate, where it comes from."""
    if not publication.valutes:
        log.warning("%s: no rates published on or before %s", SOURCE, day)
        return
    if missing := (wanted or frozenset()) - {row["currency"] for row in rows}:
        log.warning(
            "%s: publication %s has no usable rate for %s",
            SOURCE,
            publication.rate_date,
            ", ".join(sorted(missing)),
        )
