"""REST endpoints for branches, customers, accounts and events (shared/API.md).

Writes go through accounts/services.py (customer_upsert, account_upsert, events_ingest); these
views parse, check scope, call the service and render. Events are validated by a hand-written
validator (``event_parse``) rather than a serializer per event, so that a batch of 1,000 costs
milliseconds; the serializers below document the same shapes in the OpenAPI schema."""

import datetime as dt
import json
import re
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.decorators import throttle_classes as throttle_classes_decorator
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from . import validators
from .masking import mask_address, mask_id_number, mask_phone
from .models import (
    Account,
    AccountStatus,
    AccountType,
    Branch,
    Customer,
    CustomerType,
    EventType,
    IdType,
    RiskLevel,
    ServiceClient,
    TxnKind,
)
from .permissions import branches_visible_to, customers_visible_to
from .services import (
    CONTACT_FIELDS,
    EventInput,
    account_upsert,
    canonical_hash,
    customer_upsert,
    events_ingest,
)

MAX_BATCH = 1000
UNKNOWN_FIELD = _("未知字段。")
REQUIRED = _("该字段是必填项。")
BIGINT_MAX = 2**63 - 1

# --- Request parsing, authentication scope, throttling ----------------------------------------


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("请求体过大。")
    default_code = "too_large"


class StrictJSONParser(JSONParser):
    """JSON with a size limit (413 beyond DATA_UPLOAD_MAX_MEMORY_SIZE: DRF's own parser reads the
    stream and bypasses Django's check), no NaN/Infinity, and no lone surrogates (which could
    neither be stored nor rendered)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_reject_constant)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeError, RecursionError) as exc:
            raise exceptions.ParseError(_("JSON 格式错误。")) from exc
        return data


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def service_client_of(request) -> ServiceClient | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, ServiceClient) else None


def _scope_permission(*scopes: str, staff: bool):
    class ScopePermission(BasePermission):
        """A service client needs one of ``scopes``; a staff session may read (``staff``), and
        its querysets are scoped by accounts.permissions."""

        message = _("该密钥没有所需的权限范围：{scopes}。").format(scopes=", ".join(scopes))

        def has_permission(self, request, view):
            client = service_client_of(request)
            if client is not None:
                return any(client.has_scope(scope) for scope in scopes)
            return bool(staff and request.user and request.user.is_authenticated)

    return ScopePermission


IngestScope = _scope_permission("ingest", staff=False)
ReadScope = _scope_permission("read", staff=True)
ReadOrIngestScope = _scope_permission("read", "ingest", staff=True)


class _RateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ServiceClientThrottle(_RateThrottle):
    """Per client, on the shared cache (429 with Retry-After)."""

    scope = "service_client"

    def get_cache_key(self, request, view):
        client = service_client_of(request)
        return None if client is None else self.cache_format % {"scope": self.scope, "ident": client.pk}


class StaffThrottle(_RateThrottle):
    scope = "staff"

    def get_cache_key(self, request, view):
        if service_client_of(request) is not None or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ApiView(APIView):
    parser_classes = [StrictJSONParser]
    throttle_classes = [ServiceClientThrottle, StaffThrottle]


class ApiCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": [_("无效的游标。")]}) from None


def paginated(name: str, item_serializer):
    """The schema of a page: links to the next and previous pages, and the items."""
    return inline_serializer(
        name,
        {
            "next": serializers.CharField(allow_null=True),
            "previous": serializers.CharField(allow_null=True),
            "results": item_serializer(many=True),
        },
    )


# --- Serializers (validation of customers/accounts; documentation of every shape) -------------


class StrictMixin:
    """Rejects fields the serializer does not know (400 naming them)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDateField(serializers.DateField):
    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


def _django_validator(func):
    def run(value):
        try:
            func(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    return run


class CustomerInSerializer(StrictMixin, serializers.Serializer):
    name = StrictCharField(max_length=200)
    customer_type = serializers.ChoiceField(choices=CustomerType.choices)
    id_type = serializers.ChoiceField(choices=IdType.choices)
    id_number = StrictCharField(max_length=30)
    id_expiry = StrictDateField(required=False, allow_null=True)
    mobile = StrictCharField(
        required=False, allow_blank=True, max_length=11,
        validators=[_django_validator(validators.validate_mobile)],
    )
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    landline = StrictCharField(
        required=False, allow_blank=True, max_length=30,
        validators=[_django_validator(validators.validate_landline)],
    )
    address = StrictCharField(required=False, allow_blank=True, max_length=200)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, required=False)
    branch_code = StrictCharField(max_length=20)
    marketing_consent = StrictBooleanField(required=False)
    do_not_contact = StrictBooleanField(required=False)
    source_version = StrictIntegerField(
        required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX
    )

    def validate_branch_code(self, value):
        branch = Branch.objects.filter(code=value).first()
        if branch is None:
            raise serializers.ValidationError(_("未知网点代码。"))
        return branch

    def validate(self, attrs):
        try:
            validators.validate_id_number(attrs["id_type"], attrs["id_number"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"id_number": exc.messages}) from None
        if attrs["id_type"] == IdType.RESIDENT_ID:
            attrs["id_number"] = attrs["id_number"].upper()
        data = {
            "name": attrs["name"],
            "customer_type": attrs["customer_type"],
            "id_type": attrs["id_type"],
            "id_number": attrs["id_number"],
            "id_expiry": attrs.get("id_expiry"),
            "mobile": attrs.get("mobile", ""),
            "email": attrs.get("email", ""),
            "landline": attrs.get("landline", ""),
            "address": attrs.get("address", ""),
            "risk_level": attrs.get("risk_level", RiskLevel.LOW),
            "branch": attrs["branch_code"],
            "marketing_consent": attrs.get("marketing_consent", False),
            "do_not_contact": attrs.get("do_not_contact", False),
        }
        if attrs.get("source_version") is not None:
            data["source_version"] = attrs["source_version"]
        return data


class CustomerOutSerializer(serializers.Serializer):
    """The customer as stored, personal data masked."""

    external_id = serializers.CharField()
    name = serializers.CharField()
    customer_type = serializers.ChoiceField(choices=CustomerType.choices)
    id_type = serializers.ChoiceField(choices=IdType.choices)
    id_number = serializers.SerializerMethodField()
    id_expiry = serializers.DateField(allow_null=True)
    mobile = serializers.SerializerMethodField()
    email = serializers.CharField()
    landline = serializers.SerializerMethodField()
    address = serializers.SerializerMethodField()
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    branch_code = serializers.CharField(source="branch.code")
    marketing_consent = serializers.BooleanField()
    do_not_contact = serializers.BooleanField()
    source_version = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def get_id_number(self, obj) -> str:
        return mask_id_number(obj.id_number)

    def get_mobile(self, obj) -> str:
        return mask_phone(obj.mobile)

    def get_landline(self, obj) -> str:
        return mask_phone(obj.landline)

    def get_address(self, obj) -> str:
        return mask_address(obj.address)


class AccountInSerializer(StrictMixin, serializers.Serializer):
    customer_external_id = StrictCharField(max_length=40)
    account_type = serializers.ChoiceField(choices=AccountType.choices)
    status = serializers.ChoiceField(choices=AccountStatus.choices, required=False)
    opened_on = StrictDateField()
    branch_code = StrictCharField(max_length=20)
    source_version = StrictIntegerField(
        required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX
    )

    def validate_customer_external_id(self, value):
        customer = Customer.objects.filter(external_id=value).only("pk").first()
        if customer is None:
            raise serializers.ValidationError(_("未知客户。"))
        return customer

    def validate_branch_code(self, value):
        branch = Branch.objects.filter(code=value).first()
        if branch is None:
            raise serializers.ValidationError(_("未知网点代码。"))
        return branch

    def validate(self, attrs):
        data = {
            "customer": attrs["customer_external_id"],
            "account_type": attrs["account_type"],
            "status": attrs.get("status", AccountStatus.ACTIVE),
            "opened_on": attrs["opened_on"],
            "branch": attrs["branch_code"],
        }
        if attrs.get("source_version") is not None:
            data["source_version"] = attrs["source_version"]
        return data


class AccountOutSerializer(serializers.Serializer):
    account_number = serializers.CharField(source="number")
    customer_external_id = serializers.CharField(source="customer.external_id")
    account_type = serializers.ChoiceField(choices=AccountType.choices)
    status = serializers.ChoiceField(choices=AccountStatus.choices)
    opened_on = serializers.DateField()
    closed_on = serializers.DateField(allow_null=True)
    branch_code = serializers.CharField(source="branch.code")
    source_version = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()


class BranchSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class TransactionDataSerializer(serializers.Serializer):
    amount = serializers.RegexField(validators.AMOUNT_RE.pattern, help_text='如 "80000.00"')
    currency = serializers.RegexField(validators.CURRENCY_RE.pattern, required=False, default="CNY")
    direction = serializers.ChoiceField(choices=["in", "out"])
    channel = serializers.ChoiceField(choices=["counter", "atm", "online", "mobile", "pos"])
    kind = serializers.ChoiceField(choices=TxnKind.choices)


class EventInSerializer(serializers.Serializer):
    """Documentation of one event (validated by ``event_parse``). ``data`` depends on ``type``:
    transaction: amount, currency, direction, channel, kind; info_changed: fields;
    complaint: text, optional channel; account_opened and account_closed: none."""

    event_id = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
    type = serializers.ChoiceField(choices=EventType.choices)
    account_number = serializers.RegexField(r"^[A-Za-z0-9-]{1,32}$")
    occurred_at = serializers.DateTimeField(help_text=_("ISO 8601，带时区偏移"))
    data = serializers.JSONField(required=False, allow_null=True)


class VisitBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    due_at = serializers.DateTimeField()


class EventOutSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    visits = VisitBriefSerializer(many=True)


class EventBatchInSerializer(serializers.Serializer):
    events = EventInSerializer(many=True, max_length=MAX_BATCH)


class EventBatchResultSerializer(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=[201, 200, 400, 409])
    visits = VisitBriefSerializer(many=True, required=False)
    errors = serializers.JSONField(required=False)


class EventBatchOutSerializer(serializers.Serializer):
    results = EventBatchResultSerializer(many=True)


# Error shapes, for the schema.
FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=_('字段错误：{"字段": ["说明"]}；整体错误在 non_field_errors。'),
)
DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
R401 = OpenApiResponse(DETAIL, description=_("缺少或无效的密钥"))
R403 = OpenApiResponse(DETAIL, description=_("密钥没有所需的权限范围"))
R404 = OpenApiResponse(DETAIL, description=_("不存在或调用方无权查看"))
R413 = OpenApiResponse(DETAIL, description=_("请求体或批量过大"))
R429 = OpenApiResponse(DETAIL, description=_("请求过于频繁，见 Retry-After"))
COMMON_ERRORS = {401: R401, 403: R403, 413: R413, 429: R429}

CUSTOMER_EXAMPLE = {
    "name": "張偉",
    "customer_type": "personal",
    "id_type": "resident_id",
    "id_number": "110101199003074514",
    "id_expiry": "2030-05-01",
    "mobile": "13800138000",
    "email": "zw@example.com",
    "landline": "010-12345678",
    "address": "北京市東城區東長安街1號",
    "risk_level": "low",
    "branch_code": "BJ001",
    "marketing_consent": False,
    "do_not_contact": False,
}
ACCOUNT_EXAMPLE = {
    "customer_external_id": "C0001",
    "account_type": "personal_savings",
    "status": "active",
    "opened_on": "2026-11-20",
    "branch_code": "BJ001",
}
EVENT_EXAMPLE = {
    "event_id": "CB-2026-000001",
    "type": "transaction",
    "account_number": "6222020000000001",
    "occurred_at": "2026-11-28T10:15:00+08:00",
    "data": {
        "amount": "80000.00",
        "currency": "CNY",
        "direction": "out",
        "channel": "counter",
        "kind": "cash",
    },
}


def _path_key(value: str, max_length: int, name: str) -> str:
    if len(value) > max_length or not value.isprintable():
        raise exceptions.ValidationError({name: [_("格式无效。")]})
    return value


# --- Health --------------------------------------------------------------------------------


def _broker_ok() -> bool:
    from callback_admin.celery import app

    try:
        with app.connection_for_write() as conn:
            # One quick retry, no back-off: a health check answers within seconds.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001
        return False


HEALTH = inline_serializer(
    "Health",
    {
        "database": serializers.ChoiceField(choices=["ok", "down"]),
        "broker": serializers.ChoiceField(choices=["ok", "down"]),
    },
)


@extend_schema(
    auth=[],
    responses={200: HEALTH, 503: OpenApiResponse(HEALTH, description=_("某部分不可用"))},
    summary=_("健康检查"),
    operation_id="health",
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes_decorator([])
def health(request):
    """200 {"database": "ok", "broker": "ok"}, or 503 naming the part that is down."""
    parts = {
        "database": "ok" if _database_ok() else "down",
        "broker": "ok" if _broker_ok() else "down",
    }
    code = 200 if all(v == "ok" for v in parts.values()) else 503
    return Response(parts, status=code)


# --- Branches, customers, accounts ----------------------------------------------------------


class BranchList(ApiView):
    permission_classes = [ReadOrIngestScope]

    @extend_schema(
        responses={200: paginated("BranchPage", BranchSerializer), 400: FIELD_ERRORS, **COMMON_ERRORS},
        operation_id="branches_list",
        summary=_("网点列表"),
        parameters=[
            OpenApiParameter("page_size", int, description=_("最大 500")),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request):
        if service_client_of(request) is not None:
            branches = Branch.objects.all()
        else:
            branches = branches_visible_to(request.user)
        paginator = ApiCursorPagination()
        paginator.ordering = "code"
        page = paginator.paginate_queryset(branches.only("code", "name"), request, view=self)
        return paginator.get_paginated_response(BranchSerializer(page, many=True).data)


class CustomerDetail(ApiView):
    def get_permissions(self):
        if self.request.method == "PUT":
            return [IngestScope()]
        return [ReadOrIngestScope()]

    @extend_schema(
        responses={200: CustomerOutSerializer, 404: R404, **COMMON_ERRORS},
        summary=_("查询客户（个人信息已脱敏）"),
        operation_id="customer_get",
    )
    def get(self, request, external_id: str):
        if service_client_of(request) is not None:
            customers = Customer.objects.all()
        else:
            customers = customers_visible_to(request.user)
        if len(external_id) > 40 or not external_id.isprintable():
            raise exceptions.NotFound()  # no customer can have such an id (NUL bytes, ...)
        customer = (
            customers.select_related("branch").filter(external_id=external_id[:41]).first()
        )
        if customer is None:
            raise exceptions.NotFound()
        return Response(CustomerOutSerializer(customer).data)

    @extend_schema(
        request=CustomerInSerializer,
        responses={
            201: CustomerOutSerializer,
            200: CustomerOutSerializer,
            400: FIELD_ERRORS,
            **COMMON_ERRORS,
        },
        examples=[OpenApiExample("张伟", value=CUSTOMER_EXAMPLE, request_only=True)],
        summary=_("创建或替换客户"),
        operation_id="customer_put",
    )
    def put(self, request, external_id: str):
        _path_key(external_id, 40, "external_id")
        serializer = CustomerInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer, created, _changed = customer_upsert(
            external_id=external_id,
            data=serializer.validated_data,
            client=service_client_of(request),
            request=request,
        )
        customer = Customer.objects.select_related("branch").get(pk=customer.pk)
        return Response(
            CustomerOutSerializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AccountDetail(ApiView):
    permission_classes = [IngestScope]

    @extend_schema(
        request=AccountInSerializer,
        responses={
            201: AccountOutSerializer,
            200: AccountOutSerializer,
            400: FIELD_ERRORS,
            **COMMON_ERRORS,
        },
        examples=[OpenApiExample("储蓄账户", value=ACCOUNT_EXAMPLE, request_only=True)],
        summary=_("创建或替换账户"),
        operation_id="account_put",
    )
    def put(self, request, account_number: str):
        if not re.match(r"^[A-Za-z0-9-]{1,32}$", account_number):
            raise exceptions.ValidationError({"account_number": [_("账号格式无效。")]})
        serializer = AccountInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account, created = account_upsert(
            number=account_number,
            data=serializer.validated_data,
            client=service_client_of(request),
            request=request,
        )
        account = Account.objects.select_related("branch", "customer").get(pk=account.pk)
        return Response(
            AccountOutSerializer(account).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- Events ------------------------------------------------------------------------------------

EVENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
ACCOUNT_NUMBER_RE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
EVENT_FIELDS = {"event_id", "type", "account_number", "occurred_at", "data"}
TXN_FIELDS = {"amount", "currency", "direction", "channel", "kind"}
TXN_CHANNELS = {"counter", "atm", "online", "mobile", "pos"}
INFO_FIELDS = {*CONTACT_FIELDS, "name", "id_type", "id_number", "id_expiry"}
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _invalid_choice(value) -> str:
    return str(_("“{value}” 不是有效的选项。")).format(value=str(value)[:50])


def _data_errors(event_type: str, data) -> tuple[dict, dict]:
    """(AccountEvent fields, errors) for the ``data`` of an event of ``event_type``."""
    if event_type in (EventType.ACCOUNT_OPENED, EventType.ACCOUNT_CLOSED):
        if data in (None, {}):
            return {"data": {}}, {}
        if not isinstance(data, dict):
            return {}, {"non_field_errors": [str(_("该类型事件不带数据。"))]}
        return {}, {name: [str(UNKNOWN_FIELD)] for name in data}
    if not isinstance(data, dict):
        return {}, {"non_field_errors": [str(_("data 应为对象。"))]}
    errors: dict[str, list[str]] = {}
    if event_type == EventType.TRANSACTION:
        for name in set(data) - TXN_FIELDS:
            errors[name] = [str(UNKNOWN_FIELD)]
        for name in ("amount", "direction", "channel", "kind"):
            if name not in data:
                errors[name] = [str(REQUIRED)]
        fields = {}
        if "amount" in data:
            try:
                fields["amount"] = validators.parse_amount(data["amount"])
            except DjangoValidationError as exc:
                errors["amount"] = exc.messages
        currency = data.get("currency", "CNY")
        if not isinstance(currency, str) or not validators.CURRENCY_RE.match(currency):
            errors["currency"] = [str(_("币种应为3位大写字母代码，例如 CNY。"))]
        checks = (
            ("direction", {"in", "out"}),
            ("channel", TXN_CHANNELS),
            ("kind", set(TxnKind.values)),
        )
        for name, allowed in checks:
            if name in data and (not isinstance(data[name], str) or data[name] not in allowed):
                errors[name] = [_invalid_choice(data[name])]
        if errors:
            return {}, errors
        return {
            **fields,
            "currency": currency,
            "direction": data["direction"],
            "channel": data["channel"],
            "txn_kind": data["kind"],
            "data": {**data, "currency": currency},
        }, {}
    if event_type == EventType.INFO_CHANGED:
        for name in set(data) - {"fields"}:
            errors[name] = [str(UNKNOWN_FIELD)]
        changed = data.get("fields")
        if (
            not isinstance(changed, list)
            or not changed
            or not all(isinstance(f, str) and f in INFO_FIELDS for f in changed)
            or len(set(changed)) != len(changed)
        ):
            errors["fields"] = [
                str(_("fields 应为不重复的已变更字段名列表：{names}。")).format(
                    names=", ".join(sorted(INFO_FIELDS))
                )
            ]
        return ({}, errors) if errors else ({"data": {"fields": changed}}, {})
    # complaint
    for name in set(data) - {"text", "channel"}:
        errors[name] = [str(UNKNOWN_FIELD)]
    text = data.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 2000 or "\x00" in text:
        errors["text"] = [str(_("投诉内容应为1至2000字的文本。"))]
    channel = data.get("channel", "")
    if not isinstance(channel, str) or not re.match(r"^[a-z_]{0,10}$", channel):
        errors["channel"] = [str(_("渠道应为最多10个小写字母。"))]
    if errors:
        return {}, errors
    return {"channel": channel, "data": {"text": text, "channel": channel}}, {}


def event_parse(raw) -> tuple[dict | None, dict]:
    """First pass over one event: shapes, enums, amounts and times, no database. Returns
    (parsed, errors); ``parsed`` holds event_id, account_number, body_hash and AccountEvent
    fields except ``account``."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [str(_("事件应为对象。"))]}
    errors: dict = {name: [str(UNKNOWN_FIELD)] for name in set(raw) - EVENT_FIELDS}
    for name in ("event_id", "type", "account_number", "occurred_at"):
        if name not in raw:
            errors[name] = [str(REQUIRED)]
    event_id = raw.get("event_id")
    if "event_id" in raw and (not isinstance(event_id, str) or not EVENT_ID_RE.match(event_id)):
        errors["event_id"] = [str(_("event_id 应为1至64位字母、数字或 ._:/- 。"))]
    number = raw.get("account_number")
    if "account_number" in raw and (
        not isinstance(number, str) or not ACCOUNT_NUMBER_RE.match(number)
    ):
        errors["account_number"] = [str(_("账号格式无效。"))]
    event_type = raw.get("type")
    if "type" in raw and (not isinstance(event_type, str) or event_type not in EventType.values):
        errors["type"] = [_invalid_choice(event_type)]
        event_type = None
    occurred_at = None
    if "occurred_at" in raw:
        value = raw["occurred_at"]
        try:
            occurred_at = parse_datetime(value) if isinstance(value, str) else None
        except (ValueError, OverflowError):
            occurred_at = None
        if occurred_at is None or occurred_at.tzinfo is None:
            errors["occurred_at"] = [str(_("应为带时区偏移的 ISO 8601 时间。"))]
        else:
            try:
                in_range = EARLIEST <= occurred_at <= timezone.now() + dt.timedelta(days=1)
            except OverflowError:
                in_range = False
            if not in_range:
                errors["occurred_at"] = [str(_("时间超出范围。"))]
    fields = {}
    if event_type:
        fields, data_errors = _data_errors(event_type, raw.get("data"))
        if data_errors:
            errors["data"] = data_errors
    if errors:
        return None, errors
    return {
        "event_id": event_id,
        "account_number": number,
        "body_hash": canonical_hash(raw),
        "fields": {"event_type": event_type, "occurred_at": occurred_at, **fields},
    }, {}


def events_from_payload(raws: list) -> list[tuple[EventInput | None, dict]]:
    """Validates every event (one query for all their accounts); (input, errors) per event."""
    parsed = [event_parse(raw) for raw in raws]
    numbers = {p["account_number"] for p, _e in parsed if p is not None}
    accounts = (
        dict(Account.objects.filter(number__in=numbers).values_list("number", "pk"))
        if numbers
        else {}
    )
    out = []
    for p, errors in parsed:
        if p is None:
            out.append((None, errors))
            continue
        account_id = accounts.get(p["account_number"])
        if account_id is None:
            out.append((None, {"account_number": [str(_("未知账号。"))]}))
            continue
        out.append(
            (
                EventInput(
                    event_id=p["event_id"],
                    body_hash=p["body_hash"],
                    fields={**p["fields"], "account_id": account_id},
                ),
                {},
            )
        )
    return out


class EventCreate(ApiView):
    permission_classes = [IngestScope]

    @extend_schema(
        request=EventInSerializer,
        responses={
            201: EventOutSerializer,
            200: OpenApiResponse(EventOutSerializer, description=_("重复请求：首次的应答")),
            400: FIELD_ERRORS,
            409: OpenApiResponse(OpenApiTypes.OBJECT, description=_("同一 event_id，内容不同")),
            **COMMON_ERRORS,
        },
        examples=[OpenApiExample("大额取现", value=EVENT_EXAMPLE, request_only=True)],
        summary=_("记录一个账户事件（幂等）"),
        operation_id="event_create",
    )
    def post(self, request):
        [(event, errors)] = events_from_payload([request.data])
        if event is None:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        [result] = events_ingest(
            client=service_client_of(request), events=[event], request=request
        )
        if result.status == 409:
            return Response(result.body["errors"], status=status.HTTP_409_CONFLICT)
        return Response(result.body, status=result.status)


class EventBatch(ApiView):
    permission_classes = [IngestScope]

    @extend_schema(
        request=EventBatchInSerializer,
        responses={200: EventBatchOutSerializer, 400: FIELD_ERRORS, **COMMON_ERRORS},
        examples=[
            OpenApiExample("批量", value={"events": [EVENT_EXAMPLE]}, request_only=True)
        ],
        summary=_("批量记录账户事件（最多1000个，每个事件一个结果）"),
        operation_id="event_batch",
    )
    def post(self, request):
        payload = request.data
        if not isinstance(payload, dict):
            raise exceptions.ValidationError({"non_field_errors": [_("请求体应为对象。")]})
        unknown = sorted(set(payload) - {"events"})
        if unknown:
            raise exceptions.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        raws = payload.get("events")
        if not isinstance(raws, list):
            raise exceptions.ValidationError({"events": [_("应为事件列表。")]})
        if len(raws) > MAX_BATCH:
            raise RequestTooLarge(_("每批最多 {n} 个事件。").format(n=MAX_BATCH))
        checked = events_from_payload(raws)
        valid = [event for event, _errors in checked if event is not None]
        ingested = iter(
            events_ingest(client=service_client_of(request), events=valid, request=request)
            if valid
            else []
        )
        results = []
        for raw, (event, errors) in zip(raws, checked):
            if event is None:
                event_id = raw.get("event_id") if isinstance(raw, dict) else None
                results.append(
                    {
                        "event_id": event_id if isinstance(event_id, str) else None,
                        "status": 400,
                        "errors": errors,
                    }
                )
                continue
            result = next(ingested)
            if result.status == 409:
                results.append(
                    {"event_id": result.event_id, "status": 409, "errors": result.body["errors"]}
                )
            else:
                results.append(
                    {
                        "event_id": result.event_id,
                        "status": result.status,
                        "visits": result.body.get("visits", []),
                    }
                )
        return Response({"results": results})
