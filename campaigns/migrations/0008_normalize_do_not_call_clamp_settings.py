"""Existing do-not-call entries in E.164 (they were stored as typed) and campaign settings in bounds.

An entry typed ``137 0013 7000`` blocked nothing; it now becomes ``+8613700137000``. Two spellings
of one number become one entry (reasons joined). Text that is not a number is kept as
it was, its reason saying so, for an operator to correct or delete. Campaign settings beyond the
bounds the model now enforces are brought to the bound, so no stored value can stop receipts.
"""

from django.db import migrations

MAX_DELAY_MINUTES = 7 * 24 * 60
MAX_CALLS_PER_SECOND = 10_000


def normalize_entries(apps, schema_editor):
    from campaigns.phones import InvalidNumber, normalize

    Entry = apps.get_model("campaigns", "DoNotCallEntry")
    kept: dict[str, object] = {}
    for entry in Entry.objects.order_by("created_at", "id"):
        try:
            mobile = normalize(entry.mobile)
        except InvalidNumber as exc:
            note = f"not a number ({exc}); correct or delete"
            if note not in entry.reason:
                entry.reason = f"{entry.reason} [{note}]".strip()[:200]
                entry.save(update_fields=["reason"])
            continue
        first = kept.get(mobile) or Entry.objects.filter(mobile=mobile).exclude(pk=entry.pk).first()
        if first is not None and first.pk != entry.pk:
            if entry.reason and entry.reason not in first.reason:
                first.reason = "; ".join(r for r in (first.reason, entry.reason) if r)[:200]
                first.save(update_fields=["reason"])
            entry.delete()
            kept[mobile] = first
            continue
        if entry.mobile != mobile:
            entry.mobile = mobile
            entry.save(update_fields=["mobile"])
        kept[mobile] = entry


def clamp_campaign_settings(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    Campaign.objects.filter(retry_delay_minutes__gt=MAX_DELAY_MINUTES).update(retry_delay_minutes=MAX_DELAY_MINUTES)
    Campaign.objects.filter(report_window_minutes__gt=MAX_DELAY_MINUTES).update(
        report_window_minutes=MAX_DELAY_MINUTES
    )
    Campaign.objects.filter(rate_limit_per_second__gt=MAX_CALLS_PER_SECOND).update(
        rate_limit_per_second=MAX_CALLS_PER_SECOND
    )
    Campaign.objects.filter(max_attempts__gt=10).update(max_attempts=10)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_records_kept_bounds_dnc_normalized")]

    operations = [
        migrations.RunPython(normalize_entries, migrations.RunPython.noop),
        migrations.RunPython(clamp_campaign_settings, migrations.RunPython.noop),
    ]
