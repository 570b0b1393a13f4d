from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin

from .models import (
    Account,
    AccountEvent,
    Branch,
    Certification,
    ConsentEntry,
    Customer,
    Department,
    StaffCertification,
    StaffProfile,
)

admin.site.site_header = _("回访管理系统 后台管理")
admin.site.site_title = _("回访管理系统")


@admin.register(Branch)
class BranchAdmin(GuardedModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Department)
class DepartmentAdmin(GuardedModelAdmin):
    list_display = ["code", "name", "email"]
    search_fields = ["code", "name"]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class StaffCertificationInline(admin.TabularInline):
    model = StaffCertification
    extra = 0
    autocomplete_fields = ["certification"]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "employee_no", "is_absent"]
    list_filter = ["role", "is_absent"]
    search_fields = ["user__username", "user__first_name", "employee_no"]
    raw_id_fields = ["user"]
    inlines = [StaffCertificationInline]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    # Personal data shows masked; full values only through the audited reveal on the call screen.
    list_display = ["external_id", "name", "customer_type", "masked_mobile", "risk_level", "branch"]
    list_filter = ["customer_type", "risk_level", "do_not_contact", "marketing_consent", "branch"]
    search_fields = ["=external_id", "name"]
    list_select_related = ["branch"]
    readonly_fields = ["masked_id_number", "masked_mobile", "masked_landline", "created_at",
                       "updated_at"]
    exclude = ["id_number", "mobile", "landline", "address", "id_number_hash", "mobile_hash"]
    show_full_result_count = False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["masked_number", "customer", "account_type", "status", "opened_on", "branch"]
    list_filter = ["account_type", "status", "branch"]
    search_fields = ["=number", "=customer__external_id"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "branch"]
    date_hierarchy = "opened_on"
    show_full_result_count = False


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "event_type", "account", "occurred_at", "amount", "flagged"]
    list_filter = ["event_type", "flagged", "txn_kind"]
    search_fields = ["=event_id", "=account__number"]
    raw_id_fields = ["account", "client", "created_by"]
    list_select_related = ["account"]
    show_full_result_count = False


@admin.register(ConsentEntry)
class ConsentEntryAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "granted", "source", "recorded_at"]
    list_filter = ["kind", "granted", "source"]
    raw_id_fields = ["customer", "recorded_by"]
    search_fields = ["=customer__external_id"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # a ledger: entries are added, never edited

    def has_delete_permission(self, request, obj=None):
        return False
