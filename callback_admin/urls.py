from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from accounts import views as account_views
from callback_admin import metrics as metrics_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("session/keepalive/", account_views.session_keepalive, name="session_keepalive"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("callback_admin.api_urls")),
    path("", include("workspace.urls")),
    path("", include("escalations.urls")),
    path("", include("workspace.urls_public")),
    path("", include("supervision.urls")),
    path("", include("supervision.urls_public")),
    path("metrics", metrics_views.metrics, name="metrics"),
    # Browsers ask for /favicon.ico whatever the page says; answer with the icon, not a 404.
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("", include("accounts.urls_security")),
    path("", include("supervision.urls_records")),
]
