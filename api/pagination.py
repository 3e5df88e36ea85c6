from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """Stable pages however many rows arrive meanwhile: the newest change first."""

    ordering = ("-updated_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
