"""The Django admin under the same rules as the product's pages.

- Only the three administrators reach the admin (supervisors and everyone else work in the
  product's own pages): ``AdminSite.has_permission`` is narrowed below.
- Every ModelAdmin of branch data derives from ``BranchScopedAdmin``: its queryset goes through
  the app's scoping, and an object out of scope is a 404, as in the product.
- Opening personal data in the admin (a change page, or a list of it) is audit-logged like a
  reveal on the call screen.
"""

from django.contrib import admin
from django.db.models import Q
from django.http import Http404

from accounts.models import Role
from accounts.permissions import has_role, scope_to_branches
from core.audit import audit
from core.audit_actions import AuditAction
from core.crypto import blind_index

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
    # Blind indexes matched against the whole search term (an encrypted column cannot be
    # searched itself), e.g. "account__number_index": an exact account number finds its rows.
    blind_search_fields: tuple[str, ...] = ()

    def get_queryset(self, request):
        return scope_to_branches(
            super().get_queryset(request),
            request.user,
            branch=self.branch_path,
            staff=self.staff_path,
        )

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if self.blind_search_fields and search_term.strip():
            index = blind_index(search_term)
            exact = Q()
            for path in self.blind_search_fields:
                exact |= Q(**{path: index})
            found = found | queryset.filter(exact)
        return found, may_have_duplicates

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
