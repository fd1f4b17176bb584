"""The admin base class every VoiceOps model admin uses (its history pages name people and API
keys), the change page that writes only what the operator changed, and the creator label the
admins share.

List filters come from the query string: a value the database cannot hold (an id of 25 digits, a
year 99999) would raise a server error on SQLite. Such a query is treated as the admin treats any
invalid filter: the list reloads unfiltered with "?e=1" instead.
"""

import copy
import re

from django import forms
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.utils import formats, timezone
from django.utils.functional import cached_property
from unfold.admin import ModelAdmin as UnfoldModelAdmin

from . import audit

BIGINT = 2**63 - 1
_INTEGER = re.compile(r"-?\d+")
_DATE_PART_RANGES = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}
HISTORY_PAGE = 100  # entries on a page of a row's history, as Django's own
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

    def history_view(self, request, object_id, extra_context=None):
        """The row's history names who did each thing, a person or an API key (``audit.history``)."""
        response = super().history_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None)
        if context is None or "action_list" not in context:  # the row is gone: a redirect
            return response
        paginator = self.get_paginator(request, audit.history(self.model, unquote(object_id)), HISTORY_PAGE)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        context.update(
            action_list=page,
            page_range=paginator.get_elided_page_range(page.number),
            pagination_required=paginator.count > HISTORY_PAGE,
        )
        return response


def local_time(moment) -> str:
    """A moment as the admin shows every time: local, in the reader's date format ("—" for none).

    A display method must return this, not the datetime: a change page's read-only field prints a
    method's value with ``str()``, which is UTC with microseconds (the list localizes, the form does not).
    """
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


class WritesWhatTheOperatorChanged:
    """A saved change page writes the fields the operator changed, not the row as the page read it.

    Services change some fields an operator also edits (the beat switches a failing webhook endpoint
    off, a reschedule moves a campaign's start): a page opened before such a change and saved after
    it, to rename the row, would write the old value back. So an existing row is saved with
    ``update_fields``: the fields whose submitted value differs from the one the page *showed*
    (each field carries its shown value in a hidden input, never a password), the fields
    ``save_model`` or the model's ``clean`` set themselves, and the ``auto_now`` ones. A new row is
    saved whole. Inline rows are saved by their formsets as usual.
    """

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._values_read = field_values(obj)
        return obj

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form
        return type(form.__name__, (CarriesShownValues, form), {})

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        obj.save(update_fields=fields_to_write(obj, form))


class CarriesShownValues:
    """A change form whose fields each carry, in a hidden input, the value the page showed; its
    ``changed_data`` (what is written, the history's "Changed …", the admins' own checks) is what
    the operator changed on that page."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if not isinstance(field.widget, (forms.PasswordInput, forms.FileInput)):  # no secret in the page
                field.show_hidden_initial = True

    @cached_property
    def changed_data(self):
        return fields_the_operator_changed(self)


def field_values(obj) -> dict:
    return {field.attname: copy.deepcopy(getattr(obj, field.attname)) for field in obj._meta.concrete_fields}


def fields_the_operator_changed(form) -> list[str]:
    """Fields whose submitted value differs from the one the page showed; a field posted without
    its shown value (a client of its own, a password) is compared with the row as read now."""
    changed = []
    for name, field in form.fields.items():
        bound = form[name]
        shown_value_sent = field.show_hidden_initial and not field.hidden_widget().value_omitted_from_data(
            form.data, form.files, bound.html_initial_name
        )
        if bound._has_changed() if shown_value_sent else field.has_changed(bound.initial, bound.data):
            changed.append(name)
    return changed


def fields_to_write(obj, form) -> list[str]:
    """What the operator changed, what was set on the instance besides the form, and ``auto_now`` fields."""
    concrete = [f for f in obj._meta.concrete_fields if not f.primary_key and not f.generated]
    changed = set(form.changed_data)
    read = getattr(obj, "_values_read", None)
    names = []
    for field in concrete:
        if field.name in form.fields:
            write = field.name in changed
        else:
            write = read is not None and getattr(obj, field.attname) != read.get(field.attname)
        if write or getattr(field, "auto_now", False):
            names.append(field.name)
    return names


def creator_label(obj) -> str:
    """Who made a row (campaign, import, single call, webhook endpoint): the person, else the API key
    of the system that did."""
    if obj.created_by_id:
        return audit.actor_label(user=obj.created_by)
    if obj.created_by_key_id:
        return audit.actor_label(key=obj.created_by_key)
    return "—"
