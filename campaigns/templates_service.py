"""Voice templates at the vendor: submit, re-submit and delete, with results a user can act on.

Vendors that review templates (ihuyi: AddTemplate / DelTemplate) hold a template id and a
verdict; the verdict arrives later by push (``receipts.reports.apply_template_reviews``). Vendors without
templates send the text as it is, so their templates are usable as soon as they are saved.
A vendor's refusal never loses the local row, and its own words are shown to the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vendors.adapters import NotSupported, VendorError, VendorUnavailable, adapter_class, get_adapter
from vendors.services import error_summary
from voiceops import audit

from .models import VoiceTemplate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateResult:
    ok: bool
    message: str
    # Why it failed: "empty" (no text), "state" (already pending or approved, or in use),
    # "vendor_refused" or "vendor_unavailable"; "" when it worked.
    reason: str = ""


def vendor_reviews_templates(template: VoiceTemplate) -> bool:
    try:
        return adapter_class(template.account.vendor).reviews_templates
    except NotSupported:
        return False


def after_save(template: VoiceTemplate, *, created: bool, content_changed: bool) -> None:
    """Keep the review state honest after an edit in the admin.

    Without vendor review a template is approved as written. With review, new text must be filed
    again: an edited template goes back to "not submitted" until it is re-submitted.
    """
    if not vendor_reviews_templates(template):
        if template.review_state != VoiceTemplate.Review.APPROVED:
            VoiceTemplate.objects.filter(pk=template.pk).update(
                review_state=VoiceTemplate.Review.APPROVED, review_message=""
            )
            template.review_state = VoiceTemplate.Review.APPROVED
        return
    if content_changed and not created and template.review_state != VoiceTemplate.Review.DRAFT:
        VoiceTemplate.objects.filter(pk=template.pk).update(
            review_state=VoiceTemplate.Review.DRAFT,
            review_message=_("The text changed; re-submit it to the vendor for review."),
        )
        template.review_state = VoiceTemplate.Review.DRAFT


def _vendor_failure(template: VoiceTemplate, exc: Exception) -> TemplateResult:
    if isinstance(exc, VendorError):
        return TemplateResult(
            False,
            _("%(name)s: the vendor refused: %(message)s") % {"name": template.name, "message": error_summary(exc)},
            "vendor_refused",
        )
    return TemplateResult(
        False,
        _("%(name)s: the vendor could not be reached (%(error)s); try again later.")
        % {"name": template.name, "error": error_summary(exc)},
        "vendor_unavailable",
    )


def submit_template(template: VoiceTemplate, *, resubmit: bool = False, actor=None) -> TemplateResult:
    """File the template's text with the vendor (AddTemplate) and wait for its review.

    ``resubmit`` files it again even when it was filed before (after a rejection or an edit); a
    previously rejected vendor template is then deleted at the vendor (best effort). ``actor`` (a
    person or an API key) is named in the audit trail when something changed; a refusal changes nothing.
    """
    if not template.content.strip():
        return TemplateResult(False, _("%(name)s: the template has no text.") % {"name": template.name}, "empty")
    if not vendor_reviews_templates(template):
        if template.review_state != VoiceTemplate.Review.APPROVED:
            with transaction.atomic():
                VoiceTemplate.objects.filter(pk=template.pk).update(
                    review_state=VoiceTemplate.Review.APPROVED, review_message=""
                )
                audit.record(actor, template, gettext_lazy("Approved (the vendor does not review templates)"))
            template.review_state = VoiceTemplate.Review.APPROVED
        return TemplateResult(
            True, _("%(name)s: this vendor does not review templates; it is ready to use.") % {"name": template.name}
        )
    if not resubmit:
        if template.review_state == VoiceTemplate.Review.PENDING:
            return TemplateResult(
                False, _("%(name)s is already waiting for the vendor's review.") % {"name": template.name}, "state"
            )
        if template.review_state == VoiceTemplate.Review.APPROVED:
            return TemplateResult(
                False,
                _("%(name)s is already approved; use re-submit after changing it.") % {"name": template.name},
                "state",
            )
    old_id, old_state = template.vendor_template_id, template.review_state
    try:
        new_id = get_adapter(template.account).add_template(template.content)
    except (VendorError, VendorUnavailable) as exc:
        return _vendor_failure(template, exc)
    with transaction.atomic():
        VoiceTemplate.objects.filter(pk=template.pk).update(
            vendor_template_id=new_id, review_state=VoiceTemplate.Review.PENDING, review_message=""
        )
        audit.record(
            actor,
            template,
            format_lazy(gettext_lazy("Submitted to the vendor for review (template id {id})"), id=new_id),
        )
    template.vendor_template_id, template.review_state, template.review_message = (
        new_id,
        VoiceTemplate.Review.PENDING,
        "",
    )
    message = _("%(name)s was submitted to the vendor (template id %(id)s) and is waiting for review.") % {
        "name": template.name,
        "id": new_id,
    }
    if old_id and old_id != new_id and old_state == VoiceTemplate.Review.REJECTED:
        try:
            get_adapter(template.account).delete_template(old_id)
        except (VendorError, VendorUnavailable, NotSupported) as exc:
            logger.info("old template %s not deleted at the vendor: %s", old_id, exc)
    return TemplateResult(True, message)


def delete_template_at_vendor(template: VoiceTemplate) -> TemplateResult:
    """Delete at the vendor first (DelTemplate), then here; a refusal keeps the local row."""
    used = template.campaigns.count()
    if used:
        return TemplateResult(
            False,
            _("%(name)s is used by %(count)d campaign(s) and cannot be deleted.")
            % {"name": template.name, "count": used},
            "state",
        )
    name = template.name
    if template.vendor_template_id and vendor_reviews_templates(template):
        try:
            get_adapter(template.account).delete_template(template.vendor_template_id)
        except NotSupported:
            pass
        except (VendorError, VendorUnavailable) as exc:
            result = _vendor_failure(template, exc)
            return TemplateResult(False, result.message + " " + _("The template was kept here."), result.reason)
        template.delete()
        return TemplateResult(True, _("%(name)s was deleted at the vendor and here.") % {"name": name})
    template.delete()
    return TemplateResult(True, _("%(name)s was deleted (it was not filed with the vendor).") % {"name": name})


def create_template(*, account, name: str, content: str, actor=None) -> VoiceTemplate:
    """A new template (from the API); usable at once where the vendor does not review templates.

    ``actor`` (a person or an API key) is named in the audit trail; the admin's add page logs its own.
    """
    template = VoiceTemplate(account=account, name=name, content=content)
    template.full_clean()
    with transaction.atomic():
        template.save()
        after_save(template, created=True, content_changed=True)
        audit.record(actor, template, gettext_lazy("Voice template created"), flag=audit.ADDITION)
    return template
