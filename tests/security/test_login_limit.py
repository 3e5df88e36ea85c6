"""The staff sign-in has a brute-force limit (django-axes): AXES_FAILURE_LIMIT wrong passwords
for one username from one address refuse that pair, even with the right password, until the
cool-off; other staff, and the same username from elsewhere, are not locked out."""

from django.urls import reverse

from tests.factories import UserFactory


def sign_in(client, username, password, ip="203.0.113.7"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_five_wrong_passwords_lock_that_username_from_that_address(client, db, settings):
    settings.AXES_FAILURE_LIMIT = 5
    user = UserFactory(username="ada")
    user.set_password("right-password")
    user.save()
    for _ in range(4):
        assert sign_in(client, "ada", "guess").status_code == 200  # the form again, with its error
    locked = sign_in(client, "ada", "guess")
    assert locked.status_code == 429
    assert b"too many" in locked.content.lower()
    # Locked: even the right password is refused from there …
    assert sign_in(client, "ada", "right-password").status_code == 429
    # … but not from the office's other address, and nobody else is affected.
    assert sign_in(client, "ada", "right-password", ip="198.51.100.9").status_code == 302
    other = UserFactory(username="grace")
    other.set_password("pw")
    other.save()
    assert sign_in(client.__class__(), "grace", "pw").status_code == 302


def test_a_success_forgets_earlier_failures(client, db, settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory(username="lin")
    user.set_password("pw")
    user.save()
    sign_in(client, "lin", "nope")
    sign_in(client, "lin", "nope")
    assert sign_in(client, "lin", "pw").status_code == 302
    client.logout()
    sign_in(client, "lin", "nope")
    sign_in(client, "lin", "nope")
    assert sign_in(client, "lin", "pw").status_code == 302
