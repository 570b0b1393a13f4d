"""core.forms.PlainSelect prints what Django's own select templates print."""

import pytest
from django import forms
from django.utils.translation import gettext_lazy

from core.forms import PlainSelect

CHOICES = [
    ("", "全部"),
    ("a", '普通 <选项> & "引号"'),
    (3, gettext_lazy("定期回访")),
    ("分组", [("x", "甲"), ("y", "乙")]),
]


@pytest.mark.parametrize(
    "value, attrs",
    [
        (None, None),
        ("", {"id": "id_kind"}),
        ("a", {"id": "id_kind", "required": True, "disabled": False, "data-x": 'q"<'}),
        (3, {"class": "wide", "aria-label": "类型"}),
        ("y", {"id": "id_g", "data-none": None}),
    ],
)
def test_it_prints_the_markup_of_django_s_select(value, attrs):
    plain = PlainSelect(choices=CHOICES).render("kind", value, attrs)
    django = forms.Select(choices=CHOICES).render("kind", value, attrs)
    assert plain == django
    assert "<option" in plain and "&lt;选项&gt; &amp; &quot;引号&quot;" in plain


def test_a_form_field_with_it_renders_and_validates_as_before():
    class Form(forms.Form):
        kind = forms.ChoiceField(choices=CHOICES, required=False, widget=PlainSelect)

    bound = Form({"kind": "x"})
    assert bound.is_valid() and bound.cleaned_data["kind"] == "x"
    html = str(bound["kind"])
    assert '<option value="x" selected>甲</option>' in html
    assert html == forms.Select(choices=CHOICES).render("kind", "x", {"id": "id_kind"})
    assert not Form({"kind": "nope"}).is_valid()
