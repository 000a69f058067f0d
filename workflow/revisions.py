"""Change counters that tell a cached page whether what it shows has changed.

A page drawn from the database is kept (``web.page_cache``) together
with the counters of the scopes it depends on, e.g. the agency page of unit U
in campaign C depends on C's settings (``c``), U's dossier in C (``p``), the
organizer's units and calendar (``o``), the shared calendar (``g``) and the
viewer (``u``).  Every transaction that changes one of those bumps its counter
in the same transaction, so a reader that sees the new data also sees the new
counter, and one that reads the counters first never keeps a page older than
its counters (``counter`` subqueries in the first query of a cached request).

Counting happens by itself for ORM changes (``after_flush`` maps each changed
object to its scopes, ``before_commit`` bumps them).  Set-based statements that
bypass the ORM (the tick's exclusion, the dispatcher's status updates) call
``touch`` with the scopes they change.  Counters are bumped in a sorted order at
the very end of the transaction, so two writers never wait on each other in
opposite orders and the row lock of a busy counter is held only for the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cache
from itertools import chain
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from .models import (
    AuditEvent,
    CalendarOverride,
    Campaign,
    HolidayDecision,
    Milestone,
    Organizer,
    Participation,
    Revision,
    Submission,
    SubmissionDocument,
    Unit,
    User,
)

#: Scope kinds.
CAMPAIGN = "c"          # the campaign itself, its milestones, and set-based changes of all its units
CAMPAIGN_UNITS = "cu"   # any unit's standing in the campaign, its audit trail, its sent or failed mail
PARTICIPATION = "p"     # one unit's dossier in one campaign
SUBMISSION = "s"        # internal: resolved to its participation before counting
ORGANIZER = "o"         # the organizer, its units, its calendar decisions
USER = "u"              # one person's account
GLOBAL = "g"            # calendar decisions for everyone

Scope = tuple[str, int]
_KEY = "hanchot_revisions"


def touch(session: Session, *scopes: Scope) -> None:
    """Count these scopes as changed when ``session`` commits."""
    session.info.setdefault(_KEY, set()).update(scopes)


def scopes_of(obj) -> Iterator[Scope]:
    """The scopes a changed ORM object belongs to.

    A model of a layer above the domain (the outbox) says so itself with a
    ``revision_scopes()`` method, so that this module need not know it."""
    own = getattr(obj, "revision_scopes", None)
    if own is not None:
        yield from own()
    elif isinstance(obj, Participation):
        yield PARTICIPATION, obj.id
        yield CAMPAIGN_UNITS, obj.campaign_id
    elif isinstance(obj, Submission):
        yield PARTICIPATION, obj.participation_id
    elif isinstance(obj, SubmissionDocument):
        yield SUBMISSION, obj.submission_id
    elif isinstance(obj, AuditEvent):
        if obj.campaign_id is not None:
            yield CAMPAIGN_UNITS, obj.campaign_id
    elif isinstance(obj, Campaign):
        yield CAMPAIGN, obj.id
    elif isinstance(obj, Milestone):
        yield CAMPAIGN, obj.campaign_id
    elif isinstance(obj, (Unit, CalendarOverride, HolidayDecision)):
        yield (ORGANIZER, obj.organizer_id) if obj.organizer_id is not None else (GLOBAL, 0)
    elif isinstance(obj, Organizer):
        yield ORGANIZER, obj.id
    elif isinstance(obj, User):
        yield USER, obj.id


def _after_flush(session: Session, _context) -> None:
    touched = session.info.setdefault(_KEY, set())
    for obj in chain(session.new, session.deleted):
        touched.update(s for s in scopes_of(obj) if s[1] is not None)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            touched.update(s for s in scopes_of(obj) if s[1] is not None)


def _resolve(session: Session, scopes: set[Scope]) -> set[Scope]:
    """Submissions → their participation; participations → also their campaign's ``cu``."""
    out = {s for s in scopes if s[0] != SUBMISSION}
    # Usually known without a query: the objects changed in the same transaction are in the session.
    submissions = _known(session, Submission, "participation_id", {i for k, i in scopes if k == SUBMISSION})
    out.update((PARTICIPATION, pid) for pid in submissions)
    participations = {i for k, i in out if k == PARTICIPATION}
    if participations:
        out.update((CAMPAIGN_UNITS, cid) for cid in _known(session, Participation, "campaign_id", participations))
    return out


def _known(session: Session, model, column: str, ids: set[int]) -> set:
    """``column`` of the rows ``ids`` of ``model``: from the session's identity map, else one query."""
    found, unknown = set(), []
    for i in ids:
        obj = session.identity_map.get(identity_key(model, i))
        if obj is not None and column in obj.__dict__:
            found.add(obj.__dict__[column])
        else:
            unknown.append(i)
    if unknown:
        found.update(session.scalars(select(getattr(model, column)).where(model.id.in_(unknown))))
    return found


def bump(session: Session, scopes: Iterable[Scope]) -> None:
    """Add one to each scope's counter (creating it), in a sorted order."""
    scopes = sorted(_resolve(session, set(scopes)))
    if not scopes:
        return
    session.execute(_upsert(session.get_bind().dialect.name), [{"kind": k, "ref_id": i} for k, i in scopes])


@cache
def _upsert(dialect: str):
    """One statement, built and compiled once per dialect; several scopes go in one execution, in
    their sorted order."""
    insert: Callable[..., Any] = pg_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, Revision.__table__)
    stmt = insert(table).values(kind=bindparam("kind"), ref_id=bindparam("ref_id"), value=1)
    return stmt.on_conflict_do_update(index_elements=[table.c.kind, table.c.ref_id],
                                      set_={"value": table.c.value + 1})


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: counted with the whole transaction, at its commit, last
    if not session.info.get(_KEY) and not (session.new or session.dirty or session.deleted):
        return
    session.flush()  # the last changes reach after_flush first
    touched = session.info.pop(_KEY, None)
    if touched:
        bump(session, touched)


def _forget(session: Session, transaction) -> None:
    """The transaction ended (committed: counted already; rolled back: nothing to count).  Only the
    outermost one: a savepoint rolled back leaves what the transaction changed before it."""
    if transaction.parent is None:
        session.info.pop(_KEY, None)


def counter(kind: str, ref_id):
    """A scalar subquery of one scope's counter (0 when never changed): for a query that reads
    what a page is about and its counters in one statement, hence one snapshot."""
    return func.coalesce(select(Revision.value).where(Revision.kind == kind, Revision.ref_id == ref_id)
                         .scalar_subquery(), 0)


def install(session_class: type[Session]) -> None:
    """Count changes made through sessions of this class (idempotent)."""
    for name, fn in (("after_flush", _after_flush), ("before_commit", _before_commit),
                     ("after_transaction_end", _forget)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
