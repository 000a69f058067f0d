"""Schemathesis against the API's own served OpenAPI document: every operation, no 5xx, nothing off-spec.

The document is loaded from the WSGI app (``/api/v1/openapi.json``); the
calls go to the ``app`` fixture seeded with the campaigns of ``two_provinces``, with a token of the Tiền Giang organizer that
holds every scope; the explicit examples of the document point at real
campaigns and units, so the happy paths are exercised as well as the fuzzed
ones (positive and negative data).  Checks: no server error, status code,
content type, response headers and response body conform to the document,
and schema-violating requests are refused with a 4xx.

Runs under plain pytest (``make test``), once per database (SQLite, and
PostgreSQL when TEST_DATABASE_URL is set).  Examples per operation are kept
small and the search deterministic, so that a database takes well under a
minute and CI is stable; locally, ``HANCHOT_SCHEMATHESIS_EXAMPLES=300
HANCHOT_SCHEMATHESIS_RANDOM=1`` searches harder, and ``HANCHOT_SCHEMATHESIS_STATS=1``
(with ``-s``) prints the calls per operation and status.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app import create_app
from tests.conftest import TWO_PROVINCES
from workflow.api_tokens import create_token
from workflow.db import db
from workflow.models import Organizer

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

MAX_EXAMPLES = int(os.environ.get("HANCHOT_SCHEMATHESIS_EXAMPLES", "15"))
#: Deterministic in CI; HANCHOT_SCHEMATHESIS_RANDOM=1 explores new examples on every run.
DERANDOMIZE = not os.environ.get("HANCHOT_SCHEMATHESIS_RANDOM")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]

#: Calls per operation and status in this run (printed with HANCHOT_SCHEMATHESIS_STATS=1).
CALLS: Counter = Counter()


@pytest.fixture
def provinces(make_campaign):
    """The ``two_provinces`` campaigns and units (tests/conftest.py), without its accounts: the API knows tokens."""
    make_campaign(TWO_PROVINCES["TGG"], now="2019-10-07T08:00:00+07:00")
    make_campaign(TWO_PROVINCES["BTN"], now="2019-08-07T08:00:00+07:00")


@pytest.fixture
def full_token(app, provinces) -> str:
    org = db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))
    issued = create_token(organizer=org, name="schemathesis", scopes=["read", "record", "manage"], actor="test")
    db.session.commit()
    return issued.token


@pytest.fixture(scope="module", autouse=True)
def _stats():
    started = time.monotonic()
    CALLS.clear()
    yield
    if os.environ.get("HANCHOT_SCHEMATHESIS_STATS"):
        print(f"\nschemathesis: {len({k.rsplit(' ', 1)[0] for k in CALLS})} operations, {sum(CALLS.values())} calls, "
              f"{time.monotonic() - started:.1f} s")
        for label, n in sorted(CALLS.items()):
            print(f"  {n:4d}  {label}")


# The document as the app serves it.  Loading it touches no database; each test
# below sends its calls to the ``app`` fixture (one per database, emptied and seeded).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json",
                                        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}))
# The token is sent with every call (below); 401s are tested in tests/test_api.py.
schema.config.generation.update(with_security_parameters=False)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case, app, full_token):
    response = case.call_and_validate(app=app, headers={"Authorization": f"Bearer {full_token}"}, checks=CHECKS)
    CALLS[f"{case.operation.label} {response.status_code}"] += 1
