from django.core.management.base import BaseCommand, CommandError

from channels.models import Channel
from sandbox import generators
from sandbox.stores import store_for_channel


class Command(BaseCommand):
    help = "Add realistic orders to the sandbox account behind a channel, in that API's own shape."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, help="Channel name")
        parser.add_argument("--count", type=int, default=20)
        parser.add_argument("--only-valid", action="store_true", help="Only paid, unshipped, physical orders")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, channel, count, only_valid, seed, **options):
        try:
            ch = Channel.objects.get(name=channel)
        except Channel.DoesNotExist:
            raise CommandError(
                f"No channel named {channel!r}. Channels: "
                + ", ".join(Channel.objects.values_list("name", flat=True))
            ) from None
        generate = generators.get(ch.kind)
        if generate is None:
            raise CommandError(f"The sandbox cannot generate {ch.get_kind_display()} orders yet.")
        if count < 1:
            raise CommandError("--count must be at least 1")
        store = store_for_channel(ch)
        made = generate(store, count, mix=not only_valid, seed=seed)
        self.stdout.write(
            f"Added {len(made)} {ch.get_kind_display()} orders to sandbox store {store.key} "
            f"for channel {ch.name}."
        )
