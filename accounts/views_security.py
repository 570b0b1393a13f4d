"""Second-factor setup and verification, and the password change (maximum age)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login

from accounts.otp import confirm_device, confirmed_device, pending_device, secret_base32
from core.audit import audit
from core.audit_actions import AuditAction


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("动态验证码"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("请输入6位数字验证码。")},
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


@login_required
def otp_setup(request):
    if confirmed_device(request.user) is not None:
        return redirect("security:otp_verify")
    device = pending_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if confirm_device(device, form.cleaned_data["token"]):
            otp_login(request, device)
            audit(
                AuditAction.USER_OTP_ENROLL, actor=request.user, obj=request.user, request=request
            )
            messages.success(request, _("双因素认证已启用。"))
            return redirect(_next_url(request))
        form.add_error("token", _("验证码不正确，请核对手机时间后重试。"))
    context = {
        "form": form,
        "secret": secret_base32(device),
        "config_url": device.config_url,
        "next": _next_url(request),
    }
    return render(request, "security/otp_setup.html", context, status=400 if form.errors else 200)


@login_required
def otp_verify(request):
    device = confirmed_device(request.user)
    if device is None:
        return redirect("security:otp_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            otp_login(request, device)
            audit(
                AuditAction.USER_OTP_VERIFY, actor=request.user, obj=request.user, request=request
            )
            return redirect(_next_url(request))
        audit(AuditAction.USER_OTP_FAIL, actor=request.user, obj=request.user, request=request)
        form.add_error("token", _("验证码不正确。"))
    context = {"form": form, "next": _next_url(request)}
    return render(request, "security/otp_verify.html", context, status=400 if form.errors else 200)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "security/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        update_session_auth_hash(self.request, form.user)
        messages.success(self.request, _("密码已修改。"))
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response
