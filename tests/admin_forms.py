"""An admin change form as an operator sends it back: the values the page showed, with some typed over."""

from html.parser import HTMLParser

from django import forms


class ShownValues(HTMLParser):
    """The hidden ``initial-…`` inputs of a change page: the values it showed, sent back with the form."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and (attrs.get("name") or "").startswith("initial-"):
            self.values.setdefault(attrs["name"], []).append(attrs.get("value") or "")


def change_form_data(client, url: str, **typed) -> dict:
    """The POST body of the change page at ``url``: every field as shown (secrets left empty), with
    the shown values a browser sends back, then ``typed``."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = page.context["adminform"].form
    shown = ShownValues()
    shown.feed(page.content.decode())
    data = {name: values if len(values) > 1 else values[0] for name, values in shown.values.items()}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field.widget, forms.PasswordInput):
            continue  # left empty: the stored secret is kept
        elif isinstance(field, forms.SplitDateTimeField):
            if value:  # as the page shows it: in local time
                day, moment = field.widget.decompress(value)
                data[f"{name}_0"], data[f"{name}_1"] = day.isoformat(), moment.isoformat()
        elif value is not None:
            data[name] = value
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management[key].html_name: management[key].value() for key in management.fields})
    return {**data, **typed}
