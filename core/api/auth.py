"""``Authorization: Token <key>`` for service clients. Keys are stored as SHA-256 hashes;
the first characters (the prefix) find the row, the hash comparison is constant-time."""

import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core.audit import audit
from core.audit_actions import AuditAction
from core.models import ServiceClient

PREFIX_LEN = 8


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


def service_client_create(
    *, name: str, scopes: list[str], request=None
) -> tuple[ServiceClient, str]:
    """A new client and its key (returned once, stored hashed); audit-logged."""
    unknown = set(scopes) - set(ServiceClient.SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    while True:
        key = new_key()
        if not ServiceClient.objects.filter(key_prefix=key[:PREFIX_LEN]).exists():
            break
    with transaction.atomic():
        client = ServiceClient.objects.create(
            name=name, key_prefix=key[:PREFIX_LEN], key_hash=hash_key(key), scopes=sorted(scopes)
        )
        audit(
            AuditAction.SERVICE_CLIENT_CREATE,
            obj=client,
            after={"name": name, "scopes": client.scopes},
            request=request,
        )
    return client, key


def service_client_revoke(*, client: ServiceClient, request=None) -> None:
    with transaction.atomic():
        client.is_active = False
        client.revoked_at = timezone.now()
        client.save(update_fields=["is_active", "revoked_at"])
        audit(
            AuditAction.SERVICE_CLIENT_REVOKE,
            obj=client,
            after={"name": client.name},
            request=request,
        )


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Token 格式错误。"))
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Token 格式错误。")) from exc
        if not key.isascii() or not key.isprintable():
            raise exceptions.AuthenticationFailed(_("Token 格式错误。"))
        client = ServiceClient.objects.filter(key_prefix=key[:PREFIX_LEN]).first()
        if client is None or not hmac.compare_digest(client.key_hash, hash_key(key)):
            raise exceptions.AuthenticationFailed(_("无效的 Token。"))
        if not client.is_active:
            raise exceptions.AuthenticationFailed(_("Token 已吊销。"))
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ServiceClient.objects.filter(pk=client.pk).update(last_used_at=now)
        request._request.service_client = client
        return client, key

    def authenticate_header(self, request):
        return self.keyword


class ServiceKeyScheme(OpenApiAuthenticationExtension):
    """How drf-spectacular documents ``Authorization: Token <key>``."""

    target_class = "core.api.auth.ServiceKeyAuthentication"
    name = "ServiceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token <key>",
        }
