"""URLs as they may be shown: without their password or other secret values.

A database URL may carry its password as ``user:PASSWORD@host`` or as a query value
(``?password=...``, which the drivers accept as a connection argument); a web URL may carry a
token in its query. Whatever padu prints, logs, records in the warehouse (``load_audit``,
``run_audit``) or leaves in Dagster's storage shows a URL through ``url_for_display``; text
that may quote a URL's secrets (a driver's error message) goes through ``scrub``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote_plus

#: Query parameter names whose values are secrets (``password``, ``sslpassword``,
#: ``access_token``, ``api_key``, ...).
SENSITIVE_WORDS = r"auth|token|key|secret|passw|pwd|sig|session|cookie|credential"
_SENSITIVE = re.compile(SENSITIVE_WORDS, re.I)
HIDDEN = "***"
# scheme://user:PASSWORD@ : the password runs to the last "@" before the query, as wide as
# any parser (SQLAlchemy's lets a password hold "/") could read it.
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):(?P<password>[^?#]*)@")


def url_for_display(url: str) -> str:
    """``url`` with its password and the values of secret-looking query parameters as
    ``***``; everything else as written."""
    shown = _USERINFO.sub(rf"\g<head>:{HIDDEN}@", url, count=1)
    head, mark, rest = shown.partition("?")
    if not mark:
        return shown
    query, hash_mark, fragment = rest.partition("#")
    query = "&".join(_hidden_param(p) for p in query.split("&"))
    return f"{head}?{query}{hash_mark}{fragment}"


def _hidden_param(param: str) -> str:
    name, eq, _ = param.partition("=")
    return f"{name}={HIDDEN}" if eq and _SENSITIVE.search(unquote_plus(name)) else param


def url_secrets(url: str) -> set[str]:
    """The secret values ``url`` holds (its password, secret query values), as written and
    decoded."""
    found: set[str] = set()
    match = _USERINFO.match(url)
    if match and match["password"]:
        found.add(match["password"])
    _, mark, rest = url.partition("?")
    if mark:
        for param in rest.partition("#")[0].split("&"):
            name, eq, value = param.partition("=")
            if eq and value and _SENSITIVE.search(unquote_plus(name)):
                found.add(value)
    for value in list(found):
        decoded = unquote_plus(value)
        found |= {decoded, quote(decoded, safe=""), quote_plus(decoded)}
    return {value for value in found if value}


def scrub(text: str, *urls: str) -> str:
    """``text`` with each of ``urls`` shown for display and any secret they hold as ``***``."""
    for url in urls:
        text = text.replace(url, url_for_display(url))
        for secret in sorted(url_secrets(url), key=len, reverse=True):
            text = text.replace(secret, HIDDEN)
    return text
