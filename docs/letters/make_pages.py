"""Regenerate docs/letters/*.png: python docs/letters/make_pages.py, then soffice --headless --convert-to pdf
--outdir /tmp/letters /tmp/letters/*.docx and pdftoppm -png -r 60 each PDF into docs/letters/."""
import sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
Path("/tmp/letters").mkdir(exist_ok=True)
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo
from sqlalchemy import select
from app import create_app
from workflow.db import db
from workflow import operations as ops, letters
from workflow.campaign_files import import_file
from workflow.models import Campaign, Unit
VN = ZoneInfo("Asia/Ho_Chi_Minh")
app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/docs.db"})
with app.app_context():
    from flask_migrate import upgrade
    upgrade(directory=str(ROOT / "migrations"))
    now = datetime(2019, 10, 8, 8, tzinfo=VN)
    c = import_file(ROOT / "examples" / "tien-giang-2019.yaml", actor="docs", now=now).campaign
    sent = datetime(2019, 10, 24, 10, tzinfo=VN)
    for code, score in (("SYT", "101"), ("STP", "96.5"), ("SNV", "99"), ("STTTT", "103.25"), ("CATINH", "102"), ("BHXH", "97"), ("MYTHO", "100.5"), ("CAIBE", "94")):
        u = db.session.scalar(select(Unit).where(Unit.code == code))
        ops.record_submission(c, u, received_at=sent, channel="upload", recorded_by="docs", now=sent)
        ops.set_scores(c, u, actor="docs", now=sent, verified_score=Decimal(score))
    db.session.commit()
    at = datetime(2019, 11, 4, 9, tzinfo=VN)
    ops.run_tick(at); db.session.commit()
    heads = {"launch": ("1270/STTTT-CNTT&BCVT", datetime(2019, 10, 7).date()),
             "reminder": ("1352/STTTT-CNTT&BCVT", datetime(2019, 10, 28).date()),
             "exclusion": ("1401/TB-STTTT", datetime(2019, 11, 4).date()),
             "results": ("1520/TB-STTTT", datetime(2019, 12, 6).date())}
    for kind, (num, day) in heads.items():
        when = datetime(2019, 10, 28, 9, tzinfo=VN) if kind == "reminder" else at
        data = letters.build(c, kind, letters.LetterHead(num, day, "", "Giám đốc", "Trần Văn Dũng"), when)
        open(f"/tmp/letters/{kind}.docx", "wb").write(data)
