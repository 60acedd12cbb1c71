"""Fair shares, computed the same way by every worker from the same membership view.

Workers sorted by id split ``streams`` so the counts differ by at most one and add up
to the total: a worker above its share hands streams back at its next round, and a
worker below it takes free ones; so an overloaded worker's extra streams move to
the workers with room without anyone breaking a lease.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["fair_share", "plan"]


def fair_share(streams: int, workers: Collection[str], me: str) -> int:
    """How many of ``streams`` worker ``me`` should hold among ``workers`` (``me`` included)."""
    ranked = sorted(set(workers) | {me})
    base, extra = divmod(streams, len(ranked))
    return base + (1 if ranked.index(me) < extra else 0)


def plan(held: Collection[str], free: Collection[str], target: int) -> tuple[list[str], int]:
    """Which held streams to hand back (newest last in ``held``), and how many free to take."""
    held_list = list(held)
    if len(held_list) > target:
        return held_list[target:], 0
    return [], min(len(free), target - len(held_list))
