"""django-q2 entry points: look up the return, call the service."""

from returns import emails, services
from returns.models import ReturnRequest


def book_label(return_id: int) -> str:
    ret = services.book_return_label(ReturnRequest.objects.get(pk=return_id))
    return ret.status


def send_email(return_id: int, kind: str) -> bool:
    return emails.send(return_id, kind)
