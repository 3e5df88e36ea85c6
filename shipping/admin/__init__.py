"""The shipping desk in the admin, one module per screen family. Importing this package
registers every model and extends the order page (shipping.admin.orders)."""

from shipping.admin import orders  # noqa: F401,I001 - extends OrderAdmin
from shipping.admin.carriers import AddressAdmin, BrandAdmin, CarrierAccountAdmin, PackageAdmin
from shipping.admin.emails import EmailTemplateAdmin
from shipping.admin.jobs import BulkJobAdmin
from shipping.admin.products import ProductAdmin
from shipping.admin.rules import ShippingMappingAdmin, ShippingRuleAdmin
from shipping.admin.shipments import BookForm, ShipmentAdmin, ShipmentInline, label_link, tracking_link

__all__ = [
    "AddressAdmin",
    "BookForm",
    "BrandAdmin",
    "BulkJobAdmin",
    "CarrierAccountAdmin",
    "EmailTemplateAdmin",
    "PackageAdmin",
    "ProductAdmin",
    "ShipmentAdmin",
    "ShipmentInline",
    "ShippingMappingAdmin",
    "ShippingRuleAdmin",
    "label_link",
    "tracking_link",
]
