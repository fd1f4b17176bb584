"""Chart settings in one place: the colour of each outcome and the Chart.js configurations.

Every chart (campaign dashboard, admin home page, finance page) is built here, rendered with
``json_script`` and drawn by static/voiceops/js/charts.js, so an outcome has the same colour on
every page. Depends only on ``campaigns.models``.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import OUTCOME_LABELS

# One colour per outcome, the same on every chart (Tailwind 500/600 shades).
OUTCOME_COLORS = {
    "answered": "#16a34a",
    "no_answer": "#f59e0b",
    "busy": "#f97316",
    "rejected": "#dc2626",
    "powered_off": "#64748b",
    "suspended": "#a855f7",
    "unreachable": "#0ea5e9",
    "invalid_number": "#be123c",
    "barred": "#7c3aed",
    "network_busy": "#eab308",
    "blacklisted": "#111827",
    "content_rejected": "#db2777",
    "insufficient_balance": "#b91c1c",
    "rate_limited": "#0891b2",
    "vendor_error": "#9f1239",
    "timeout": "#94a3b8",
    "unknown": "#a3a3a3",
    "": "#cbd5e1",
}
UNKNOWN_OUTCOME_COLOR = OUTCOME_COLORS["unknown"]
ANSWERED_COLOR = "#16a34a"
NOT_ANSWERED_COLOR = "#f59e0b"
PRIMARY_COLOR = "#9333ea"
THRESHOLD_COLOR = "#dc2626"


def outcome_label(outcome: str) -> str:
    return str(OUTCOME_LABELS.get(outcome, outcome)) if outcome else _("awaiting receipt")


def outcome_color(outcome: str) -> str:
    return OUTCOME_COLORS.get(outcome, UNKNOWN_OUTCOME_COLOR)


def chart_config(kind: str, labels: list, datasets: list[dict], **options) -> dict:
    """A Chart.js configuration (rendered with json_script, drawn by static/voiceops/js/charts.js)."""
    return {
        "type": kind,
        "data": {"labels": [str(label) for label in labels], "datasets": datasets},
        "options": options,
    }


def outcome_chart(by_outcome: dict[str, int]) -> dict | None:
    items = sorted(by_outcome.items(), key=lambda kv: -kv[1])
    if not items:
        return None
    return chart_config(
        "doughnut",
        [outcome_label(k) for k, _n in items],
        [
            {
                "data": [n for _k, n in items],
                "backgroundColor": [outcome_color(k) for k, _n in items],
                "borderWidth": 1,
            }
        ],
        plugins={"legend": {"display": True, "position": "right"}},
    )


def timeline_chart(timeline: list[dict]) -> dict | None:
    if not timeline:
        return None
    labels = [timezone.localtime(slot["hour"]).strftime("%m-%d %H:00") for slot in timeline]
    return chart_config(
        "bar",
        labels,
        [
            {
                "label": _("Answered"),
                "data": [s["answered"] for s in timeline],
                "backgroundColor": ANSWERED_COLOR,
                "stack": "calls",
            },
            {
                "label": _("Not answered"),
                "data": [s["not_answered"] for s in timeline],
                "backgroundColor": NOT_ANSWERED_COLOR,
                "stack": "calls",
            },
        ],
        plugins={"legend": {"display": True, "position": "top"}},
        scales={"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}}},
    )


def answer_rate_chart(labels: list, rates: list, volumes: list) -> dict:
    """Calls with a result per day (bars) and the share answered (line, left axis in %)."""
    return chart_config(
        "bar",
        labels,
        [
            {
                "type": "line",
                "label": _("Answer rate (%)"),
                "data": rates,
                "borderColor": ANSWERED_COLOR,
                "backgroundColor": ANSWERED_COLOR,
                "yAxisID": "rate",
                "tension": 0.3,
                "spanGaps": True,
                "order": 0,
                "pointRadius": 4,
            },
            {
                "type": "bar",
                "label": _("Calls with a result"),
                "data": volumes,
                "backgroundColor": PRIMARY_COLOR + "55",
                "yAxisID": "calls",
                "order": 1,
            },
        ],
        plugins={"legend": {"display": True, "position": "top"}},
        scales={
            "rate": {"type": "linear", "position": "left", "min": 0, "max": 100, "ticks": {"vo_suffix": "%"}},
            "calls": {
                "type": "linear",
                "position": "right",
                "beginAtZero": True,
                "grid": {"drawOnChartArea": False},
                "ticks": {"precision": 0},
            },
        },
    )


def balance_chart(labels: list, balances: list, threshold: float, unit: str) -> dict:
    """One account's balance over the period (line) against its low-balance threshold (dashed)."""
    return chart_config(
        "line",
        labels,
        [
            {
                "label": _("balance") + (f" ({unit})" if unit else ""),
                "data": balances,
                "borderColor": PRIMARY_COLOR,
                "backgroundColor": PRIMARY_COLOR + "22",
                "fill": True,
                "spanGaps": True,
                "tension": 0.25,
                "pointRadius": 2,
            },
            {
                "label": _("threshold"),
                "data": [threshold] * len(balances),
                "borderColor": THRESHOLD_COLOR,
                "borderDash": [6, 4],
                "pointRadius": 0,
                "borderWidth": 1,
            },
        ],
        plugins={"legend": {"display": True, "position": "top"}},
        scales={"y": {"beginAtZero": True}},
    )
