"""Where a benchmark's CPU went: seconds used by a process tree, or by every process of a name (Linux /proc).

A figure per phase (after minus before) says what one request cost each part of the system, which
on a shared two-core machine tells a ceiling no load generator can beat: two cores' seconds divided
by the CPU one request costs. Elsewhere (no /proc) the figures are None.
"""

import os
import resource
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def _stats() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, command name, CPU seconds) for every process still running, with its ended children's."""
    stats = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # it ended meanwhile
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # its own time and that of its children that ended (a PostgreSQL backend that closed, a recycled worker)
        stats[int(entry.name)] = (int(fields[1]), name, sum(int(f) for f in fields[11:15]) / TICKS)
    return stats


def snapshot(roots: dict[str, int], names: dict[str, str]) -> dict[str, float] | None:
    """CPU seconds so far of each root's process tree, and of all processes whose name starts with a prefix."""
    stats = _stats()
    if not stats:
        return None
    children: dict[int, list[int]] = {}
    for pid, (parent, _name, _cpu) in stats.items():
        children.setdefault(parent, []).append(pid)
    figures = {}
    for label, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += stats.get(pid, (0, "", 0.0))[2]
            todo.extend(children.get(pid, ()))
        figures[label] = total
    for label, prefix in names.items():
        figures[label] = sum(cpu for _parent, name, cpu in stats.values() if name.startswith(prefix))
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["benchmark"] = sum(u.ru_utime + u.ru_stime for u in usage)  # the fake vendor, the load processes
    return figures


def per_request_ms(before, after, requests: int) -> dict[str, float] | None:
    if before is None or after is None or not requests:
        return None
    return {label: round((after[label] - before[label]) * 1000 / requests, 2) for label in after}
