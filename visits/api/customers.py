"""REST endpoints for branches, customers and accounts (docs/API.md).

Writes go through visits/ingest.py (customer_upsert, account_upsert); these views parse, check
scope, call the service and render."""

import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from accounts import validators
from accounts.models import (
    Account,
    AccountStatus,
    AccountType,
    Branch,
    Customer,
    CustomerType,
    IdType,
    RiskLevel,
)
from accounts.permissions import branches_visible_to, customers_visible_to
from core.api.base import (
    BIGINT_MAX,
    COMMON_ERRORS,
    FIELD_ERRORS,
    R404,
    ApiCursorPagination,
    ApiView,
    IngestScope,
    ReadOrIngestScope,
    StrictBooleanField,
    StrictCharField,
    StrictDateField,
    StrictIntegerField,
    StrictMixin,
    django_validator,
    paginated,
    path_key,
    service_client_of,
)
from core.masking import mask_address, mask_id_number, mask_phone
from visits.ingest import account_upsert, customer_upsert


class CustomerInSerializer(StrictMixin, serializers.Serializer):
    name = StrictCharField(max_length=200)
    customer_type = serializers.ChoiceField(choices=CustomerType.choices)
    id_type = serializers.ChoiceField(choices=IdType.choices)
    id_number = StrictCharField(max_length=30, trim_whitespace=False)
    id_expiry = StrictDateField(required=False, allow_null=True)
    mobile = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # a digit string exactly: "138...\n" is refused, not trimmed
        max_length=11,
        validators=[django_validator(validators.validate_mobile)],
    )
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    landline = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # a digit string exactly: "138...\n" is refused, not trimmed
        max_length=30,
        validators=[django_validator(validators.validate_landline)],
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


class BranchList(ApiView):
    permission_classes = [ReadOrIngestScope]

    @extend_schema(
        responses={
            200: paginated("BranchPage", BranchSerializer),
            400: FIELD_ERRORS,
            **COMMON_ERRORS,
        },
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
        customer = customers.select_related("branch").filter(external_id=external_id[:41]).first()
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
        path_key(external_id, 40, "external_id")
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
        if not re.match(r"^[A-Za-z0-9-]{1,32}\Z", account_number):
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
