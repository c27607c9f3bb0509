"""Fetching extracts over HTTP: a loopback server that misbehaves on purpose, per scenario."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.pull.ckan import ckan_resource
from connectors.pull.guard import Policy
from connectors.pull.http import FetchError, fetch
from connectors.pull.http_checks import normalise_sha256
from connectors.pull.http_request import redact

# Several read chunks long, so that a cut after half the body leaves some of it saved.
BODY = b"NO,NKK,NIK,NAMA\n" + b"".join(
    f"{i},630901010110{i:04d},630901311285{i:04d},NAMA KE {i}\n".encode() for i in range(8000)
)
NEW_BODY = BODY.replace(b"NAMA", b"NAMA BARU")
XLSX = b"PK\x03\x04" + bytes(range(256)) * 8
PASSWORD = "s3cr3t-Pa55"
TOKEN = "tok-9f8e7d6c"
NAME = "kpu_dpt_6309_20261101.csv"
#: The test server listens on the loopback address, which is refused unless listed.
LOCAL = Policy(allow_hosts=("127.0.0.1",))
#: ... and sends credentials over plain http only when allowed.
LOCAL_HTTP = Policy(allow_hosts=("127.0.0.1",), allow_insecure_http=True)


class _Resumed:
    """Equal to a ``Range`` header asking for the rest after a cut at half the body: the
    client keeps what it read in whole chunks, so the offset is at most that half."""

    def __eq__(self, other: object) -> bool:
        match = re.fullmatch(r"bytes=(\d+)-", other) if isinstance(other, str) else None
        return match is not None and 0 < int(match.group(1)) <= len(BODY) // 2

    def __repr__(self) -> str:
        return "<bytes=N- with 0 < N <= half>"


RESUMED = _Resumed()


@dataclass
class Seen:
    path: str
    range: str | None
    if_range: str | None
    authorization: str | None


@dataclass
class Scenario:
    """How the server answers; counters are per request, in order of arrival."""

    body: bytes = BODY
    content_type: str = "text/csv; charset=utf-8"
    etag: str | None = '"v1"'
    last_modified: str | None = None
    honour_range: bool = True
    honour_if_range: bool = True
    accept_ranges: str | None = "bytes"  # the Accept-Ranges header sent
    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    cut: int = 0  # the first `cut` requests are cut after half the body
    stall_headers: int = 0  # the first `stall_headers` requests wait before answering
    stall_body: int = 0  # the first `stall_body` requests wait after half the body
    credentials: tuple[str, str] | None = None
    then: tuple[bytes, str] | None = None  # body and ETag from the second request on
    ckan: dict[str, Any] = field(default_factory=dict)  # dataset id -> package_show result
    seen: list[Seen] = field(default_factory=list)

    def current(self) -> tuple[bytes, str | None]:
        if self.then and len(self.seen) > 1:
            return self.then
        return self.body, self.etag

    @property
    def ranges_seen(self) -> list[str | None]:
        return [s.range for s in self.seen]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.scenario = Scenario()
        self.stop = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that gave up (timeouts) are expected here

    def url(self, path: str = "/data.csv", userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server_port}{path}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        sc = self.server.scenario
        sc.seen.append(
            Seen(
                self.path,
                self.headers.get("Range"),
                self.headers.get("If-Range"),
                self.headers.get("Authorization"),
            )
        )
        n = len(sc.seen)
        if n <= sc.stall_headers:
            self.server.stop.wait(2)
            return
        if self.path.startswith("/api/3/action/package_show"):
            return self._ckan(sc)
        if sc.statuses:
            status, headers = sc.statuses.pop(0)
            return self._reply(status, b"error page", {"Content-Type": "text/plain", **headers})
        if sc.credentials and not self._authorised(sc.credentials):
            realm = {"WWW-Authenticate": 'Basic realm="portal"'}
            return self._reply(401, b"login required", realm)
        self._serve_file(sc, n)

    def _authorised(self, credentials: tuple[str, str]) -> bool:
        expected = base64.b64encode(":".join(credentials).encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _serve_file(self, sc: Scenario, n: int) -> None:
        body, etag = sc.current()
        headers = {"Content-Type": sc.content_type}
        if etag:
            headers["ETag"] = etag
        if sc.last_modified:
            headers["Last-Modified"] = sc.last_modified
        if sc.accept_ranges:
            headers["Accept-Ranges"] = sc.accept_ranges
        status, start = 200, 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        fresh = not sc.honour_if_range or if_range in (None, etag, sc.last_modified)
        if wanted and sc.honour_range and fresh:
            start = int(wanted.group(1))
            if start >= len(body):
                return self._reply(416, b"", {"Content-Range": f"bytes */{len(body)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        if n <= sc.cut or n <= sc.stall_body:
            self._send_head(status, len(payload), headers)
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            if n <= sc.stall_body:
                self.server.stop.wait(2)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self._reply(status, payload, headers)

    def _ckan(self, sc: Scenario) -> None:
        dataset = re.search(r"[?&]id=([^&]+)", self.path)
        result = sc.ckan.get(dataset.group(1)) if dataset else None
        if result is None:
            answer = {"success": False, "error": {"message": "Not found", "__type": "Not Found"}}
            status = 404
        else:
            answer, status = {"success": True, "result": result}, 200
        self._reply(status, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def _send_head(self, status: int, length: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self._send_head(status, len(body), headers)
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


def get(server: Server, landing: Path, sleep: FakeSleep, **kwargs: Any) -> Any:
    kwargs.setdefault("timeout", 2)
    kwargs.setdefault("policy", LOCAL)
    url = kwargs.pop("url", server.url())
    return fetch(url, landing / kwargs.pop("name", NAME), sleep=sleep, **kwargs)


# --- plain downloads ------------------------------------------------------------------------


def test_plain_download(server: Server, landing: Path, sleep: FakeSleep) -> None:
    result = get(server, landing, sleep, sha256="sha256:" + hashlib.sha256(BODY).hexdigest())
    assert (landing / NAME).read_bytes() == BODY
    assert result.bytes == len(BODY)
    assert result.sha256 == hashlib.sha256(BODY).hexdigest()
    assert (result.attempts, result.resumed, result.etag) == (1, False, '"v1"')
    assert server.scenario.ranges_seen == [None]
    assert sleep.calls == []
    assert leftovers(landing) == []


def test_xlsx_download(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.body = XLSX
    name = "kpu_dpt_6309_20261101.xlsx"
    get(server, landing, sleep, name=name, expect="xlsx")
    assert (landing / name).read_bytes() == XLSX


def test_out_name_must_match_expect(server: Server, landing: Path, sleep: FakeSleep) -> None:
    with pytest.raises(ValueError, match=r"\.xlsx"):
        get(server, landing, sleep, expect="xlsx")
    with pytest.raises(ValueError, match="sha256"):
        get(server, landing, sleep, sha256="md5:abc")
    assert server.scenario.seen == []


# --- retries --------------------------------------------------------------------------------


def test_slow_answer_is_retried(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.stall_headers = 1
    result = get(server, landing, sleep, timeout=0.3)
    assert (landing / NAME).read_bytes() == BODY
    assert result.attempts == 2
    assert len(sleep.calls) == 1
    assert leftovers(landing) == []


def test_stall_mid_body_resumes(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.stall_body = 1
    result = get(server, landing, sleep, timeout=0.3)
    assert (landing / NAME).read_bytes() == BODY
    assert (result.attempts, result.resumed) == (2, True)
    assert server.scenario.ranges_seen == [None, RESUMED]
    assert server.scenario.seen[1].if_range == '"v1"'
    assert leftovers(landing) == []


def test_cut_connection_resumes(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.cut = 1
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert (result.attempts, result.resumed) == (2, True)
    assert server.scenario.ranges_seen == [None, RESUMED]
    assert leftovers(landing) == []


def test_resume_validated_by_last_modified(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.etag = None
    server.scenario.last_modified = "Sun, 01 Nov 2026 00:00:00 GMT"
    server.scenario.cut = 1
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert result.resumed
    assert server.scenario.seen[1].if_range == "Sun, 01 Nov 2026 00:00:00 GMT"


def test_server_ignoring_range_restarts(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.cut = 1
    server.scenario.honour_range = False
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert (result.attempts, result.resumed) == (2, False)
    assert server.scenario.ranges_seen[1] == RESUMED  # asked, got 200
    assert leftovers(landing) == []


def test_no_range_asked_when_server_refuses_ranges(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    server.scenario.cut = 1
    server.scenario.accept_ranges = "none"
    server.scenario.honour_range = False
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert server.scenario.ranges_seen == [None, None]
    assert (result.attempts, result.resumed) == (2, False)


def test_changed_file_is_not_spliced(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.cut = 1
    server.scenario.then = (NEW_BODY, '"v2"')
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == NEW_BODY
    assert server.scenario.seen[1].if_range == '"v1"'
    assert (result.attempts, result.resumed, result.etag) == (2, False, '"v2"')
    assert leftovers(landing) == []


def test_changed_file_detected_without_if_range(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    server.scenario.cut = 1
    server.scenario.then = (NEW_BODY, '"v2"')
    server.scenario.honour_if_range = False  # sends 206 of the new version
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == NEW_BODY
    assert server.scenario.ranges_seen == [None, RESUMED, None]
    assert (result.attempts, result.resumed) == (3, False)


def test_server_errors_are_retried_with_backoff(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    server.scenario.statuses = [(500, {}), (502, {})]
    result = get(server, landing, sleep, backoff=1.0)
    assert (landing / NAME).read_bytes() == BODY
    assert result.attempts == 3
    assert 1.0 <= sleep.calls[0] <= 1.1
    assert 2.0 <= sleep.calls[1] <= 2.2


def test_retry_after_is_honoured(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.statuses = [(503, {"Retry-After": "1"})]
    result = get(server, landing, sleep, backoff=5.0)
    assert (landing / NAME).read_bytes() == BODY
    assert result.attempts == 2
    assert sleep.calls == [1.0]


def test_gives_up_after_retries(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.statuses = [(500, {})] * 5
    with pytest.raises(FetchError, match="gave up after 3 attempts") as raised:
        get(server, landing, sleep, retries=2)
    assert (raised.value.status, raised.value.attempts) == (500, 3)
    assert len(sleep.calls) == 2
    assert list(landing.iterdir()) == []


def test_gives_up_after_cuts_and_cleans_up(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.cut = 10
    with pytest.raises(FetchError, match="attempts"):
        get(server, landing, sleep, retries=2)
    assert len(server.scenario.seen) == 3
    assert list(landing.iterdir()) == []


# --- permanent failures ---------------------------------------------------------------------


def test_not_found_fails_at_once(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.statuses = [(404, {})]
    with pytest.raises(FetchError, match="HTTP 404") as raised:
        get(server, landing, sleep)
    assert (raised.value.status, raised.value.attempts) == (404, 1)
    assert sleep.calls == []
    assert list(landing.iterdir()) == []


def test_html_content_type_is_refused(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.body = b"<!DOCTYPE html><html><body>Login</body></html>"
    server.scenario.content_type = "text/html; charset=utf-8"
    with pytest.raises(FetchError, match="HTML page") as raised:
        get(server, landing, sleep)
    assert raised.value.attempts == 1
    assert list(landing.iterdir()) == []


def test_html_body_is_refused(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.body = b"\r\n  <!doctype HTML>\n<html><body>Maintenance</body></html>"
    with pytest.raises(FetchError, match="HTML"):
        get(server, landing, sleep)
    assert list(landing.iterdir()) == []


def test_csv_is_not_an_xlsx(server: Server, landing: Path, sleep: FakeSleep) -> None:
    with pytest.raises(FetchError, match="ZIP signature"):
        get(server, landing, sleep, name="kpu_dpt_6309_20261101.xlsx", expect="xlsx")
    assert list(landing.iterdir()) == []


def test_empty_body_is_refused(server: Server, landing: Path, sleep: FakeSleep) -> None:
    server.scenario.body = b""
    with pytest.raises(FetchError, match="empty body"):
        get(server, landing, sleep)
    assert list(landing.iterdir()) == []


def test_checksum_mismatch(server: Server, landing: Path, sleep: FakeSleep) -> None:
    with pytest.raises(FetchError, match="sha256"):
        get(server, landing, sleep, sha256="0" * 64)
    assert list(landing.iterdir()) == []


def test_checksum_mismatch_after_resume_refetches_whole(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    server.scenario.cut = 1
    server.scenario.then = (NEW_BODY, '"v1"')  # changed without a new ETag: spliced
    result = get(server, landing, sleep, sha256=hashlib.sha256(NEW_BODY).hexdigest())
    assert (landing / NAME).read_bytes() == NEW_BODY
    assert (result.attempts, result.resumed) == (3, False)


def test_existing_file_replaced_only_when_complete(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    (landing / NAME).write_bytes(b"old")
    server.scenario.statuses = [(404, {})]
    with pytest.raises(FetchError):
        get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == b"old"
    get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY


# --- partial files left by an earlier run ---------------------------------------------------


def write_leftover(landing: Path, data: bytes, etag: str | None, url: str) -> None:
    (landing / f"{NAME}.part").write_bytes(data)
    if etag is not None:
        meta = {"url": redact(url), "etag": etag, "last_modified": None}
        (landing / f"{NAME}.part.meta").write_text(json.dumps(meta))


def test_leftover_part_is_continued(server: Server, landing: Path, sleep: FakeSleep) -> None:
    write_leftover(landing, BODY[:1000], '"v1"', server.url())
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert (result.attempts, result.resumed) == (1, True)
    assert server.scenario.ranges_seen == ["bytes=1000-"]
    assert leftovers(landing) == []


def test_leftover_part_of_unknown_origin_is_discarded(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    write_leftover(landing, b"garbage", None, server.url())
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert server.scenario.ranges_seen == [None]
    assert not result.resumed


def test_complete_leftover_is_accepted_on_416(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    write_leftover(landing, BODY, '"v1"', server.url())
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert (result.attempts, result.resumed) == (1, True)
    assert server.scenario.ranges_seen == [f"bytes={len(BODY)}-"]


def test_oversized_leftover_restarts_on_416(
    server: Server, landing: Path, sleep: FakeSleep
) -> None:
    write_leftover(landing, BODY + b"extra", '"v1"', server.url())
    result = get(server, landing, sleep)
    assert (landing / NAME).read_bytes() == BODY
    assert result.attempts == 2
    assert server.scenario.ranges_seen == [f"bytes={len(BODY) + 5}-", None]
    assert sleep.calls == []


# --- credentials ----------------------------------------------------------------------------


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # urllib3's own debug lines too
    return caplog


def assert_hidden(text: str) -> None:
    for secret in (PASSWORD, TOKEN, base64.b64encode(f"budi:{PASSWORD}".encode()).decode()):
        assert secret not in text


def test_basic_auth_required(server: Server, landing: Path, sleep: FakeSleep, logs: Any) -> None:
    server.scenario.credentials = ("budi", PASSWORD)
    with pytest.raises(FetchError, match="HTTP 401") as raised:
        get(server, landing, sleep)
    assert raised.value.attempts == 1
    assert list(landing.iterdir()) == []
    result = get(server, landing, sleep, auth=("budi", PASSWORD), policy=LOCAL_HTTP)
    assert (landing / NAME).read_bytes() == BODY
    assert_hidden(repr(result) + logs.text)


def test_wrong_password_not_shown(
    server: Server, landing: Path, sleep: FakeSleep, logs: Any
) -> None:
    server.scenario.credentials = ("budi", "other")
    with pytest.raises(FetchError, match="HTTP 401") as raised:
        get(server, landing, sleep, auth=("budi", PASSWORD), policy=LOCAL_HTTP)
    assert_hidden(str(raised.value) + repr(raised.value) + logs.text)


def test_credentials_in_url(server: Server, landing: Path, sleep: FakeSleep, logs: Any) -> None:
    server.scenario.credentials = ("budi", PASSWORD)
    server.scenario.cut = 1
    url = server.url(userinfo=f"budi:{PASSWORD}@")
    result = get(server, landing, sleep, url=url, policy=LOCAL_HTTP)
    assert (landing / NAME).read_bytes() == BODY
    assert result.resumed
    assert result.url.startswith("http://budi:***@127.0.0.1:")
    assert "budi:***@" in logs.text
    assert_hidden(repr(result) + logs.text)


def test_credentials_hidden_in_failures(
    server: Server, landing: Path, sleep: FakeSleep, logs: Any
) -> None:
    errors: list[tuple[int, dict[str, str]]] = [(500, {})] * 3
    server.scenario.statuses = [*errors, (404, {})]
    url = server.url(f"/data.csv?token={TOKEN}", userinfo=f"budi:{PASSWORD}@")
    with pytest.raises(FetchError) as raised:
        get(server, landing, sleep, url=url, headers={"X-API-Key": TOKEN}, policy=LOCAL_HTTP)
    assert raised.value.attempts == 4
    assert "token=***" in str(raised.value)
    assert_hidden(str(raised.value) + repr(raised.value) + logs.text)


def test_connection_refused_hides_secrets(landing: Path, sleep: FakeSleep, logs: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://budi:{PASSWORD}@127.0.0.1:{port}/data.csv?api_key={TOKEN}"
    with pytest.raises(FetchError, match="gave up after 2 attempts") as raised:
        fetch(url, landing / NAME, retries=1, timeout=0.5, sleep=sleep, policy=LOCAL_HTTP)
    assert_hidden(str(raised.value) + logs.text)
    assert list(landing.iterdir()) == []


def test_redact() -> None:
    assert redact("https://u:p@host/x.csv") == "https://u:***@host/x.csv"
    assert redact("https://tok@host/x") == "https://***@host/x"
    assert redact("https://host/x?id=1&access_token=abc") == "https://host/x?id=1&access_token=***"
    assert redact("https://host/x.csv") == "https://host/x.csv"


# --- CKAN -----------------------------------------------------------------------------------


def package(server: Server, hash_value: str) -> dict[str, Any]:
    return {
        "name": "dpt-6309",
        "resources": [
            {"id": "r-1", "name": "DPT Tabalong", "url": server.url(), "hash": hash_value},
            {"id": "r-2", "name": "Rekap", "url": server.url("/rekap.csv"), "hash": ""},
        ],
    }


def test_ckan_resource_then_fetch(server: Server, landing: Path, sleep: FakeSleep) -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    server.scenario.ckan = {"dpt-6309": package(server, f"sha256:{digest}")}
    url, sha = ckan_resource(server.url(""), "dpt-6309", "DPT Tabalong", sleep=sleep, policy=LOCAL)
    assert (url, sha) == (server.url(), digest)
    result = fetch(url, landing / NAME, sha256=sha, sleep=sleep, policy=LOCAL)
    assert result.sha256 == digest
    assert (landing / NAME).read_bytes() == BODY


@pytest.mark.parametrize(
    ("hash_value", "expected"),
    [("A" * 64, "a" * 64), ("", None), ("md5:" + "b" * 32, None), ("c" * 32, None)],
)
def test_ckan_hash_forms(
    server: Server, sleep: FakeSleep, hash_value: str, expected: str | None
) -> None:
    server.scenario.ckan = {"dpt-6309": package(server, hash_value)}
    found = ckan_resource(server.url(""), "dpt-6309", "dpt tabalong", sleep=sleep, policy=LOCAL)
    assert found[1] == expected


def test_ckan_resource_by_id_and_relative_url(server: Server, sleep: FakeSleep) -> None:
    result = package(server, "")
    result["resources"][1]["url"] = "/dataset/dpt-6309/rekap.csv"
    server.scenario.ckan = {"dpt-6309": result}
    url, _ = ckan_resource(server.url("/"), "dpt-6309", "r-2", sleep=sleep, policy=LOCAL)
    assert url == server.url("/dataset/dpt-6309/rekap.csv")


def test_ckan_errors(server: Server, sleep: FakeSleep, logs: Any) -> None:
    server.scenario.ckan = {"dpt-6309": package(server, "")}
    portal = server.url("", userinfo=f"budi:{PASSWORD}@")
    with pytest.raises(FetchError, match="no resource 'DPT Balangan'.*'DPT Tabalong'") as err:
        ckan_resource(portal, "dpt-6309", "DPT Balangan", sleep=sleep, policy=LOCAL_HTTP)
    assert_hidden(str(err.value))
    with pytest.raises(FetchError, match="dataset 'dpt-9999' not found") as err:
        ckan_resource(portal, "dpt-9999", "DPT Tabalong", sleep=sleep, policy=LOCAL_HTTP)
    assert err.value.status == 404
    assert_hidden(str(err.value) + logs.text)


def test_ckan_retries_server_errors(server: Server, sleep: FakeSleep) -> None:
    server.scenario.ckan = {"dpt-6309": package(server, "")}
    server.scenario.stall_headers = 1
    url, _ = ckan_resource(
        server.url(""), "dpt-6309", "DPT Tabalong", timeout=0.3, sleep=sleep, policy=LOCAL
    )
    assert url == server.url()
    assert len(server.scenario.seen) == 2
    assert len(sleep.calls) == 1


def test_normalise_sha256() -> None:
    assert normalise_sha256("SHA256:" + "F" * 64) == "f" * 64
    assert normalise_sha256("sha1:" + "f" * 40) is None
