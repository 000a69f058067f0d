"""The campaign's whole year through the API (issue 16, docs/api.md): next year's campaign, the award step, the
People's Committee decision and the public results, milestone documents, official letters.

Thin, like ``web/api/views.py``: each view states its contract in one ``@operation`` (the models of
``web/api/year_models.py``), then calls the same domain operation as the web pages (``web/pages/yearly.py``)
and the CLI (``cli/yearly.py``): ``workflow.yearly``, ``workflow.awards``, ``workflow.milestone_docs``,
``workflow.letters``.  The rules are never copied here.  Award dossiers are recorded by ``recordSubmission``
with ``kind: award`` (``web/api/views.py``).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, g
from sqlalchemy import select

from web.api import models as m
from web.api import year_models as y
from web.api.operation import file_answer, json_answer, operation, run_write, touch_and_commit
from web.api.problems import ApiError, invalid, not_found
from web.api.views import campaign_for, campaign_item, submission_dict, timeline_document
from workflow import awards, letters, milestone_docs, yearly
from workflow import campaigns as reads
from workflow import operations as ops
from workflow.api_tokens import actor_of
from workflow.award_models import AwardProposal, CampaignDecision
from workflow.campaigns import status_document
from workflow.db import db, utcnow
from workflow.models import Campaign
from workflow.storage import DocumentRefused, StoredDocument, check_document, store_document

bp = Blueprint("api_year", __name__, url_prefix="/api/v1")


# -- shared pieces -------------------------------------------------------------------------------------------------

def _file(file: y.FileIn | None, at: str) -> y.FileIn | None:
    """What the contract cannot check of an attached file: its content."""
    if file is not None:
        try:
            check_document(file.name, file.content_base64)
        except DocumentRefused as exc:
            raise invalid(f"{at}.content_base64", exc.message_vi, exc.message_en) from None
    return file


def _store(file: y.FileIn | None) -> StoredDocument | None:
    """Store an attached file within a write (removed again if the write is undone)."""
    if file is None:
        return None
    try:
        stored = store_document(current_app.config["UPLOAD_FOLDER"], file.name, file.content_base64)
    except DocumentRefused as exc:
        raise ApiError(503, exc.message_vi, exc.message_en, "file") from None
    g.api_stored.append(stored.stored_name)
    return stored


def _file_out(name: str, sha256: str) -> dict | None:
    return {"name": name, "sha256": sha256} if sha256 else None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# -- next year's campaign ------------------------------------------------------------------------------------------

def _plan(source: Campaign, body: y.CloneIn) -> yearly.ClonePlan:
    try:
        return yearly.plan_clone(source, code=body.code, year=body.year, deadline=body.deadline,
                                 leave_out=body.leave_out, leave_out_abolished=body.leave_out_abolished)
    except yearly.CloneRefused as exc:
        raise _refused(exc) from None


def _refused(exc: yearly.CloneRefused) -> ops.OperationError:
    """A code that exists or a source already cloned is a conflict (409); a bad year, deadline or unit a 422."""
    conflict = exc.field == "code"
    return ops.OperationError(exc.message_vi, exc.message_en, field=exc.field, status=409 if conflict else 422)


def plan_document(plan: yearly.ClonePlan) -> dict:
    abolished, left_out = set(plan.abolished_units), set(plan.left_out)
    return {
        "source": plan.source.code, "code": plan.code, "year": plan.year, "deadline": plan.deadline.isoformat(),
        "deadline_given": plan.deadline_given,
        "moves": [{"what": mv.what, "name": yearly.label(mv.what), "name_en": yearly.label(mv.what, "en"),
                   "old": mv.old.isoformat(), "new": mv.new.isoformat(), "rule": mv.rule, "n": mv.n,
                   "extra_days": mv.extra_days} for mv in plan.moves],
        "warnings": [{"what": w.what, "day": w.day.isoformat(), "kind": w.kind, "message": w.message_en,
                      "message_vi": w.message_vi} for w in plan.warnings],
        "abolished_units": list(plan.abolished_units), "left_out": list(plan.left_out),
        "units": [{"code": u.code, "name": u.name, "group": u.group, "abolished": u.code in abolished,
                   "left_out": u.code in left_out} for u in plan.source_units],
        "units_kept": len(plan.spec.units),
        "criteria": {"sets": plan.criteria_sets, "criteria": plan.criteria_count},
    }


@bp.post("/campaigns/<code>/clone/preview")
@operation("previewClone", m.YEAR, scope="manage", organizer_only=True, path=m.CampaignPath, body=y.CloneIn,
           answer=y.ClonePlan, errors=(404,))
def preview_clone(token, path: m.CampaignPath, body: y.CloneIn):
    """Preview next year's campaign: every date moved, its warnings, the units, the criteria copied

    Saves nothing (the same plan as `flask campaign clone --dry-run` and the dashboard's preview). Refused (409)
    when the code exists or the campaign was already cloned into the next year.
    """
    plan = _plan(campaign_for(token, path.code), body)
    touch_and_commit(token)
    return json_answer(plan_document(plan))


@bp.post("/campaigns/<code>/clone")
@operation("cloneCampaign", m.YEAR, scope="manage", organizer_only=True, path=m.CampaignPath, body=y.CloneIn,
           answer=y.CloneResult, status=201, errors=(404,))
def clone(token, path: m.CampaignPath, body: y.CloneIn):
    """Create next year's campaign from this one, as a draft linked to it

    The same units (less those left out), groups, required documents, rules, tiers, reminder rules and criteria
    sets; every date moved as the preview shows. Refused (409) when the code exists or this campaign was already
    cloned.
    """
    source = campaign_for(token, path.code)

    def action(now: datetime) -> tuple[int, dict]:
        plan = _plan(source, body)
        try:
            new = yearly.clone_campaign(plan, actor=actor_of(token), now=now)
        except yearly.CloneRefused as exc:
            raise _refused(exc) from None
        return 201, {**plan_document(plan), "previous": source.code,
                     "campaign": campaign_item(status_document(new, now), with_counts=True)}

    return run_write(token, action)


# -- the award step ------------------------------------------------------------------------------------------------

def decision_document(d: CampaignDecision) -> dict:
    return {"number": d.number, "decided_on": d.decided_on.isoformat(), "signer": d.signer,
            "file": _file_out(d.original_name, d.sha256), "recorded_by": d.recorded_by,
            "recorded_at": d.recorded_at.isoformat(), "published_at": _iso(d.published_at),
            "published_units": len(d.published_results or [])}


def proposal_document(p: AwardProposal, tz) -> dict:
    u = p.participation.unit
    return {"unit": u.code, "name": u.name, "group": u.group, "from_ranking": p.from_ranking, "reason": p.reason,
            "proposed_by": p.proposed_by, "proposed_at": p.proposed_at.astimezone(tz).isoformat(),
            "notified_at": p.notified_at.astimezone(tz).isoformat() if p.notified_at else None,
            "dossier_status": p.dossier_status, "late_working_days": p.late_working_days,
            "received_at": p.received_at.astimezone(tz).isoformat() if p.received_at else None,
            "dossiers": [submission_dict(s, tz) for s in awards.award_submissions(p)]}


def award_step_document(c: Campaign, token, now: datetime) -> dict:
    tz = reads.tz_of(c)
    mine = token.unit_id
    props = [p for p in awards.proposals(c) if mine is None or p.participation.unit_id == mine]
    proposed = {p.participation_id for p in props}
    by_ranking = {p.id for p in awards.proposed_by_ranking(c, now)}
    try:
        deadline, grace_ends = awards.award_deadline(c), awards.award_grace_ends_at(c)
    except ops.OperationError:
        deadline = grace_ends = None
    decision = awards.decision_of(c)
    if decision is not None and mine is not None and decision.published_at is None:
        decision = None  # a unit sees the decision once it is published
    return {
        "campaign": c.code, "state": reads.state_at(c, now),
        "award_deadline": _iso(deadline), "award_grace_ends_at": grace_ends.astimezone(tz).isoformat()
        if grace_ends else None,
        "ranking": [{"unit": r.participation.unit.code, "name": r.participation.unit.name,
                     "group": r.participation.unit.group, "status": r.status,
                     "score": float(r.score) if r.score is not None else None, "rating": r.rating, "rank": r.rank,
                     "by_ranking": r.participation.id in by_ranking, "proposed": r.participation.id in proposed}
                    for r in reads.results(c, now) if mine is None or r.participation.unit_id == mine],
        "proposals": [proposal_document(p, tz) for p in props],
        "decision": decision_document(decision) if decision is not None else None,
    }


@bp.get("/campaigns/<code>/awards")
@operation("getAwardStep", m.YEAR, scope="read", path=m.CampaignPath, answer=y.AwardStep, errors=(404,))
def award_step(token, path: m.CampaignPath):
    """The award step: the ranking with the units proposed, their award dossiers, the decision

    A unit's token sees its own row and proposal only, and the decision once published.
    """
    c = campaign_for(token, path.code)
    doc = award_step_document(c, token, utcnow())
    touch_and_commit(token)
    return json_answer(doc)


@bp.post("/campaigns/<code>/awards/proposals")
@operation("proposeAwards", m.YEAR, scope="manage", organizer_only=True, path=m.CampaignPath, body=y.ProposeIn,
           answer=y.AwardStep, errors=(404,))
def propose(token, path: m.CampaignPath, body: y.ProposeIn):
    """Mark the units proposed for an award; each new one is sent a notice

    The ranking's best tier of each group, plus `add` and less `remove`; a change to the ranking's list needs a
    reason (422). Only once the field inspection is done (409). Sent again, only what changed is recorded.
    """
    c = campaign_for(token, path.code)

    def action(now: datetime) -> tuple[int, dict]:
        awards.propose(c, actor=actor_of(token), now=now, add=body.add, remove=body.remove, reason=body.reason)
        return 200, award_step_document(c, token, now)

    return run_write(token, action)


@bp.get("/campaigns/<code>/awards/dossiers")
@operation("listAwardDossiers", m.YEAR, scope="read", path=m.CampaignPath, answer=y.AwardDossierPage,
           errors=(404,))
def award_dossiers(token, path: m.CampaignPath):
    """The award dossiers received, by unit and version

    Record one with `recordSubmission` and `kind: award`. A unit's token lists its own only.
    """
    c = campaign_for(token, path.code)
    tz = reads.tz_of(c)
    items = []
    for p in awards.proposals(c):
        if token.unit_id is not None and p.participation.unit_id != token.unit_id:
            continue
        u = p.participation.unit
        items += [{**submission_dict(s, tz), "unit": u.code, "name": u.name,
                   "status": "late" if s.late_working_days else "on_time"} for s in awards.award_submissions(p)]
    touch_and_commit(token)
    return json_answer({"campaign": c.code, "items": items})


@bp.post("/campaigns/<code>/decision")
@operation("recordDecision", m.YEAR, scope="manage", organizer_only=True, path=m.CampaignPath, body=y.DecisionIn,
           answer=y.Decision, errors=(404, 413, 503))
def record_decision(token, path: m.CampaignPath, body: y.DecisionIn):
    """Record the People's Committee decision approving the results: number, date, signer, the signed file

    Recorded again, it replaces the one recorded, until the results are published (409).
    """
    c = campaign_for(token, path.code)
    file = _file(body.file, "file")

    def action(now: datetime) -> tuple[int, dict]:
        stored = _store(file)
        d = awards.record_decision(c, awards.DecisionInput(body.number, body.decided_on, body.signer,
                                                           stored.original_name if stored else "", stored),
                                   actor=actor_of(token), now=now)
        return 200, decision_document(d)

    return run_write(token, action)


@bp.post("/campaigns/<code>/publish")
@operation("publishResults", m.YEAR, scope="manage", organizer_only=True, path=m.CampaignPath, body=y.PublishIn,
           answer=y.Decision, errors=(404,))
def publish(token, path: m.CampaignPath, body: y.PublishIn):
    """Approval received: publish the results and mail each unit its result

    Needs the decision (409 without it). The figures published are frozen: the public results show them and
    nothing else.
    """
    c = campaign_for(token, path.code)

    def action(now: datetime) -> tuple[int, dict]:
        return 200, decision_document(awards.publish(c, actor=actor_of(token), now=now, reason=body.reason))

    return run_write(token, action)


# -- the public results (no token) --------------------------------------------------------------------------------

@bp.get("/public/results")
@operation("listPublishedResults", m.PUBLIC, scope=None, public=True, answer=y.PublicIndex)
def published(_token):
    """The campaigns whose results are published (public)

    No token needed; the same list as the public page /ket-qua.
    """
    items = [{"code": c.code, "title": c.title, "year": c.year,
              "organizer": {"code": c.organizer.code, "name": c.organizer.name},
              "decision_number": d.number, "published_at": d.published_at.astimezone(reads.tz_of(c)).isoformat()}
             for c, d in awards.published_campaigns()]
    return json_answer({"items": items}, cache="public, max-age=60")


@bp.get("/public/results/<code>")
@operation("getPublishedResults", m.PUBLIC, scope=None, public=True, path=m.CampaignPath, answer=y.PublicResults,
           errors=(404,))
def published_results(_token, path: m.CampaignPath):
    """A campaign's published results: the decision and each group's ranking with tiers (public)

    No token needed; the figures frozen at publication, as on /ket-qua/CODE. A campaign whose results are not
    published is not found (404).
    """
    c = db.session.scalar(select(Campaign).where(Campaign.code == path.code))
    d = awards.decision_of(c) if c is not None else None
    if c is None or d is None or d.published_at is None or c.state != "approved":
        raise not_found("Không có kết quả đã công bố của đợt đánh giá này", "No published results for this campaign",
                        "code")
    groups: dict[str, list[dict]] = {}
    for row in d.published_results or []:
        groups.setdefault(row["group"], []).append(
            {"unit": row["unit"], "name": row["name"], "rank": row["rank"], "rating": row["rating"],
             "score": row["score"]})
    for rows in groups.values():
        rows.sort(key=lambda r: (r["rank"], r["unit"]))
    return json_answer({
        "code": c.code, "title": c.title, "year": c.year,
        "organizer": {"code": c.organizer.code, "name": c.organizer.name},
        "decision": {"number": d.number, "decided_on": d.decided_on.isoformat(), "signer": d.signer},
        "published_at": d.published_at.astimezone(reads.tz_of(c)).isoformat(),
        "tiers": list(c.tiers or []), "groups": [{"group": k, "items": v} for k, v in groups.items()],
    }, cache="public, max-age=60")


# -- milestone documents ---------------------------------------------------------------------------------------------

@bp.post("/campaigns/<code>/milestones/<kind>/documents")
@operation("attachMilestoneDocument", m.YEAR, scope="manage", organizer_only=True, path=y.DocumentMilestonePath,
           body=y.MilestoneDocumentIn, answer=m.Timeline, errors=(404, 413, 503))
def attach_document(token, path: y.DocumentMilestonePath, body: y.MilestoneDocumentIn):
    """Cite the document that set or moved a milestone: number, date, issuer, the signed file

    The timeline shows the newest document of each milestone (its `document`).
    """
    c = campaign_for(token, path.code)
    file = _file(body.file, "file")

    def action(now: datetime) -> tuple[int, dict]:
        stored = _store(file)
        try:
            milestone_docs.attach(c, path.kind, milestone_docs.DocumentInput(
                body.number, body.date, body.issuer, stored.original_name if stored else "", stored),
                actor=actor_of(token), now=now)
        except milestone_docs.DocumentRefused as exc:
            raise ops.OperationError(exc.message_vi, exc.message_en, field="kind", status=409) from None
        return 200, timeline_document(c, now)

    return run_write(token, action)


@bp.get("/campaigns/<code>/milestones/<kind>/documents")
@operation("listMilestoneDocuments", m.YEAR, scope="read", path=y.DocumentMilestonePath,
           answer=y.MilestoneDocumentList, errors=(404,))
def milestone_documents(token, path: y.DocumentMilestonePath):
    """The documents cited for a milestone, oldest first"""
    c = campaign_for(token, path.code)
    tz = reads.tz_of(c)
    items = [{"kind": row.kind, "number": row.number, "date": _iso(row.issued_on), "issuer": row.issuer,
              "file": _file_out(row.original_name, row.sha256), "recorded_by": row.recorded_by,
              "recorded_at": row.recorded_at.astimezone(tz).isoformat()}
             for row in milestone_docs.history_of(c, path.kind)]
    touch_and_commit(token)
    return json_answer({"campaign": c.code, "kind": path.kind, "items": items})


# -- official letters ------------------------------------------------------------------------------------------------

@bp.get("/campaigns/<code>/letters/<letter>")
@operation("downloadLetter", m.YEAR, scope="manage", organizer_only=True, path=y.LetterPath, query=y.LetterQuery,
           answer=None, binary=y.DOCX, errors=(404,))
def letter(token, path: y.LetterPath, query: y.LetterQuery):
    """An official letter as DOCX (Nghị định 30/2020/NĐ-CP), from the campaign's data as of now

    The launching letter, the reminder (units that have not submitted, by group), the notice of exclusion, or the
    results with the annexed ranking table. The organizer gives number, date and signer; nothing is stored: sign
    it outside, then attach it back to its milestone (`attachMilestoneDocument`).
    """
    c = campaign_for(token, path.code)
    head = letters.LetterHead(query.number.strip(), query.date, query.authority.strip(), query.title.strip(),
                              query.signer.strip())
    data = letters.build(c, path.letter, head, utcnow())
    touch_and_commit(token)
    return file_answer(data, y.DOCX, f"{c.code}-{path.letter}-{query.date.isoformat()}.docx")
