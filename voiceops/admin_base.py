"""The admin base class every VoiceOps model admin uses, and the creator label the admins share.

List filters come from the query string: a value the database cannot hold (an id of 25 digits, a
year 99999) would raise a server error on SQLite. Such a query is treated as the admin treats any
invalid filter: the list reloads unfiltered with "?e=1" instead.
"""

import re

from django.contrib.admin.options import IncorrectLookupParameters
from django.utils.translation import gettext as _
from unfold.admin import ModelAdmin as UnfoldModelAdmin

BIGINT = 2**63 - 1
_INTEGER = re.compile(r"-?\d+")
_DATE_PART_RANGES = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}
_NOT_FILTERS = {"q", "o", "p", "e", "all", "_changelist_filters", "_to_field", "_popup"}


def lookup_value_in_range(lookup: str, value: str) -> bool:
    """False when an integer in a filter cannot be held by a 64-bit column or a date part is impossible."""
    for item in value.split(","):
        item = item.strip()
        if not _INTEGER.fullmatch(item):
            continue
        number = int(item)
        bounds = _DATE_PART_RANGES.get(lookup.rsplit("__", 1)[-1])
        if bounds and not bounds[0] <= number <= bounds[1]:
            return False
        if not -BIGINT <= number <= BIGINT:
            return False
    return True


class ModelAdmin(UnfoldModelAdmin):
    def get_changelist_instance(self, request):
        for lookup, values in request.GET.lists():
            if lookup not in _NOT_FILTERS and any(not lookup_value_in_range(lookup, value) for value in values):
                raise IncorrectLookupParameters(lookup)
        return super().get_changelist_instance(request)


def creator_label(obj) -> str:
    """Who made a row (campaign, import, single call, webhook endpoint): the person, else the API key
    of the system that did."""
    if obj.created_by_id:
        return str(obj.created_by)
    if obj.created_by_key_id:
        return _("API key «%(name)s»") % {"name": obj.created_by_key.name}
    return "—"
