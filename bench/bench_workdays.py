"""Benchmark: "the N-th working day after D" four ways.

    .venv/bin/python bench/bench_workdays.py

100,000 random (date, N) pairs (fixed seed), dates uniform in 2015-01-01 ..
2030-12-31, N uniform in 1..30:

(a) VietnamCalendar.add_working_days (bisect over precomputed ordinals);
(b) stock workalendar's day-by-day walk over the same data: a plain
    ``workalendar.core.Calendar`` with the same holidays, the make-up Saturdays
    of 2014..2031 passed as ``extra_working_days`` (on every pair: at ~50 us a
    call it takes a few seconds; set STOCK_PAIRS lower to subsample);
(c) numpy.busday_offset, every day a "business day" except the weekend days
    (less the make-up Saturdays) and the public holidays of 2014..2031,
    roll="backward";
(d) VietnamCalendar.add_working_days_many on the whole arrays.

All four must give identical answers (asserted). No timing is asserted.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from workalendar.core import SAT, SUN, Calendar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflow.workdays import VietnamCalendar  # noqa: E402

SEED = 20191025
PAIRS = 100_000
STOCK_PAIRS = PAIRS  # all of them; lower it to time (b) on a subsample
FIRST, LAST = date(2015, 1, 1), date(2030, 12, 31)
DATA_YEARS = range(2014, 2032)


class StockVietnam(Calendar):
    """Stock workalendar fed our days off; weekends are checked first."""

    WEEKEND_DAYS = (SAT, SUN)

    def __init__(self, source: VietnamCalendar):
        super().__init__()
        self._source = source

    def get_calendar_holidays(self, year):
        return list(self._source.holidays(year))


def best_of(repeat: int, fn):
    """(best seconds, result) over ``repeat`` runs."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    rng = np.random.default_rng(SEED)
    span = (LAST - FIRST).days
    day_np = np.datetime64(FIRST, "D") + rng.integers(0, span + 1, PAIRS)
    n_np = rng.integers(1, 31, PAIRS)
    days = day_np.tolist()  # datetime.date objects
    ns = n_np.tolist()
    sub = np.arange(PAIRS) if STOCK_PAIRS >= PAIRS else rng.choice(PAIRS, STOCK_PAIRS, replace=False)

    cal = VietnamCalendar(corrections=())
    cal.working_day_ordinals(2014, 2031)  # build the window before timing
    cal.add_working_days_many(day_np[:10], n_np[:10])

    # (a) ours, one call per pair
    add = cal.add_working_days
    t_a, res_a = best_of(3, lambda: [add(d, n) for d, n in zip(days, ns)])

    # (b) stock workalendar, make-up Saturdays as extra_working_days
    stock = StockVietnam(cal)
    makeup = sorted(d for y in DATA_YEARS for d, _ in cal.working_weekend_days(y))
    for y in range(2013, 2033):
        stock.holidays(y)  # warm its cache, as ours is warm
    sub_days = [days[i] for i in sub]
    sub_ns = [ns[i] for i in sub]
    t_b, res_b = best_of(1, lambda: [stock.add_working_days(d, n, extra_working_days=makeup)
                                     for d, n in zip(sub_days, sub_ns)])

    # (c) numpy.busday_offset with an explicit calendar
    first, last = date(DATA_YEARS[0], 1, 1), date(DATA_YEARS[-1], 12, 31)
    all_days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    makeup_set = set(makeup)
    off = [d for d in all_days if d.weekday() in (SAT, SUN) and d not in makeup_set]
    off += [d for y in DATA_YEARS for d, _ in cal.holidays(y)]
    busdays = np.busdaycalendar(weekmask="1111111", holidays=np.array(sorted(set(off)), dtype="datetime64[D]"))
    t_c, res_c = best_of(5, lambda: np.busday_offset(day_np, n_np, roll="backward", busdaycal=busdays))

    # (d) ours, batch
    t_d, res_d = best_of(5, lambda: cal.add_working_days_many(day_np, n_np))

    # Identical answers
    arr_a = np.array(res_a, dtype="datetime64[D]")
    agree_c = int((res_c == arr_a).sum())
    agree_d = int((res_d == arr_a).sum())
    agree_b = sum(res_b[k] == res_a[i] for k, i in enumerate(sub))
    assert agree_b == STOCK_PAIRS, f"stock workalendar disagrees on {STOCK_PAIRS - agree_b} pairs"
    assert agree_c == PAIRS, f"numpy.busday_offset disagrees on {PAIRS - agree_c} pairs"
    assert agree_d == PAIRS, f"add_working_days_many disagrees on {PAIRS - agree_d} pairs"

    us = lambda seconds, count: seconds / count * 1e6  # noqa: E731
    rows = [
        ("(a) VietnamCalendar.add_working_days", us(t_a, PAIRS), PAIRS, "-"),
        ("(b) stock workalendar walk", us(t_b, STOCK_PAIRS), STOCK_PAIRS, f"{agree_b}/{STOCK_PAIRS}"),
        ("(c) numpy.busday_offset", us(t_c, PAIRS), PAIRS, f"{agree_c}/{PAIRS}"),
        ("(d) add_working_days_many (batch)", us(t_d, PAIRS), PAIRS, f"{agree_d}/{PAIRS}"),
    ]
    print(f"{PAIRS:,} random (date, N) pairs, dates {FIRST}..{LAST}, N in 1..30, seed {SEED}")
    if STOCK_PAIRS < PAIRS:
        print(f"(b) timed on a {STOCK_PAIRS:,}-pair subsample (the day-by-day walk is slow)")
    print("(a), (c), (d): best of several runs; (b): one run")
    print()
    print(f"{'method':<40} {'us/call':>10} {'pairs':>9} {'agrees with (a)':>16}")
    for name, per_call, count, agree in rows:
        print(f"{name:<40} {per_call:>10.3f} {count:>9,} {agree:>16}")
    print()
    stock_ratio = rows[1][1] / rows[0][1]
    batch_ratio = rows[3][1] / rows[2][1]
    print(f"stock / ours  = {stock_ratio:8.1f}   (goal >= 20: {'met' if stock_ratio >= 20 else 'NOT met'})")
    print(f"batch / numpy = {batch_ratio:8.2f}   (goal <= 3:  {'met' if batch_ratio <= 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
