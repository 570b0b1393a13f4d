from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.calendar_plans import CalendarLoadError, calendar_year_load, plan_parse
from core.models import CalendarDay, CalendarYear


class PlanUploadForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("年份"), min_value=2000, max_value=2100)
    file = forms.FileField(
        label=gettext_lazy("安排文件（.csv 或 .json）"),
        help_text=gettext_lazy("该年每一天恰好一行：date,working,name（见 docs/CALENDAR.md）"),
    )
    force = forms.BooleanField(label=gettext_lazy("替换已导入的年份"), required=False)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "source", "loaded_at"]
    change_list_template = "admin/core/calendaryear/change_list.html"

    def has_add_permission(self, request):
        # A year is entered through the plan upload, which also recomputes provisional dues.
        return False

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="core_calendaryear_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = PlanUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            year = form.cleaned_data["year"]
            try:
                text = upload.read().decode("utf-8")
                days = plan_parse(
                    year=year, text=text, file_format=upload.name.rsplit(".", 1)[-1].lower()
                )
                result = calendar_year_load(
                    year=year,
                    days=days,
                    source=_("管理员上传 %(name)s") % {"name": upload.name},
                    force=form.cleaned_data["force"],
                    actor=request.user,
                    request=request,
                )
            except UnicodeDecodeError:
                form.add_error("file", _("文件须为 UTF-8 编码"))
            except CalendarLoadError as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(
                    request,
                    _("%(year)s 年已导入：%(days)s 个调整日；暂定期限已重新计算：%(recomputed)s")
                    % {
                        "year": year,
                        "days": result["days"],
                        "recomputed": sum(result["recomputed"].values()),
                    },
                )
                return redirect("admin:core_calendaryear_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("导入节假日安排"),
        }
        return TemplateResponse(request, "admin/core/calendaryear/upload.html", context)


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_working_day", "name"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"
