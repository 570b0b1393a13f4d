"""Form fields shared by the apps: pickers of staff show people by name, with the username in
brackets to tell two people of the same name apart."""

from django import forms

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
