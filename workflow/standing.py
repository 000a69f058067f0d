"""Where a unit stands: its status, lateness, rating and rank.

Pure functions: received instants are classified against the deadline and the
grace end; a unit that has sent nothing is excluded once grace has ended, even
before the tick records it (the status shown is never stale).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from .periods import LOCAL_TZ, end_of_day, working_days_late
from .workdays import VietnamCalendar, format_day

#: Unit statuses: code -> (vi, en).
STATUSES: dict[str, tuple[str, str]] = {
    "not_submitted": ("Chưa nộp", "Not yet submitted"),
    "on_time": ("Nộp đúng hạn", "On time"),
    "late": ("Nộp trễ (trong thời gian gia hạn)", "Late (within grace)"),
    "excluded": ("Bị loại khỏi đánh giá", "Excluded"),
    "returned": ("Trả lại để chỉnh sửa", "Returned for correction"),
    "resubmitted": ("Đã nộp lại", "Resubmitted"),
    "confirmed": ("Đơn vị đã xác nhận số liệu", "Figures confirmed"),
    "verified": ("Đã thẩm định", "Verified after inspection"),
}

#: Tiền Giang 2020's tiers (seed 002), the default for a new campaign.
DEFAULT_TIERS: list[dict] = [
    {"name": "Tốt", "name_en": "Good", "min": 100},
    {"name": "Khá", "name_en": "Fair", "min": 95},
    {"name": "Trung bình", "name_en": "Average", "min": 90},
    {"name": "Yếu", "name_en": "Weak", "min": None},
]


class SubmissionRefused(Exception):
    """A dossier that cannot be accepted now; messages in both languages."""

    def __init__(self, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en


def status_name(status: str, lang: str = "vi") -> str:
    vi, en = STATUSES.get(status, (status, status))
    return vi if lang == "vi" else en


@dataclass(frozen=True)
class Classification:
    status: str  # on_time | late
    late_working_days: int


def classify(received_at: datetime, deadline: date, grace_ends_at: datetime, cal: VietnamCalendar,
             tz: ZoneInfo = LOCAL_TZ, *, allow_after_grace: bool = False) -> Classification:
    """On time, late by N working days, or refused (after grace end).

    23:59:59 local on the deadline day is on time; 00:00:00 the next day is late.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    if received_at < end_of_day(deadline, tz):
        return Classification("on_time", 0)
    if received_at >= grace_ends_at and not allow_after_grace:
        last_day = grace_ends_at.astimezone(tz).date() - timedelta(days=1)
        last, last_en = format_day(last_day), format_day(last_day, "en")
        raise SubmissionRefused(
            f"Hồ sơ nhận lúc {received_at.astimezone(tz):%H:%M:%S %d/%m/%Y} là sau khi hết thời gian gia hạn "
            f"(24:00 {last}): không được tiếp nhận, đơn vị không được đánh giá, xếp hạng.",
            f"The dossier received at {received_at.astimezone(tz):%H:%M:%S %d/%m/%Y} came after the grace period "
            f"ended (24:00 {last_en}): it cannot be accepted and the unit is not evaluated.")
    return Classification("late", working_days_late(deadline, received_at, cal, tz))


def effective_status(status: str, *, reinstated: bool, grace_ended: bool) -> str:
    """The recorded status moved on by the clock: silence past grace is exclusion."""
    if status == "not_submitted" and grace_ended and not reinstated:
        return "excluded"
    return status


def may_submit(status: str, *, reinstated: bool, grace_ended: bool) -> bool:
    """Whether the unit may send (or replace) its dossier now.

    Before grace end, always (a new version replaces the old one).  After it,
    only to answer a return for correction, or after a reinstatement.
    """
    if status == "excluded":
        return False
    if not grace_ended:
        return True
    if status == "returned":
        return True
    return reinstated and status == "not_submitted"


#: Every number of points (a tier's minimum, a score, a campaign's maximum and bonus) lies in this range,
#: with at most two decimals (the database keeps NUMERIC(8, 2)); read as Decimal, never through float.
POINTS_MIN, POINTS_MAX = Decimal(0), Decimal(1000)


class PointsRefused(ValueError):
    def __init__(self, value: object, what: str):
        self.message_vi = (f"{what}: “{value}” không hợp lệ; cần một số điểm từ {POINTS_MIN} đến {POINTS_MAX}, "
                           "tối đa hai chữ số thập phân.")
        self.message_en = (f"{what}: {value!r} is not a number of points between {POINTS_MIN} and {POINTS_MAX} "
                           "with at most two decimals.")
        super().__init__(self.message_en)


def checked_points(value: object, what: str = "points") -> Decimal:
    """``value`` as a Decimal of points, or :class:`PointsRefused` (infinity, NaN, 1e309, out of range, 0.001)."""
    if isinstance(value, bool):
        raise PointsRefused(value, what)
    try:
        number = Decimal(str(value).strip().replace(",", ".")) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise PointsRefused(value, what) from None
    if not number.is_finite() or not POINTS_MIN <= number <= POINTS_MAX or number != number.quantize(Decimal("0.01")):
        raise PointsRefused(value, what)
    return number


class ScoringRefused(ValueError):
    """A campaign's score maximum and bonus whose sum exceeds POINTS_MAX."""

    def __init__(self, maximum: Decimal, bonus: Decimal):
        self.message_vi = (f"Điểm tối đa ({maximum}) cộng điểm thưởng ({bonus}) không được vượt quá {POINTS_MAX}.")
        self.message_en = f"maximum + bonus must not exceed {POINTS_MAX}"
        super().__init__(self.message_en)


def checked_scoring(maximum: object, bonus: object) -> tuple[Decimal, Decimal]:
    """A campaign's score maximum and declared bonus, each checked as points and their sum at most
    POINTS_MAX: the one check of the campaign file (``scoring``) and the setup form."""
    high, extra = checked_points(maximum, "maximum"), checked_points(bonus, "bonus")
    if high + extra > POINTS_MAX:
        raise ScoringRefused(high, extra)
    return high, extra


def stored_points(number: Decimal) -> int | float:
    """How a checked number of points is kept in JSON (tiers): exact, since it has at most two decimals."""
    return int(number) if number == number.to_integral_value() else float(number)


def rating(score: Decimal | float | None, tiers: Sequence[dict]) -> str | None:
    """The tier a score reaches; tiers are best first, the last may have min None."""
    if score is None:
        return None
    for tier in tiers:
        minimum = tier.get("min")
        if minimum is None or Decimal(str(score)) >= Decimal(str(minimum)):
            return tier["name"]
    return None


@dataclass(frozen=True)
class Ranked:
    key: object
    group: str
    score: Decimal
    rank: int
    rating: str | None


def rank_within_groups(entries: Iterable[tuple[object, str, Decimal | None]], tiers: Sequence[dict]) -> list[Ranked]:
    """Rank (key, group, score) entries within each group; ties share a rank.

    Standard competition ranking: 100, 98, 98, 95 rank 1, 2, 2, 4.  Entries
    without a score are left out (the caller leaves excluded units out too).
    """
    by_group: dict[str, list[tuple[object, Decimal]]] = {}
    for key, group, score in entries:
        if score is None:
            continue
        by_group.setdefault(group, []).append((key, Decimal(str(score))))
    result = []
    for group, items in sorted(by_group.items()):
        items.sort(key=lambda item: item[1], reverse=True)
        previous, rank = None, 0
        for position, (key, score) in enumerate(items, start=1):
            if score != previous:
                rank, previous = position, score
            result.append(Ranked(key, group, score, rank, rating(score, tiers)))
    return result


def status_sentence(status: str, received_at: datetime | None, late_days: int, tz: ZoneInfo = LOCAL_TZ,
                    lang: str = "vi", corrected_at: datetime | None = None) -> str:
    """One sentence: "Đã nộp đúng hạn lúc 10:42, Thứ Năm 24/10/2019"; a correction that kept the on-time
    standing adds its own instant: "…; đã bổ sung, sửa đổi lúc 09:15, Thứ Hai 28/10/2019"."""
    if received_at is None:
        return status_name(status, lang)
    local = received_at.astimezone(tz)
    when = f"{local:%H:%M}, {format_day(local.date(), lang)}"
    if corrected_at is not None and status in ("on_time", "resubmitted"):
        fixed = corrected_at.astimezone(tz)
        fixed_when = f"{fixed:%H:%M}, {format_day(fixed.date(), lang)}"
        if lang == "vi":
            return f"Đã nộp đúng hạn lúc {when}; đã bổ sung, sửa đổi lúc {fixed_when} (vẫn tính là đúng hạn)"
        return f"Submitted on time at {when}; corrected at {fixed_when} (still counted on time)"
    if lang == "vi":
        if status == "on_time":
            return f"Đã nộp đúng hạn lúc {when}"
        if status == "late":
            return f"Đã nộp trễ {late_days} ngày làm việc lúc {when} (trong thời gian gia hạn)"
        return f"{status_name(status)} — hồ sơ nhận lúc {when}"
    if status == "on_time":
        return f"Submitted on time at {when}"
    if status == "late":
        return f"Submitted {late_days} working day(s) late at {when} (within grace)"
    return f"{status_name(status, 'en')} — dossier received at {when}"
