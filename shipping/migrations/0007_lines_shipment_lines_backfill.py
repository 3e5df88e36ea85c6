"""ShipmentLine rows for shipments booked before parcels carried lines: what their fulfilment
covers (orders 0006 filled every fulfilment's lines), else the order's physical lines."""

from django.db import migrations

BATCH = 2000


def fill_shipment_lines(apps, schema_editor):
    Shipment = apps.get_model("shipping", "Shipment")
    ShipmentLine = apps.get_model("shipping", "ShipmentLine")
    OrderLine = apps.get_model("orders", "OrderLine")
    Fulfilment = apps.get_model("orders", "Fulfilment")
    todo = Shipment.objects.filter(lines__isnull=True).only("id", "order_id", "fulfilment_id").order_by("id")
    batch = []
    for shipment in todo.iterator(chunk_size=BATCH):
        batch.append(shipment)
        if len(batch) >= BATCH:
            _fill(ShipmentLine, OrderLine, Fulfilment, batch)
            batch = []
    if batch:
        _fill(ShipmentLine, OrderLine, Fulfilment, batch)


def _fill(ShipmentLine, OrderLine, Fulfilment, shipments):
    by_order = {}
    for line in OrderLine.objects.filter(order_id__in={s.order_id for s in shipments}).order_by("id"):
        by_order.setdefault(line.order_id, []).append(line)
    covered = dict(Fulfilment.objects.filter(pk__in={s.fulfilment_id for s in shipments} - {None})
                   .values_list("id", "lines"))
    rows = []
    for shipment in shipments:
        lines = by_order.get(shipment.order_id, [])
        by_external = {ln.external_id: ln for ln in lines}
        wanted = covered.get(shipment.fulfilment_id) or [[ln.external_id, ln.quantity] for ln in lines
                                                         if ln.is_physical]
        seen = set()
        for external_id, quantity in wanted:
            line = by_external.get(str(external_id))
            if line is None or line.pk in seen or int(quantity) < 1:
                continue
            seen.add(line.pk)
            rows.append(ShipmentLine(shipment_id=shipment.pk, order_line_id=line.pk, quantity=int(quantity)))
    ShipmentLine.objects.bulk_create(rows)


class Migration(migrations.Migration):

    dependencies = [
        ("shipping", "0006_shipment_lines"),
        ("orders", "0006_lines_partly_shipped_and_backfill"),
    ]

    operations = [
        migrations.RunPython(fill_shipment_lines, migrations.RunPython.noop),
    ]
