from django.core.management.base import BaseCommand, CommandError

from orders.models import Order
from orders.services import BOOKABLE
from shipping.booking import BookingError, book_shipment
from shipping.models import CarrierAccount


class Command(BaseCommand):
    help = (
        "Book shipments for orders awaiting shipment or partly shipped, by order number or for a whole channel. "
        "Each parcel holds the lines Shipdesk ships itself (not a supplier's, not those already in a parcel)."
    )

    def add_arguments(self, parser):
        parser.add_argument("order_numbers", nargs="*")
        parser.add_argument("--channel", help="Channel name (with --all)")
        parser.add_argument("--all", action="store_true", help="Every order awaiting shipment on --channel")
        parser.add_argument("--carrier", help="Carrier kind or account name (default: the default account)")
        parser.add_argument(
            "--note",
            default=None,
            help="Note to the buyer for every parcel (default: each channel's default note)",
        )

    def handle(self, *args, order_numbers, channel, all, carrier, note=None, **options):
        orders = Order.objects.filter(status__in=BOOKABLE).select_related("channel")
        if all:
            if not channel:
                raise CommandError("--all needs --channel NAME")
            orders = orders.filter(channel__name=channel)
        elif order_numbers:
            from orders.normalise import order_number

            orders = orders.filter(order_number_norm__in=[order_number(n) for n in order_numbers])
            if channel:
                orders = orders.filter(channel__name=channel)
        else:
            raise CommandError("Give order numbers, or --channel NAME --all")
        account = None
        if carrier:
            account = (
                CarrierAccount.objects.filter(name=carrier).first()
                or CarrierAccount.objects.filter(kind=carrier, is_active=True).order_by("-is_default").first()
            )
            if account is None:
                raise CommandError(f"No carrier account named or of kind {carrier!r}")
        booked, failed = 0, 0
        for order in orders:
            try:
                shipment = book_shipment(order=order, carrier_account=account, note=note)
            except BookingError as exc:
                failed += 1
                self.stderr.write(f"{order}: {exc}")
            else:
                booked += 1
                self.stdout.write(f"{order}: {shipment.tracking_number} ({shipment.carrier_account})")
        self.stdout.write(f"Booked {booked}, failed {failed}.")
