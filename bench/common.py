"""What bench/generate and bench/run share: the database guard, the environment
the application runs with, and the cast of benchmark users.

Importing this module never imports Django; ``use_project_python()`` re-runs the
calling script with the project's virtualenv when Django is not importable, so
``bench/generate`` works from a plain shell as well as through ``make``.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"

# Every benchmark user signs in with this; the database is synthetic and local.
PASSWORD = "bench-password-not-a-secret"  # noqa: S105
ANALYST = "bench-analyst-{:02d}"
REVIEWER = "bench-reviewer-{:02d}"
MANAGER = "bench-manager-{:02d}"
ADMIN = "bench-admin"
ANALYSTS = 50
REVIEWERS = 12
MANAGERS = 3

# Marks the claims with 30 citations and 10 relations that the detail scenario
# reads (external_id is unique and indexed, so they are found in one lookup).
HEAVY_PREFIX = "bench-heavy-"
# A word about one statement in ten contains: the full-text search scenario.
SEARCH_WORD = "troops"


def use_project_python() -> None:
    """Re-execute the running script under .venv/bin/python when the current
    interpreter lacks Django (e.g. ``python`` on PATH is the system one)."""
    try:
        import django  # noqa: F401
    except ImportError:
        python = VENV / "bin" / "python"
        if python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
            os.execv(str(python), [str(python), sys.argv[0], *sys.argv[1:]])  # noqa: S606
        sys.exit(
            "Django is not importable: run `make bench-generate` or use "
            f"{python} (create it with `make test` or `make run` first)."
        )


def database_url() -> str:
    """DATABASE_URL, refused unless it names a PostgreSQL database whose name
    contains "bench": the generator wipes the database it is given."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit(
            "DATABASE_URL is required, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/claims_bench"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(f"The benchmark needs PostgreSQL; DATABASE_URL is {parts.scheme}://")
    name = parts.path.lstrip("/")
    if "bench" not in name.lower():
        sys.exit(
            f"Refusing database {name!r}: the benchmark wipes the database it is "
            "pointed at, so its name must contain 'bench'."
        )
    return url


def app_environment(extra_hosts: tuple[str, ...] = ()) -> dict[str, str]:
    """The production settings the benchmark runs the application with: DEBUG
    off, but no TLS redirect, plain cookies and static files from the finders,
    as on a loopback without a certificate or a collectstatic step."""
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        STATIC_MANIFEST="false",
        WHITENOISE_USE_FINDERS="true",
        ALLOWED_HOSTS=",".join(("127.0.0.1", "localhost", *extra_hosts)),
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    if not env.get("SECRET_KEY"):
        # Throwaway: nothing the benchmark signs outlives the run.
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(ROOT), env.get("PYTHONPATH", "")) if part
    )
    return env


def setup_django(settings_module: str = "config.settings") -> None:
    """Configure this process like the application (see app_environment)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.update(app_environment(extra_hosts=("testserver",)))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after it.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)
