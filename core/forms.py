"""Form fields shared by the apps: pickers of staff show people by name, with the username in
brackets to tell two people of the same name apart; a select box written in Python."""

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from core.presentation import person_name


def person_label(user) -> str:
    name = person_name(user)
    username = user.get_username()
    return name if name == username else f"{name}（{username}）"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


class PersonMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


def _attrs(attrs: dict) -> str:
    """What django/forms/widgets/attrs.html prints: False leaves the attribute out, True
    prints its bare name."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class PlainSelect(forms.Select):
    """``forms.Select`` printing exactly the markup of Django's select templates
    (django/forms/widgets/select.html and select_option.html), written in Python: the
    template engine includes one template per option, which made a filter form of three
    selects cost a page a few milliseconds (tests/core/test_plain_select.py holds the two
    equal)."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        out = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in options:
                out.append(
                    f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                    f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
                )
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))
