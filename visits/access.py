"""Scoped fetches of visits and records: out of scope is 404, never 403."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.permissions import branch_ids_visible_to
from visits.models import Visit, VisitRecord


def visits_visible_to(user) -> QuerySet[Visit]:
    return Visit.objects.filter(branch__in=branch_ids_visible_to(user))


def records_visible_to(user) -> QuerySet[VisitRecord]:
    return VisitRecord.objects.filter(visit__branch__in=branch_ids_visible_to(user))


def visit_for_user(user, pk) -> Visit:
    return get_object_or_404(visits_visible_to(user), pk=pk)
