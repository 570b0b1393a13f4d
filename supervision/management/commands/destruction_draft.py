from django.core.management.base import BaseCommand

from supervision.retention import destruction_list_draft


class Command(BaseCommand):
    help = "Draws up the destruction list of what is past its retention period."

    def handle(self, *args, **options):
        created = destruction_list_draft()
        if created is None:
            self.stdout.write("nothing is due for destruction")
        else:
            self.stdout.write(f"destruction list #{created.pk}: {created.item_count} items")
