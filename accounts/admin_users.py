"""The admin's user and group pages: role, group, permission and superuser changes go through
``accounts.access.user_access_change`` (duty matrix, audit entry with the actor); the role
groups themselves are defined in code (accounts/roles.py) and read-only here."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group

from accounts.access import DutyViolation, access_change_check, user_access_change

User = get_user_model()
_ACCESS_FIELDS = ("groups", "user_permissions", "is_superuser")


class UserAdmin(DjangoUserAdmin):
    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            readonly += [field for field in _ACCESS_FIELDS if field not in readonly]
        return readonly

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form

        class AccessCheckedForm(form):
            def clean(self):
                cleaned = super().clean()
                if not any(name in self.changed_data for name in _ACCESS_FIELDS):
                    return cleaned
                try:
                    access_change_check(
                        actor=request.user,
                        user=obj,
                        groups=cleaned.get("groups", obj.groups.all()),
                        is_superuser=cleaned.get("is_superuser", obj.is_superuser),
                    )
                except DutyViolation as exc:
                    raise DutyViolation(exc.messages) from exc
                return cleaned

        return AccessCheckedForm

    def save_model(self, request, obj, form, change):
        if change and "is_superuser" in form.cleaned_data:
            # Written by the access service in save_related, not by the form.
            obj.is_superuser = User._base_manager.get(pk=obj.pk).is_superuser
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if not change:
            return super().save_related(request, form, formsets, change)
        cleaned = form.cleaned_data
        pending = {name: cleaned.pop(name) for name in _ACCESS_FIELDS if name in cleaned}
        super().save_related(request, form, formsets, change)
        if any(name in form.changed_data for name in _ACCESS_FIELDS):
            user = form.instance
            user_access_change(
                actor=request.user,
                user=user,
                groups=pending.get("groups", user.groups.all()),
                permissions=pending.get("user_permissions", user.user_permissions.all()),
                is_superuser=pending.get("is_superuser"),
                request=request,
            )


class GroupAdmin(DjangoGroupAdmin):
    # The role groups and their permissions are kept in code (accounts/roles.py).
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.register(User, UserAdmin)
admin.site.register(Group, GroupAdmin)
