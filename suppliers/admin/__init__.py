"""The dropshipping admin: one module per page group."""

from suppliers.admin import catalogue, order_page, purchasing  # noqa: F401  (registers the admins)
