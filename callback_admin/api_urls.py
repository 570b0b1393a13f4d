"""/api/v1/: the contract of shared/API.md. Paths have no trailing slash and never redirect."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api as accounts_api
from visits import api as visits_api

urlpatterns = [
    path("health", accounts_api.health, name="api-health"),
    path("branches", accounts_api.BranchList.as_view(), name="api-branches"),
    path(
        "customers/<str:external_id>",
        accounts_api.CustomerDetail.as_view(),
        name="api-customer",
    ),
    path(
        "accounts/<str:account_number>",
        accounts_api.AccountDetail.as_view(),
        name="api-account",
    ),
    path("events", accounts_api.EventCreate.as_view(), name="api-events"),
    path("events/batch", accounts_api.EventBatch.as_view(), name="api-events-batch"),
    path("visits", visits_api.VisitList.as_view(), name="api-visits"),
    path("visits/<str:id>", visits_api.VisitDetail.as_view(), name="api-visit"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
