"""Prints the current TOTP code of a demo user's device (demo data only: the secret is
public in the README, so this refuses users whose device is not the demo one)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current second-factor code of a demo supervisor or administrator."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        device = TOTPDevice.objects.filter(user=user, confirmed=True, name="demo").first()
        if device is None:
            raise CommandError(f"{username} has no demo TOTP device")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
