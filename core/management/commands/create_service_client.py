"""create_service_client NAME --scopes ingest,read: prints the new key alone on its last line
(the only time it is shown; only its hash is stored)."""

from django.core.management.base import BaseCommand, CommandError

from core.api.auth import service_client_create
from core.models import ServiceClient


class Command(BaseCommand):
    help = "Creates a REST API client and prints its key once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            default="ingest,read",
            help=f"comma-separated, among: {', '.join(ServiceClient.SCOPES)}",
        )

    def handle(self, *args, name, scopes, **options):
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        if not wanted:
            raise CommandError("at least one scope is needed")
        if ServiceClient.objects.filter(name=name).exists():
            raise CommandError(f"a client named {name!r} already exists")
        try:
            client, key = service_client_create(name=name, scopes=wanted)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"client {client.name!r} created with scopes {','.join(client.scopes)}")
        self.stdout.write(key)
