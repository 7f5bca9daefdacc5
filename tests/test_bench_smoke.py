"""The benchmark at a small scale, so that the instrument cannot rot: bench/generate
fills a database of its own with 20,000 claims and bench/run drives every
scenario against it for two seconds each (docs/performance.md has the real run).

The database is made and dropped here, beside the test database, through a
connection to the server: the benchmark commits, copies and restarts the app,
none of which a test transaction could hold.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (
    "baseline",
    "claim_list",
    "claim_list_filtered",
    "claim_search",
    "claim_detail",
    "report",
    "report_filtered",
    "log_claim",
    "grade_change",
)

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the benchmark uses PostgreSQL COPY",
    ),
]


def server_connection(settings: dict):
    import psycopg2

    link = psycopg2.connect(
        dbname="postgres",
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
    )
    link.autocommit = True
    return link


@pytest.fixture
def bench_database(django_db_setup, django_db_blocker):
    """A database named after the test database plus "_bench", and its URL."""
    settings = connection.settings_dict
    name = f"{settings['NAME']}_bench"
    with django_db_blocker.unblock():
        link = server_connection(settings)
    with link.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    user = quote(settings["USER"] or "", safe="")
    password = (
        f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    )
    host = settings["HOST"] or "localhost"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    yield f"postgres://{user}{password}@{host}{port}/{name}"
    with link.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    link.close()


def bench(
    script: str, url: str, *args: str, timeout: int
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_benchmark_generates_and_runs_every_scenario_without_errors(
    bench_database, tmp_path
):
    generated = bench("generate", bench_database, "--claims", "20000", timeout=120)

    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "20,000 claims" in generated.stdout
    assert "drift: none in the sample" in generated.stdout
    assert re.search(
        r"generated in [\d.]+ s; database size [\d,]+ MiB", generated.stdout
    )

    ran = bench(
        "run",
        bench_database,
        "--seconds", "2",
        "--warmup", "0",
        "--concurrency", "2",
        "--import-claims", "200",
        "--out", str(tmp_path),
        timeout=240,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    for name in SCENARIOS:
        line = next((x for x in lines if x.startswith(f"{name} ")), None)
        assert line is not None, f"no line for {name}:\n{ran.stdout}"
        assert " errors 0 " in line, line
        assert re.search(r"[\d,.]+ req/s", line), line
    assert any(x.startswith("import ") for x in lines), ran.stdout
    assert list(tmp_path.glob("*.json")) and list(tmp_path.glob("*.md"))
    # The grade change says how much WAL it wrote and whether a checkpoint
    # started meanwhile: what its time moves with from run to run.
    grade = next(x for x in lines if x.startswith("grade_change "))
    assert re.search(r"[\d.]+ GiB of WAL, \d+ checkpoints started", grade), grade
    (report,) = tmp_path.glob("*.json")
    results = json.loads(report.read_text())["results"]
    (change,) = [r for r in results if r["name"] == "grade_change"]
    # Each worker's memory before the warm-up, at the start and at the end of
    # every load scenario, and over the run in the note: which worker grew.
    for result in results:
        if result["name"] in SCENARIOS and result["name"] != "grade_change":
            workers = result["rss_workers_kib"]
            assert workers, result["name"]
            for readings in workers.values():
                assert len(readings) == 3 and all(kib > 0 for kib in readings)
    memory = next(x for x in lines if "worker memory over the load scenarios" in x)
    assert re.search(
        r"each worker's MiB, first to last: \d+: [\d,.]+ → [\d,.]+", memory
    )
    assert change["extra"]["wal_bytes"] > 0
    assert change["extra"]["checkpoints"] >= 0
