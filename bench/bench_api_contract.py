"""What the API contract's checks cost: request and answer validation against a whole request.

    python bench/bench_api_contract.py [ROUNDS]

Seeds Tiền Giang 2020 (208 units) in a temporary SQLite database, then times,
in this process: the whole ``GET /api/v1/campaigns/TGG-UDCNTT-2020/units?limit=200``
(the largest answer of the API), the share of it that validates the query
(``PageQuery``) and the answer (``UnitPage``, the check spectree makes before
sending it), and the same for ``GET /api/v1/campaigns/…/units/STC`` (``UnitDetail``).
Prints the ratios, not absolute limits (the machine is shared).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from web.api import models as m  # noqa: E402
from workflow.api_tokens import create_token  # noqa: E402
from workflow.db import db  # noqa: E402


def _best(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(rounds: int = 30) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                          "UPLOAD_FOLDER": tmp, "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
        with app.app_context():
            db.create_all()
            result = app.test_cli_runner().invoke(args=["campaign", "import",
                                                        str(ROOT / "examples" / "tien-giang-2020.yaml"),
                                                        "--now", "2020-10-07T08:00:00+07:00"])
            assert result.exit_code == 0, result.output
            code = result.output.split()[1].rstrip(":")
            from sqlalchemy import select

            from workflow.models import Organizer
            org = db.session.scalar(select(Organizer))
            token = create_token(organizer=org, name="bench", scopes=["read"], actor="bench").token
            db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for label, url, model in [
            ("units?limit=200", f"/api/v1/campaigns/{code}/units?limit=200", m.UnitPage),
            ("units/<one>", f"/api/v1/campaigns/{code}/units/STC", m.UnitDetail),
        ]:
            response = client.get(url, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_data()
            whole = _best(lambda url=url: client.get(url, headers=headers), rounds)
            answer = _best(lambda body=body, model=model: model.model_validate_json(body), rounds * 10)
            query = _best(lambda: m.PageQuery.model_validate({"limit": "200"}), rounds * 10)
            print(f"{label:18s} request {whole * 1000:7.2f} ms   answer check {answer * 1000:6.3f} ms "
                  f"({answer / whole:6.2%})   query check {query * 1e6:5.1f} µs ({query / whole:6.3%})   "
                  f"{len(body) / 1024:.0f} KiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
