"""An admin change form as an operator sends it back: the values the page showed, with some typed over."""

from django import forms


def change_form_data(client, url: str, **typed) -> dict:
    """The POST body of the change page at ``url``: every field as shown (secrets left empty), then ``typed``."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field.widget, forms.PasswordInput):
            continue  # left empty: the stored secret is kept
        elif isinstance(field, forms.SplitDateTimeField):
            if value:
                data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
        elif value is not None:
            data[name] = value
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management[key].html_name: management[key].value() for key in management.fields})
    return {**data, **typed}
