"""revoke_service_client NAME: the client's key stops working at once."""

from django.core.management.base import BaseCommand, CommandError

from core.api.auth import service_client_revoke
from core.models import ServiceClient


class Command(BaseCommand):
    help = "Revokes a REST API client's key."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        client = ServiceClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"no client named {name!r}")
        if not client.is_active:
            self.stdout.write(f"{name} was already revoked")
            return
        service_client_revoke(client=client)
        self.stdout.write(f"{name} revoked")
