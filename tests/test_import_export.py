"""Importing and exporting claims: the format, the round trip, bad input.

The JSON export is the import format: exported, the tracker emptied, imported and
exported again, the file comes back the same, and so does every claim's level
and likelihood. A file with any problem writes nothing.
"""

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analysts.models import AuditEntry
from claims import imports
from claims.confirmation_store import drift, recompute_claims
from claims.demo import load_demo
from claims.exports import iter_csv, iter_json
from claims.models import (
    Citation,
    Claim,
    ClaimConfirmation,
    Level,
    Place,
    Relation,
    Review,
    Topic,
)
from sources.models import Document, GradeChange, Source
from tests.factories import (
    AnalystFactory,
    CitationFactory,
    ClaimFactory,
    SourceFactory,
)
from tests.hostile import HOSTILE as HOSTILE_TEXTS

pytestmark = pytest.mark.django_db

STATIC = Path(settings.BASE_DIR) / "static" / "import"
HOSTILE = '<script>alert("x")</script>'
HEADER = (
    "external_id,statement,quantity_low,quantity_high,citation1_source,"
    "citation1_document_title,citation1_document_publisher,citation1_excerpt,"
    "citation1_credibility,citation1_source_grade"
)


def export_json() -> str:
    return "".join(iter_json(Claim.objects.all()))


def export_csv() -> str:
    return "".join(iter_csv(Claim.objects.all()))


def run(text: str | bytes, name: str = "claims.csv", actor=None, **options):
    """Import ``text`` as the command does (trusted), unless options say else."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    parsed = imports.read_file(io.BytesIO(data), name, len(data))
    options = {"trusted": True, "may_grade": True, **options}
    return imports.Importer(actor, **options).run(parsed)


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Claim, Citation, Relation, Review, Source, Document, Place, Topic)
    )


def empty_the_tracker() -> None:
    """Every row an import writes, except users and the audit trail (which is
    append-only: PostgreSQL refuses to delete its rows)."""
    # Reviews refuse deletion through the ORM: they are append-only.
    Review.objects.all()._raw_delete(Review.objects.db)
    Relation.objects.all().delete()
    Citation.objects.all().delete()
    Claim.objects.all().delete()
    Document.objects.all().delete()
    GradeChange.objects.all().delete()
    Source.objects.update(parent=None, origin=None)
    Source.objects.all().delete()
    Place.objects.all().delete()
    Topic.objects.all().delete()
    assert counts() == (0,) * 8


def field_problems(report) -> set[tuple[str, str]]:
    return {(problem.where, problem.field) for problem in report.problems}


# --- the round trip -------------------------------------------------------------------


def test_the_demo_export_round_trips_through_an_empty_tracker():
    load_demo()
    first = export_json()
    before = {
        claim.external_id: (claim.level, claim.likelihood, claim.status)
        for claim in Claim.objects.all()
    }
    assert len(before) >= 20 and Review.objects.exists()
    empty_the_tracker()

    report = run(first, "demo.json")

    assert report.ok, report.problems
    assert report.created["claim"] == len(before)
    after = {
        claim.external_id: (claim.level, claim.likelihood, claim.status)
        for claim in Claim.objects.all()
    }
    assert after == before
    assert export_json() == first
    assert drift() == []


def test_the_csv_export_of_the_demo_comes_back_the_same():
    load_demo()
    first = export_csv()
    likelihoods = Claim.objects.values_list("external_id", "confirmation__likelihood")
    before = dict(likelihoods)
    empty_the_tracker()
    report = run(first, "demo.csv")
    assert report.ok, report.problems
    assert dict(likelihoods.all()) == before
    # Record numbers (the id column) differ; nothing else does.
    strip = [line.rsplit(",", 6)[0] for line in first.splitlines()]
    again = [line.rsplit(",", 6)[0] for line in export_csv().splitlines()]
    assert again == strip


def test_importing_the_same_file_twice_changes_nothing():
    load_demo()
    data = export_json()
    empty_the_tracker()
    assert run(data, "demo.json").ok
    state = counts(), AuditEntry.objects.count()
    again = run(data, "demo.json")
    assert again.ok
    assert again.created.get("claim", 0) == 0
    assert again.matched_claims == state[0][0]
    assert (counts(), AuditEntry.objects.count()) == state


def test_the_export_matches_the_published_json_schema():
    jsonschema_rs = pytest.importorskip(
        "jsonschema_rs", reason="jsonschema_rs comes with schemathesis"
    )
    load_demo()
    schema = json.loads((STATIC / "claims.schema.json").read_text())
    validator = jsonschema_rs.validator_for(schema)
    assert [str(e) for e in validator.iter_errors(json.loads(export_json()))] == []


def test_the_csv_template_imports_cleanly(alice):
    report = run((STATIC / "claims-template.csv").read_bytes(), actor=alice)
    assert report.ok, report.problems
    assert report.created["claim"] == 2
    assert report.created["relation"] == 1
    second = Claim.objects.get(external_id="example-2")
    assert second.citations.count() == 2
    assert second.citations.filter(supports=False).count() == 1
    # The second row's document is the first row's, found by its URL.
    assert (
        Document.objects.filter(url="https://example.org/speaking-out-1192").count()
        == 1
    )
    agency = Source.objects.get(
        name="National Intelligence Service (Republic of Korea)"
    )
    assert agency.parent.name == "Government of the Republic of Korea"
    assert agency.origin_id == agency.parent_id


def test_new_claims_are_inserted_with_their_confirmation_and_not_written_again(
    monkeypatch,
):
    load_demo()
    data = json.loads(export_json())
    for claim in data["claims"]:
        claim["relations"] = []
    data["claims"][0]["citations"][0]["document"]["retracted"] = True
    empty_the_tracker()
    changed = []

    def counting(ids, **options):
        changed.append(recompute_claims(ids, **options))
        return changed[-1]

    monkeypatch.setattr(imports, "recompute_claims", counting)
    report = run(json.dumps(data), "demo.json")

    assert report.ok, report.problems
    # Computed in memory as the store computes it: the pass at the end, which
    # checks every new claim, finds nothing to rewrite.
    assert changed == [0, 0]
    assert Document.objects.filter(retracted=True).exists()
    assert Claim.objects.filter(status="confirmed").exists()
    assert Source.objects.exclude(origin=models.F("pk")).exists()
    assert drift() == []


def test_an_import_costs_the_same_queries_for_5_or_25_claims(alice):
    def queries_for(n: int) -> int:
        rows = "".join(
            f"q{n}-{i},Claim {i} of {n}.,1,2,Kremlin,Doc {i % 3},Pub,Text {i},3,B\n"
            for i in range(n)
        )
        with CaptureQueriesContext(connection) as queries:
            report = run(f"{HEADER}\n{rows}", actor=alice)
        assert report.ok, report.problems
        assert report.created["claim"] == n
        return len(queries)

    queries_for(3)  # the sources and documents exist from here on
    # (SQLite binds at most 999 values a statement: 25 claims fit one insert.)
    assert queries_for(5) == queries_for(25)
    assert drift() == []


def test_an_import_writes_one_audit_row_per_record_and_recomputes(alice):
    report = run((STATIC / "claims-template.csv").read_bytes(), actor=alice)
    created = sum(report.created.values())
    entries = AuditEntry.objects.filter(note__startswith="Imported from")
    assert entries.count() == created
    assert set(entries.values_list("actor_username", flat=True)) == {"alice"}
    claim = Claim.objects.get(external_id="example-1")
    assert claim.confirmation_version and claim.level == "single_source"
    assert drift() == []


# --- dry run and report ---------------------------------------------------------------


def test_a_dry_run_reports_each_row_and_writes_nothing(alice):
    before = counts(), AuditEntry.objects.count()
    report = run(
        (STATIC / "claims-template.csv").read_bytes(), actor=alice, dry_run=True
    )
    assert report.ok and not report.committed
    assert (counts(), AuditEntry.objects.count()) == before
    first, second = report.rows
    assert (first.where, first.outcome) == ("row 2", "create")
    assert any("creates source" in note for note in first.notes)
    assert any("created at row 2" in note for note in second.notes)


def test_a_claim_already_stored_is_matched_and_left_alone(alice):
    ClaimFactory(external_id="old-1", statement="As it was.", logged_by=alice)
    report = run(
        "external_id,statement\nold-1,Changed in the file.\nnew-1,A new one.\n",
        actor=alice,
    )
    assert report.ok
    assert [row.outcome for row in report.rows] == ["match", "create"]
    assert Claim.objects.get(external_id="old-1").statement == "As it was."


def test_relations_reach_stored_claims_by_external_id(alice):
    stored = ClaimFactory(external_id="stored-1", logged_by=alice)
    CitationFactory(claim=stored, source=SourceFactory(grade="B"))
    recompute_claims([stored.pk])
    report = run(
        f"{HEADER},relation1_kind,relation1_claim,relation1_rationale\n"
        "new-1,Contradicting.,1,2,Kremlin,Doc,Pub,Text,3,B,"
        "contradicts,stored-1,Different count.\n",
        actor=alice,
    )
    assert report.ok, report.problems
    relation = Relation.objects.get()
    assert {relation.claim_a.external_id, relation.claim_b.external_id} == {
        "stored-1",
        "new-1",
    }
    stored.refresh_from_db()
    assert stored.level == "contested"


# --- bad input: a clear problem each, nothing written ---------------------------------


@pytest.mark.parametrize(
    "rows, where, field",
    [
        ("a-1,,1,2,NIS,Doc,Pub,Text,3,", "row 3", "statement"),
        (",Statement,1,2,NIS,Doc,Pub,Text,3,", "row 3", "external_id"),
        ("a-1,Statement,1,2,NIS,Doc,Pub,Text,7,", "row 3", "citation1_credibility"),
        ("a-1,Statement,1,2,NIS,Doc,Pub,Text,three,", "row 3", "citation1_credibility"),
        ("a-1,Statement,1,2,NIS,Doc,Pub,Text,3,G", "row 3", "citation1_source_grade"),
        ("a-1,Statement,5,2,NIS,Doc,Pub,Text,3,", "row 3", "quantity_high"),
        ("a-1,Statement,-5,2,NIS,Doc,Pub,Text,3,", "row 3", "quantity_low"),
        ("a-1,Statement,1.005,2,NIS,Doc,Pub,Text,3,", "row 3", "quantity_low"),
        ("a-1,Statement,1e99,,NIS,Doc,Pub,Text,3,", "row 3", "quantity_low"),
        ("a-1,Statement,1,2,NIS,Doc,Pub,,3,", "row 3", "citation1_excerpt"),
        ("a-1,Statement,1,2,NIS,,,Text,3,", "row 3", "citation1_document_title"),
        ("a-1,Statement,1,2,NIS,Doc,Pub,Text,3,,extra", "row 3", ""),
    ],
)
def test_a_bad_value_is_a_problem_with_its_row_and_column(alice, rows, where, field):
    before = counts()
    report = run(f"{HEADER}\nok-1,Fine,1,2,NIS,Doc,Pub,Text,3,\n{rows}\n", actor=alice)
    assert not report.ok
    assert (where, field) in field_problems(report)
    assert counts() == before
    assert not report.committed


def test_every_problem_is_reported_not_only_the_first(alice):
    report = run(
        f"{HEADER}\n"
        "a-1,,1,2,NIS,Doc,Pub,Text,7,\n"
        "a-2,Fine,9,2,NIS,Doc,Pub,Text,3,Q\n"
        "a-1,Duplicate id,1,2,NIS,Doc,Pub,Text,3,\n",
        actor=alice,
    )
    assert {
        ("row 2", "statement"),
        ("row 2", "citation1_credibility"),
        ("row 3", "quantity_high"),
        ("row 3", "citation1_source_grade"),
        ("row 4", "external_id"),
    } <= field_problems(report)
    assert Claim.objects.count() == 0


def test_past_the_listing_limit_problems_still_stop_the_import(alice, monkeypatch):
    monkeypatch.setattr(imports, "MAX_PROBLEMS", 3)
    rows = "".join(f"a-{n},,1,2,NIS,Doc,Pub,Text,9,\n" for n in range(10))
    report = run(f"{HEADER}\n{rows}ok-1,Fine,1,2,NIS,Doc,Pub,Text,3,\n", actor=alice)
    assert len(report.problems) == 3 and report.more_problems
    assert [row.outcome for row in report.rows].count("error") == 10
    assert Claim.objects.count() == 0


def test_unknown_and_missing_columns_are_refused_before_any_row(alice):
    report = run("external_id,statment,colour\na-1,Typo,red\n", actor=alice)
    assert {("row 1", "statment"), ("row 1", "colour"), ("row 1", "statement")} <= (
        field_problems(report)
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ("external_id,statement\na-1,Caf\xe9\n".encode("latin-1"), "not UTF-8"),
        (b'external_id,statement\na-1,"unclosed\n', "cannot be read"),
        (b"", "empty"),
    ],
)
def test_malformed_csv_is_reported(alice, data, message):
    report = run(data, actor=alice)
    assert not report.ok
    assert message in " ".join(problem.message for problem in report.problems)
    assert Claim.objects.count() == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"claims": [', "not valid JSON"),
        (b'{"claims": [{"external_id": "a", "statement": NaN}]}', "not valid JSON"),
        ('{"claims": []}'.encode("utf-16"), ""),
        (b"\xff\xfe\xfa", "not"),
        (b'{"claims": {"a": 1}}', "Give a list"),
        (b'{"claims": [], "extra": 1}', "Unknown field"),
        (b'{"format": "other", "claims": []}', "reads"),
        (b'[{"external_id": "a", "statement": "x", "colour": "red"}]', "Unknown"),
        (b'[{"external_id": "a", "statement": "x", "citations": "NIS"}]', "list"),
        (b'["just a string"]', "Give an object"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    ],
)
def test_malformed_json_is_reported(alice, data, message):
    report = run(data, "claims.json", actor=alice)
    if message:
        assert not report.ok
        assert message in " ".join(problem.message for problem in report.problems)
    assert Claim.objects.count() == 0


def test_a_json_problem_names_its_claim_and_path(alice):
    report = run(
        json.dumps(
            [
                {"external_id": "a", "statement": "Fine."},
                {
                    "external_id": "b",
                    "statement": "Bad citation.",
                    "citations": [
                        {
                            "source": "NIS",
                            "document": {"url": "ftp:x"},
                            "excerpt": "e",
                            "credibility": 9,
                        }
                    ],
                },
            ]
        ),
        "claims.json",
        actor=alice,
    )
    assert {
        ("claim 2", "citations[0].credibility"),
        ("claim 2", "citations[0].document.url"),
    } <= field_problems(report)


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the file was read")

    size = 100 * 1024 * 1024
    for name in ("big.csv", "big.json"):
        parsed = imports.read_file(Unreadable(), name, size)
        assert "MB" in parsed.problems[0].message
        assert imports.Importer(None, trusted=True, may_grade=True).run(parsed).problems


def test_the_command_refuses_a_100_mb_file(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    with pytest.raises(CommandError):
        call_command("import_claims", str(big), stderr=io.StringIO())


def test_html_is_stored_verbatim_and_escaped_on_the_page(alice, as_user):
    out = io.StringIO()
    csv.writer(out).writerows(
        [HEADER.split(","), ["h-1", HOSTILE, 1, 2, HOSTILE, "Doc", "Pub", "Te", 3, ""]]
    )
    report = run(out.getvalue(), actor=alice)
    assert report.ok, report.problems
    claim = Claim.objects.get(external_id="h-1")
    assert claim.statement == HOSTILE
    assert Source.objects.filter(name=HOSTILE).exists()
    page = as_user(alice).get(claim.get_absolute_url()).content.decode()
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page


# --- who may import what --------------------------------------------------------------


def test_an_analyst_imports_only_in_her_own_name_and_unruled(alice, bob, rita):
    report = run(
        "external_id,statement,logged_by,status\n"
        "a-1,Bob's claim.,bob,\n"
        "a-2,Ruled claim.,,confirmed\n"
        "a-3,Her own.,alice,open\n",
        actor=alice,
        trusted=False,
        may_grade=False,
    )
    assert field_problems(report) == {("row 2", "logged_by"), ("row 3", "status")}
    assert Claim.objects.count() == 0


def test_an_analysts_new_sources_start_at_f_and_the_preview_says_so(alice):
    report = run(
        f"{HEADER}\ng-1,Graded,1,2,New agency,Doc,Pub,Text,3,A\n",
        actor=alice,
        trusted=False,
        may_grade=False,
    )
    assert report.ok
    assert Source.objects.get(name="New agency").grade == "F"
    assert any("grade A not applied" in note for note in report.rows[0].notes)


def test_an_existing_sources_grade_is_never_changed_by_an_import(alice):
    SourceFactory(name="NIS", grade="B")
    assert run(f"{HEADER}\ng-1,Graded,1,2,nis,Doc,Pub,Text,3,E\n", actor=alice).ok
    assert Source.objects.get(name="NIS").grade == "B"
    assert Source.objects.count() == 2  # NIS and the publisher


def test_an_imported_ruling_keeps_four_eyes(alice, rita):
    data = {
        "claims": [
            {
                "external_id": "r-1",
                "statement": "Ruled by its own analyst.",
                "logged_by": "rita",
                "status": "confirmed",
                "reviews": [
                    {"reviewer": "rita", "outcome": "confirmed", "rationale": "Mine."}
                ],
            },
            {
                "external_id": "r-2",
                "statement": "Confirmed without a ruling.",
                "logged_by": "alice",
                "status": "confirmed",
            },
        ]
    }
    report = run(json.dumps(data), "rulings.json")
    assert ("claim 1", "reviews[0].reviewer") in field_problems(report)
    assert ("claim 2", "status") in field_problems(report)
    assert Claim.objects.count() == 0


def test_without_a_user_the_command_needs_each_rows_logger(tmp_path, alice):
    path = tmp_path / "claims.csv"
    path.write_text("external_id,statement\na-1,No logger.\n")
    with pytest.raises(CommandError):
        call_command("import_claims", str(path), stderr=io.StringIO())
    out = io.StringIO()
    call_command("import_claims", str(path), "--user", "alice", stdout=out)
    assert "1 claim created" in out.getvalue()
    assert Claim.objects.get().logged_by == alice


def test_the_command_dry_run_prints_rows_and_writes_nothing(tmp_path, alice):
    path = tmp_path / "claims.csv"
    path.write_bytes((STATIC / "claims-template.csv").read_bytes())
    out = io.StringIO()
    call_command("import_claims", str(path), "--dry-run", "--user", "alice", stdout=out)
    text = out.getvalue()
    assert "row 2 [example-1] create" in text
    assert "Would import" in text
    assert Claim.objects.count() == 0


def test_the_export_command_takes_the_list_filters(tmp_path, alice):
    load_demo()
    out = tmp_path / "corroborated.json"
    call_command(
        "export_claims", "--filter", "level=corroborated", "--output", str(out)
    )
    exported = json.loads(out.read_text())["claims"]
    expected = Claim.objects.filter(level="corroborated").count()
    assert expected and len(exported) == expected
    assert {c["confirmation"]["level"] for c in exported} == {"corroborated"}
    stdout = io.StringIO()
    call_command(
        "export_claims", "--format", "csv", "--filter", "q=Vladivostok", stdout=stdout
    )
    assert stdout.getvalue().startswith("external_id,")
    with pytest.raises(CommandError):
        call_command("export_claims", "--filter", "level=certain", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("export_claims", "--filter", "nonsense", stdout=io.StringIO())


# --- the import page ------------------------------------------------------------------


def upload(client, name: str, data: bytes):
    return client.post(
        reverse("claims:claim_import"), {"file": SimpleUploadedFile(name, data)}
    )


def test_alice_previews_then_commits_an_import(as_user, alice):
    client = as_user(alice)
    assert client.get(reverse("claims:claim_import")).status_code == 200
    preview = upload(
        client, "claims.csv", (STATIC / "claims-template.csv").read_bytes()
    )
    assert preview.status_code == 200
    assert Claim.objects.count() == 0
    page = preview.content.decode()
    assert "example-1" in page and "creates source" in page
    token = preview.context["token"]
    assert token
    done = client.post(reverse("claims:claim_import_commit"), {"token": token})
    assert done.status_code == 302
    assert Claim.objects.count() == 2
    assert set(Claim.objects.values_list("logged_by__username", flat=True)) == {"alice"}
    # The kept rows are gone: a second commit imports nothing.
    again = client.post(reverse("claims:claim_import_commit"), {"token": token})
    assert again.status_code == 302
    assert Claim.objects.count() == 2


def test_the_preview_lists_every_problem_and_offers_no_commit(as_user, alice):
    preview = upload(
        as_user(alice),
        "claims.csv",
        f"{HEADER}\na-1,,1,2,NIS,Doc,Pub,Text,7,\n".encode(),
    )
    page = preview.content.decode()
    assert "citation1_credibility" in page and "statement" in page
    assert reverse("claims:claim_import_commit") not in page
    assert not preview.context["token"]


def test_a_commit_checks_again_and_writes_nothing_if_the_data_changed(as_user, alice):
    stored = ClaimFactory(external_id="stored-1", logged_by=alice)
    client = as_user(alice)
    preview = upload(
        client,
        "claims.csv",
        b"external_id,statement,relation1_kind,relation1_claim,relation1_rationale\n"
        b"x-1,One.,corroborates,stored-1,Same event.\n",
    )
    assert preview.context["report"].ok
    # Meanwhile the claim the row relates to is gone.
    stored.delete()
    done = client.post(
        reverse("claims:claim_import_commit"), {"token": preview.context["token"]}
    )
    assert done.status_code == 409
    assert "stored-1" in done.content.decode()
    assert not Claim.objects.exists()


def test_only_analysts_import(as_user, rita):
    client = as_user(rita)
    assert client.get(reverse("claims:claim_import")).status_code == 403
    assert upload(client, "a.csv", b"external_id,statement\na,b\n").status_code == 403


def test_a_file_without_csv_or_json_ending_is_a_form_error(as_user, alice):
    response = upload(as_user(alice), "claims.xlsx", b"PK\x03\x04")
    assert response.status_code == 200
    assert response.context["form"].errors["file"]


def test_an_upload_over_the_page_limit_is_refused(as_user, alice, monkeypatch):
    monkeypatch.setattr(imports, "WEB_MAX_BYTES", 100)
    response = upload(as_user(alice), "claims.csv", b"external_id,statement\n" * 20)
    assert response.status_code == 200
    assert "MB" in str(response.context["form"].errors["file"])


def test_a_declared_length_over_the_limit_is_refused_unread(as_user, alice):
    response = as_user(alice).post(
        reverse("claims:claim_import"),
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )
    assert response.status_code == 413


def test_the_list_page_exports_json_with_its_filters(as_user, rita):
    load_demo()
    response = as_user(rita).get(
        reverse("claims:claim_export_json"), {"level": "corroborated"}
    )
    assert response.status_code == 200
    data = json.loads(b"".join(response.streaming_content))
    assert {c["confirmation"]["level"] for c in data["claims"]} == {"corroborated"}
    bad = as_user(rita).get(reverse("claims:claim_export_json"), {"level": "x"})
    assert bad.status_code == 400


def test_a_stream_of_rows_is_read_lazily():
    data = b"external_id,statement\n" + b"".join(
        f"a-{n},Statement {n}.\n".encode() for n in range(10)
    )
    parsed = imports.read_file(io.BytesIO(data), "claims.csv", len(data))
    assert not isinstance(parsed.rows, list)
    assert next(iter(parsed.rows))[0] == "row 2"


# The published format: template, schema and documentation agree with the importer.

DOCS = Path(settings.BASE_DIR) / "docs" / "import-format.md"
# Columns the template leaves out on purpose: the workflow and the people (a web
# import is in the analyst's own name, open and unruled), rulings, the grade a
# citation was made at, and document details a spreadsheet rarely carries.
NOT_IN_TEMPLATE = {
    "status",
    "submission_note",
    "logged_by",
    "citationN_grade_at_citation",
    "citationN_created_by",
    "citationN_document_archived_copy",
    "citationN_document_retracted",
    "citationN_document_text",
    "relationN_created_by",
    "reviewN_reviewer",
    "reviewN_outcome",
    "reviewN_rationale",
    "reviewN_likelihood_at",
    "reviewN_level_at",
}


def importer_columns() -> set[str]:
    """Every CSV column the importer reads, with N for a group's number."""
    columns = set(imports.CLAIM_FIELDS)
    for singular, fields in imports.GROUPS.values():
        for name, kind in fields.items():
            if name == "document":
                columns |= {f"{singular}N_document_{part}" for part in kind}
            else:
                columns.add(f"{singular}N_{name}")
    return columns


def folded(column: str) -> str:
    return re.sub(r"^(citation|relation|review)\d+_", r"\1N_", column)


def test_the_importer_reads_every_column_it_is_said_to():
    for column in importer_columns():
        assert imports.csv_column_path(column.replace("N_", "1_")) is not None, column
        assert imports.csv_column_path(column.replace("N_", "7_")) is not None, column
    assert imports.csv_column_path("citation1_document") is None
    assert imports.csv_column_path("citation0_source") is None


def test_the_csv_template_has_the_columns_the_importer_reads():
    with open(STATIC / "claims-template.csv", newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert len(header) == len(set(header))
    for column in header:
        assert imports.csv_column_path(column) is not None, column
    assert {folded(c) for c in header} == importer_columns() - NOT_IN_TEMPLATE
    # Groups are numbered from 1 without gaps.
    for group in ("citation", "relation"):
        numbers = {int(m[1]) for c in header if (m := re.match(rf"{group}(\d+)_", c))}
        assert numbers == set(range(1, len(numbers) + 1)), group


def test_the_documentation_lists_exactly_the_columns_the_importer_reads():
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("\n## CSV") : text.index("\n## JSON")]
    named = set(re.findall(r"`([a-z][a-zN_]*)`", section))
    assert named - imports.READ_ONLY_COLUMNS == importer_columns()


def test_the_json_schema_describes_the_fields_the_importer_reads():
    definitions = json.loads((STATIC / "claims.schema.json").read_text())["$defs"]
    expected = {
        "file": {"format", "version", "claims", *imports.SECTIONS},
        "topic": set(imports.SECTIONS["topics"]),
        "place": set(imports.SECTIONS["places"]),
        "source": set(imports.SECTIONS["sources"]),
        "document": set(imports.SECTIONS["documents"]),
        "documentRef": set(imports.DOCUMENT_FIELDS),
        "citation": set(imports.CITATION_FIELDS),
        "relation": set(imports.RELATION_FIELDS),
        "review": set(imports.REVIEW_FIELDS),
        "claim": {
            *imports.CLAIM_FIELDS,
            *imports.GROUPS,
            *imports.READ_ONLY_COLUMNS,
        },
    }
    for name, fields in expected.items():
        definition = definitions[name]
        assert set(definition["properties"]) == fields, name
        # Unknown fields are refused by the importer, so by the schema too.
        assert definition["additionalProperties"] is False, name


def test_the_template_and_the_schema_download_from_the_import_page(as_user, alice):
    page = as_user(alice).get(reverse("claims:claim_import")).content.decode()
    for name in ("claims-template.csv", "claims.schema.json"):
        link = re.search(rf'href="([^"]*/{re.escape(name)})" download', page)
        assert link, name
        response = as_user(alice).get(link[1])
        assert response.status_code == 200, link[1]
        body = b"".join(response.streaming_content)
        assert body == (STATIC / name).read_bytes()


def test_a_100_mb_upload_is_refused_unread_with_its_size(as_user, alice):
    response = as_user(alice).post(
        reverse("claims:claim_import"),
        data=b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(100 * 1024 * 1024),
    )
    # The test client's body holds one byte: reading it would fail the test.
    assert response.status_code == 413
    page = response.content.decode()
    assert "The file is 100.0 MB" in page and "Split it into several files" in page
    # Unread, the file's type is unknown: the message names no CSV or JSON limit.
    assert "an upload on this page takes at most" in page
    assert "CSV import" not in page
    assert not Claim.objects.exists()


# Text COPY must carry unchanged: its own escapes, its null marker, controls.
AWKWARD = [
    "tab\there",
    "line\nbreak and\r\ncarriage return",
    "back\\slash \\N \\t \\\\ and a trailing \\",
    "\\N",
    "quote \" and ' and , and |",
    "naïve Ünïcode 北朝鮮 \u202e\u200b",
    *HOSTILE_TEXTS,
]


def stored(model, pk: int, skip: set[str]) -> dict:
    row = model.objects.filter(pk=pk).values().get()
    return {name: value for name, value in row.items() if name not in skip}


@pytest.mark.parametrize("text", AWKWARD)
def test_insert_objects_stores_what_bulk_create_stores(text: str) -> None:
    """The import's COPY path (PostgreSQL) writes every field as Django's own
    insert would, awkward text, JSON, decimals, dates and empty values included."""
    source = SourceFactory(name="A source")
    document = Document.objects.create(title="A document", publisher=source)
    topic = Topic.objects.create(name="A topic")
    analyst = AnalystFactory()

    def make(external_id: str) -> Claim:
        return Claim(
            statement=text,
            kind=Claim.Kind.FORECAST,
            quantity_low=Decimal("1500.5"),
            quantity_high=None,
            quantity_unit=text[:50],
            time_start=date(2024, 10, 8),
            time_end=None,
            time_text=text[:100],
            topic=topic,
            actors=text[:200],
            external_id=external_id,
            submission_note=text,
            level=Level.CONTESTED,
            needs_rereview=True,
            logged_by=analyst,
        )

    by_django, by_copy = make("by-django"), make("by-copy")
    Claim._base_manager.bulk_create([by_django])
    imports.insert_objects(Claim, [by_copy])
    assert by_copy.pk and by_copy.pk != by_django.pk
    assert not by_copy._state.adding
    skip = {"id", "external_id", "created_at", "updated_at"}
    assert stored(Claim, by_copy.pk, skip) == stored(Claim, by_django.pk, skip)
    assert Claim.objects.get(pk=by_copy.pk).created_at is not None

    # A row keyed by another (a claim's confirmation): its key is kept.
    def confirmation_of(claim: Claim) -> ClaimConfirmation:
        return ClaimConfirmation(
            claim_id=claim.pk,
            likelihood=0.625,
            likelihood_term="likely",
            summary_rating=text[:20],
            report_count=3,
        )

    ClaimConfirmation.objects.bulk_create([confirmation_of(by_django)])
    imports.insert_objects(ClaimConfirmation, [confirmation_of(by_copy)])
    assert ClaimConfirmation.objects.filter(claim=by_copy.pk).exists()
    assert stored(ClaimConfirmation, by_copy.pk, {"claim_id"}) == stored(
        ClaimConfirmation, by_django.pk, {"claim_id"}
    )

    # JSON: no claim or citation field is JSON today, an audit entry's are.
    moment = timezone.now()
    entries = [
        AuditEntry(
            action=AuditEntry.Action.UPDATE,
            model="claims.claim",
            object_id=str(n),
            object_repr=text[:300],
            before=None if n else {"statement": text},
            after=[text, "second\tline", {"nested": [1, None, True, 1.5]}],
            note=text,
            at=moment,
        )
        for n in range(2)
    ]
    AuditEntry.objects.bulk_create(entries[:1])
    imports.insert_objects(AuditEntry, entries[1:])
    skip = {"id", "object_id", "before"}
    assert stored(AuditEntry, entries[1].pk, skip) == stored(
        AuditEntry, entries[0].pk, skip
    )
    assert AuditEntry.objects.get(pk=entries[1].pk).before is None
    assert AuditEntry.objects.get(pk=entries[0].pk).before == {"statement": text}

    citations = [
        Citation(
            claim=claim,
            document=document,
            source=source,
            supports=False,
            excerpt=text,
            excerpt_digest=str(claim.pk),
            locator=text[:200],
            said_on=None,
            credibility=3,
            grade_at_citation="C",
            created_by=analyst,
        )
        for claim in (by_django, by_copy)
    ]
    Citation.objects.bulk_create(citations[:1])
    imports.insert_objects(Citation, citations[1:])
    skip = {"id", "claim_id", "excerpt_digest", "created_at"}
    assert stored(Citation, citations[1].pk, skip) == stored(
        Citation, citations[0].pk, skip
    )
    # The sequence moved past the keys taken: the next ordinary insert fits.
    later = ClaimFactory()
    assert later.pk > by_copy.pk


@pytest.mark.parametrize("text", AWKWARD)
def test_audit_rows_keep_awkward_text(text: str) -> None:
    imports.insert_audit_rows(
        [
            (
                None,
                text,
                "create",
                "claims.claim",
                "7",
                text,
                json.dumps({"t": text}),
                text,
            )
        ]
    )
    entry = AuditEntry.objects.get(object_id="7")
    assert (entry.actor_username, entry.object_repr, entry.note) == (text, text, text)
    assert entry.after == {"t": text}


def test_a_document_is_found_by_url_first_then_by_title_and_publisher(alice):
    """A citation's URL names its document even where its title and publisher
    name another; a citation with only a title and publisher finds that other."""
    outlet = SourceFactory(name="Outlet")
    by_url = Document.objects.create(
        title="Old title", publisher=outlet, url="https://example.org/a"
    )
    by_title = Document.objects.create(title="Weekly report", publisher=outlet)
    header = (
        "external_id,statement,citation1_source,citation1_document_title,"
        "citation1_document_url,citation1_document_publisher,citation1_excerpt,"
        "citation1_credibility"
    )
    report = run(
        f"{header}\n"
        "u-1,By its URL.,Outlet,weekly REPORT,https://example.org/a,Outlet,One.,3\n"
        "u-2,By its title.,Outlet,weekly  report,,outlet,Two.,3\n",
        actor=alice,
    )
    assert report.ok, report.problems
    assert Document.objects.count() == 2
    assert Citation.objects.get(claim__external_id="u-1").document == by_url
    assert Citation.objects.get(claim__external_id="u-2").document == by_title
