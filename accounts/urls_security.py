from django.urls import path

from accounts import views_security as views

app_name = "security"

urlpatterns = [
    path("security/2fa/setup/", views.otp_setup, name="otp_setup"),
    path("security/2fa/verify/", views.otp_verify, name="otp_verify"),
    path("security/password/", views.PasswordChangeView.as_view(), name="password_change"),
]
