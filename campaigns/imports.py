"""Recipient import: rows in, validated recipients out, every rejected row reported with its reason.

One transaction per import, with the campaign row locked: an import either lands whole or leaves
nothing, and two imports into one campaign cannot both add the same number. Accepted rows are
streamed to PostgreSQL with COPY (batched inserts elsewhere); memory holds only the set of numbers
already in the campaign. Progress goes to the cache, so it is visible while the transaction is open.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from vendors.adapters import adapter_class

from .database import is_postgresql
from .lifecycle import queue_first_attempts
from .models import Campaign, DoNotCallEntry, Recipient
from .phones import InvalidNumber, normalize
from .readers import MAX_CELL_CHARS, UnreadableFile

MAX_REJECTED_KEPT = 100_000
# Memory holds the campaign's numbers (about 90 MB a million): one import takes at most this many
# rows, so a huge file fails cleanly (nothing imported) instead of exhausting the worker.
MAX_IMPORT_ROWS = 2_000_000
PROGRESS_EVERY = 20_000
SQLITE_BATCH = 2_000


FIRST_REASONS_SHOWN = 5


@dataclass
class ImportResult:
    rows: int = 0
    accepted: int = 0
    invalid: int = 0
    duplicates: int = 0
    blocked: int = 0
    rejected: list[list] = field(default_factory=list)  # [line, number as given, reason]

    def reject(self, line: int, mobile: str, reason: str, counter: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.rejected) < MAX_REJECTED_KEPT:
            self.rejected.append([line, mobile[:40], reason])

    @property
    def accepted_nothing(self) -> bool:
        """Rows came and none was taken: a failure to show as one, not a success with zeros."""
        return self.rows > 0 and self.accepted == 0

    def first_reasons(self, count: int = FIRST_REASONS_SHOWN) -> str:
        """The first rejected rows in words, to show inline ("line 2 “abc”: not a phone number; …")."""
        return "; ".join(
            _("line %(line)s “%(number)s”: %(reason)s") % {"line": line, "number": number, "reason": reason}
            for line, number, reason in self.rejected[:count]
        )

    def nothing_accepted_message(self) -> str:
        return _(
            "No recipient was accepted: all %(rows)d rows were rejected (invalid %(invalid)d, duplicates "
            "%(duplicates)d, do-not-call %(blocked)d). First reasons: %(reasons)s"
        ) % {**self.as_dict(), "reasons": self.first_reasons()}

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "blocked": self.blocked,
        }


def progress_key(import_id: int) -> str:
    return f"voiceops.import.{import_id}.progress"


class _RecipientSink:
    """Writes accepted recipients: COPY on PostgreSQL, batched bulk inserts elsewhere."""

    def __init__(self, campaign_id: int):
        self.campaign_id = campaign_id
        self.batch: list[Recipient] = []
        self._copy_cm = None
        self._copy = None
        if is_postgresql():
            cursor = connection.cursor().cursor  # the psycopg cursor under Django's wrapper
            self._copy_cm = cursor.copy(
                f"COPY {Recipient._meta.db_table} (campaign_id, mobile, variables, line) FROM STDIN"
            )
            self._copy = self._copy_cm.__enter__()

    def add(self, mobile: str, variables: list[str], line: int) -> None:
        if self._copy is not None:
            self._copy.write_row((self.campaign_id, mobile, json.dumps(variables, ensure_ascii=False), line))
            return
        self.batch.append(Recipient(campaign_id=self.campaign_id, mobile=mobile, variables=variables, line=line))
        if len(self.batch) >= SQLITE_BATCH:
            self.flush()

    def flush(self) -> None:
        Recipient.objects.bulk_create(self.batch)
        self.batch = []

    def close(self, ok: bool) -> None:
        if self._copy_cm is not None:
            self._copy_cm.__exit__(None if ok else Exception, None, None)
        elif ok:
            self.flush()


def _content_limit(campaign: Campaign) -> int | None:
    return adapter_class(campaign.account.vendor).max_content_length


def variable_texts(value) -> list[str] | None:
    """A recipient's variables as texts from a JSON value (numbers are spelled as sent), or None
    when it is not a list of texts and numbers: an object or a nested list would be played as garbage."""
    if value is None:
        return []
    texts = (str, int, float)
    if not isinstance(value, list) or not all(isinstance(v, texts) and not isinstance(v, bool) for v in value):
        return None
    return [str(v) for v in value]


class VariableRule:
    """What a campaign's recipient variables must be, wherever a recipient is written (file, API,
    admin): one rule, so a recipient the import would refuse cannot be typed in and dialled wrong."""

    def __init__(self, campaign: Campaign):
        self.names = campaign.variable_names
        self.expected = len(self.names)
        self.limit = _content_limit(campaign)
        self.fixed_length = len(campaign.message_text.replace("【", "").replace("】", "")) - sum(map(len, self.names))

    def check(self, variables: list[str]) -> tuple[list[str], str | None]:
        """The variables as stored (the template's first ones, stripped), and why they are refused or None."""
        variables = [v.strip() for v in variables[: self.expected]]
        if len(variables) < self.expected or not all(variables):
            return variables, _("needs %(n)d variable(s): %(names)s") % {
                "n": self.expected,
                "names": "、".join(self.names),
            }
        if self.limit and self.fixed_length + sum(map(len, variables)) > self.limit:
            return variables, _("message longer than the vendor's %(limit)d characters") % {"limit": self.limit}
        return variables, None


def import_rows(
    campaign: Campaign,
    rows: Iterable[tuple[int, str, list[str]]],
    *,
    on_progress: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Validate and store ``(line, mobile text, variables)`` rows for a campaign, all or nothing."""
    result = ImportResult()
    rule = VariableRule(campaign)
    expected = rule.expected
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        seen = set(
            Recipient.objects.filter(campaign=campaign).values_list("mobile", flat=True).iterator(chunk_size=20_000)
        )
        blocked = set(DoNotCallEntry.objects.values_list("mobile", flat=True).iterator(chunk_size=20_000))
        sink = _RecipientSink(campaign.pk)
        ok = False
        try:
            for line, text, variables in rows:
                result.rows += 1
                if result.rows > MAX_IMPORT_ROWS:
                    raise UnreadableFile(
                        _(
                            "The file has more than %(max)s rows; one import takes at most %(max)s. "
                            "Split the list into smaller files."
                        )
                        % {"max": f"{MAX_IMPORT_ROWS:,}"}
                    )
                if on_progress and result.rows % PROGRESS_EVERY == 0:  # rejected rows are progress too
                    on_progress(result)
                text, variables = text or "", variables[:expected]
                if len(text) + sum(map(len, variables)) > MAX_CELL_CHARS and (  # one cheap test for the usual row
                    len(text) > MAX_CELL_CHARS or max(map(len, variables)) > MAX_CELL_CHARS
                ):
                    result.reject(
                        line,
                        text,
                        _("a cell is longer than %(max)s characters") % {"max": f"{MAX_CELL_CHARS:,}"},
                        "invalid",
                    )
                    continue
                try:
                    mobile = normalize(text)
                except InvalidNumber as exc:
                    result.reject(line, text or "", str(exc), "invalid")
                    continue
                variables, reason = rule.check(variables)
                if reason:
                    result.reject(line, text, reason, "invalid")
                    continue
                if mobile in seen:
                    result.reject(line, text, _("duplicate number"), "duplicates")
                    continue
                if mobile in blocked:
                    result.reject(line, text, _("on the do-not-call list"), "blocked")
                    continue
                seen.add(mobile)
                sink.add(mobile, variables, line)
                result.accepted += 1
            ok = True
        finally:
            sink.close(ok)
        Campaign.objects.filter(pk=campaign.pk).update(recipient_count=F("recipient_count") + result.accepted)
        if campaign.state != Campaign.State.DRAFT:
            queue_first_attempts(campaign)
    return result


def import_records(campaign: Campaign, records: Iterable[dict]) -> ImportResult:
    """JSON recipients (``{"mobile": …, "variables": […]}``), numbered from line 1."""
    rows = (
        (i, str(r.get("mobile") or ""), [str(v) for v in r.get("variables") or []]) for i, r in enumerate(records, 1)
    )
    return import_rows(campaign, rows)


def set_progress(import_id: int, processed_bytes: int, result: ImportResult) -> None:
    cache.set(progress_key(import_id), {"processed_bytes": processed_bytes, **result.as_dict()}, 3600)
