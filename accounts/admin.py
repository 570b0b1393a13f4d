from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin

from accounts import admin_axes, admin_users  # noqa: F401  (register the lockout, user, group pages)
from accounts.admin_scope import BranchScopedAdmin, admin_site_has_permission
from accounts.models import (
    Account,
    AccountEvent,
    AccountStatus,
    Branch,
    Certification,
    ConsentEntry,
    Customer,
    Department,
    StaffCertification,
    StaffProfile,
)
from accounts.permissions import departments_visible_to
from accounts.services import customer_relationship_refresh
from core.api.auth import service_client_create, service_client_revoke
from core.models import Notification, ServiceClient

admin.site.site_header = _("回访管理系统 后台管理")
admin.site.site_title = _("回访管理系统")
# Only the three administrators reach the admin; the other roles work in the product's pages.
admin.site.has_permission = admin_site_has_permission  # type: ignore[method-assign]


@admin.register(Branch)
class BranchAdmin(BranchScopedAdmin, GuardedModelAdmin):
    branch_path = "pk"
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Department)
class DepartmentAdmin(BranchScopedAdmin, GuardedModelAdmin):
    list_display = ["code", "name", "email"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        visible = departments_visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(pk__in=visible)


@admin.register(Certification)
class CertificationAdmin(BranchScopedAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class StaffCertificationInline(admin.TabularInline):
    model = StaffCertification
    extra = 0
    autocomplete_fields = ["certification"]


@admin.register(StaffProfile)
class StaffProfileAdmin(BranchScopedAdmin):
    list_display = ["user", "role", "employee_no", "is_absent"]
    list_filter = ["role", "is_absent"]
    search_fields = ["user__username", "user__first_name", "employee_no"]
    raw_id_fields = ["user"]
    inlines = [StaffCertificationInline]

    def get_readonly_fields(self, request, obj=None):
        # A role changes through the user's role group (the access service), not here.
        return ["role"] if obj is not None else []


@admin.register(Customer)
class CustomerAdmin(BranchScopedAdmin):
    branch_path = "branch"
    personal_data = True
    # Personal data shows masked; full values only through the audited reveal on the call screen.
    list_display = ["external_id", "name", "customer_type", "masked_mobile", "risk_level", "branch"]
    list_filter = [
        "customer_type",
        "risk_level",
        "do_not_contact",
        "sms_opt_out",
        "marketing_consent",
        "branch",
    ]
    search_fields = ["=external_id", "name"]
    list_select_related = ["branch"]
    readonly_fields = [
        "masked_id_number",
        "masked_mobile",
        "masked_landline",
        "created_at",
        "updated_at",
    ]
    exclude = ["id_number", "mobile", "landline", "address", "id_number_hash", "mobile_hash"]
    show_full_result_count = False

    @admin.display(description=_("证件号码（脱敏）"))
    def masked_id_number(self, obj):
        return obj.masked_id_number

    @admin.display(description=_("手机号码（脱敏）"))
    def masked_mobile(self, obj):
        return obj.masked_mobile

    @admin.display(description=_("固定电话（脱敏）"))
    def masked_landline(self, obj):
        return obj.masked_landline


@admin.register(Account)
class AccountAdmin(BranchScopedAdmin):
    branch_path = "branch"
    personal_data = True
    list_display = ["masked_number", "customer", "account_type", "status", "opened_on", "branch"]
    list_filter = ["account_type", "status", "branch"]
    search_fields = ["=customer__external_id"]
    blind_search_fields = ("number_index",)
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "branch"]
    date_hierarchy = "opened_on"
    show_full_result_count = False

    @admin.display(description=_("账号（脱敏）"))
    def masked_number(self, obj):
        return obj.masked_number

    def save_model(self, request, obj, form, change):
        # Closing here is closing as the API does: a day of closing, cleared on reopening, and
        # the business relationship ended (or resumed) by the same service (SPEC §6).
        if obj.status == AccountStatus.CLOSED and obj.closed_on is None:
            obj.closed_on = timezone.localdate()
        elif obj.status != AccountStatus.CLOSED and "status" in form.changed_data:
            obj.closed_on = None
        super().save_model(request, obj, form, change)
        customers = {obj.customer_id, form.initial.get("customer")} - {None}
        customer_relationship_refresh(customer_ids=customers)


@admin.register(AccountEvent)
class AccountEventAdmin(BranchScopedAdmin):
    branch_path = "account__branch"
    personal_data = True
    list_display = ["event_id", "event_type", "account", "occurred_at", "amount", "flagged"]
    list_filter = ["event_type", "flagged", "txn_kind"]
    search_fields = ["=event_id"]
    blind_search_fields = ("account__number_index",)
    raw_id_fields = ["account", "client", "created_by"]
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(ConsentEntry)
class ConsentEntryAdmin(BranchScopedAdmin):
    branch_path = "customer__branch"
    personal_data = True
    list_display = ["customer", "kind", "granted", "source", "recorded_at"]
    list_filter = ["kind", "granted", "source"]
    raw_id_fields = ["customer", "recorded_by"]
    search_fields = ["=customer__external_id"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # a ledger: entries are added, never edited

    def has_delete_permission(self, request, obj=None):
        return False


# --- REST API clients (core banking): the key is shown once, at creation ----------------------


class ServiceClientCreateForm(forms.ModelForm):
    scope_choices = forms.MultipleChoiceField(
        label=_("权限范围"),
        choices=[(scope, scope) for scope in ServiceClient.SCOPES],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ServiceClient
        fields = ["name"]


@admin.register(ServiceClient)
class ServiceClientAdmin(BranchScopedAdmin):
    list_display = [
        "name",
        "key_prefix",
        "scopes",
        "is_active",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "=key_prefix"]
    readonly_fields = [
        "key_prefix",
        "scopes",
        "is_active",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke_selected"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ServiceClientCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scope_choices"]
        return ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["name", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable after creation except by revoking

        client, key = service_client_create(
            name=form.cleaned_data["name"],
            scopes=list(form.cleaned_data["scope_choices"]),
            request=request,
        )
        obj.pk = client.pk
        obj.key_prefix, obj.key_hash, obj.scopes = client.key_prefix, client.key_hash, client.scopes
        obj._state.adding = False
        messages.warning(
            request,
            _("接口客户端 %(name)s 的密钥（仅显示这一次，请立即妥善保存）：%(key)s")
            % {"name": client.name, "key": key},
        )

    def has_delete_permission(self, request, obj=None):
        return False  # events keep a reference to their client; revoke instead

    @admin.action(description=_("吊销所选客户端的密钥"))
    def revoke_selected(self, request, queryset):
        count = 0
        for client in queryset.filter(is_active=True):
            service_client_revoke(client=client, request=request)
            count += 1
        messages.success(request, _("已吊销 %(n)d 个客户端。") % {"n": count})


@admin.register(Notification)
class NotificationAdmin(BranchScopedAdmin):
    staff_path = "user"
    personal_data = True  # messages name customers
    list_display = ["user", "message", "created_at", "read_at"]
    raw_id_fields = ["user"]
