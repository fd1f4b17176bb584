from django.core.management.base import BaseCommand

from vendors.capabilities import capability_markdown


class Command(BaseCommand):
    help = "Print the vendor capability table (Markdown) for the README."

    def handle(self, *args, **options):
        self.stdout.write(capability_markdown())
