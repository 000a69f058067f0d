"""Demo data: the seed campaigns as they happened, and one live campaign.

``flask demo load`` imports every ``examples/*.yaml`` campaign, plays it out
(dossiers on time, late and missing, the tick at grace end, scores, the
organizer's steps) with a fixed random seed, then creates a live campaign
whose deadline is a few working days from today, so the dashboard, the
reminders and the outbox have something to show.  Idempotent.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from . import operations as ops
from .campaign_files import CampaignSpec, apply, parse
from .db import db
from .models import Campaign
from .periods import LOCAL_TZ

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_ACTOR = "demo"


def _at(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ).astimezone(timezone.utc)


def play_out(campaign: Campaign, rng: random.Random, until: datetime) -> None:
    """Dossiers, the tick at grace end, scores and steps, as of ``until``."""
    if campaign.state == "draft":
        return  # a campaign still being prepared (Tiền Giang 2020's plan)
    cal = ops.calendar_of(campaign)
    tl = ops.timeline_of(campaign)
    for p in sorted(campaign.participations, key=lambda p: p.unit.code):
        roll = rng.random()
        if roll < 0.78:  # on time: within the last 8 working days before the deadline
            day = cal.sub_working_days(campaign.deadline, rng.randint(0, 7)) if rng.random() < 0.9 else campaign.deadline
            at = _at(day, rng.randint(7, 16), rng.randint(0, 59))
        elif roll < 0.92 and campaign.grace_working_days:  # late, inside grace
            day = cal.add_working_days(campaign.deadline, rng.randint(1, campaign.grace_working_days))
            at = _at(day, rng.randint(7, 16), rng.randint(0, 59))
        else:
            continue  # silent: excluded at grace end
        if at > until:
            continue
        channel = rng.choice(["eoffice", "eoffice", "eoffice", "email"])
        ops.record_submission(campaign, p.unit, received_at=at, channel=channel, recorded_by="văn thư Sở",
                              now=at, doc_number=f"{rng.randint(1000, 9999)}/VBĐ")
    if until >= tl.grace_ends_at:
        ops.advance_campaign(campaign, until)
        for p in campaign.participations:
            if p.status in ("on_time", "late"):
                score = Decimal(rng.randint(820, 1080)) / 10
                ops.set_scores(campaign, p.unit, actor=DEMO_ACTOR, now=until, self_score=score)
    db.session.flush()


def load_examples(rng: random.Random) -> list[str]:
    loaded = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = parse(path.read_text(encoding="utf-8"), str(path))
        if db.session.scalar(select(Campaign).where(Campaign.code == spec.code)) is not None:
            continue
        start = _at(spec.document_date or (spec.deadline - timedelta(days=20)), 8)
        campaign = apply(spec, actor=DEMO_ACTOR, now=start, source=str(path)).campaign
        db.session.flush()
        end = ops.timeline_of(campaign).grace_ends_at + timedelta(days=3)
        play_out(campaign, rng, end)
        loaded.append(campaign.code)
    return loaded


def load_live(now: datetime, rng: random.Random) -> str | None:
    """A campaign in progress: the Tiền Giang 2019 units, deadline in 4 working days."""
    source = EXAMPLES / "tien-giang-2019.yaml"
    if not source.exists():
        return None
    spec: CampaignSpec = parse(source.read_text(encoding="utf-8"), str(source))
    today = now.astimezone(LOCAL_TZ).date()
    spec.code = f"DEMO-{today.year}"
    if db.session.scalar(select(Campaign).where(Campaign.code == spec.code)) is not None:
        return None
    from .calendars import calendar_for

    cal = calendar_for(None)
    spec.year = today.year
    spec.title = f"Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm {today.year} (dữ liệu minh họa)"
    spec.document_number = f"1270/STTTT-CNTT&BCVT (minh họa)"
    spec.document_date = cal.sub_working_days(today, 10)
    spec.data_period = (today.replace(month=1, day=1), today)
    spec.deadline = cal.add_working_days(today, 4)
    spec.state = "open"
    grace_end = cal.add_working_days(spec.deadline, spec.grace_working_days)
    spec.milestones = {
        "preliminary_review": (None, cal.add_working_days(grace_end, 5)),
        "field_inspection": (cal.add_working_days(grace_end, 6), cal.add_working_days(grace_end, 15)),
        "award_notice": (None, cal.add_working_days(grace_end, 18)),
        "award_dossiers": (None, cal.add_working_days(grace_end, 23)),
        "approval": (None, cal.add_working_days(grace_end, 26)),
    }
    spec.organizer = dict(spec.organizer, email=spec.organizer.get("email") or "thidua.stttt@example.gov.vn")
    campaign = apply(spec, actor=DEMO_ACTOR, now=_at(spec.document_date, 8), source=str(source)).campaign
    db.session.flush()
    for p in sorted(campaign.participations, key=lambda p: p.unit.code):
        if rng.random() < 0.45:
            day = cal.sub_working_days(today, rng.randint(0, 5))
            at = min(_at(day, rng.randint(7, 16), rng.randint(0, 59)), now - timedelta(minutes=5))
            ops.record_submission(campaign, p.unit, received_at=at, channel=rng.choice(["eoffice", "upload", "email"]),
                                  recorded_by="văn thư Sở", now=now, doc_number=f"{rng.randint(1000, 9999)}/VBĐ")
    return campaign.code


#: Demo accounts (README, "Demo"): never use these addresses or this password for real.
DEMO_PASSWORD = "han-chot-demo"
DEMO_USERS = [
    ("admin@tiengiang.example", "organizer_admin", None, "Chuyên viên Phòng CNTT, Sở TTTT"),
    ("hoidong@tiengiang.example", "council", None, "Thành viên Hội đồng thẩm định"),
    ("mytho@tiengiang.example", "district_coordinator", "MYTHO", "Đầu mối UBND TP Mỹ Tho"),
    ("stc@tiengiang.example", "focal_point", "STC", "Văn thư Sở Tài chính"),
]


def load_users() -> list[str]:
    from .accounts import create_user
    from .models import Organizer, Unit, User

    org = db.session.scalar(select(Organizer).where(Organizer.code == "TGG"))
    if org is None:
        return []
    made = []
    for email, role, unit_code, name in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        unit = db.session.scalar(select(Unit).where(Unit.organizer_id == org.id, Unit.code == unit_code)) \
            if unit_code else None
        create_user(email=email, role=role, organizer=org, unit=unit, name=name, password=DEMO_PASSWORD,
                    actor=DEMO_ACTOR)
        made.append(email)
    return made


def load(now: datetime, seed: int = 2019) -> list[str]:
    rng = random.Random(seed)
    loaded = load_examples(rng)
    live = load_live(now, rng)
    if live:
        loaded.append(live)
    loaded += load_users()
    return loaded
