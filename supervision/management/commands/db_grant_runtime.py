"""Grant the runtime database role what the product needs and nothing more (DML on the
tables, the sequences, the retention entry point). Run as the owner role, after migrate:

    DATABASE_URL=$DATABASE_MIGRATE_URL manage.py db_grant_runtime callback_app
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from supervision.db_roles import runtime_grants_sql


class Command(BaseCommand):
    help = "Grant the runtime role DML only (PostgreSQL; run as the tables' owner)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the runtime role: the user of DATABASE_URL")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Only PostgreSQL has separate owner and runtime roles.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            if cursor.fetchone()[0] == role:
                raise CommandError("Run this as the owner role, not as the runtime role itself.")
            for statement in runtime_grants_sql(role):
                cursor.execute(statement)
        self.stdout.write(f"{role}: DML on the tables, no ownership, no retention token.")
