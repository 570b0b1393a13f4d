"""/api/v1/: the contract of docs/API.md. Paths have no trailing slash and never redirect."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.health import health
from visits.api import customers, events
from workspace import api as visits

urlpatterns = [
    path("health", health, name="api-health"),
    path("branches", customers.BranchList.as_view(), name="api-branches"),
    path("customers/<str:external_id>", customers.CustomerDetail.as_view(), name="api-customer"),
    path("accounts/<str:account_number>", customers.AccountDetail.as_view(), name="api-account"),
    path("events", events.EventCreate.as_view(), name="api-events"),
    path("events/batch", events.EventBatch.as_view(), name="api-events-batch"),
    path("visits", visits.VisitList.as_view(), name="api-visits"),
    path("visits/<str:id>", visits.VisitDetail.as_view(), name="api-visit"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
