from django.core.management.base import BaseCommand, CommandError

from channels.models import Channel
from orders.tasks import run_sync


class Command(BaseCommand):
    help = "Sync channels now, inline: import new orders, pull back changes, push pending shipments."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Channel names")
        parser.add_argument("--all", action="store_true", help="Every active channel")

    def handle(self, *args, names, all, **options):
        if all:
            channels = list(Channel.objects.filter(is_active=True))
        elif names:
            channels = list(Channel.objects.filter(name__in=names))
            missing = set(names) - {c.name for c in channels}
            if missing:
                raise CommandError(f"No channel named {', '.join(sorted(missing))}")
        else:
            raise CommandError("Name one or more channels, or pass --all")
        failed = 0
        for channel in channels:
            summary = run_sync(channel)
            self.stdout.write(f"{channel.name}: {summary}")
            failed += bool(summary.errors)
        if failed:
            raise CommandError(f"{failed} channel(s) reported errors")
