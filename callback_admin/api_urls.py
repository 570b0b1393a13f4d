"""/api/v1/: the contract of shared/API.md. Paths have no trailing slash."""

from django.urls import path

from accounts import api as accounts_api

urlpatterns = [
    path("health", accounts_api.health, name="api-health"),
]
