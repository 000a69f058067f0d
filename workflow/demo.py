"""Demo data: the seed campaigns as they happened, and one live campaign.

``flask demo load`` imports every ``examples/*.yaml`` campaign, plays it out
(dossiers on time, late and missing, the tick at grace end, scores, the
organizer's steps) with a fixed random seed, then creates a live campaign
whose deadline is a few working days from today, so the dashboard, the
reminders and the outbox have something to show.  Idempotent.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy import update as sa_update

from . import campaigns as reads
from . import operations as ops
from . import tally
from .accounts import create_user
from .calendars import calendar_for
from .campaign_files import CampaignSpec, apply, parse
from .db import db
from .models import AuditEvent, Campaign, Organizer, Participation, Submission, Unit, User
from .periods import LOCAL_TZ
from .timeline import grace_period

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_ACTOR = "demo"


def _at(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ).astimezone(UTC)


def play_out(campaign: Campaign, rng: random.Random, until: datetime) -> None:
    """Dossiers, the tick at grace end, scores and steps, as of ``until``."""
    if campaign.state == "draft":
        return  # a campaign still being prepared (Tiền Giang 2020's plan)
    cal = reads.calendar_of(campaign)
    tl = reads.timeline_of(campaign)
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
                # (at most the campaign's ceiling: its maximum plus its declared bonus)
                score = min(Decimal(rng.randint(820, 1080)) / 10, ops.score_ceiling(campaign))
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
        end = reads.timeline_of(campaign).grace_ends_at + timedelta(days=3)
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

    cal = calendar_for(None)
    spec.year = today.year
    spec.title = f"Đánh giá, xếp loại chuyên đề thi đua ứng dụng CNTT năm {today.year} (dữ liệu minh họa)"
    spec.document_number = "1270/STTTT-CNTT&BCVT (minh họa)"
    spec.document_date = cal.sub_working_days(today, 10)
    spec.data_period = (today.replace(month=1, day=1), today)
    spec.deadline = cal.add_working_days(today, 4)
    # The documents asked for are this year's (the example's texts say "năm 2019").
    spec.required_documents = {group: [re.sub(r"\b2019\b", str(today.year), text) for text in texts]
                               for group, texts in (spec.required_documents or {}).items()}
    spec.state = "open"
    grace_end = grace_period(spec.deadline, spec.grace_working_days, cal).last_day
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
    # One unit of each state an open campaign can show (README, "Demo"): STC (the demo focal point)
    # has not submitted yet; SYT submitted on time; SNV's dossier was returned for correction; SXD
    # sent a corrected one.  Late and excluded units are in the past campaigns (TGG-UDCNTT-2019).
    units = {p.unit.code: p.unit for p in campaign.participations}
    recent = min(_at(cal.sub_working_days(today, 1), 9, 30), now - timedelta(minutes=30))
    if "SYT" in units:
        ops.record_submission(campaign, units["SYT"], received_at=recent, channel="upload",
                              recorded_by="syt@tiengiang.example", now=now)
    for code in ("SNV", "SXD"):
        if code in units:
            ops.record_submission(campaign, units[code], received_at=recent, channel="eoffice",
                                  recorded_by="văn thư Sở", now=now, doc_number=f"{rng.randint(1000, 9999)}/VBĐ")
            ops.return_dossier(campaign, units[code], reason="Thiếu bảng điểm tự chấm có chữ ký của thủ trưởng",
                               actor=DEMO_ACTOR, now=recent + timedelta(minutes=10))
    if "SXD" in units:
        ops.record_submission(campaign, units["SXD"], received_at=recent + timedelta(minutes=20), channel="upload",
                              recorded_by="văn thư Sở", now=now)
    fixed = {"STC", "SYT", "SNV", "SXD"}
    for p in sorted(campaign.participations, key=lambda p: p.unit.code):
        if p.unit.code in fixed:
            continue
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
    ("syt@tiengiang.example", "focal_point", "SYT", "Văn thư Sở Y tế"),
    ("snv@tiengiang.example", "focal_point", "SNV", "Văn thư Sở Nội vụ"),
    ("sxd@tiengiang.example", "focal_point", "SXD", "Văn thư Sở Xây dựng"),
]


def load_users() -> list[str]:

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


def generate(*, organizers: int, units: int, campaigns: int, submitted: float, now: datetime,
             seed: int = 7) -> dict[str, int]:
    """Build realistic data at a chosen size, fast (bulk inserts), for measurements.

    Each organizer ``GEN01…`` gets ``units`` units in the four groups (communes
    under districts, like a province after 2025 with its ~100 communes, scaled),
    and ``campaigns`` campaigns whose deadlines fall around ``now``; a share
    ``submitted`` of each campaign's units has a dossier (on time or late), audited as a received one is.
    Idempotent per organizer code.
    """
    rng = random.Random(seed)
    today = now.astimezone(LOCAL_TZ).date()
    created = {"organizers": 0, "units": 0, "campaigns": 0, "participations": 0, "submissions": 0}
    for o in range(1, organizers + 1):
        code = f"GEN{o:02d}"
        if db.session.scalar(select(Organizer.id).where(Organizer.code == code)) is not None:
            continue
        org = Organizer(code=code, name=f"Sở Khoa học và Công nghệ tỉnh Thử nghiệm {o:02d}",
                        province=f"Tỉnh Thử nghiệm {o:02d}", email=f"stttt{o:02d}@example.gov.vn")
        db.session.add(org)
        db.session.flush()
        created["organizers"] += 1
        n_districts = max(1, units // 40)
        n_departments = min(25, max(1, units // 10))
        n_vertical = 5
        rows = []
        for i in range(n_departments):
            rows.append({"organizer_id": org.id, "code": f"SO{i:03d}", "name": f"Sở số {i + 1}", "group": "department",
                         "emails": [f"so{i}@gen{o}.example.gov.vn"], "head_email": "", "language": "vi"})
        for i in range(n_vertical):
            rows.append({"organizer_id": org.id, "code": f"ND{i:03d}", "name": f"Cơ quan ngành dọc số {i + 1}",
                         "group": "vertical", "emails": [f"nd{i}@gen{o}.example.gov.vn"], "head_email": "",
                         "language": "vi"})
        for i in range(n_districts):
            rows.append({"organizer_id": org.id, "code": f"HUYEN{i:03d}", "name": f"UBND huyện số {i + 1}",
                         "group": "district", "emails": [f"huyen{i}@gen{o}.example.gov.vn"], "head_email": "",
                         "language": "vi"})
        db.session.execute(insert(Unit), rows)
        districts = dict(db.session.execute(select(Unit.code, Unit.id).where(Unit.organizer_id == org.id,
                                                                             Unit.group == "district")).all())
        district_ids = list(districts.values())
        communes = max(0, units - len(rows))
        db.session.execute(insert(Unit), [
            {"organizer_id": org.id, "code": f"XA{i:05d}", "name": f"UBND xã số {i + 1}", "group": "commune",
             "parent_id": district_ids[i % len(district_ids)], "emails": [f"xa{i}@gen{o}.example.gov.vn"],
             "head_email": "", "language": "vi"} for i in range(communes)])
        unit_ids = list(db.session.scalars(select(Unit.id).where(Unit.organizer_id == org.id)))
        created["units"] += len(unit_ids)
        for c in range(campaigns):
            cal = calendar_for(None)
            deadline = cal.add_working_days(today, rng.randint(-8, 8)) if c else cal.add_working_days(today, 3)
            campaign = Campaign(organizer_id=org.id, code=f"{code}-{c + 1:03d}", title=f"Đợt đánh giá thử nghiệm {c + 1}",
                                year=today.year, deadline=deadline, grace_working_days=5, state="open",
                                tiers=[], required_documents={}, council_emails=[])
            db.session.add(campaign)
            db.session.flush()
            created["campaigns"] += 1
            db.session.execute(insert(Participation), [
                {"campaign_id": campaign.id, "unit_id": uid, "status": "not_submitted", "late_working_days": 0,
                 "reinstated_reason": "", "returned_reason": "", "nominated": False} for uid in unit_ids])
            created["participations"] += len(unit_ids)
            chosen = [uid for uid in unit_ids if rng.random() < submitted]
            if not chosen:
                continue
            received = {uid: _at(cal.sub_working_days(min(deadline, today), rng.randint(0, 6)), rng.randint(7, 16),
                                 rng.randint(0, 59)) for uid in chosen}
            parts = dict(db.session.execute(select(Participation.unit_id, Participation.id)
                                            .where(Participation.campaign_id == campaign.id)).all())
            numbers = {uid: f"{rng.randint(1000, 9999)}/VBĐ" for uid in chosen}
            db.session.execute(insert(Submission), [
                {"participation_id": parts[uid], "version": 1, "received_at": received[uid], "channel": "eoffice",
                 "doc_number": numbers[uid], "recorded_by": "generator",
                 "receipt_number": f"{campaign.code}/{uid}/1", "late_working_days": 0, "created_at": now}
                for uid in chosen])
            # Each dossier audited as ops.record_submission audits it: the dashboard's log shows its latest 50.
            db.session.execute(insert(AuditEvent), [
                {"actor": "generator", "action": "submission.received", "organizer_id": org.id,
                 "campaign_id": campaign.id, "unit_id": uid, "from_value": "not_submitted",
                 "to_value": f"on_time v1 {received[uid].isoformat()} via eoffice #{numbers[uid]}", "reason": "",
                 "at": received[uid]}
                for uid in chosen])

            db.session.execute(sa_update(Participation).where(Participation.campaign_id == campaign.id,
                                                              Participation.unit_id.in_(chosen))
                               .values(status="on_time").execution_options(synchronize_session=False))
            created["submissions"] += len(chosen)
        tally.compact_tallies()  # one row per cell, as the tick leaves it, not one per generated participation
        db.session.commit()
    return created
