"""What each event says (DESIGN.md, "Webhooks"): ``{"type", "timestamp", "data"}``, data as the API shows it.

Reads only. A call's data comes from the row as the trigger saw it at the change (its snapshot),
so a later change (an expired call answered late) does not rewrite what an earlier event said.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from campaigns import selectors as campaign_selectors
from campaigns.api.serializers import (
    CallRecordSerializer,
    CampaignSerializer,
    CampaignStatsSerializer,
    RecipientImportSerializer,
    SingleCallSerializer,
)
from campaigns.models import CallRecord, Campaign, RecipientImport, SingleCall
from vendors.models import VendorAccount

from .events import BALANCE_LOW, CAMPAIGN_COMPLETED, IMPORT_FINISHED
from .models import Event


def body(event: Event, data: dict | None = None) -> str:
    """The JSON body, compact and in UTF-8 (what is signed is exactly what is sent)."""
    document = {
        "type": event.type,
        "timestamp": timezone.localtime(event.created_at).isoformat(),
        "data": event_data(event) if data is None else data,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def bodies(events: list[Event]) -> dict[int, str | Exception]:
    """Bodies of many events; the calls' through one serializer (its fields built once, not per call).

    An event that cannot be built (its object deleted, a bug) maps to the exception; the others are built.
    """
    built: dict[int, str | Exception] = {}
    calls = []
    for event in events:
        try:
            if event.type.startswith("call.") and event.snapshot:
                calls.append((event, call_from_snapshot(event.snapshot)))
            else:
                built[event.pk] = body(event)
        except Exception as exc:
            built[event.pk] = exc
    if calls:
        rows = CallRecordSerializer([call for _event, call in calls], many=True).data
        singles = single_calls_as_of([call for _event, call in calls])
        for (event, call), row in zip(calls, rows, strict=True):
            built[event.pk] = body(event, call_event_data(call, row, singles))
    return built


def event_data(event: Event) -> dict:
    if event.type.startswith("call."):
        return call_data(call_from_snapshot(event.snapshot) if event.snapshot else _get(CallRecord, event.object_id))
    builder = {CAMPAIGN_COMPLETED: campaign_data, IMPORT_FINISHED: import_data, BALANCE_LOW: balance_data}[event.type]
    return builder(event)


def _get(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise model.DoesNotExist(f"{model.__name__} {pk} no longer exists")
    return obj


def call_from_snapshot(snapshot: dict) -> CallRecord:
    """A CallRecord (not saved) with the values the trigger recorded; columns unknown here are ignored."""
    values = {}
    for field in CallRecord._meta.concrete_fields:
        if field.column in snapshot:
            value = field.to_python(snapshot[field.column])
            if isinstance(value, dt.datetime) and timezone.is_naive(value):
                value = timezone.make_aware(value, dt.UTC)  # SQLite keeps UTC without an offset
            values[field.attname] = value
    return CallRecord(**values)


def call_event_data(call: CallRecord, row: dict, singles: dict[int, dict] | None = None) -> dict:
    """What a call event says (DESIGN.md, "Webhooks": the call as the API shows it, with ``out_id`` and ``campaign``).

    A campaign's call: the attempt as the campaign's calls list shows it, with ``campaign`` and a
    null ``out_id``. A single call's attempt: the single call as ``GET /api/calls/{id}/`` showed it
    at this change (so ``id`` is the one to GET, its attempts those made so far), with a null
    ``campaign`` and ``attempt``, the attempt the event is about.
    """
    if not call.single_call_id:
        return {**row, "campaign": call.campaign_id, "out_id": None}
    if singles is None:
        singles = single_calls_as_of([call])
    single = singles[call.pk]
    return {**single, "campaign": None, "attempt": row}  # out_id as GET shows it ("" when none was given)


def single_calls_as_of(calls: list[CallRecord]) -> dict[int, dict]:
    """Each single-call attempt's call as the API showed it then, by attempt id (two queries for any number)."""
    attempts = [call for call in calls if call.single_call_id]
    if not attempts:
        return {}
    ids = {call.single_call_id for call in attempts}
    by_id = {single.pk: single for single in SingleCall.objects.select_related("account").filter(pk__in=ids)}
    earlier: dict[int, list[CallRecord]] = {}
    for record in CallRecord.objects.filter(single_call_id__in=ids).order_by("attempt"):
        earlier.setdefault(record.single_call_id, []).append(record)
    shown = {}
    for call in attempts:
        single = by_id.get(call.single_call_id)
        if single is None:
            raise SingleCall.DoesNotExist(f"SingleCall {call.single_call_id} no longer exists")
        before = [r for r in earlier.get(single.pk, []) if r.attempt < call.attempt]
        single.attempt_list = [*before, call]  # what SingleCallSerializer reads the attempts from
        shown[call.pk] = dict(SingleCallSerializer(single).data)
    return shown


def call_data(call: CallRecord) -> dict:
    return call_event_data(call, CallRecordSerializer(call).data)


def campaign_data(event: Event) -> dict:
    campaign = _get(Campaign, event.object_id)
    stats = campaign_selectors.campaign_stats(campaign)
    return {**CampaignSerializer(campaign).data, "stats": CampaignStatsSerializer(stats).data}


def import_data(event: Event) -> dict:
    return RecipientImportSerializer(_get(RecipientImport, event.object_id)).data


def balance_data(event: Event) -> dict:
    account = _get(VendorAccount, event.object_id)
    snapshot = event.snapshot or {}
    taken_at = snapshot.get("taken_at")
    if isinstance(taken_at, str):
        taken_at = CallRecord._meta.get_field("created_at").to_python(taken_at)
        if timezone.is_naive(taken_at):
            taken_at = timezone.make_aware(taken_at, dt.UTC)
    amount = snapshot.get("amount")
    return {
        "account": {"id": account.pk, "name": account.name, "vendor": account.vendor},
        "amount": str(Decimal(str(amount))) if amount is not None else None,
        "unit": snapshot.get("unit"),
        "threshold": str(account.low_balance_threshold),
        "taken_at": taken_at,
    }
