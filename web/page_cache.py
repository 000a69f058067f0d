"""Drawn pages kept in the web process, served again while nothing they show has changed.

The dashboard of a 5,000-unit campaign and an agency's page are read far more
often than what they show changes.  A page is kept under its request (address,
viewer, language, host) with the change counters of the scopes it depends on
(``workflow.revisions``) and the local day it was drawn on (countdowns and the
campaign's state follow the calendar).  A later request reads the counters
first, in one query, and gets the kept page only if they are all the same, the
day is the same and the page is younger than PAGE_CACHE_SECONDS.  So a change
made by any process (another worker, another machine, the scheduler, the CLI)
is seen by the next request, exactly as without the cache.

Kept pages are the viewer's own: the key holds the user, and a change to the
user's account, role or units bumps a counter the page depends on, so access
is decided again.  What differs between two requests of the same page is put
back on each answer: the CSRF token of the viewer's session (kept pages hold a
marker in its place).  Pages with a flashed message, other answers than 200 and
other methods than GET are never kept.  Per process: PAGE_CACHE_MB bounds the
memory (least recently used pages go first); 0 turns the cache off.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, make_response, request, session
from flask.globals import request_ctx
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import Select, and_, bindparam, select

from web.common import language_of, session_generation
from workflow import revisions
from workflow.db import db, utcnow
from workflow.models import Campaign, Organizer, User

#: Stands for the CSRF token in a kept page: noncharacters around a secret of this process, so that
#: no text a person typed can be taken for it.
MARKER = f"\ufdd0csrf-{secrets.token_hex(8)}\ufdd0".encode()


@dataclass(frozen=True)
class Kept:
    stamp: tuple[int, ...]
    day: date
    made: float
    body: bytes


class PageCache:
    """A bounded, thread-safe LRU of drawn pages."""

    def __init__(self, max_bytes: int, max_age: float):
        self.max_bytes, self.max_age = max_bytes, max_age
        self._pages: OrderedDict[tuple, Kept] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple, stamp: tuple[int, ...], day: date) -> Kept | None:
        with self._lock:
            kept = self._pages.get(key)
            if kept is None or kept.stamp != stamp or kept.day != day or \
                    time.monotonic() - kept.made > self.max_age:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return kept

    def put(self, key: tuple, kept: Kept) -> None:
        if len(kept.body) > self.max_bytes // 4:
            return  # one page may not push out most of the others
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._pages[key] = kept
            self._size += len(kept.body)
            while self._size > self.max_bytes and self._pages:
                _, gone = self._pages.popitem(last=False)
                self._size -= len(gone.body)

    def __len__(self) -> int:
        return len(self._pages)


def init_app(app: Flask) -> None:
    mb = float(app.config.get("PAGE_CACHE_MB", 0) or 0)
    if mb > 0:
        app.extensions["page_cache"] = PageCache(int(mb * 1024 * 1024), float(app.config["PAGE_CACHE_SECONDS"]))


def page_query(*counters) -> Select:
    """The statement a resolver starts from: the campaign ``:code`` seen by the signed-in user
    ``:viewer`` (active, of the campaign's organizer), with the organizer's time zone, the user's
    language, then what the kept page must match: the campaign's id, the given counters (or ids)
    and the user's counter; a resolver joins what else its page is about."""
    return (select(Organizer.timezone, User.language, Campaign.id, *counters,
                   revisions.counter(revisions.USER, User.id))
            .select_from(Campaign)
            .join(Organizer, Organizer.id == Campaign.organizer_id)
            .join(User, and_(User.id == bindparam("viewer"), User.organizer_id == Campaign.organizer_id,
                             User.active.is_(True), User.session_generation == bindparam("generation")))
            .where(Campaign.code == bindparam("code")))


#: What a view's page depends on: a ``page_query`` statement (built once) and its
#: parameters; it finds no row when the page is not there or not the viewer's.
Resolver = Callable[..., "tuple[Select, dict]"]


def _signed_in() -> tuple[int, int] | None:
    """The signed-in user's id and session generation from the session, when Flask-Login would take it
    as it is (the statement then checks the generation against the user's: web/common.py, _load_user)."""
    raw = session.get("_user_id")
    if raw is None or not str(raw).isdigit():
        return None
    generation = session_generation()
    if generation is None:
        return None
    manager = current_app.login_manager
    if manager.session_protection and session.get("_id") != manager._session_identifier_generator():
        return None  # Flask-Login's own path decides (basic: mark the session not fresh; strong: sign out)
    return int(raw), generation


def cached(resolve: Resolver):
    """Serve the page of ``view`` (a ``login_required`` view) from the cache while the counters
    ``resolve`` reads hold.  A kept page is served without loading the user through Flask-Login:
    the one statement checks that the session's user is still active, of the organizer and not signed
    out since (its session generation), and reads the counters, before anything the page shows is read."""

    def decorator(view):
        @wraps(view)
        def wrapper(**kwargs):
            cache: PageCache | None = current_app.extensions.get("page_cache")
            if cache is None or request.method != "GET" or session.get("_flashes") or "lang" in request.args:
                return view(**kwargs)
            signed_in = _signed_in()
            if signed_in is None:
                return view(**kwargs)
            viewer, generation = signed_in
            query, params = resolve(**kwargs)
            # Core, not the ORM's execute: a third less time for this one row of plain values.
            row = db.session.connection().execute(query, dict(params, viewer=viewer, generation=generation)).first()
            if row is None:
                return view(**kwargs)
            tz, stamp = row[0], tuple(row[2:])
            day = utcnow().astimezone(ZoneInfo(tz or "Asia/Ho_Chi_Minh")).date()

            key = (request.endpoint, request.full_path, request.host_url, viewer, language_of(row[1]))
            token = generate_csrf()
            kept = cache.get(key, stamp, day)
            if kept is not None:
                return Response(kept.body.replace(MARKER, token.encode()), 200, mimetype="text/html")
            response = make_response(view(**kwargs))
            if response.status_code == 200 and not response.direct_passthrough and not request_ctx.flashes \
                    and response.mimetype == "text/html" and current_user.get_id() == str(viewer):
                body = response.get_data()
                cache.put(key, Kept(stamp, day, time.monotonic(), body.replace(token.encode(), MARKER)))
            return response

        wrapper.reads_only = True  # never writes on GET: see web/__init__.py, _read_only_connection
        return wrapper

    return decorator
