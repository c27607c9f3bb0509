"""The Starlette application: routes, sessions, CSRF, security headers and error pages.

Every page handler is a plain function of a ``Ctx``, run in a worker thread (the warehouse's
calls block). A POST is handled only with the session's CSRF token; a query on a table the
person's role may not read ends in a 403 page naming the table, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.warehouse.connection import WarehouseConnectionError
from connectors.warehouse.locks import WarehouseBusyError
from connectors.warehouse.workbench import Forbidden, ServingWarehouse
from workbench.auth import COOKIE, Session, Sessions
from workbench.settings import LOCAL_HOSTS, ServeSettings

HERE = Path(__file__).parent
#: No inline script or style, nothing from another origin, no framing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Data Docs pages (written by Great Expectations) and the auditor's report use inline styles
#: and scripts of their own; they are still confined to this origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: The most a form's body may hold, in bytes (a review note is far less).
MAX_FORM = 65536
_log = logging.getLogger("padu.workbench")


class Refused(Exception):
    """A request answered with an error page: ``status`` and what to say."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Ctx:
    """What a page handler gets: the request's query, its form (POST), the session and the
    application."""

    request: Request
    session: Session
    form: dict[str, str]
    app: Workbench
    query: dict[str, str] = field(default_factory=dict)
    #: Set by a sign-in: the session that replaces this one.
    new_session: Session | None = None
    #: Seconds to wait before answering (a refused sign-in), without holding a thread.
    pause: float = 0.0

    @property
    def store(self) -> ServingWarehouse:
        assert self.session.store is not None
        return self.session.store

    @property
    def user(self) -> str:
        assert self.session.user is not None
        return self.session.user

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return self.app.render(template, self.session, status=status, **values)

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)


Handler = Callable[[Ctx], Response]


class Workbench:
    """The application's state: settings, sessions and templates."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.sessions = Sessions(settings)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # every value from a source file is escaped, in every template
            undefined=jinja2.StrictUndefined,
        )
        from workbench import filters

        filters.install(self.templates)

    def render(self, template: str, session: Session | None, status: int = 200, **values: Any):  # type: ignore[no-untyped-def]
        html = self.templates.get_template(template).render(
            session=session,
            csrf=session.csrf if session else "",
            needs_sign_in=self.sessions.needs_sign_in,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def page(self, handler: Handler, *, public: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            session = self.sessions.get(request.cookies.get(COOKIE))
            fresh = session is None
            if session is None:
                session = self.sessions.new()
            form: dict[str, str] = {}
            if request.method == "POST":
                posted = await _form(request)
                if posted is None:
                    response: Response = self.render(
                        "error.html", session, status=413,
                        message=f"a form holds at most {MAX_FORM:,} bytes",
                    )  # fmt: skip
                    return _with_cookie(response, session, fresh)
                form = posted
                if not secrets.compare_digest(form.get("csrf", ""), session.csrf):
                    response = self.render(
                        "error.html", session, status=403,
                        message="this form has expired or did not come from padu's own page "
                        "(CSRF check): reload the page and try again",
                    )  # fmt: skip
                    return _with_cookie(response, session, fresh)
            if not public and not session.signed_in:
                target = urllib.parse.quote(request.url.path, safe="/")
                return _with_cookie(self_redirect(f"/signin?next={target}"), session, fresh)
            ctx = Ctx(request, session, form, self, dict(request.query_params))
            try:
                response = await run_in_threadpool(_handle, handler, ctx)
            except Forbidden as err:
                response = self.render("error.html", session, status=403, message=str(err))
            except Refused as err:
                response = self.render(
                    "error.html", session, status=err.status, message=err.message
                )
            except WarehouseBusyError:
                response = self.render(
                    "error.html", session, status=503,
                    message="the warehouse is busy (a run is publishing): try again in a moment",
                )  # fmt: skip
            except WarehouseConnectionError:
                response = self.render(
                    "error.html", session, status=503, message="the warehouse cannot be reached"
                )
            except Exception as err:  # any other fault: a page, not a trace
                # Only the kind of fault and the path are logged: a message or a traceback's
                # values could hold what a page was showing.
                _log.error("%s %s failed: %s", request.method, request.url.path, type(err).__name__)
                response = self.render(
                    "error.html", session, status=500,
                    message="this page failed; the server's log names the kind of fault",
                )  # fmt: skip
            if ctx.pause:
                await asyncio.sleep(ctx.pause)
            # A new session's cookie; a sign-in replaces the session (and its cookie).
            current = ctx.new_session or session
            secure = request.url.scheme == "https"
            return _with_cookie(response, current, fresh or current is not session, secure)

        return endpoint

    def protected(self, app: ASGIApp, may: Callable[[Session], bool] | None = None) -> ASGIApp:
        """``app`` (static files) for signed-in people only (and those ``may`` lets in)."""

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope)
            session = self.sessions.get(request.cookies.get(COOKIE))
            if session is None and not self.sessions.needs_sign_in:
                session = self.sessions.new()
                response: Response = self_redirect(request.url.path)
                await _with_cookie(response, session, True)(scope, receive, send)
                return
            if session is None or not session.signed_in:
                await self_redirect("/signin")(scope, receive, send)
                return
            if may is not None and not await run_in_threadpool(may, session):
                denied = self.render(
                    "error.html", session, status=403,
                    message="your role may not read the auditor's report",
                )  # fmt: skip
                await denied(scope, receive, send)
                return
            await app(scope, receive, send)

        return guarded


def _handle(handler: Handler, ctx: Ctx) -> Response:
    """``handler``'s response, its queries on one connection of the person's store."""
    store = ctx.session.store
    if store is None:
        return handler(ctx)
    with store.one_connection():
        return handler(ctx)


def self_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def _form(request: Request) -> dict[str, str] | None:
    """A URL-encoded form's fields (the only kind padu's pages send); None for a body of more
    than ``MAX_FORM`` bytes, which is not read further."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}


def _with_cookie(
    response: Response, session: Session, set_it: bool, secure: bool = False
) -> Response:
    """``secure``: the page came over HTTPS (say, through a proxy that terminates TLS and
    passes the scheme on), so the cookie is never sent over plain HTTP."""
    if set_it:
        response.set_cookie(
            COOKIE, session.sid, httponly=True, samesite="strict", path="/", secure=secure
        )
    return response


class LocalOnly:
    """Without a sign-in (embedded DuckDB on this machine, no token), only requests addressed
    to this machine by name are answered: a web page elsewhere that points its own host name
    at 127.0.0.1 (DNS rebinding) cannot read the workbench through the browser of someone
    running it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _host_of(scope) not in LOCAL_HOSTS:
            refused = Response(
                "padu serves this warehouse to this machine only (address it as 127.0.0.1 "
                "or localhost)", status_code=421, media_type="text/plain",
            )  # fmt: skip
            await refused(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _host_of(scope: Scope) -> str:
    """The host name a request was addressed to (its Host header, without the port)."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = urllib.parse.urlsplit("//" + value.decode("latin-1")).hostname
            return host or ""
    return ""


class SecurityHeaders:
    """Restrictive headers on every response: the CSP, no sniffing, no referrer, no caching
    of pages (they can show personal fields)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(("/data-docs/", "/report/"))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", (DOCS_CSP if docs else CSP).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def create_app(settings: ServeSettings) -> Starlette:
    """The workbench over ``settings.warehouse`` (docs/workbench.md)."""
    from workbench import views

    bench = Workbench(settings)
    routes: list[Route | Mount] = [
        Route("/", bench.page(views.overview)),
        Route("/signin", bench.page(views.sign_in, public=True), methods=["GET", "POST"]),
        Route("/signout", bench.page(views.sign_out, public=True), methods=["POST"]),
        Route("/review", bench.page(views.review)),
        Route("/review/pair", bench.page(views.review_pair)),
        Route("/review/decide", bench.page(views.decide), methods=["POST"]),
        Route("/resident/{resident_id}", bench.page(views.resident)),
        Route("/discrepancies", bench.page(views.discrepancies)),
        Route("/discrepancies.csv", bench.page(views.discrepancies_csv)),
        Route("/quality", bench.page(views.quality)),
        Route("/quality/review", bench.page(views.sample_review)),
        Route("/quality/label", bench.page(views.sample_label), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    if settings.docs_dir is not None:
        docs = StaticFiles(directory=settings.docs_dir, check_dir=False)
        routes.append(Mount("/data-docs", bench.protected(docs)))
    if settings.report_dir is not None:
        report = StaticFiles(directory=settings.report_dir, check_dir=False)
        routes.append(Mount("/report", bench.protected(report, views.may_read_report)))
    app = Starlette(routes=routes)
    app.state.workbench = bench
    if not bench.sessions.needs_sign_in:
        app.add_middleware(LocalOnly)
    app.add_middleware(SecurityHeaders)
    return app
