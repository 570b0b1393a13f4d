"""REST endpoints for account events, one or a batch (docs/API.md).

Writes go through visits/ingest.py (events_ingest, the one event writer); these views parse,
check scope, call the service and render. Events are validated by a hand-written validator
(``event_parse``) rather than a serializer per event, so that a batch of 1,000 costs
milliseconds; the serializers below document the same shapes in the OpenAPI schema."""

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from accounts import validators
from accounts.models import EventType, TxnKind
from core.api.base import (
    COMMON_ERRORS,
    FIELD_ERRORS,
    MAX_BATCH,
    REQUIRED,
    UNKNOWN_FIELD,
    ApiView,
    FastJSONRenderer,
    IngestScope,
    RequestTooLarge,
    service_client_of,
)
from core.crypto import blind_indexes
from visits.currencies import CNY, known_currencies
from visits.ingest import CONTACT_FIELDS, EventInput, canonical_hash, events_ingest
from visits.rules import account_facts_by_index

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


class TransactionDataSerializer(serializers.Serializer):
    amount = serializers.RegexField(
        validators.AMOUNT_RE.pattern, trim_whitespace=False, help_text='如 "80000.00"'
    )
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
    suspected_fraud = serializers.BooleanField()


SKIPPED_HELP = _(
    "规则已匹配但未安排回访时的原因：account_closed（账户已销户）、do_not_contact（客户勿扰）、"
    "new_account_visit_done（该账户已做过新开户回访）"
)
NO_RATE = _("该币种没有参考汇率，无法判断金额；请先由管理员录入参考汇率。")


class EventOutSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    visits = VisitBriefSerializer(many=True)
    skipped = serializers.CharField(required=False, help_text=SKIPPED_HELP)


class EventBatchInSerializer(serializers.Serializer):
    events = EventInSerializer(many=True, max_length=MAX_BATCH)


class EventBatchResultSerializer(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=[201, 200, 400, 409])
    visits = VisitBriefSerializer(many=True, required=False)
    skipped = serializers.CharField(required=False, help_text=SKIPPED_HELP)
    errors = serializers.JSONField(required=False)


class EventBatchOutSerializer(serializers.Serializer):
    results = EventBatchResultSerializer(many=True)


# Error shapes, for the schema.
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z")
ACCOUNT_NUMBER_RE = re.compile(r"^[A-Za-z0-9-]{1,32}\Z")
EVENT_FIELDS = {"event_id", "type", "account_number", "occurred_at", "data"}
TXN_FIELDS = {"amount", "currency", "direction", "channel", "kind"}
TXN_CHANNELS = {"counter", "atm", "online", "mobile", "pos"}
DIRECTIONS = frozenset({"in", "out"})
# Computed once: an enum's ``values`` builds a new list on each call (twice per event).
EVENT_TYPES = frozenset(EventType.values)
TXN_KINDS = frozenset(TxnKind.values)
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
            ("direction", DIRECTIONS),
            ("channel", TXN_CHANNELS),
            ("kind", TXN_KINDS),
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


def _latest_occurred_at() -> dt.datetime:
    """The latest `occurred_at` accepted: a day ahead of this server's clock."""
    return timezone.now() + dt.timedelta(days=1)


def event_parse(raw, *, latest: dt.datetime | None = None) -> tuple[dict | None, dict]:
    """First pass over one event: shapes, enums, amounts and times, no database. Returns
    (parsed, errors); ``parsed`` holds event_id, account_number, body_hash and AccountEvent
    fields except ``account``. ``latest``: the latest ``occurred_at`` accepted (default: a day
    from now; a batch works it out once)."""
    latest = latest or _latest_occurred_at()
    return _parsed(raw, latest, latest.timestamp())


def _parsed(raw, latest: dt.datetime, latest_ts: float) -> tuple[dict | None, dict]:
    """``event_parse`` with the latest time accepted also as a timestamp (once a batch)."""
    fast = _valid_transaction(raw, latest, latest_ts)
    return (fast, {}) if fast is not None else _event_checked(raw, latest)


TRANSACTION = EventType.TRANSACTION.value
# A time at least this far inside [EARLIEST, latest] (in seconds since 1970) is in range for
# certain, whatever the rounding of a float; nearer the bounds the datetimes are compared.
_MARGIN = 1.0


def _valid_transaction(raw, latest: dt.datetime, latest_ts: float) -> dict | None:
    """The bulk of a batch, a valid transaction, parsed in one pass; None for anything else,
    which ``_event_checked`` then goes through field by field to say what is wrong. It accepts
    only what ``_event_checked`` accepts, and parses it the same (a test holds them equal).
    ``latest_ts``: ``latest.timestamp()``, worked out once a batch."""
    if raw.__class__ is not dict or raw.get("type") != TRANSACTION:
        return None
    event_id, number = raw.get("event_id"), raw.get("account_number")
    value, data = raw.get("occurred_at"), raw.get("data")
    if (
        event_id.__class__ is not str
        or number.__class__ is not str
        or value.__class__ is not str
        or data.__class__ is not dict
        or len(raw) != len(EVENT_FIELDS)  # the five present (above): no other field
        or not EVENT_ID_RE.match(event_id)
        or not ACCOUNT_NUMBER_RE.match(number)
    ):
        return None
    amount, currency = data.get("amount"), data.get("currency", CNY)
    direction, channel, kind = data.get("direction"), data.get("channel"), data.get("kind")
    if (
        amount.__class__ is not str
        or currency.__class__ is not str
        or direction.__class__ is not str
        or channel.__class__ is not str
        or kind.__class__ is not str
        # The four present (above), and the currency or not: no other field.
        or len(data) != 4 + ("currency" in data)
        or direction not in DIRECTIONS
        or channel not in TXN_CHANNELS
        or kind not in TXN_KINDS
        or not validators.AMOUNT_RE.match(amount)
        or not validators.CURRENCY_RE.match(currency)
    ):
        return None
    number_amount = Decimal(amount)
    if number_amount <= 0:
        return None
    try:
        occurred_at = parse_datetime(value)
        if occurred_at is None or occurred_at.tzinfo is None:
            return None
        seconds = occurred_at.timestamp()
        if not _MARGIN <= seconds <= latest_ts - _MARGIN and not (
            EARLIEST <= occurred_at <= latest
        ):
            return None
    except (ValueError, OverflowError):
        return None
    return {
        "event_id": event_id,
        "account_number": number,
        "body_hash": canonical_hash(raw, floatless=True),
        "fields": {
            "event_type": TRANSACTION,
            "occurred_at": occurred_at,
            "amount": number_amount,
            "currency": currency,
            "direction": direction,
            "channel": channel,
            "txn_kind": kind,
            "data": {**data, "currency": currency},
        },
    }


def _event_checked(raw, latest: dt.datetime) -> tuple[dict | None, dict]:
    """``event_parse`` field by field, with an error for each field that is wrong."""
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
    if "type" in raw and (not isinstance(event_type, str) or event_type not in EVENT_TYPES):
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
                in_range = EARLIEST <= occurred_at <= latest
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
        # Valid: every value is a string, a list of strings or an empty data object.
        "body_hash": canonical_hash(raw, floatless=True),
        "fields": {"event_type": event_type, "occurred_at": occurred_at, **fields},
    }, {}


def events_from_payload(raws: list) -> list[tuple[EventInput | None, dict]]:
    """Validates every event (one query for all their accounts); (input, errors) per event."""
    latest = _latest_occurred_at()
    latest_ts = latest.timestamp()
    parsed = [_parsed(raw, latest, latest_ts) for raw in raws]
    numbers = {p["account_number"] for p, _e in parsed if p is not None}
    currencies = {p["fields"]["currency"] for p, _e in parsed if p and "currency" in p["fields"]}
    # One query, and only for a foreign currency: an amount in a currency without a reference
    # rate cannot be judged against the thresholds, so it is refused, never stored.
    known = known_currencies() if currencies - {CNY} else {CNY}
    # The batch's accounts in one query, through the blind index of each number, with what the
    # event rules read of them (so that the rules need not read them again).
    indexes = blind_indexes(numbers)
    found = account_facts_by_index(indexes.values())
    accounts = {number: found[index] for number, index in indexes.items() if index in found}
    out = []
    for p, errors in parsed:
        if p is None:
            out.append((None, errors))
            continue
        if p["fields"].get("currency", CNY) not in known:
            out.append((None, {"data": {"currency": [str(NO_RATE)]}}))
            continue
        facts = accounts.get(p["account_number"])
        if facts is None:
            out.append((None, {"account_number": [str(_("未知账号。"))]}))
            continue
        fields = p["fields"]  # made by the parse for this event alone: completed in place
        fields["account_id"] = facts.pk
        out.append(
            (
                EventInput(
                    event_id=p["event_id"],
                    body_hash=p["body_hash"],
                    fields=fields,
                    account=facts,
                ),
                {},
            )
        )
    return out


class EventCreate(ApiView):
    permission_classes = [IngestScope]
    renderer_classes = [FastJSONRenderer]

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
        [result] = events_ingest(client=service_client_of(request), events=[event], request=request)
        if result.status == 409:
            return Response(result.body["errors"], status=status.HTTP_409_CONFLICT)
        return Response(result.body, status=result.status)


class EventBatch(ApiView):
    permission_classes = [IngestScope]
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        request=EventBatchInSerializer,
        responses={200: EventBatchOutSerializer, 400: FIELD_ERRORS, **COMMON_ERRORS},
        examples=[OpenApiExample("批量", value={"events": [EVENT_EXAMPLE]}, request_only=True)],
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
                answer = {
                    "event_id": result.event_id,
                    "status": result.status,
                    "visits": result.body.get("visits", []),
                }
                if "skipped" in result.body:
                    answer["skipped"] = result.body["skipped"]
                results.append(answer)
        return Response({"results": results})
