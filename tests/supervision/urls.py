"""The project's URLs plus the public complaint form (until the root URLconf includes it)."""

from django.urls import include, path

from callback_admin.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("", include("supervision.urls_public")),
]
