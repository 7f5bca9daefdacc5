"""Importing claims from CSV and JSON files (the format: docs/import-format.md).

Two stages. Reading (read_csv, read_json) turns a file into a ParsedFile: the
JSON file's sections (topics, places, sources, documents) and a stream of claim
rows, each a dict in one canonical shape whichever the format. A CSV file is
streamed row by row; a JSON file is parsed at once, hence its smaller size limit.

Importing (Importer.run) checks every row and writes set-wise, a batch of rows
at a time, inside one transaction: any problem anywhere, or a dry run, rolls the
whole import back, so a file is imported entirely or not at all. Claims are
matched by external id and left as they are, so importing a file twice changes
nothing. Sources, documents, places and topics are matched by name (documents by
URL, else title and publisher) or created. The confirmation of every claim
touched is recomputed once, at the end; one audit row is written per created
record. A new claim is inserted with the confirmation its own citations give it,
computed in memory by the engine, so that the pass at the end rewrites only the
claims a new relation reaches rather than every claim a second time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from itertools import compress, islice
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import DatabaseError, connection, models, transaction
from django.db.models.functions import Lower

from analysts.models import AuditEntry
from claims import confirmation
from claims.confirmation_store import _Memo, apply, recompute_claims, with_related
from claims.models import (
    Citation,
    Claim,
    ClaimConfirmation,
    Level,
    Place,
    Relation,
    Review,
    Topic,
    excerpt_digest,
)
from sources.models import Document, Grade, GradeChange, Source

FORMAT_NAME = "claim-tracker/claims"
FORMAT_VERSION = 1
MB = 1024 * 1024
# Refused by size before a byte is read. CSV is streamed, so its limit guards
# the time an import takes; JSON is parsed whole, so its limit guards memory.
MAX_BYTES = {"csv": 64 * MB, "json": 32 * MB}
# The import page keeps the parsed rows in the session between preview and
# commit, so it takes smaller files; larger ones go through manage.py.
WEB_MAX_BYTES = 8 * MB
BATCH_SIZE = 500
MAX_PLACES = 50
MAX_GROUP = 100  # citations, relations or reviews on one claim
MAX_PROBLEMS = 1000
QUANTITY_BOUND = Decimal(10) ** 18
DEFAULT_SOURCE_KIND = Source.Kind.ORGANIZATION
DEFAULT_DOCUMENT_KIND = Document.Kind.ARTICLE
# A spreadsheet runs a cell starting with one of these; exports prefix such a
# cell with an apostrophe, which reading takes off again.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
READ_ONLY_COLUMNS = frozenset(
    {
        "id",
        "level",
        "likelihood",
        "likelihood_term",
        "confidence",
        "summary_rating",
        "confirmation",
    }
)


def facet_problems(values: dict) -> dict[str, str]:
    """What is wrong with a claim's facets taken together, by field: one
    definition for the import and the API (the entry form has its own, with the
    same messages)."""
    problems = {}
    low, high = values.get("quantity_low"), values.get("quantity_high")
    for name, value in (("quantity_low", low), ("quantity_high", high)):
        if value is not None and value < 0:
            problems[name] = "A count cannot be negative."
    if not problems and low is not None and high is not None and low > high:
        problems["quantity_high"] = "The upper bound is below the lower one."
    if (
        low is None
        and high is None
        and (values.get("quantity_unit") or values.get("quantity_qualifier"))
    ):
        problems["quantity_low"] = "Give the number, or clear the unit."
    start, end = values.get("time_start"), values.get("time_end")
    if start is not None and end is not None and start > end:
        problems["time_end"] = "The end is before the start."
    return problems


# --------------------------------------------------------------------------
# Values: one checker per kind of field, reading JSON values and CSV text alike
# --------------------------------------------------------------------------


class Invalid(Exception):
    """A value that cannot be read; the message says what was expected."""


@dataclass(frozen=True)
class Text:
    max_length: int
    required: bool = False

    def read(self, value: Any) -> str:
        if value is None:
            value = ""
        elif isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif not isinstance(value, str):
            raise Invalid("Give text.")
        value = value.strip()
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Invalid("The text is not valid Unicode.") from None
        if "\x00" in value:
            raise Invalid("The text holds a NUL character.")
        if len(value) > self.max_length:
            raise Invalid(
                f"At most {self.max_length:,} characters; this has {len(value):,}."
            )
        if self.required and not value:
            raise Invalid("Required.")
        return value


@dataclass(frozen=True)
class Url(Text):
    def read(self, value: Any) -> str:
        value = super().read(value)
        if value and not _is_web_address(value):
            raise Invalid("Give a web address (http:// or https://).")
        return value


@lru_cache(maxsize=4096)
def _is_web_address(value: str) -> bool:
    # The same documents recur row after row; the validator is a large regex.
    try:
        URLValidator()(value)
    except ValidationError:
        return False
    return True


@cache
def _choice_values(choices: type[models.Choices]) -> dict[str, Any]:
    return {str(choice.value): choice.value for choice in choices}


@dataclass(frozen=True)
class Choice:
    choices: type[models.Choices]
    required: bool = False
    default: Any = ""

    def read(self, value: Any) -> Any:
        if value is None or value == "":
            if self.required:
                raise Invalid("Required.")
            return self.default
        values = _choice_values(self.choices)
        if not isinstance(value, str | int) or str(value).strip() not in values:
            allowed = ", ".join(values)
            raise Invalid(f"{str(value)[:40]!r} is not one of: {allowed}.")
        return values[str(value).strip()]


@dataclass(frozen=True)
class Integer:
    low: int
    high: int
    required: bool = False

    def read(self, value: Any) -> int | None:
        if value is None or value == "":
            if self.required:
                raise Invalid("Required.")
            return None
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,6}\s*", value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid("Give a whole number.")
        if not self.low <= value <= self.high:
            raise Invalid(f"Give a number from {self.low} to {self.high}; not {value}.")
        return value


@dataclass(frozen=True)
class Float:
    low: float
    high: float

    def read(self, value: Any) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise Invalid("Give a number.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise Invalid("Give a number.") from None
        if not self.low <= number <= self.high:
            raise Invalid(f"Give a number from {self.low:g} to {self.high:g}.")
        return number


@dataclass(frozen=True)
class Quantity:
    def read(self, value: Any) -> Decimal | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Invalid("Give a number.")
        text = re.sub(r"[,_\s\u00a0\u202f']", "", str(value))
        if len(text) > 40:
            raise Invalid("Give a number below 10^18.")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise Invalid(f"{str(value)[:40]!r} is not a number.") from None
        if not number.is_finite() or abs(number) >= QUANTITY_BOUND:
            raise Invalid("Give a number below 10^18.")
        if number != number.quantize(Decimal("0.01")):
            raise Invalid("At most two decimal places.")
        return number.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Day:
    def read(self, value: Any) -> date | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}", value.strip()
        ):
            raise Invalid("Give a date as YYYY-MM-DD.")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(f"{value.strip()} is not a date.") from None


TRUE_WORDS = {"true", "yes", "1", "supports", "y"}
FALSE_WORDS = {"false", "no", "0", "denies", "n"}


@dataclass(frozen=True)
class Flag:
    default: bool

    def read(self, value: Any) -> bool:
        if value is None or value == "":
            return self.default
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise Invalid("Give true or false.")


@dataclass(frozen=True)
class Names:
    """Several names: a JSON list, or one CSV cell separated by semicolons."""

    max_length: int
    max_items: int

    def read(self, value: Any) -> list[str]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = value.split(";")
        if not isinstance(value, list):
            raise Invalid("Give a list of names.")
        names, seen = [], set()
        for item in value:
            name = " ".join(Text(self.max_length).read(item).split())
            if name and name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
        if len(names) > self.max_items:
            raise Invalid(f"At most {self.max_items} names.")
        return names


USERNAME = Text(150)
CLAIM_FIELDS = {
    "external_id": Text(100, required=True),
    "statement": Text(2000, required=True),
    "kind": Choice(Claim.Kind, default=Claim.Kind.REPORTED_FACT),
    "quantity_low": Quantity(),
    "quantity_high": Quantity(),
    "quantity_unit": Text(100),
    "quantity_qualifier": Choice(Claim.Qualifier),
    "time_start": Day(),
    "time_end": Day(),
    "time_precision": Choice(Claim.Precision),
    "time_text": Text(100),
    "places": Names(200, MAX_PLACES),
    "topic": Text(200),
    "actors": Text(500),
    "status": Choice(Claim.Status, default=Claim.Status.OPEN),
    "submission_note": Text(5000),
    "logged_by": USERNAME,
}
DOCUMENT_FIELDS = {
    "title": Text(500),
    "publisher": Text(200),
    "url": Url(1000),
    "kind": Choice(Document.Kind),
    "published_on": Day(),
    "archived_copy": Url(1000),
    "retracted": Flag(default=False),
    "text": Text(500_000),
}
CITATION_FIELDS = {
    "source": Text(200, required=True),
    "source_kind": Choice(Source.Kind),
    "source_grade": Choice(Grade),
    # The "part of" chain, nearest first: "Ministry > Government".
    "source_part_of": Text(1000),
    "document": DOCUMENT_FIELDS,
    "supports": Flag(default=True),
    "excerpt": Text(5000, required=True),
    "locator": Text(200),
    "said_on": Day(),
    "credibility": Integer(2, 6, required=True),
    "grade_at_citation": Choice(Grade),
    "created_by": USERNAME,
}
RELATION_FIELDS = {
    "kind": Choice(Relation.Kind, required=True),
    "claim": Text(100, required=True),
    "rationale": Text(5000, required=True),
    "created_by": USERNAME,
}
REVIEW_FIELDS = {
    "reviewer": Text(150, required=True),
    "outcome": Choice(Review.Outcome, required=True),
    "rationale": Text(5000, required=True),
    "likelihood_at": Float(0, 1),
    "level_at": Choice(Level),
}
GROUPS = {
    "citations": ("citation", CITATION_FIELDS),
    "relations": ("relation", RELATION_FIELDS),
    "reviews": ("review", REVIEW_FIELDS),
}
SECTIONS = {
    "topics": {"name": Text(200, required=True), "description": Text(5000)},
    "places": {
        "name": Text(200, required=True),
        "country": Text(100),
        "latitude": Float(-90, 90),
        "longitude": Float(-180, 180),
    },
    "sources": {
        "name": Text(200, required=True),
        "kind": Choice(Source.Kind, required=True),
        "country": Text(100),
        "description": Text(20_000),
        "grade": Choice(Grade),
        "part_of": Text(200),
    },
    "documents": {
        **DOCUMENT_FIELDS,
        "title": Text(500, required=True),
        "publisher": Text(200, required=True),
    },
}


def norm(name: str) -> str:
    """How names are matched: case and runs of spaces do not matter."""
    return " ".join(name.split()).lower()


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    where: str  # "row 5" (CSV line), "claim 3" (JSON), "sources[2]", "file"
    field: str
    message: str

    def __str__(self) -> str:
        place = f"{self.where}, {self.field}" if self.field else self.where
        return f"{place}: {self.message}"


@dataclass
class ParsedFile:
    """What a file holds: its sections and its claim rows, each row as (where,
    claim dict, CSV group numbers or None). ``rows`` may be a one-pass stream."""

    kind: str
    sections: dict[str, list] = field(default_factory=dict)
    rows: Iterable[tuple[str, dict, dict | None]] = ()
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict:
        """The parsed rows as plain data, to keep between preview and commit."""
        return {
            "kind": self.kind,
            "sections": self.sections,
            "rows": [list(row) for row in self.rows],
            "problems": [[p.where, p.field, p.message] for p in self.problems],
        }

    @classmethod
    def from_json(cls, data: dict) -> ParsedFile:
        return cls(
            kind=data["kind"],
            sections=data["sections"],
            rows=[tuple(row) for row in data["rows"]],
            problems=[Problem(*p) for p in data["problems"]],
        )


def file_kind(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith(".json"):
        return "json"
    return None


def size_problem(kind: str, size: int, limit: int | None = None) -> Problem | None:
    """Too large, in words; ``kind`` "" when the file's type is not known yet
    (the upload page refuses by the request's declared size, unread)."""
    limit = limit or MAX_BYTES[kind]
    if size > limit:
        what = f"a {kind.upper()} import" if kind else "an upload on this page"
        return Problem(
            "file",
            "",
            f"The file is {size / MB:,.1f} MB; {what} takes at most "
            f"{limit / MB:,.0f} MB. Split it into several files.",
        )
    return None


def read_file(stream: IO[bytes], name: str, size: int) -> ParsedFile:
    """Read a CSV or JSON file by its name's ending; refuse a file too large
    before reading it."""
    kind = file_kind(name)
    if kind is None:
        return ParsedFile(
            "csv",
            problems=[
                Problem("file", "", "Give a file whose name ends in .csv or .json.")
            ],
        )
    too_big = size_problem(kind, size)
    if too_big:
        return ParsedFile(kind, problems=[too_big])
    return read_csv(stream) if kind == "csv" else read_json(stream)


def unescape_cell(value: str) -> str:
    if value[:1] == "'" and value[1:2] and value[1:2] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def csv_column_path(column: str) -> tuple | None:
    """The canonical path a CSV column fills, or None for an unknown column."""
    if column in CLAIM_FIELDS:
        return (column,)
    match = re.fullmatch(r"(citation|relation|review)([1-9]\d{0,2})_(\w+)", column)
    if not match:
        return None
    singular, number, rest = match.groups()
    group = singular + "s"
    fields = GROUPS[group][1]
    if int(number) > MAX_GROUP:
        return None
    if rest.startswith("document_") and group == "citations":
        name = rest.removeprefix("document_")
        return (
            (group, int(number), "document", name)
            if name in fields["document"]
            else None
        )
    if rest in fields and rest != "document":
        return (group, int(number), rest)
    return None


def read_csv(stream: IO[bytes]) -> ParsedFile:
    parsed = ParsedFile("csv")
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        parsed.problems.append(Problem("file", "", "The file is empty."))
        return parsed
    except (UnicodeDecodeError, csv.Error) as error:
        parsed.problems.append(Problem("row 1", "", unreadable(error)))
        return parsed
    plan: list[tuple | None] = []
    seen: set[str] = set()
    for column in header:
        column = column.strip()
        path = csv_column_path(column)
        if column in seen:
            parsed.problems.append(
                Problem("row 1", column, "This column appears twice.")
            )
        seen.add(column)
        if path is None and column not in READ_ONLY_COLUMNS:
            parsed.problems.append(
                Problem(
                    "row 1",
                    column,
                    "Unknown column. The columns are listed in "
                    "docs/import-format.md and the template.",
                )
            )
        plan.append(path)
    for required in ("external_id", "statement"):
        if required not in seen:
            parsed.problems.append(
                Problem("row 1", required, "This column is required.")
            )
    if parsed.problems:
        return parsed
    parsed.rows = _csv_rows(reader, plan, len(header), parsed.problems)
    return parsed


def unreadable(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return (
            f"The file is not UTF-8 text (byte 0x{error.object[error.start]:02x} "
            "cannot be read). Save it as CSV UTF-8 and try again."
        )
    return f"The CSV cannot be read: {error}."


def _csv_rows(
    reader, plan: list[tuple | None], width: int, problems: list[Problem]
) -> Iterator[tuple[str, dict, dict]]:
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as error:
            problems.append(Problem(f"row {start}", "", unreadable(error)))
            return
        line = reader.line_num
        where = f"row {start}"
        if len(cells) != width:
            if any(cell.strip() for cell in cells):
                problems.append(
                    Problem(
                        where,
                        "",
                        f"The row has {len(cells)} cells; the header has {width}.",
                    )
                )
            continue
        # Most cells of a wide file are empty: compress() drops them in C.
        filled = [
            (path, cell)
            for path, cell in compress(zip(plan, cells, strict=True), cells)
            if cell.strip()
        ]
        if not filled:
            continue
        claim: dict = {}
        groups: dict[str, dict[int, dict]] = defaultdict(dict)
        for path, cell in filled:
            if path is None:
                continue
            value = unescape_cell(cell)
            if len(path) == 1:
                claim[path[0]] = value
                continue
            item = groups[path[0]].setdefault(path[1], {})
            if len(path) == 4:
                item.setdefault("document", {})[path[3]] = value
            else:
                item[path[2]] = value
        numbers = {}
        for group, items in groups.items():
            numbers[group] = sorted(items)
            claim[group] = [items[n] for n in numbers[group]]
        yield where, claim, numbers


def read_json(stream: IO[bytes]) -> ParsedFile:
    parsed = ParsedFile("json")
    raw = stream.read()

    def refuse_constant(name: str):
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        data = json.loads(raw, parse_constant=refuse_constant)
    except UnicodeDecodeError as error:
        parsed.problems.append(Problem("file", "", unreadable(error)))
        return parsed
    except json.JSONDecodeError as error:
        parsed.problems.append(
            Problem(
                "file",
                "",
                f"This is not valid JSON: {error.msg} at line {error.lineno}, "
                f"column {error.colno}.",
            )
        )
        return parsed
    except (ValueError, RecursionError) as error:
        parsed.problems.append(Problem("file", "", f"This is not valid JSON: {error}"))
        return parsed
    if isinstance(data, list):
        data = {"claims": data}
    if not isinstance(data, dict):
        parsed.problems.append(
            Problem("file", "", 'Give an object with a "claims" list, or a list.')
        )
        return parsed
    known = {"format", "version", "claims", *SECTIONS}
    for key in data:
        if key not in known:
            parsed.problems.append(Problem("file", str(key)[:100], "Unknown field."))
    if data.get("format", FORMAT_NAME) != FORMAT_NAME:
        parsed.problems.append(
            Problem("file", "format", f"This importer reads {FORMAT_NAME!r} files.")
        )
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        parsed.problems.append(
            Problem("file", "version", f"This importer reads version {FORMAT_VERSION}.")
        )
    for name in (*SECTIONS, "claims"):
        value = data.get(name, [])
        if not isinstance(value, list):
            parsed.problems.append(Problem("file", name, "Give a list."))
            data[name] = []
    parsed.sections = {name: data.get(name, []) for name in SECTIONS}
    claims = data.get("claims", [])
    parsed.rows = [(f"claim {n}", claim, None) for n, claim in enumerate(claims, 1)]
    return parsed


# --------------------------------------------------------------------------
# Checking a row
# --------------------------------------------------------------------------


def field_name(kind: str, path: tuple, numbers: dict | None) -> str:
    """The name a problem gives its field: the CSV column, or a JSON path."""
    if not path:
        return ""
    if len(path) == 1:
        return str(path[0])
    group, index, *rest = path
    if kind == "csv":
        number = numbers[group][index] if numbers else index + 1
        return f"{GROUPS[group][0]}{number}_" + "_".join(map(str, rest))
    return f"{group}[{index}]" + "".join(f".{part}" for part in rest)


def check_fields(
    raw: Any, spec: dict, report, path: tuple = (), also: frozenset = frozenset()
) -> dict | None:
    """Read ``raw`` against ``spec``, reporting each problem with its path;
    keys in ``also`` are read elsewhere."""
    if not isinstance(raw, dict):
        report(path, "Give an object.")
        return None
    values = {}
    for key in raw:
        if key not in spec and key not in also:
            report((*path, str(key)[:100]), "Unknown field.")
    for name, checker in spec.items():
        if isinstance(checker, dict):
            values[name] = check_fields(
                raw.get(name, {}), checker, report, (*path, name)
            )
            continue
        try:
            values[name] = checker.read(raw.get(name))
        except Invalid as problem:
            report((*path, name), str(problem))
            values[name] = None
    return values


@dataclass
class ClaimRow:
    where: str
    external_id: str
    values: dict
    citations: list[dict]
    relations: list[dict]
    reviews: list[dict]
    fail: Any  # fail(path, message) reports a problem at this row

    @property
    def model_fields(self) -> dict:
        return {
            name: self.values[name]
            for name in Claim.EDITABLE_FIELDS
            if name not in ("topic", "external_id")
        }


@dataclass
class Ref:
    """A record the import matched or created, by the name the file uses."""

    pk: int
    label: str
    created_at: str = ""  # where in the file it was created; "" when matched
    grade: str = ""
    origin_id: int | None = None
    retracted: bool = False

    def note(self, kind: str, where: str) -> str:
        if self.created_at == where:
            return f"creates {kind} “{self.label}”"
        if self.created_at:
            return f"{kind} “{self.label}” (created at {self.created_at})"
        return f"{kind} “{self.label}” (exists)"


@dataclass
class RowReport:
    where: str
    external_id: str
    outcome: str  # "create", "match" or "error"
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    rows: list[RowReport] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    matched_claims: int = 0
    committed: bool = False
    more_problems: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        def count(n: int, noun: str) -> str:
            return f"{n:,} {noun}{'' if n == 1 else 's'}"

        parts = [
            count(self.created.get("claim", 0), "claim") + " created",
            f"{self.matched_claims:,} already there",
        ]
        for kind in (
            "citation",
            "relation",
            "review",
            "source",
            "document",
            "place",
            "topic",
        ):
            if self.created.get(kind):
                parts.append(count(self.created[kind], kind) + " created")
        return ", ".join(parts)


class Rollback(Exception):
    """Ends the import's transaction without writing."""


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json_safe(obj: models.Model, **extra) -> dict:
    """The record's fields as the audit trail keeps them (analysts.audit's
    snapshot, without its query per record for many-to-many fields)."""
    data = {
        f.attname: _plain(getattr(obj, f.attname))
        for f in obj._meta.concrete_fields
        if f.attname != "text"
    }
    data.update(extra)
    return data


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------


class Importer:
    """Checks and writes one file's claims for one actor.

    ``trusted`` (an administrator, or the command run by the operator) may
    import records in other people's names, claims in review or ruled, and their
    rulings. ``may_grade`` (managers, administrators, the command) gives a new
    source the grade the file states; otherwise it starts at F, as on the pages.
    """

    def __init__(
        self,
        actor,
        *,
        trusted: bool,
        may_grade: bool,
        dry_run: bool = False,
        label: str = "a file",
        keep_rows: bool = True,
        on_row=None,
    ) -> None:
        self.actor = actor if getattr(actor, "is_authenticated", False) else None
        self.trusted = trusted
        self.may_grade = may_grade
        self.dry_run = dry_run
        self.label = label
        self.keep_rows = keep_rows
        self.on_row = on_row
        self.report = Report()
        self.kind = "csv"
        self.specs: dict[str, dict] = {name: {} for name in SECTIONS}
        self.documents_by_url: dict[str, tuple[str, dict]] = {}
        self.users: dict[str, int | None] = {}
        self.sources: dict[str, Ref] = {}
        self.mentions: dict[str, dict] = {}
        self.places: dict[str, Ref] = {}
        self.topics: dict[str, Ref] = {}
        self.documents: dict[tuple, Ref] = {}
        self.seen_ids: dict[str, str] = {}
        self.new_claim_ids: list[int] = []
        self.pending_relations: list[tuple[str, int, str, dict]] = []
        self.reviewers_of: dict[str, tuple[str, set[int]]] = {}
        self.audit: list[tuple] = []
        self.failures = 0
        self.source_names: dict[int, str] = {}
        self.memo = _Memo()

    # Reporting ------------------------------------------------------------------------

    def problem(self, where: str, field_: str, message: str) -> None:
        # Counted even past the listing limit: a row is judged by the count.
        self.failures += 1
        if len(self.report.problems) >= MAX_PROBLEMS:
            self.report.more_problems = True
            return
        self.report.problems.append(Problem(where, field_, message))

    def row_done(self, row: RowReport) -> None:
        if self.keep_rows:
            self.report.rows.append(row)
        if self.on_row is not None:
            self.on_row(row)

    # The run --------------------------------------------------------------------------

    def run(self, parsed: ParsedFile) -> Report:
        self.kind = parsed.kind
        try:
            with transaction.atomic():
                for problem in parsed.problems:
                    self.problem(problem.where, problem.field, problem.message)
                if not parsed.problems:
                    self.load_sections(parsed.sections)
                    for batch in batched(parsed.rows, BATCH_SIZE):
                        self.import_batch(batch)
                    # A streamed file reports an unreadable row when it gets there.
                    for problem in parsed.problems:
                        self.problem(problem.where, problem.field, problem.message)
                    self.import_relations()
                    self.write_audit()
                    if not self.failures and not self.dry_run:
                        self.recompute()
                if self.failures or self.dry_run:
                    raise Rollback
        except Rollback:
            pass
        except DatabaseError as error:
            self.problem(
                "file",
                "",
                f"The database refused the import; nothing was written: {error}",
            )
        else:
            self.report.committed = True
        return self.report

    def recompute(self) -> None:
        new = set(self.new_claim_ids)
        # New claims have no ruling to question; existing claims that a new
        # relation reaches may, as after any change of their evidence.
        recompute_claims(new, flag_rereview=False)
        recompute_claims(with_related(new) - new)

    # Sections -------------------------------------------------------------------------

    def load_sections(self, sections: dict[str, list]) -> None:
        for name, spec in SECTIONS.items():
            for index, raw in enumerate(sections.get(name) or []):
                where = f"{name}[{index}]"

                def report(path, message, where=where) -> None:
                    self.problem(where, ".".join(map(str, path)), message)

                values = check_fields(raw, spec, report)
                if values is None:
                    continue
                if name == "documents":
                    if values["title"] and values["publisher"]:
                        key = (norm(values["title"]), norm(values["publisher"]))
                        self.specs[name][key] = (where, values)
                    if values["url"]:
                        self.documents_by_url[values["url"]] = (where, values)
                elif values["name"]:
                    self.specs[name][norm(values["name"])] = (where, values)

    def source_spec(self, key: str) -> tuple[str, dict]:
        return self.specs["sources"].get(key, ("", {}))

    # A batch of rows ------------------------------------------------------------------

    def import_batch(self, batch: list[tuple[str, dict, dict | None]]) -> None:
        rows = [row for row in map(self.check_row, batch) if row is not None]
        existing = dict(
            Claim.objects.filter(
                external_id__in=[row.external_id for row in rows]
            ).values_list("external_id", "pk")
        )
        new_rows = []
        for row in rows:
            if row.external_id not in existing:
                new_rows.append(row)
                continue
            self.report.matched_claims += 1
            pk = existing[row.external_id]
            self.row_done(
                RowReport(
                    row.where,
                    row.external_id,
                    "match",
                    [f"claim #{pk} has this external id: left as it is"],
                )
            )
        self.resolve_users(new_rows)
        new_rows = [row for row in new_rows if self.check_people(row)]
        if not new_rows:
            return
        notes: dict[str, list[str]] = defaultdict(list)
        self.ensure_sources(new_rows, notes)
        self.ensure_named(new_rows, notes)
        self.ensure_documents(new_rows, notes)
        self.create_claims(new_rows, notes)

    def check_row(self, item: tuple[str, dict, dict | None]) -> ClaimRow | None:
        where, raw, numbers = item
        before = self.failures

        def fail(path: tuple, message: str) -> None:
            self.problem(where, field_name(self.kind, path, numbers), message)

        values = check_fields(
            raw, CLAIM_FIELDS, fail, also=frozenset(GROUPS) | READ_ONLY_COLUMNS
        )
        if values is None:
            self.row_done(RowReport(where, "", "error"))
            return None
        groups = {}
        for group, (_, spec) in GROUPS.items():
            items = raw.get(group) or []
            if not isinstance(items, list):
                fail((group,), "Give a list.")
                items = []
            if len(items) > MAX_GROUP:
                fail((group,), f"At most {MAX_GROUP} per claim.")
                items = items[:MAX_GROUP]
            groups[group] = [
                check_fields(item, spec, fail, (group, index))
                for index, item in enumerate(items)
            ]
        for name, message in facet_problems(values).items():
            fail((name,), message)
        row = ClaimRow(
            where,
            values["external_id"] or "",
            values,
            groups["citations"],
            groups["relations"],
            groups["reviews"],
            fail,
        )
        if self.failures == before:
            self.check_citations(row)
            self.check_workflow(row)
        if row.external_id:
            first = self.seen_ids.setdefault(row.external_id, where)
            if first != where:
                fail(("external_id",), f"The same external id is at {first}.")
        if self.failures > before:
            self.row_done(RowReport(where, row.external_id, "error"))
            return None
        return row

    def check_citations(self, row: ClaimRow) -> None:
        seen: dict[tuple, int] = {}
        for index, citation in enumerate(row.citations):
            document = citation["document"]
            if not (document["url"] or (document["title"] and document["publisher"])):
                row.fail(
                    ("citations", index, "document", "title"),
                    "Give the document's URL, or its title and publisher.",
                )
                continue
            key = (
                norm(citation["source"]),
                document["url"]
                or (norm(document["title"]), norm(document["publisher"])),
                " ".join(citation["excerpt"].split()),
            )
            if key in seen:
                row.fail(
                    ("citations", index, "excerpt"),
                    f"The same source, document and excerpt as citation "
                    f"{seen[key] + 1}.",
                )
            seen.setdefault(key, index)

    def check_workflow(self, row: ClaimRow) -> None:
        status = row.values["status"] or Claim.Status.OPEN
        if not self.trusted:
            if status != Claim.Status.OPEN:
                row.fail(
                    ("status",),
                    "Only an administrator imports claims in review or ruled "
                    "(manage.py import_claims); leave the status empty.",
                )
            if row.reviews:
                row.fail(
                    ("reviews", 0, "reviewer"),
                    "Only an administrator imports rulings (manage.py import_claims).",
                )
            return
        last = row.reviews[-1]["outcome"] if row.reviews else None
        ruled = (Claim.Status.CONFIRMED, Claim.Status.REFUTED)
        if status in ruled and last != status:
            row.fail(
                ("status",),
                f"A {status} claim needs its ruling: its last review must be {status}.",
            )
        elif status not in ruled and last in ruled:
            row.fail(
                ("status",),
                f"The last review rules it {last}; the status says {status}.",
            )

    # People ---------------------------------------------------------------------------

    def resolve_users(self, rows: list[ClaimRow]) -> None:
        wanted = set()
        for row in rows:
            wanted.add(row.values["logged_by"])
            wanted |= {item["created_by"] for item in (*row.citations, *row.relations)}
            wanted |= {review["reviewer"] for review in row.reviews}
        wanted = {name for name in wanted if name and name not in self.users}
        if wanted:
            found = dict(
                get_user_model()
                .objects.filter(username__in=wanted)
                .values_list("username", "pk")
            )
            self.users.update({name: found.get(name) for name in wanted})

    def user_id(self, row: ClaimRow, path: tuple, name: str, default) -> int | None:
        if not name:
            return default
        if self.actor is not None and name == self.actor.get_username():
            return self.actor.pk
        if not self.trusted:
            row.fail(
                path,
                "Only an administrator imports records in someone else's name; "
                "leave it empty (they will be yours).",
            )
            return None
        if self.users.get(name) is None:
            row.fail(path, f"There is no user {name[:150]!r}.")
        return self.users.get(name)

    def check_people(self, row: ClaimRow) -> bool:
        before = self.failures
        actor_id = self.actor.pk if self.actor is not None else None
        logged_by = self.user_id(row, ("logged_by",), row.values["logged_by"], actor_id)
        if logged_by is None and not row.values["logged_by"]:
            row.fail(("logged_by",), "Required when the import runs without --user.")
        row.values["logged_by_id"] = logged_by
        cited_by = set()
        for group in ("citations", "relations"):
            for index, item in enumerate(getattr(row, group)):
                item["created_by_id"] = self.user_id(
                    row, (group, index, "created_by"), item["created_by"], logged_by
                )
                if group == "citations":
                    cited_by.add(item["created_by_id"])
        reviewers = set()
        for index, review in enumerate(row.reviews):
            reviewer = self.user_id(
                row, ("reviews", index, "reviewer"), review["reviewer"], None
            )
            review["reviewer_id"] = reviewer
            # Four eyes, as the review workflow has it.
            if reviewer is not None and (reviewer == logged_by or reviewer in cited_by):
                row.fail(
                    ("reviews", index, "reviewer"),
                    f"{review['reviewer']} logged or cited this claim: four-eyes "
                    "leaves its ruling to another reviewer.",
                )
            reviewers.add(reviewer)
        if reviewers:
            self.reviewers_of[row.external_id] = (row.where, reviewers)
        if self.failures > before:
            self.row_done(RowReport(row.where, row.external_id, "error"))
            return False
        return True

    # Sources --------------------------------------------------------------------------

    def ensure_sources(self, rows: list[ClaimRow], notes) -> None:
        """Every source the rows name, matched by name or created: citing
        sources, the publishers of their documents, and the "part of" chains
        the file gives them."""
        names: dict[str, str] = {}
        first_at: dict[str, str] = {}
        for row in rows:
            for citation in row.citations:
                spec = self.document_spec(citation["document"])
                citation["document_spec"] = spec
                for name in (citation["source"], spec.get("publisher")):
                    if name:
                        names.setdefault(norm(name), name)
                        first_at.setdefault(norm(name), row.where)
                self.mention(citation)
        frontier = {key for key in names if key not in self.sources}
        missing: dict[str, str] = {}
        while frontier:
            self.match_sources({key: names[key] for key in frontier})
            parents = set()
            for key in frontier - set(self.sources):
                missing[key] = names[key]
                part_of = self.described(key)["part_of"]
                if part_of and norm(part_of) not in names:
                    names[norm(part_of)] = part_of
                    first_at.setdefault(norm(part_of), first_at[key])
                    parents.add(norm(part_of))
            frontier = parents
        if missing:
            self.create_sources(missing, first_at, notes)
        for row in rows:
            for citation in row.citations:
                ref = self.sources.get(norm(citation["source"]))
                if ref is not None:
                    notes[row.where].append(ref.note("source", row.where))

    def match_sources(self, names: dict[str, str]) -> None:
        # Lower() folds only ASCII on SQLite: the exact name is matched as well.
        for chunk in batched(sorted(names), 500):
            found = (
                Source.objects.annotate(key=Lower("name"))
                .filter(
                    models.Q(key__in=chunk)
                    | models.Q(name__in=[names[key] for key in chunk])
                )
                .order_by("-pk")
                .values_list("pk", "name", "grade", "origin_id")
            )
            for pk, name, grade, origin_id in found:
                self.sources[norm(name)] = Ref(
                    pk, name, grade=grade, origin_id=origin_id or pk
                )

    def mention(self, citation: dict) -> None:
        """Keep the first description of a source a citation's columns give,
        with the "part of" chain it names."""
        key = norm(citation["source"])
        chain = [
            name.strip() for name in (citation["source_part_of"] or "").split(" > ")
        ]
        chain = [name for name in chain if name]
        self.mentions.setdefault(
            key,
            {
                "kind": citation["source_kind"],
                "grade": citation["source_grade"],
                "part_of": chain[0] if chain else "",
            },
        )
        for part, whole in zip(chain, chain[1:], strict=False):
            self.mentions.setdefault(norm(part), {"part_of": whole})

    def described(self, key: str) -> dict:
        """A new source as the file describes it: its sources-section entry,
        else the columns of the first citation that names it."""
        where, spec = self.source_spec(key)
        if spec:
            return {**spec, "where": where}
        mention = self.mentions.get(key, {})
        return {
            "kind": mention.get("kind"),
            "grade": mention.get("grade"),
            "part_of": mention.get("part_of"),
            "where": "",
        }

    def create_sources(self, missing: dict[str, str], first_at: dict, notes) -> None:
        """New sources, each "part of" parent before its parts: one bulk insert
        per level of the tree."""
        pending = dict(missing)
        while pending:
            level = {}
            for key, name in pending.items():
                part_of = self.described(key)["part_of"]
                if not part_of or norm(part_of) in self.sources:
                    level[key] = name
            if not level:
                for key in pending:
                    self.problem(
                        self.described(key)["where"] or first_at.get(key, "file"),
                        "part_of",
                        f"The “part of” chain of {pending[key]!r} loops.",
                    )
                return
            made = []
            for key, name in level.items():
                spec = self.described(key)
                kind = spec.get("kind")
                grade = spec.get("grade") or Grade.F
                at = first_at.get(key) or spec["where"]
                if grade != Grade.F and not self.may_grade:
                    # Grading is the managers' job: a new source starts at F, as
                    # on the pages, and the preview says so.
                    notes[at].append(
                        f"source “{name}”: grade {grade} not applied, only managers "
                        "grade sources (it starts at F)"
                    )
                    grade = Grade.F
                parent = self.sources.get(norm(spec.get("part_of") or ""))
                source = Source(
                    name=spec.get("name") or name,
                    kind=kind or DEFAULT_SOURCE_KIND,
                    country=spec.get("country") or "",
                    description=spec.get("description") or "",
                    grade=grade,
                    parent_id=parent.pk if parent else None,
                    origin_id=parent.origin_id if parent else None,
                )
                made.append((key, source, at))
            Source.objects.bulk_create([source for _, source, _ in made])
            tops = [source.pk for _, source, _ in made if source.origin_id is None]
            Source.objects.filter(pk__in=tops).update(origin_id=models.F("pk"))
            changes = []
            for key, source, at in made:
                source.origin_id = source.origin_id or source.pk
                self.sources[key] = Ref(
                    source.pk,
                    source.name,
                    created_at=at,
                    grade=source.grade,
                    origin_id=source.origin_id,
                )
                self.add_audit(source)
                changes.append(
                    GradeChange(
                        source_id=source.pk,
                        old_grade="",
                        new_grade=source.grade,
                        rationale=f"Initial grade, imported from {self.label}.",
                        changed_by=self.actor,
                    )
                )
                pending.pop(key)
            GradeChange.objects.bulk_create(changes)
            self.report.created["source"] += len(made)

    # Places and topics ----------------------------------------------------------------

    def ensure_named(self, rows: list[ClaimRow], notes) -> None:
        for model, known, section, kind in (
            (Place, self.places, "places", "place"),
            (Topic, self.topics, "topics", "topic"),
        ):
            mentions = {
                row.where: (
                    row.values["places"]
                    if kind == "place"
                    else [row.values["topic"]]
                    if row.values["topic"]
                    else []
                )
                for row in rows
            }
            first: dict[str, tuple[str, str]] = {}
            for where, names in mentions.items():
                for name in names:
                    first.setdefault(norm(name), (name, where))
            unknown = sorted(key for key in first if key not in known)
            for chunk in batched(unknown, 500):
                found = (
                    model.objects.annotate(key=Lower("name"))
                    .filter(
                        models.Q(key__in=chunk)
                        | models.Q(name__in=[first[key][0] for key in chunk])
                    )
                    .order_by("-pk")
                    .values_list("pk", "name")
                )
                for pk, name in found:
                    known[norm(name)] = Ref(pk, name)
            made = []
            for key, (name, where) in first.items():
                if key not in known:
                    spec = self.specs[section].get(key, ("", {}))[1]
                    fields = {k: v for k, v in spec.items() if v is not None}
                    fields["name"] = spec.get("name") or name
                    made.append((key, model(**fields), where))
            model.objects.bulk_create([obj for _, obj, _ in made])
            for key, obj, where in made:
                known[key] = Ref(obj.pk, obj.name, created_at=where)
                self.add_audit(obj)
            self.report.created[kind] += len(made)
            for where, names in mentions.items():
                for name in names:
                    notes[where].append(known[norm(name)].note(kind, where))

    # Documents ------------------------------------------------------------------------

    def document_spec(self, inline: dict) -> dict:
        """The file's fullest description of a document: its entry in the
        documents section (by URL, else title and publisher), overlaid with what
        the citation itself says."""
        spec: dict = {}
        if inline["url"] and inline["url"] in self.documents_by_url:
            spec = self.documents_by_url[inline["url"]][1]
        elif inline["title"] and inline["publisher"]:
            key = (norm(inline["title"]), norm(inline["publisher"]))
            spec = self.specs["documents"].get(key, ("", {}))[1]
        merged = dict(spec)
        for name, value in inline.items():
            if value not in (None, "") and not (name == "retracted" and not value):
                merged[name] = value
        return merged

    @staticmethod
    def document_keys(spec: dict) -> list[tuple]:
        keys = []
        if spec.get("url"):
            keys.append(("url", spec["url"]))
        if spec.get("title") and spec.get("publisher"):
            keys.append(("tp", norm(spec["title"]), norm(spec["publisher"])))
        return keys

    def ensure_documents(self, rows: list[ClaimRow], notes) -> None:
        wanted = []
        for row in rows:
            for citation in row.citations:
                citation["document_keys"] = self.document_keys(
                    citation["document_spec"]
                )
                if not any(k in self.documents for k in citation["document_keys"]):
                    wanted.append(citation["document_spec"])
        if wanted:
            self.match_documents(wanted)
        made: list[tuple[list[tuple], Document, str]] = []
        for row in rows:
            for index, citation in enumerate(row.citations):
                keys, spec = citation["document_keys"], citation["document_spec"]
                if any(k in self.documents for k in keys):
                    continue
                publisher = self.sources.get(norm(spec.get("publisher") or ""))
                if not spec.get("title") or publisher is None:
                    row.fail(
                        ("citations", index, "document", "title"),
                        "No document has this URL: give the new document's title "
                        "and publisher.",
                    )
                    continue
                document = Document(
                    title=spec["title"],
                    publisher_id=publisher.pk,
                    url=spec.get("url") or "",
                    kind=spec.get("kind") or DEFAULT_DOCUMENT_KIND,
                    published_on=spec.get("published_on"),
                    archived_copy=spec.get("archived_copy") or "",
                    retracted=bool(spec.get("retracted")),
                    text=spec.get("text") or "",
                )
                # Registered at once, so that the next row naming it reuses it.
                ref = Ref(
                    0,
                    document.title,
                    created_at=row.where,
                    retracted=document.retracted,
                )
                for k in keys:
                    self.documents[k] = ref
                made.append((keys, document, row.where))
        Document.objects.bulk_create([document for _, document, _ in made])
        for keys, document, _ in made:
            self.documents[keys[0]].pk = document.pk
            self.add_audit(document)
        self.report.created["document"] += len(made)
        for row in rows:
            for citation in row.citations:
                ref = next(
                    (
                        self.documents[k]
                        for k in citation["document_keys"]
                        if k in self.documents
                    ),
                    None,
                )
                citation["document_ref"] = ref
                if ref is not None:
                    notes[row.where].append(ref.note("document", row.where))

    def match_documents(self, specs: list[dict]) -> None:
        urls = sorted({spec["url"] for spec in specs if spec.get("url")})
        for chunk in batched(urls, 500):
            for pk, title, url, retracted in (
                Document.objects.filter(url__in=chunk)
                .order_by("-pk")
                .values_list("pk", "title", "url", "retracted")
            ):
                self.documents[("url", url)] = Ref(pk, title, retracted=retracted)
        # A document found by its URL needs no search by title: the URL key
        # comes first wherever a citation's keys are looked up.
        specs = [
            spec
            for spec in specs
            if not (spec.get("url") and ("url", spec["url"]) in self.documents)
        ]
        titled = {
            (norm(spec["title"]), norm(spec["publisher"]))
            for spec in specs
            if spec.get("title") and spec.get("publisher")
        }
        publishers = {self.sources[key].pk for _, key in titled if key in self.sources}
        titles = {title: title for title, _ in titled}
        for spec in specs:
            if spec.get("title"):
                titles.setdefault(norm(spec["title"]), spec["title"])
        for chunk in batched(sorted(titles), 500):
            found = (
                Document.objects.annotate(key=Lower("title"))
                .filter(
                    models.Q(key__in=chunk)
                    | models.Q(title__in=[titles[key] for key in chunk]),
                    publisher_id__in=publishers,
                )
                .order_by("-pk")
                .values_list("pk", "title", "publisher__name", "retracted")
            )
            for pk, title, publisher, retracted in found:
                self.documents[("tp", norm(title), norm(publisher))] = Ref(
                    pk, title, retracted=retracted
                )

    # Claims, citations, rulings -------------------------------------------------------

    def row_is_complete(self, row: ClaimRow) -> bool:
        """Everything the row refers to was found or made; what was not is
        already reported against the row."""
        return all(
            citation.get("document_ref") is not None
            and norm(citation["source"]) in self.sources
            for citation in row.citations
        )

    def create_claims(self, rows: list[ClaimRow], notes) -> None:
        complete = []
        for row in rows:
            if self.row_is_complete(row):
                complete.append(row)
            else:
                self.row_done(RowReport(row.where, row.external_id, "error"))
        rows = complete
        claims = []
        for row in rows:
            topic = self.topics.get(norm(row.values["topic"] or ""))
            claims.append(
                Claim(
                    **row.model_fields,
                    external_id=row.external_id,
                    topic_id=topic.pk if topic else None,
                    status=row.values["status"] or Claim.Status.OPEN,
                    submission_note=row.values["submission_note"] or "",
                    logged_by_id=row.values["logged_by_id"],
                )
            )
        self.confirm(rows, claims)
        # Inserted as they are, not through the manager's bulk_create, which
        # would make each a row of defaults: confirm() made the true ones.
        insert_objects(Claim, claims)
        for claim in claims:
            claim.confirmation.claim_id = claim.pk
        insert_objects(ClaimConfirmation, [claim.confirmation for claim in claims])
        Link = Claim.places.through
        links, citations, reviews, cited_sources = [], [], [], []
        for row, claim in zip(rows, claims, strict=True):
            place_ids = [self.places[norm(name)].pk for name in row.values["places"]]
            links += [Link(claim_id=claim.pk, place_id=pk) for pk in place_ids]
            self.add_audit(claim, places=sorted(place_ids))
            for citation in row.citations:
                source = self.sources[norm(citation["source"])]
                cited_sources.append(source.label)
                citations.append(
                    Citation(
                        claim_id=claim.pk,
                        document_id=citation["document_ref"].pk,
                        source_id=source.pk,
                        supports=citation["supports"],
                        excerpt=citation["excerpt"],
                        excerpt_digest=excerpt_digest(citation["excerpt"]),
                        locator=citation["locator"],
                        said_on=citation["said_on"],
                        credibility=citation["credibility"],
                        grade_at_citation=citation["grade_at_citation"] or source.grade,
                        created_by_id=citation["created_by_id"],
                    )
                )
            for review in row.reviews:
                reviews.append(
                    Review(
                        claim_id=claim.pk,
                        reviewer_id=review["reviewer_id"],
                        outcome=review["outcome"],
                        rationale=review["rationale"],
                        likelihood_at=review["likelihood_at"],
                        level_at=review["level_at"] or "",
                    )
                )
            for index, relation in enumerate(row.relations):
                self.pending_relations.append(
                    (row.where, index, row.external_id, relation)
                )
            self.new_claim_ids.append(claim.pk)
            self.row_done(
                RowReport(
                    row.where, row.external_id, "create", self.describe(row, notes)
                )
            )
        Link.objects.bulk_create(links)
        insert_objects(Citation, citations)
        Review.objects.bulk_create(reviews)
        for citation, source in zip(citations, cited_sources, strict=True):
            verb = "supports" if citation.supports else "denies"
            self.add_audit(citation, f"{source} {verb} claim #{citation.claim_id}")
        for review in reviews:
            self.add_audit(review)
        self.report.created["claim"] += len(claims)
        self.report.created["citation"] += len(citations)
        self.report.created["review"] += len(reviews)
        # Written as the import goes, so memory does not grow with the file.
        self.write_audit()

    def confirm(self, rows: list[ClaimRow], claims: list[Claim]) -> None:
        """Give each new claim the confirmation its citations give it, as the
        store would compute it from the database once they are inserted: the
        sources' grades and origins now, the documents' retraction. Citation ids
        only break ties, by their order, which numbering in insertion order
        keeps. The recomputation at the end checks every new claim anyway."""
        for ref in self.sources.values():
            self.source_names[ref.pk] = ref.label
        origins = {ref.origin_id or ref.pk for ref in self.sources.values()}
        unnamed = origins - set(self.source_names)
        if unnamed:
            self.source_names.update(
                Source.objects.filter(pk__in=unnamed).values_list("pk", "name")
            )
        for row, claim in zip(rows, claims, strict=True):
            reports = []
            for number, citation in enumerate(row.citations, start=1):
                source = self.sources[norm(citation["source"])]
                origin_id = source.origin_id or source.pk
                reports.append(
                    confirmation.Report(
                        citation_id=number,
                        source_id=source.pk,
                        source_name=source.label,
                        origin_id=origin_id,
                        origin_name=self.source_names[origin_id],
                        grade=source.grade,
                        credibility=citation["credibility"],
                        supports=citation["supports"],
                        retracted=citation["document_ref"].retracted,
                    )
                )
            ruling = claim.status if claim.status in confirmation.RULINGS else None
            inputs = confirmation.Inputs(reports=tuple(reports), ruling=ruling)
            counts = (len(reports), len({report.origin_id for report in reports}))
            apply(claim, self.memo.compute_inputs(inputs), counts)

    @staticmethod
    def describe(row: ClaimRow, notes) -> list[str]:
        parts = [f"creates claim “{row.external_id}”"]
        if row.citations:
            count = len(row.citations)
            parts.append(f"{count} citation{'s' * (count != 1)}")
        parts += notes[row.where]
        parts += [
            f"{relation['kind']} “{relation['claim']}”" for relation in row.relations
        ]
        if row.reviews:
            parts.append(f"{len(row.reviews)} review(s), status {row.values['status']}")
        return list(dict.fromkeys(parts))

    # Relations ------------------------------------------------------------------------

    def import_relations(self) -> None:
        if not self.pending_relations:
            return
        ids = {own for _, _, own, _ in self.pending_relations}
        ids |= {relation["claim"] for *_, relation in self.pending_relations}
        pk_of: dict[str, int] = {}
        for chunk in batched(sorted(ids), 500):
            pk_of.update(
                Claim.objects.filter(external_id__in=chunk).values_list(
                    "external_id", "pk"
                )
            )
        pairs: dict[tuple[int, int], tuple[str, str, dict]] = {}
        for where, index, own, relation in self.pending_relations:
            name = field_name(self.kind, ("relations", index, "claim"), None)
            other = pk_of.get(relation["claim"])
            if other is None:
                self.problem(
                    where,
                    name,
                    f"No claim has the external id {relation['claim']!r}, in the "
                    "file or the database.",
                )
                continue
            if other == pk_of[own]:
                self.problem(where, name, "A claim cannot be related to itself.")
                continue
            pair = (min(pk_of[own], other), max(pk_of[own], other))
            if pair in pairs:
                first_where, _, first = pairs[pair]
                if first["kind"] != relation["kind"]:
                    self.problem(
                        where,
                        name,
                        f"{first_where} relates these claims as {first['kind']}.",
                    )
                continue
            pairs[pair] = (where, own, relation)
        existing: set[tuple[int, int]] = set()
        for chunk in batched(sorted({low for low, _ in pairs}), 500):
            existing |= set(
                Relation.objects.filter(claim_a_id__in=chunk).values_list(
                    "claim_a_id", "claim_b_id"
                )
            )
        relations = []
        for (low, high), (_, own, relation) in pairs.items():
            if (low, high) in existing:
                continue
            for claim in (own, relation["claim"]):
                reviewed = self.reviewers_of.get(claim)
                if reviewed and relation["created_by_id"] in reviewed[1]:
                    self.problem(
                        reviewed[0],
                        "reviews",
                        "A reviewer of this claim related it to another claim: "
                        "four-eyes leaves its ruling to another reviewer.",
                    )
            relations.append(
                Relation(
                    claim_a_id=low,
                    claim_b_id=high,
                    kind=relation["kind"],
                    rationale=relation["rationale"],
                    created_by_id=relation["created_by_id"],
                )
            )
        Relation.objects.bulk_create(relations, batch_size=1000)
        for relation in relations:
            self.add_audit(relation)
        self.report.created["relation"] += len(relations)

    # Audit ----------------------------------------------------------------------------

    def add_audit(self, obj: models.Model, label: str = "", **extra) -> None:
        self.audit.append(
            (
                self.actor.pk if self.actor else None,
                self.actor.get_username() if self.actor else "",
                AuditEntry.Action.CREATE,
                obj._meta.label_lower,
                str(obj.pk),
                (label or str(obj))[:300],
                json.dumps(_json_safe(obj, **extra), cls=DjangoJSONEncoder),
                f"Imported from {self.label}.",
            )
        )

    def write_audit(self) -> None:
        insert_audit_rows(self.audit)
        self.audit = []


AUDIT_COLUMNS = (
    "actor_id",
    "actor_username",
    "action",
    "model",
    "object_id",
    "object_repr",
    "after",
    "note",
)


def insert_audit_rows(rows: list[tuple]) -> None:
    """Audit rows straight into their table (the database sets the time).

    An import writes one audit row per record it creates, about as many rows
    as everything else together; model instances and bulk_create's work per
    value would cost more than the rest of the import, so plain rows are sent,
    by ``COPY`` on PostgreSQL.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(AuditEntry._meta.db_table)
    columns = ", ".join(quote(column) for column in AUDIT_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_rows(cursor, f"{table} ({columns})", rows)
        else:
            marks = ", ".join(["%s"] * len(AUDIT_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                rows,
            )


# COPY's text format: these characters are escaped in a value, None is \\N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        # As str's own method, so a TextChoices member gives its plain value.
        return str.translate(value, _COPY_ESCAPES)
    return str(value).translate(_COPY_ESCAPES)


def _copy_converter(field: models.Field):
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    return None


def insert_objects(model: type[models.Model], objects: list[models.Model]) -> None:
    """Insert new instances of a model and give each its primary key, as
    ``bulk_create`` does.

    On PostgreSQL the keys are drawn from the table's sequence in one query and
    the rows go in by ``COPY``: an import writes tens of thousands of rows, and
    ``bulk_create`` spends more time preparing each value in Python than the
    database spends storing it. Values are written as the fields hold them,
    which for these models' field types (text, numbers, dates, keys, flags)
    is what ``COPY`` reads; JSON goes through the field's encoder.
    """
    if not objects:
        return
    if connection.vendor != "postgresql":
        # The base manager's: a model's own bulk_create may add rows of its
        # own (ClaimQuerySet's), which a loader inserts itself.
        model._base_manager.bulk_create(objects, batch_size=1000)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not getattr(f, "generated", False)]
    stamped = [
        f
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    converters = [_copy_converter(f) for f in fields]
    with connection.cursor() as cursor:
        if meta.auto_field is None:
            # Keyed by another row (a ClaimConfirmation by its claim).
            keys = [obj.pk for obj in objects]
        else:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                "FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(objects)],
            )
            keys = [key for (key,) in cursor.fetchall()]
        rows = []
        for obj, key in zip(objects, keys, strict=True):
            obj.pk = key
            for f in stamped:
                f.pre_save(obj, add=True)
            values = []
            for f, convert in zip(fields, converters, strict=True):
                value = getattr(obj, f.attname)
                values.append(convert(value) if convert else value)
            rows.append(values)
            obj._state.adding = False
            obj._state.db = connection.alias
        columns = ", ".join(quote(f.column) for f in fields)
        copy_rows(cursor, f"{quote(meta.db_table)} ({columns})", rows)


def copy_rows(cursor, target: str, rows: Iterable[Sequence]) -> None:
    """COPY rows of Python values into ``target`` ("table (columns)")."""
    text = "".join(
        "\t".join([_copy_text(value) for value in row]) + "\n" for row in rows
    )
    cursor.cursor.copy_expert(f"COPY {target} FROM STDIN", io.StringIO(text))


def run_import(parsed: ParsedFile, actor, **options) -> Report:
    return Importer(actor, **options).run(parsed)
