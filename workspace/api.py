"""Visits for core banking and staff sessions (docs/API.md, "Visits").

A service client with the ``read`` scope sees every visit; a staff session sees what
``visits_visible_to`` lets it see, with account numbers masked. Out of scope is 404."""

from django.db.models import F, Prefetch
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from core.api.base import ApiCursorPagination, ApiView, ReadScope, paginated, service_client_of
from core.crypto import blind_index
from core.masking import mask_account_number
from escalations.models import Escalation
from visits.access import visits_visible_to
from visits.api.customers import COMMON_ERRORS, FIELD_ERRORS, R404
from visits.models import ContactAttempt, Visit, VisitKind, VisitStatus, VisitTrigger

BIGINT_MAX = 2**63 - 1


def visits_for(request):
    """The caller's visits, with the account number, customer id and branch code annotated
    (no join of encrypted customer columns). A staff session gets the stored masked number,
    so its lists decrypt nothing; a service client the full one."""
    if service_client_of(request) is not None:
        visits = Visit.objects.all()
        number = F("account__number")
    else:
        visits = visits_visible_to(request.user)
        number = F("account__number_masked")
    return visits.annotate(
        account_number=number,
        customer_external_id=F("account__customer__external_id"),
        branch_code=F("branch__code"),
    )


class VisitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account_number = serializers.SerializerMethodField()
    customer_external_id = serializers.CharField()
    branch_code = serializers.CharField()
    kind = serializers.ChoiceField(choices=VisitKind.choices)
    status = serializers.ChoiceField(choices=VisitStatus.choices)
    priority = serializers.IntegerField()
    suspected_fraud = serializers.BooleanField()
    channel = serializers.CharField()
    reason = serializers.CharField()
    due_at = serializers.DateTimeField()
    # True while the due time rests on a calendar year not loaded yet (SPEC §4).
    due_provisional = serializers.BooleanField()
    cancelled_reason = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_cancelled_reason(self, visit) -> str | None:
        """Why a cancelled visit was cancelled (account_closed, do_not_contact); else null."""
        if visit.status != VisitStatus.CANCELLED:
            return None
        return visit.cancelled_reason or None

    def get_account_number(self, visit) -> str:
        if self.context.get("mask_account", True):
            return mask_account_number(visit.account_number)  # masked already: unchanged
        return visit.account_number


class AttemptSerializer(serializers.Serializer):
    channel = serializers.CharField()
    outcome = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    callback_at = serializers.DateTimeField(allow_null=True)


class ProblemSerializer(serializers.Serializer):
    escalation_id = serializers.IntegerField(source="pk")
    department = serializers.CharField(source="department.code")
    urgency = serializers.CharField()
    status = serializers.CharField()
    deadline_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class RecordSummarySerializer(serializers.Serializer):
    submitted_at = serializers.DateTimeField()
    channel = serializers.CharField()
    outcome = serializers.CharField(source="handling")
    satisfaction = serializers.IntegerField(allow_null=True)
    resolution_satisfied = serializers.BooleanField(allow_null=True)
    problems = ProblemSerializer(many=True, source="visit.escalations.all")


class TriggerEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(source="event.event_id")
    type = serializers.CharField(source="event.event_type")
    occurred_at = serializers.DateTimeField(source="event.occurred_at")


class VisitDetailSerializer(VisitSerializer):
    attempts = AttemptSerializer(many=True, source="attempts.all")
    events = TriggerEventSerializer(many=True, source="triggers.all")
    record = serializers.SerializerMethodField()

    @extend_schema_field(RecordSummarySerializer(allow_null=True))
    def get_record(self, visit):
        if visit.status != VisitStatus.COMPLETED:
            return None
        record = getattr(visit, "record", None)
        return RecordSummarySerializer(record).data if record is not None else None


def _choice(request, name, choices):
    value = _text_param(request, name)
    if value is not None and value not in choices:
        raise exceptions.ValidationError({name: [_("无效的选项。")]})
    return value


def _text_param(request, name):
    """A query parameter without NUL or other control characters (400 naming it otherwise:
    a database refuses a NUL, and nothing legitimate carries one)."""
    value = request.query_params.get(name)
    if value is not None and (
        len(value) > 200 or any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value)
    ):
        raise exceptions.ValidationError({name: [_("参数含有控制字符或过长。")]})
    return value


class VisitList(ApiView):
    permission_classes = [ReadScope]

    @extend_schema(
        parameters=[
            OpenApiParameter("account_number", str),
            OpenApiParameter("customer_external_id", str),
            OpenApiParameter("kind", str, enum=VisitKind.values),
            OpenApiParameter("status", str, enum=VisitStatus.values),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
            OpenApiParameter("page_size", int, description=_("最大 500")),
            OpenApiParameter("cursor", str),
        ],
        responses={
            200: paginated("VisitPage", VisitSerializer),
            400: FIELD_ERRORS,
            **COMMON_ERRORS,
        },
        summary=_("回访列表"),
        operation_id="visits_list",
    )
    def get(self, request):
        for name in request.query_params:  # any parameter, the cursor and page size included
            _text_param(request, name)
        visits = visits_for(request)
        if number := _text_param(request, "account_number"):
            visits = visits.filter(account__number_index=blind_index(number))
        if external_id := _text_param(request, "customer_external_id"):
            visits = visits.filter(account__customer__external_id=external_id)
        if kind := _choice(request, "kind", VisitKind.values):
            visits = visits.filter(kind=kind)
        if state := _choice(request, "status", VisitStatus.values):
            visits = visits.filter(status=state)
        if (since := request.query_params.get("updated_since")) is not None:
            try:
                moment = parse_datetime(since)
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                raise exceptions.ValidationError(
                    {"updated_since": [_("应为带时区偏移的 ISO 8601 时间。")]}
                )
            visits = visits.filter(updated_at__gte=moment)
        paginator = ApiCursorPagination()
        paginator.ordering = ("updated_at", "id")
        page = paginator.paginate_queryset(visits, request, view=self)
        context = {"mask_account": service_client_of(request) is None}
        return paginator.get_paginated_response(
            VisitSerializer(page, many=True, context=context).data
        )


class VisitDetail(ApiView):
    permission_classes = [ReadScope]

    @extend_schema(
        responses={200: VisitDetailSerializer, 404: R404, **COMMON_ERRORS},
        summary=_("回访详情（联系记录与完成后的记录摘要）"),
        operation_id="visit_get",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
    )
    def get(self, request, id: str):  # noqa: A002 - the contract's name for the path parameter
        if not id.isascii() or not id.isdigit() or int(id) > BIGINT_MAX:
            raise exceptions.NotFound()
        pk = int(id)
        visit = (
            visits_for(request)
            .select_related("record")
            .prefetch_related(
                Prefetch("attempts", queryset=ContactAttempt.objects.order_by("started_at")),
                Prefetch(
                    "triggers",
                    queryset=VisitTrigger.objects.select_related("event").order_by(
                        "event__occurred_at", "pk"
                    ),
                ),
                Prefetch(
                    "escalations",
                    queryset=Escalation.objects.select_related("department").order_by("pk"),
                ),
            )
            .filter(pk=pk)
            .first()
        )
        if visit is None:
            raise exceptions.NotFound()
        context = {"mask_account": service_client_of(request) is None}
        return Response(VisitDetailSerializer(visit, context=context).data)
