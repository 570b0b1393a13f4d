"""The second factor (TOTP, django-otp) for supervisors and the administrators."""

import base64
import binascii

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from accounts.permissions import has_role

SECOND_FACTOR_ROLES = (Role.SUPERVISOR, Role.ADMINISTRATOR, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)


def second_factor_required(user) -> bool:
    return bool(settings.CALLBACK.get("REQUIRE_2FA", True)) and (
        has_role(user, *SECOND_FACTOR_ROLES) or getattr(user, "is_superuser", False)
    )


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being set up (created on first use; the secret is shown once)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return device


def secret_base32(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def confirm_device(device: TOTPDevice, token: str) -> bool:
    if not device.verify_token((token or "").strip()):
        return False
    TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


def demo_device(user, secret: str) -> TOTPDevice:
    """A confirmed device with a known base32 secret, for the demo data (seed_demo prints it)."""
    padded = secret.upper() + "=" * (-len(secret) % 8)
    try:
        key = base64.b32decode(padded)
    except binascii.Error as exc:
        raise ValueError("secret must be base32") from exc
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(
        user=user, name="demo", key=binascii.hexlify(key).decode(), confirmed=True
    )
