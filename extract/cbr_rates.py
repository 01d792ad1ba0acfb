"""Central Bank of Russia exchange rates, parsed with the standard library and landed as
`("cbr_rates", "daily_rates")`: one XML_daily.asp document per day for short ranges (the
nightly lookback), one XML_dynamic.asp series per currency for long ones (a first load, a
backfill), both landing the same rows.

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
- A day without a document of its own (a Sunday, a Monday, the day after a holiday: the
  CBR dates a rate by the day it takes effect) is answered with the last publication
  before it, under that publication's own `Date`; pycbrf's tests show a Sunday answered
  with Saturday's document (the CBR dates a rate set on Friday for Saturday).
- `GET /scripts/XML_dynamic.asp?date_req1=DD/MM/YYYY&date_req2=DD/MM/YYYY&VAL_NM_RQ=<ID>`
  answers one currency (by its Valute ID) over the range, in the same encoding:
  `<ValCurs ID="R01235" DateRange1="01.12.2025" DateRange2="05.12.2025" name="Foreign
  Currency Market Dynamic"><Record Date="02.12.2025" Id="R01235"><Nominal>1</Nominal>
  <Value>77,7027</Value><VunitRate>77,7027</VunitRate></Record>…</ValCurs>`. A Record
  exists only for a publication date within the range, dated as XML_daily dates it
  (quoted answers carry Saturdays and skip Sundays, Mondays and holidays); it carries no
  CharCode, NumCode or Name: those come from a daily document's Valute with that ID. Its
  own Nominal counts, as a currency's nominal may change over time (pycbrf's live tests
  show Record nominals that differ from the CBR's currency reference).
- A range without a publication, and a currency not quoted in the range, get an empty
  `ValCurs` with the same attributes (a client's recorded answer; pycbrf's live tests).

Rows of both paths are the same, `requested_date` included: the per-day path lands a
publication under the first day whose answer carried it, which is its own date for every
publication within the range and `date_from` for the one before it. The dynamic path
lands that one from the daily document for `date_from` and every later one from the
Records, under their own dates. The currencies asked for are those of the daily documents
for `date_from` and `date_to` (a currency the CBR quoted only within the range, on
neither end, would be missed), named as the first of them names them.

Unverified, handled defensively: the answer to a date before the series begins (an empty
`ValCurs`, judging by third-party client tests: lands nothing, logged), a document dated
after the day asked for, or a Record outside the range asked for (the service did not
understand the dates: a source error rather than rates landed under the wrong day), and
whether the service refuses some User-Agents (a third-party client reports a 403 from its
DDoS protection). The feed documents no rate limit; requests are paced to a few per
second.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from extract.ad_account import is_currency_code
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, SourceResponseError, get_logger
from extract.landing import Quarantine, RawLanding, RecordParseError
from extract.progress import Progress

SOURCE = "cbr_rates"
ENTITY = "daily_rates"
DAILY_PATH = "/scripts/XML_daily.asp"
DYNAMIC_PATH = "/scripts/XML_dynamic.asp"
# Ranges up to this many days ask XML_daily for each day (the nightly lookback); longer
# ones ask XML_dynamic once per currency. Without a currency filter that is ~45 requests
# (43 currencies and two daily documents), so 15 to 45-day ranges cost a little more
# than per day; the months of a first load or a backfill cost far less.
PER_DAY_MAX_DAYS = 14
REQUESTS_PER_SECOND = 4  # public infrastructure without a documented limit: stay polite
DEFAULT_BATCH_SIZE = 10_000
VALUE_PLACES = 6  # the landing column is decimal(18, 6)
REQUEST_DATE_FORMAT = "%d/%m/%Y"  # date_req, date_req1, date_req2
DOTTED_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})")  # ValCurs Date, Record Date
COMMA_DECIMAL = re.compile(r"\d+(?:,\d+)?")
BODY_EXCERPT_CHARS = 200

log = get_logger(__name__)


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


def fetch_dynamic(client: HttpClient, cbr_id: str, first: date, last: date) -> bytes:
    """The raw XML_dynamic.asp series of the currency `cbr_id` from `first` to `last`."""
    params = {
        "date_req1": first.strftime(REQUEST_DATE_FORMAT),
        "date_req2": last.strftime(REQUEST_DATE_FORMAT),
        "VAL_NM_RQ": cbr_id,
    }
    return client.request("GET", DYNAMIC_PATH, params=params).content


# --- parse: XML_daily -------------------------------------------------------------------


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
    request = f"XML_daily.asp for {requested}"
    root = _parse_xml(body, request)
    if root.tag != "ValCurs":
        raise _source_error(request, f"the root element is <{root.tag}>, not <ValCurs>")
    text = root.get("Date")
    rate_date = _dotted_date(text)
    if rate_date is None:
        raise _source_error(request, f"ValCurs Date {text!r} is not a real DD.MM.YYYY date")
    valutes = root.findall("Valute")
    if valutes and rate_date > requested:
        raise _source_error(
            request,
            f"it carries the rates of {rate_date}, a later day: the service did not "
            f"answer for the date asked",
        )
    return Publication(rate_date, valutes)


def _parse_xml(body: bytes, request: str) -> ET.Element:
    parser = ET.XMLParser(target=_RefuseDoctype())
    try:
        parser.feed(body)
        return parser.close()
    except (ET.ParseError, ValueError) as exc:
        excerpt = body[:BODY_EXCERPT_CHARS].decode("ascii", errors="replace")
        raise _source_error(request, f"the body is not usable XML ({exc}): {excerpt!r}") from None


def _dotted_date(text: str | None) -> date | None:
    """A DD.MM.YYYY date, or None when `text` is not one (or not a real day)."""
    match = DOTTED_DATE.fullmatch(text or "")
    if match is None:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _source_error(request: str, detail: str) -> SourceResponseError:
    return SourceResponseError(f"{SOURCE}: {request}: {detail}")


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


def _text(element: ET.Element, field: str) -> str | None:
    text = element.findtext(field)
    return None if text is None else text.strip()


def _char_code(valute: ET.Element) -> str:
    code = _text(valute, "CharCode")
    if not code:
        raise RecordParseError("CharCode is missing")
    if not is_currency_code(code):
        raise RecordParseError(f"CharCode {code!r} is not three capital letters")
    return code


def _nominal(element: ET.Element) -> int:
    text = _text(element, "Nominal")
    if text is None:
        raise RecordParseError("Nominal is missing")
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        raise RecordParseError(f"Nominal {text!r} is not a positive whole number")
    return int(text)


def _value(element: ET.Element) -> Decimal:
    text = _text(element, "Value")
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


# --- parse: XML_dynamic -----------------------------------------------------------------


@dataclass(frozen=True)
class Currency:
    """A Valute of a daily document: what XML_dynamic is asked by, and what its Records
    lack."""

    cbr_id: str
    char_code: str
    num_code: str | None
    name: str | None


def range_currencies(
    publications: Iterable[Publication], wanted: frozenset[str] | None = None
) -> list[Currency]:
    """The currencies (only `wanted` CharCodes when given) of the publications, by Valute
    ID, named as the first publication listing the ID names them. A Valute without an ID
    or a valid CharCode, or repeating a CharCode within its publication, is left out: the
    daily rows quarantine it."""
    by_id: dict[str, Currency] = {}
    for publication in publications:
        codes: set[str] = set()
        for valute in publication.valutes:
            cbr_id, code = valute.get("ID"), _text(valute, "CharCode")
            if not cbr_id or not is_currency_code(code) or code in codes:
                continue
            codes.add(code)
            if (wanted is None or code in wanted) and cbr_id not in by_id:
                num_code, name = _text(valute, "NumCode"), _text(valute, "Name")
                by_id[cbr_id] = Currency(cbr_id, code, num_code, name)
    return list(by_id.values())


def parse_dynamic(body: bytes, cbr_id: str, first: date, last: date) -> list[ET.Element]:
    """The Records of an XML_dynamic.asp answer for `cbr_id` from `first` to `last`; an
    empty series is no error. Anything but a `ValCurs` of that ID raises
    `SourceResponseError` naming the request."""
    request = _dynamic_request(cbr_id, first, last)
    root = _parse_xml(body, request)
    if root.tag != "ValCurs":
        raise _source_error(request, f"the root element is <{root.tag}>, not <ValCurs>")
    if root.get("ID") != cbr_id:
        raise _source_error(request, f"it is the series of ValCurs ID {root.get('ID')!r}")
    return root.findall("Record")


def _dynamic_request(cbr_id: str, first: date, last: date) -> str:
    return f"XML_dynamic.asp for {cbr_id} from {first} to {last}"


def parse_record(record: ET.Element, currency: Currency) -> dict[str, Any]:
    """One Record as a `daily_rates` row (without `_payload`), under its own date, with its
    own Nominal; RecordParseError names the field that does not parse."""
    text = record.get("Date")
    rate_date = _dotted_date(text)
    if rate_date is None:
        raise RecordParseError(f"Record Date {text!r} is not a real DD.MM.YYYY date")
    if record.get("Id") != currency.cbr_id:
        raise RecordParseError(f"Record Id {record.get('Id')!r} is not the currency asked for")
    return {
        "rate_date": rate_date,
        "requested_date": rate_date,  # no single day was asked: see the module docstring
        "currency": currency.char_code,
        "num_code": currency.num_code,
        "cbr_id": currency.cbr_id,
        "nominal": _nominal(record),
        "value": _value(record),
        "name": currency.name,
    }


def dynamic_rows(
    records: list[ET.Element],
    currency: Currency,
    first: date,
    last: date,
    quarantine: Quarantine,
) -> list[dict[str, Any]]:
    """The rows (with `_payload`, the Record's XML) of a series asked from `first` to
    `last`. A Record that does not parse, or repeats a date, is quarantined; one dated
    outside the range raises `SourceResponseError`."""
    rows: list[dict[str, Any]] = []
    seen: set[date] = set()
    for record in records:
        payload = ET.tostring(record, encoding="unicode").strip()
        try:
            row = parse_record(record, currency)
            if row["rate_date"] in seen:
                raise RecordParseError(f"Record Date {record.get('Date')} appears twice")
        except RecordParseError as exc:
            reason = (
                f"{SOURCE} {ENTITY} Record Date {record.get('Date')!r} "
                f"Valute ID {currency.cbr_id!r} ({currency.char_code}): {exc}"
            )
            day = _dotted_date(record.get("Date")) or record.get("Date")
            quarantine(f"{day}:{currency.cbr_id}", reason, payload)
            continue
        if not first <= row["rate_date"] <= last:
            raise _source_error(
                _dynamic_request(currency.cbr_id, first, last),
                f"it has a Record of {row['rate_date']}, outside the range asked",
            )
        seen.add(row["rate_date"])
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
    """Land every publication that sets the rates of [date_from, date_to], once per run;
    return rows written per entity (`daily_rates`).

    The first day's rates may come from a publication before `date_from` (the last one on
    or before it), so every day of the range has its rate. Up to `PER_DAY_MAX_DAYS` days
    are asked day by day, longer ranges currency by currency. `currencies` keeps only
    those CharCodes. `client` replaces the one built from `conn`.
    """
    if date_from > date_to:
        raise ValueError(f"{SOURCE}: date_from {date_from} is after date_to {date_to}")
    wanted = None if currencies is None else frozenset(code.upper() for code in currencies)
    http = client or make_client(conn)
    days = (date_to - date_from).days + 1
    range_rows = _per_day_rows if days <= PER_DAY_MAX_DAYS else _per_currency_rows
    log.info("%s: daily rates %s .. %s", SOURCE, date_from, date_to)
    try:
        rows = range_rows(http, _Scope(landing, date_from, date_to, wanted))
        written = landing.write_rows(ENTITY, rows, batch_size=DEFAULT_BATCH_SIZE)
    finally:
        landing.flush()
        if client is None:
            http.close()
    return {ENTITY: written}


@dataclass(frozen=True)
class _Scope:
    """What to land where: the range, the CharCodes kept (None: all) and the landing."""

    landing: RawLanding
    date_from: date
    date_to: date
    wanted: frozenset[str] | None

    def quarantine(self, record_id: str | None, reason: str, payload: str) -> None:
        self.landing.quarantine(ENTITY, record_id, reason, payload)


def _per_day_rows(http: HttpClient, scope: _Scope) -> Iterator[dict[str, Any]]:
    """Rows of every publication the answers for each day carry; a publication several
    days answer with (a Sunday and Monday, a holiday run) yields its rows once, for the
    first of them.
    An empty answer (before the series) lands nothing, whatever date it carries."""
    days = (scope.date_to - scope.date_from).days + 1
    landed: set[date] = set()
    progress = Progress(SOURCE, ENTITY)
    for offset in range(days):
        day = scope.date_from + timedelta(days=offset)
        publication = parse_document(fetch_document(http, day), day)
        rows: list[dict[str, Any]] = []
        if publication.rate_date not in landed:
            rows = _daily_document_rows(publication, day, scope)
            if publication.valutes:  # an empty answer's date may be a later publication's
                landed.add(publication.rate_date)
        yield from rows
        progress.page(len(rows), done=(offset + 1) / days)
    progress.finish()


def _per_currency_rows(http: HttpClient, scope: _Scope) -> Iterator[dict[str, Any]]:
    """Rows of the publication on or before `date_from` from its daily document, then of
    every later one in the range from one XML_dynamic series per currency."""
    progress = Progress(SOURCE, ENTITY)
    first = parse_document(fetch_document(http, scope.date_from), scope.date_from)
    rows = _daily_document_rows(first, scope.date_from, scope)
    yield from rows
    progress.page(len(rows))
    last = parse_document(fetch_document(http, scope.date_to), scope.date_to)
    currencies = range_currencies([first, last], scope.wanted)
    _warn_of_unasked(currencies, scope)
    ask_from = _series_start(first, scope.date_from)
    for done, currency in enumerate(currencies, start=1):
        body = fetch_dynamic(http, currency.cbr_id, ask_from, scope.date_to)
        records = parse_dynamic(body, currency.cbr_id, ask_from, scope.date_to)
        rows = dynamic_rows(records, currency, ask_from, scope.date_to, scope.quarantine)
        if not rows:
            log.warning(
                "%s: no %s rates published from %s to %s",
                SOURCE,
                currency.char_code,
                ask_from,
                scope.date_to,
            )
        yield from rows
        progress.page(len(rows), done=done / len(currencies))
    progress.finish()


def _series_start(first: Publication, date_from: date) -> date:
    """The first day to ask the series for: the day after the publication landed from the
    daily document (its Records would repeat it), or `date_from` when there was none."""
    if not first.valutes:
        return date_from
    return max(date_from, first.rate_date + timedelta(days=1))


def _daily_document_rows(
    publication: Publication, day: date, scope: _Scope
) -> list[dict[str, Any]]:
    rows = publication_rows(publication, day, scope.quarantine, scope.wanted)
    _warn_of_gaps(publication, day, rows, scope.wanted)
    return rows


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


def _warn_of_unasked(currencies: list[Currency], scope: _Scope) -> None:
    """Log the wanted currencies neither end of the range lists: no series is asked."""
    if missing := (scope.wanted or frozenset()) - {c.char_code for c in currencies}:
        log.warning(
            "%s: the daily documents for %s and %s list no %s: no rates asked for",
            SOURCE,
            scope.date_from,
            scope.date_to,
            ", ".join(sorted(missing)),
        )
