"""The capability table (which vendor supports what), derived from the adapters themselves.

``python manage.py capabilities`` prints it as Markdown; a test keeps the README's copy current.
"""

from .adapters import ADAPTERS, PER_REQUEST, adapter_class

COLUMNS = {
    "submit_request": "send",
    "balance": "balance",
    "add_template": "add template",
    "delete_template": "delete template",
    "fetch_reports": "pull reports",
    "fetch_replies": "pull replies",
    "check_keywords": "keyword check",
    "parse_callback": "push",
}


def capability_rows() -> list[list[str]]:
    rows = []
    for code in ADAPTERS:
        cls = adapter_class(code)
        marks = ["✓" if cls.supports(op) else "—" for op in COLUMNS]
        facts = [
            "request" if cls.message_ids == PER_REQUEST else "call",
            "✓" if cls.reviews_templates else "—",
            "✓" if cls.schedules else "—",
        ]
        rows.append([f"`{code}`", ", ".join(cls.products), str(cls.batch_size), *marks, *facts])
    return rows


FACTS = ("message id per", "template review", "scheduled")


def capability_markdown() -> str:
    header = ["vendor", "products", "batch", *COLUMNS.values(), *FACTS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in capability_rows()]
    return "\n".join(lines)
