"""Finding an extract on a CKAN data portal: a dataset's resource, its URL and its sha256.

``ckan_resource`` asks the portal's API (``package_show``) with the same timeouts, retries,
redirect and address checks as ``connectors.pull.http.fetch``; the URL it gives is then
fetched with ``fetch(url, ..., credentials_origin=portal)``, so that a resource hosted on
another origin is downloaded without the portal's credentials.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin

import requests

from connectors.pull.guard import Policy, TooLarge
from connectors.pull.http_checks import normalise_sha256
from connectors.pull.http_download import CHUNK
from connectors.pull.http_request import FetchError, _get, _Target, _target
from connectors.pull.http_retry import Sleep, _request_failure, _retrying, _status_failure

log = logging.getLogger(__name__)

#: The largest API answer read (a package's metadata is a few kilobytes).
MAX_API_ANSWER = 16 << 20


def ckan_resource(
    portal: str,
    dataset: str,
    resource_name: str,
    *,
    timeout: float = 30,
    retries: int = 4,
    backoff: float = 1.0,
    auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Sleep = time.sleep,
    policy: Policy | None = None,
) -> tuple[str, str | None]:
    """The download URL of a CKAN dataset's resource, and its sha256 if the portal gives one.

    ``resource_name`` matches a resource's name (exactly, else ignoring case) or its id. The
    hash is returned only when it is a sha256 (``sha256:<hex>`` or 64 hex digits); other
    algorithms (often md5) cannot be checked and give None. For a private dataset pass the
    portal's API token in ``headers`` (``{"Authorization": token}``). ``policy`` as for
    ``fetch``; pass the portal as ``fetch``'s ``credentials_origin``, so that a resource
    hosted elsewhere is fetched without the portal's credentials.
    """
    base = portal.rstrip("/")
    api = f"{base}/api/3/action/package_show?{urlencode({'id': dataset})}"
    target = _target(api, auth, headers, policy or Policy())
    with requests.Session() as session:
        package, _ = _retrying(
            lambda: _ckan_call(session, target, timeout, dataset),
            target,
            retries=retries,
            backoff=backoff,
            sleep=sleep,
        )
    resource = _pick_resource(package.get("resources"), dataset, resource_name, target)
    link = resource.get("url")
    if not isinstance(link, str) or not link.strip():
        raise FetchError(f"{target.shown}: resource {resource_name!r} has no download URL")
    hash_value = resource.get("hash") or ""
    digest = normalise_sha256(hash_value) if isinstance(hash_value, str) else None
    if hash_value and digest is None:
        log.warning(
            "resource %r of %r: its hash is not a sha256; the download is not checked against it",
            resource_name,
            dataset,
        )
    return urljoin(base + "/", link.strip()), digest


def _ckan_call(
    session: requests.Session, target: _Target, timeout: float, dataset: str
) -> dict[str, Any]:
    """``package_show``'s result. Raises _Retry for transient failures."""
    try:
        with _get(
            session, target, {"Accept": "application/json"}, timeout, stream=True
        ) as response:
            limited = Policy(max_bytes=min(MAX_API_ANSWER, target.policy.max_bytes))
            body = b"".join(limited.capped(response.iter_content(CHUNK)))
    except requests.RequestException as err:
        raise _request_failure(err, target) from None
    except TooLarge:
        raise FetchError(f"{target.shown}: the answer is too large for CKAN metadata") from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    message = _ckan_message(answer)
    if response.status_code == 404:
        message = f"dataset {dataset!r} not found on the portal ({message or 'HTTP 404'})"
    failure = _status_failure(response, target, target.scrub(message))
    if failure is not None:
        raise failure
    if not isinstance(answer, dict):
        raise FetchError(f"{target.shown}: the answer is not CKAN API JSON; is this a CKAN portal?")
    if not answer.get("success") or not isinstance(answer.get("result"), dict):
        raise FetchError(f"{target.shown}: CKAN refused: {target.scrub(message or 'no result')}")
    result: dict[str, Any] = answer["result"]
    return result


def _ckan_message(answer: Any) -> str:
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), dict):
        return ""
    error = answer["error"]
    return str(error.get("message") or error.get("__type") or "")[:300]


def _pick_resource(resources: Any, dataset: str, name: str, target: _Target) -> dict[str, Any]:
    listed = [r for r in resources or [] if isinstance(r, dict)]
    matches = [r for r in listed if name in (r.get("name"), r.get("id"))]
    if not matches:
        wanted = name.casefold()
        matches = [r for r in listed if str(r.get("name") or "").casefold() == wanted]
    if not matches:
        names = ", ".join(repr(r.get("name")) for r in listed) or "none"
        raise FetchError(
            f"{target.shown}: dataset {dataset!r} has no resource {name!r} (it has: {names})"
        )
    if len(matches) > 1:
        ids = ", ".join(str(r.get("id")) for r in matches)
        raise FetchError(
            f"{target.shown}: dataset {dataset!r} has {len(matches)} resources named {name!r}; "
            f"name one by its id ({ids})"
        )
    return matches[0]
