"""Regenerate the letters shown in docs/letters/*.png.

    /work/main/.venv/bin/python docs/letters/make_pages.py
    soffice --headless --convert-to pdf --outdir /tmp/letters /tmp/letters/*.docx
    for k in launch reminder exclusion results; do pdftoppm -png -r 60 /tmp/letters/$k.pdf docs/letters/$k; done
"""

import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from workflow import letters  # noqa: E402
from workflow import operations as ops  # noqa: E402
from workflow.campaign_files import import_file  # noqa: E402
from workflow.db import db  # noqa: E402
from workflow.models import Unit  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
OUT = Path("/tmp/letters")
SCORES = (("SYT", "101"), ("STP", "96.5"), ("SNV", "99"), ("STTTT", "103.25"), ("CATINH", "102"), ("BHXH", "97"),
          ("MYTHO", "100.5"), ("CAIBE", "94"))
HEADS = {"launch": ("1270/STTTT-CNTT&BCVT", date(2019, 10, 7)), "reminder": ("1352/STTTT-CNTT&BCVT", date(2019, 10, 28)),
         "exclusion": ("1401/TB-STTTT", date(2019, 11, 4)), "results": ("1520/TB-STTTT", date(2019, 12, 6))}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "docs.db").unlink(missing_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{OUT / 'docs.db'}"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        c = import_file(ROOT / "examples" / "tien-giang-2019.yaml", actor="docs",
                        now=datetime(2019, 10, 8, 8, tzinfo=VN)).campaign
        sent = datetime(2019, 10, 24, 10, tzinfo=VN)
        for code, score in SCORES:
            u = db.session.scalar(select(Unit).where(Unit.code == code))
            ops.record_submission(c, u, received_at=sent, channel="upload", recorded_by="docs", now=sent)
            ops.set_scores(c, u, actor="docs", now=sent, verified_score=Decimal(score))
        at = datetime(2019, 11, 4, 9, tzinfo=VN)
        for kind, (number, day) in HEADS.items():
            if kind == "exclusion":  # the grace period ends: silent units are excluded
                ops.run_tick(at)
                db.session.commit()
            when = datetime(2019, 10, 28, 9, tzinfo=VN) if kind in ("launch", "reminder") else at
            head = letters.LetterHead(number, day, "", "Giám đốc", "Trần Văn Dũng")
            (OUT / f"{kind}.docx").write_bytes(letters.build(c, kind, head, when))


if __name__ == "__main__":
    main()
