"""The Django admin under the same rules as the product's pages.

- Only the three administrators reach the admin (supervisors and everyone else work in the
  product's own pages): ``AdminSite.has_permission`` is narrowed below.
- Every ModelAdmin of branch data derives from ``BranchScopedAdmin``: its queryset goes through
  the app's scoping, and an object out of scope is a 404, as in the product.
- Opening personal data in the admin (a change page, or a list of it) is audit-logged like a
  reveal on the call screen.
"""

from django.contrib import admin
from django.http import Http404

from accounts.models import Role
from accounts.permissions import has_role, scope_to_branches
from core.audit import audit
from core.audit_actions import AuditAction

ADMIN_ROLES = (Role.ADMINISTRATOR, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)


def admin_site_has_permission(request) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and has_role(user, *ADMIN_ROLES))


class BranchScopedAdmin(admin.ModelAdmin):
    # Lookup from the model to its Branch ("pk" for Branch itself), or to a member of staff
    # (scoped to the staff of the user's branches); None for reference data of no branch.
    branch_path: str | None = None
    staff_path: str | None = None
    # Views of this model show personal data: each one is audit-logged.
    personal_data: bool = False

    def get_queryset(self, request):
        return scope_to_branches(
            super().get_queryset(request),
            request.user,
            branch=self.branch_path,
            staff=self.staff_path,
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404  # out of scope or absent: the same answer
        return obj

    def _audit_view(self, request, view: str, object_id: str = "") -> None:
        audit(
            AuditAction.PII_REVEAL,
            object_type=self.model._meta.label_lower,
            object_id=object_id,
            after={"via": "admin", "view": view},
            request=request,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if self.personal_data and request.method == "GET" and response.status_code == 200:
            self._audit_view(request, "change", str(object_id))
        return response

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if self.personal_data and request.method == "GET" and response.status_code == 200:
            self._audit_view(request, "list")
        return response
