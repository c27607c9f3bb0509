"""padu serve on the real PostgreSQL server: people sign in with their own login roles, granted
padu_statistician, padu_auditor or padu_reviewer; each sees what the role may read and is told
"your role may not read X" for the rest; every display of personal fields is logged."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import permitted, postgres_database
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient
from test_workbench import WHOLE_NUMBER, csrf_of, query

from pipelines.cli import main, run_pipeline
from workbench import ServeSettings, create_app

pytestmark = pytest.mark.postgres
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, generated) -> Iterator[tuple[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    """A PostgreSQL warehouse with the region published, its roles granted (twice: ``grant``
    is idempotent), and a login user per padu role."""
    landing = tmp_path_factory.mktemp("roles") / "landing"
    generated(landing, people=300, seed=23)
    for url in postgres_database():
        for _ in range(2):
            result = CliRunner().invoke(main, ["warehouse", "init", "--warehouse", url])
            assert result.exit_code == 0, result.output
        assert run_pipeline(landing, url, None, echo=lambda _: None)
        admin = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        users = {}
        with admin.connect() as conn:
            for role in ("statistician", "auditor", "reviewer"):
                user = f"wb_{role}_{uuid.uuid4().hex[:6]}"
                conn.execute(
                    sa.text(f"CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}' IN ROLE padu_{role}")
                )
                users[role] = user
        try:
            yield url, users
        finally:
            with admin.connect() as conn:
                for user in users.values():
                    conn.execute(sa.text(f"DROP OWNED BY {user}"))
                    conn.execute(sa.text(f"DROP ROLE {user}"))
            admin.dispose()


def _signed_in(url: str, user: str) -> TestClient:
    client = TestClient(create_app(ServeSettings(url)))
    form = client.get("/signin").text
    response = client.post(
        "/signin", data={"csrf": csrf_of(form), "name": user, "secret": PASSWORD, "next": "/"}
    )
    assert response.status_code == 200, response.text
    assert PASSWORD not in str(client.cookies) and PASSWORD not in response.text
    return client


def _a_resident(url: str) -> str:
    return str(query(url, "SELECT resident_id FROM resident WHERE source_rows = 3").iloc[0, 0])


def test_sign_in_is_required_and_a_wrong_role_refused(warehouse):
    url, _ = warehouse
    with TestClient(create_app(ServeSettings(url))) as client:
        first = client.get("/", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith("/signin")
        form = client.get("/signin").text
        refused = client.post(
            "/signin", data={"csrf": csrf_of(form), "name": "nobody_here", "secret": "x"}
        )
        assert refused.status_code == 401 and "sign-in refused" in refused.text


def test_statistician_sees_residents_and_quality_only(warehouse):
    url, users = warehouse
    with _signed_in(url, users["statistician"]) as client:
        overview = client.get("/")
        assert overview.status_code == 200
        assert "63.09" in overview.text and "your role may not read run_audit" in overview.text
        for path, table in (("/review", "review_queue"), ("/discrepancies", "discrepancy")):
            refused = client.get(path)
            assert refused.status_code == 403 and f"your role may not read {table}" in refused.text
            assert "Traceback" not in refused.text
        page = client.get(f"/resident/{_a_resident(url)}")
        assert page.status_code == 200
        assert "your role may not read resident_link" in page.text
        assert not WHOLE_NUMBER.search(page.text)
        assert client.get("/quality").status_code == 200
        assert client.get("/report/report.html").status_code in (403, 404)
    logged = query(
        url, "SELECT * FROM access_log WHERE accessed_by = :u", {"u": users["statistician"]}
    )
    assert logged.empty


def test_auditor_reads_lineage_but_no_personal_fields(warehouse):
    url, users = warehouse
    with _signed_in(url, users["auditor"]) as client:
        assert client.get("/discrepancies").status_code == 200
        assert client.get("/discrepancies.csv").status_code == 200
        page = client.get(f"/resident/{_a_resident(url)}")
        assert page.status_code == 200
        assert "Linked source rows" in page.text and ".csv" in page.text
        assert "your role may not read the restricted schema" in page.text
        assert not WHOLE_NUMBER.search(page.text)
        review = client.get("/review")
        assert (
            review.status_code == 403
            and "your role may not read the restricted schema" in review.text
        )
    logged = query(url, "SELECT * FROM access_log WHERE accessed_by = :u", {"u": users["auditor"]})
    assert logged.empty


def test_reviewer_reviews_and_every_display_is_logged(warehouse):
    url, users = warehouse
    user = users["reviewer"]
    with _signed_in(url, user) as client:
        page = client.get("/review")
        assert page.status_code == 200 and "waterfall" in page.text
        assert not WHOLE_NUMBER.search(page.text)
        shown = query(
            url, "SELECT record_key, purpose FROM access_log WHERE accessed_by = :u", {"u": user}
        )
        left = re.search(r'name="left_key" value="([^"]+)"', page.text).group(1)
        right = re.search(r'name="right_key" value="([^"]+)"', page.text).group(1)
        assert sorted(shown["record_key"]) == sorted([left, right])
        assert set(shown["purpose"]) == {"review"}
        decided = client.post(
            "/review/decide",
            data={"csrf": csrf_of(page.text), "left_key": left, "right_key": right,
                  "decision": "match"},
            follow_redirects=False,
        )  # fmt: skip
        assert decided.status_code == 303
        stored = query(url, "SELECT decided_by, decision FROM review_decision")
        assert list(stored["decided_by"]) == [user] and list(stored["decision"]) == ["match"]
        resident = client.get(f"/resident/{_a_resident(url)}")
        assert "What each source row says" in resident.text
        assert not WHOLE_NUMBER.search(resident.text)
    logged = query(url, "SELECT purpose FROM access_log WHERE accessed_by = :u", {"u": user})
    assert list(logged["purpose"]).count("resident") == 3  # one per source row shown


def test_the_roles_grants(warehouse):
    """What each role may do in the database itself, whatever page asks."""
    url, users = warehouse

    def can(role: str, sql: str) -> bool:
        engine = sa.create_engine(
            sa.engine.make_url(url).set(username=users[role], password=PASSWORD),
            poolclass=NullPool,
        )
        try:
            return permitted(engine, sql)
        finally:
            engine.dispose()

    log = (
        "INSERT INTO access_log (accessed_at, accessed_by, record_key, purpose) "
        "VALUES (now(), current_user, 'k', 'test')"
    )
    decide = (
        "INSERT INTO review_decision (left_key, right_key, decision, decided_by, decided_at) "
        "VALUES ('a', 'b', 'match', current_user, now())"
    )
    assert can("reviewer", "SELECT nik FROM restricted.source_record LIMIT 1")
    assert not can("reviewer", "SELECT * FROM restricted.quarantine_line LIMIT 1")
    assert can("reviewer", log) and can("reviewer", decide)
    assert can("reviewer", "DELETE FROM review_decision WHERE left_key = 'a'")
    assert not can("reviewer", "DELETE FROM resident")
    assert can("auditor", log) and can("auditor", "SELECT count(*) FROM access_log")
    assert not can("auditor", decide)
    assert not can("auditor", "SELECT nik FROM restricted.source_record LIMIT 1")
    label = "UPDATE quality_item SET note = note WHERE item_id < 0"
    assert can("reviewer", label) and not can("auditor", label)
    # The label only: the sample's design (strata, inclusion, keys) is not a reviewer's.
    assert not can("reviewer", "UPDATE quality_item SET inclusion = 1 WHERE item_id < 0")
    assert not can("reviewer", "UPDATE quality_item SET stratum = 'x' WHERE item_id < 0")
    assert not can("statistician", log)
    assert not can("statistician", "SELECT count(*) FROM access_log")
