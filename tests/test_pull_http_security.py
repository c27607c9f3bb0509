"""Where a download's credentials go, which hosts it may reach and how large it may be.

Two loopback servers stand for a portal and another host (127.0.0.1 and 127.0.0.2: other
origins); each records the credentials it was sent.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.landing.deployment import DeploymentError, HttpOrigin, load_deployment
from connectors.pull import guard
from connectors.pull.ckan import ckan_resource
from connectors.pull.guard import MAX_BYTES, Policy, Refused
from connectors.pull.http import FetchError, fetch

BODY = b"NO,NKK,NIK,NAMA\n" + b"1,6309010101100001,6309013112850001,BUDI\n" * 2000
PASSWORD = "s3cr3t-Pa55"
TOKEN = "tok-9f8e7d6c"
BASIC = "Basic " + base64.b64encode(f"budi:{PASSWORD}".encode()).decode()
NAME = "kpu_dpt_6309_20261101.csv"
BOTH = ("127.0.0.1", "127.0.0.2")
LOCAL_HTTP = Policy(allow_hosts=BOTH, allow_insecure_http=True)


@dataclass
class Reply:
    status: int = 200
    body: bytes = BODY
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True  # send Content-Length; without it the body ends when the connection does


@dataclass
class Seen:
    path: str
    authorization: str | None
    api_key: str | None


class Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), _Handler)
        self.host = host
        self.routes: dict[str, Reply] = {}
        self.seen: list[Seen] = []

    def url(self, path: str = "/data.csv", userinfo: str = "") -> str:
        return f"http://{userinfo}{self.host}:{self.server_port}{path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Site

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server
        site.seen.append(
            Seen(self.path, self.headers.get("Authorization"), self.headers.get("X-API-Key"))
        )
        reply = site.routes.get(self.path.split("?")[0], Reply(404, b"not here"))
        self.send_response(reply.status)
        headers = {"Content-Type": "text/csv", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.length:
            self.send_header("Content-Length", str(len(reply.body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)


def _serve(host: str) -> Iterator[Site]:
    site = Site(host)
    thread = threading.Thread(target=site.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield from _serve("127.0.0.1")


@pytest.fixture
def elsewhere(portal: Site) -> Iterator[Site]:
    yield from _serve("127.0.0.2")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def no_sleep(seconds: float) -> None:
    pass


def package(resource_url: str) -> Reply:
    result = {"name": "dpt-6309", "resources": [{"id": "r-1", "name": "DPT", "url": resource_url}]}
    body = json.dumps({"success": True, "result": result}).encode()
    return Reply(body=body, headers={"Content-Type": "application/json"})


def hidden(text: str) -> bool:
    return PASSWORD not in text and TOKEN not in text and BASIC.split()[1] not in text


# --- credentials go to their origin only ----------------------------------------------------


def test_ckan_resource_on_another_host_is_fetched_without_credentials(
    portal: Site, elsewhere: Site, landing: Path
) -> None:
    portal.routes["/api/3/action/package_show"] = package(elsewhere.url())
    elsewhere.routes["/data.csv"] = Reply()
    auth = ("budi", PASSWORD)
    url, _ = ckan_resource(portal.url(""), "dpt-6309", "DPT", auth=auth, policy=LOCAL_HTTP)
    fetch(url, landing / NAME, auth=auth, policy=LOCAL_HTTP, credentials_origin=portal.url(""))
    assert (landing / NAME).read_bytes() == BODY
    assert [s.authorization for s in portal.seen] == [BASIC]
    assert [s.authorization for s in elsewhere.seen] == [None]


def test_ckan_resource_on_the_portal_gets_the_credentials(portal: Site, landing: Path) -> None:
    portal.routes["/api/3/action/package_show"] = package("/download/dpt.csv")
    portal.routes["/download/dpt.csv"] = Reply()
    auth = ("budi", PASSWORD)
    url, _ = ckan_resource(portal.url(""), "dpt-6309", "DPT", auth=auth, policy=LOCAL_HTTP)
    fetch(url, landing / NAME, auth=auth, policy=LOCAL_HTTP, credentials_origin=portal.url(""))
    assert [s.authorization for s in portal.seen] == [BASIC, BASIC]


def test_a_port_is_part_of_the_origin(portal: Site, landing: Path) -> None:
    other_port = portal.url().replace(f":{portal.server_port}/", ":1/")
    portal.routes["/data.csv"] = Reply()
    fetch(portal.url(), landing / NAME, auth=("budi", PASSWORD), policy=LOCAL_HTTP,
          credentials_origin=other_port)  # fmt: skip
    assert [s.authorization for s in portal.seen] == [None]


def test_the_pull_asset_keeps_portal_credentials_from_other_hosts(
    portal: Site, elsewhere: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.reference.regions import kabupaten
    from connectors.schema import Source
    from pipelines.ingest.pulls import _pull_http

    portal.routes["/api/3/action/package_show"] = package(elsewhere.url())
    elsewhere.routes["/data.csv"] = Reply()
    monkeypatch.setenv("KPU_USER", "budi")
    monkeypatch.setenv("KPU_PASSWORD", PASSWORD)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"landing: {tmp_path / 'landing'}\n"
        "regions:\n"
        "  '6309':\n"
        "    kpu:\n"
        "      kind: http\n"
        f"      ckan: {{portal: '{portal.url('')}', dataset: dpt-6309, resource: DPT}}\n"
        "      username_env: KPU_USER\n"
        "      password_env: KPU_PASSWORD\n"
        "      allow_insecure_http: true\n"
        "      allow_hosts: [127.0.0.1, 127.0.0.2]\n"
    )
    config = load_deployment(sources).region("6309").origin(Source.KPU)
    assert isinstance(config, HttpOrigin)
    folder = tmp_path / "landing"
    folder.mkdir()
    context = SimpleNamespace(log=logging.getLogger("test"))
    _pull_http(config, Source.KPU, kabupaten("6309"), folder, date(2026, 11, 1), context)  # type: ignore[arg-type]
    assert (folder / NAME).read_bytes() == BODY
    assert [s.authorization for s in portal.seen] == [BASIC]
    assert [s.authorization for s in elsewhere.seen] == [None]


def test_redirect_to_another_origin_drops_credentials(
    portal: Site, elsewhere: Site, landing: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    portal.routes["/data.csv"] = Reply(302, b"", {"Location": elsewhere.url("/moved.csv")})
    elsewhere.routes["/moved.csv"] = Reply()
    fetch(portal.url(), landing / NAME, auth=("budi", PASSWORD), headers={"X-API-Key": TOKEN},
          policy=LOCAL_HTTP)  # fmt: skip
    assert (landing / NAME).read_bytes() == BODY
    assert (portal.seen[0].authorization, portal.seen[0].api_key) == (BASIC, TOKEN)
    # requests itself drops only Authorization on such a redirect, not X-API-Key
    assert (elsewhere.seen[0].authorization, elsewhere.seen[0].api_key) == (None, None)
    assert hidden(caplog.text)


def test_redirect_within_the_origin_keeps_credentials(portal: Site, landing: Path) -> None:
    portal.routes["/old.csv"] = Reply(301, b"", {"Location": "/data.csv"})
    portal.routes["/data.csv"] = Reply()
    fetch(portal.url("/old.csv"), landing / NAME, headers={"X-API-Key": TOKEN},
          policy=LOCAL_HTTP)  # fmt: skip
    assert [(s.path, s.api_key) for s in portal.seen] == [("/old.csv", TOKEN), ("/data.csv", TOKEN)]


def test_401_elsewhere_says_where_the_credentials_go(
    portal: Site, elsewhere: Site, landing: Path
) -> None:
    portal.routes["/data.csv"] = Reply(302, b"", {"Location": elsewhere.url("/login.csv")})
    elsewhere.routes["/login.csv"] = Reply(401, b"who are you")
    with pytest.raises(FetchError, match="sent to http://127.0.0.1:.* only") as raised:
        fetch(portal.url(), landing / NAME, auth=("budi", PASSWORD), policy=LOCAL_HTTP)
    assert hidden(str(raised.value))


def test_too_many_redirects(portal: Site, landing: Path) -> None:
    portal.routes["/data.csv"] = Reply(302, b"", {"Location": "/data.csv"})
    with pytest.raises(FetchError, match="more than 10 redirects"):
        fetch(portal.url(), landing / NAME, policy=LOCAL_HTTP, sleep=no_sleep)
    assert list(landing.iterdir()) == []


# --- plain http ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        {"auth": ("budi", PASSWORD)},
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {"url_path": f"/data.csv?access_token={TOKEN}"},
        {"userinfo": f"budi:{PASSWORD}@"},
    ],
)
def test_credentials_over_plain_http_are_refused(
    portal: Site, landing: Path, how: dict[str, Any]
) -> None:
    portal.routes["/data.csv"] = Reply()
    how = dict(how)
    url = portal.url(how.pop("url_path", "/data.csv"), userinfo=how.pop("userinfo", ""))
    with pytest.raises(FetchError, match="over plain http.*allow_insecure_http") as raised:
        fetch(url, landing / NAME, policy=Policy(allow_hosts=BOTH), **how)
    assert hidden(str(raised.value))
    assert portal.seen == []
    fetch(url, landing / NAME, policy=LOCAL_HTTP, **how)  # allowed: sent
    assert len(portal.seen) == 1


def test_plain_http_without_credentials_is_fine(portal: Site, landing: Path) -> None:
    portal.routes["/data.csv"] = Reply()
    fetch(portal.url(), landing / NAME, policy=Policy(allow_hosts=BOTH))
    assert (landing / NAME).read_bytes() == BODY


def test_ckan_portal_over_plain_http_with_credentials_is_refused(portal: Site) -> None:
    with pytest.raises(FetchError, match="plain http"):
        ckan_resource(portal.url(""), "dpt-6309", "DPT", auth=("budi", PASSWORD),
                      policy=Policy(allow_hosts=BOTH))  # fmt: skip
    assert portal.seen == []


# --- private addresses --------------------------------------------------------------------


def test_loopback_is_refused_unless_listed(portal: Site, landing: Path) -> None:
    portal.routes["/data.csv"] = Reply()
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a loopback address.*allow_hosts"):
        fetch(portal.url(), landing / NAME)
    assert portal.seen == []
    assert list(landing.iterdir()) == []


def test_redirect_to_an_unlisted_private_host_is_refused(
    portal: Site, elsewhere: Site, landing: Path
) -> None:
    portal.routes["/data.csv"] = Reply(302, b"", {"Location": elsewhere.url("/x.csv")})
    elsewhere.routes["/x.csv"] = Reply()
    with pytest.raises(FetchError, match=r"redirected to http://127\.0\.0\.2.*loopback"):
        fetch(portal.url(), landing / NAME, policy=Policy(allow_hosts=("127.0.0.1",)))
    assert elsewhere.seen == []


def test_redirect_to_the_metadata_service_is_refused(portal: Site, landing: Path) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    portal.routes["/data.csv"] = Reply(302, b"", {"Location": metadata})
    with pytest.raises(FetchError, match="link-local"):
        fetch(portal.url(), landing / NAME, policy=LOCAL_HTTP)
    assert list(landing.iterdir()) == []


def test_every_resolved_address_is_checked(landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = ["93.184.216.34", "::1"]  # a public IPv4 address, and IPv6 loopback
    monkeypatch.setattr(guard, "_resolve", lambda host, port: answers)
    with pytest.raises(FetchError, match=r"portal\.example \(::1\) is a loopback address"):
        fetch("https://portal.example/data.csv", landing / NAME)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("93.184.216.34", None),
        ("2606:4700::6810:84e5", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    policy = Policy()
    check = lambda: policy.check_address("https://h.example/", lambda h, p: [address])  # noqa: E731
    if kind is None:
        check()
    else:
        with pytest.raises(Refused, match=f"is a {kind} address"):
            check()


def test_allow_hosts_by_name_address_or_network() -> None:
    private = lambda host, port: ["10.1.2.3", "fd00::7"]  # noqa: E731
    Policy(allow_hosts=("Portal.Internal",)).check_address("https://portal.internal/", private)
    Policy(allow_hosts=("10.0.0.0/8", "fd00::/8")).check_address("https://p.internal/", private)
    with pytest.raises(Refused, match="fd00::7"):
        Policy(allow_hosts=("10.0.0.0/8",)).check_address("https://p.internal/", private)
    with pytest.raises(ValueError, match="not a host name"):
        Policy(allow_hosts=("not a host",))


# --- size limit ---------------------------------------------------------------------------


def test_announced_size_over_the_limit(portal: Site, landing: Path) -> None:
    portal.routes["/data.csv"] = Reply()
    url = portal.url(f"/data.csv?token={TOKEN}")
    policy = Policy(allow_hosts=BOTH, allow_insecure_http=True, max_bytes=1000)
    with pytest.raises(FetchError, match=r"limit of 1,000 bytes \(the server announced") as err:
        fetch(url, landing / NAME, policy=policy, sleep=no_sleep)
    assert "token=***" in str(err.value) and hidden(str(err.value))
    assert list(landing.iterdir()) == []
    assert len(portal.seen) == 1  # not retried


def test_size_limit_without_content_length(portal: Site, landing: Path) -> None:
    portal.routes["/data.csv"] = Reply(length=False)
    policy = Policy(allow_hosts=BOTH, max_bytes=len(BODY) - 1)
    with pytest.raises(FetchError, match=r"/data\.csv: larger than the download limit"):
        fetch(portal.url(), landing / NAME, policy=policy, sleep=no_sleep)
    assert list(landing.iterdir()) == []  # the partial file is removed
    fetch(portal.url(), landing / NAME, policy=Policy(allow_hosts=BOTH, max_bytes=len(BODY)))
    assert (landing / NAME).read_bytes() == BODY


def test_size_limit_counts_what_a_compressing_server_sends(portal: Site, landing: Path) -> None:
    packed = gzip.compress(BODY)  # sent although padu asks for identity: Content-Length lies
    portal.routes["/data.csv"] = Reply(body=packed, headers={"Content-Encoding": "gzip"})
    policy = Policy(allow_hosts=BOTH, max_bytes=len(packed) * 2)
    with pytest.raises(FetchError, match="larger than the download limit"):
        fetch(portal.url(), landing / NAME, policy=policy, sleep=no_sleep)
    assert list(landing.iterdir()) == []


def test_ckan_answer_over_the_limit(portal: Site) -> None:
    portal.routes["/api/3/action/package_show"] = package("x" * 5000)
    with pytest.raises(FetchError, match="too large"):
        ckan_resource(portal.url(""), "dpt-6309", "DPT",
                      policy=Policy(allow_hosts=BOTH, max_bytes=1000))  # fmt: skip


# --- the deployment file ------------------------------------------------------------------


def _load(tmp_path: Path, kpu: str) -> HttpOrigin:
    path = tmp_path / "sources.yaml"
    path.write_text(f"landing: x\nregions:\n  '6309':\n    kpu: {kpu}\n")
    from connectors.schema import Source

    found = load_deployment(path).region("6309").origin(Source.KPU)
    assert isinstance(found, HttpOrigin)
    return found


def test_deployment_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path, "{kind: http, url: 'https://data.example/x.csv'}")
    assert config.policy() == Policy((), False, MAX_BYTES)
    assert MAX_BYTES == 2 * 1024**3


def test_deployment_options(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "{kind: http, url: 'http://10.0.0.5/x.csv', username_env: U, password_env: P, "
        "allow_insecure_http: true, allow_hosts: [10.0.0.0/24, portal.internal], "
        "max_download_bytes: 1048576}",
    )
    assert config.policy() == Policy(("10.0.0.0/24", "portal.internal"), True, 1 << 20)
    assert config.credentials_origin() == "http://10.0.0.5/x.csv"


@pytest.mark.parametrize(
    ("kpu", "message"),
    [
        ("{kind: http, url: 'http://x/y.csv', username_env: U, password_env: P}",
         "plain http.*allow_insecure_http"),
        ("{kind: http, ckan: {portal: 'http://x', dataset: d, resource: r}, username_env: U, "
         "password_env: P}", "plain http"),
        ("{kind: http, url: 'https://x/y.csv', allow_hosts: ['10.0.0.0/33']}", "allow_hosts"),
        ("{kind: http, url: 'https://x/y.csv', max_download_bytes: 0}", "max_download_bytes"),
    ],
)  # fmt: skip
def test_deployment_mistakes(tmp_path: Path, kpu: str, message: str) -> None:
    with pytest.raises(DeploymentError, match=message):
        _load(tmp_path, kpu)
