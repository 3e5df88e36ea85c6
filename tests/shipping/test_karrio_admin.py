"""Staff add a direct carrier account in the admin: the carrier from the installed Karrio
extensions, its own credential fields (write-only), test/live mode, base URL, label format."""

from django.db import connection
from django.urls import reverse

from shipping.models import CarrierAccount
from tests.admin_forms import change_form_data
from tests.shipping.factories import KarrioAccountFactory


def test_the_add_form_offers_the_installed_carriers_and_their_own_credential_fields(staff_client):
    page = staff_client.get(reverse("admin:shipping_carrieraccount_add"))

    form = page.context["adminform"].form
    assert {"ups", "mydhl", "canadapost"} <= {c for c, _ in form.fields["karrio_carrier"].choices}
    html = page.content.decode()
    assert 'name="karrio__ups__client_secret"' in html and 'type="password"' in html
    assert 'name="karrio__mydhl__username"' in html and 'name="karrio__canadapost__customer_number"' in html
    assert "karrio-credentials-ups" in html and "shipping/karrio_account.js" in html


def test_staff_add_a_ups_account_whose_secret_is_stored_encrypted_and_never_shown(staff_client, settings):
    page = staff_client.get(reverse("admin:shipping_carrieraccount_add"))
    data = change_form_data(page)
    data.update(
        {
            "name": "UPS (own account)",
            "kind": "karrio",
            "karrio_carrier": "ups",
            "test_mode": "on",
            "label_format": "zpl",
            "api_base_url": "http://localhost:8000/sandbox/ups",
            "karrio__ups__client_id": "my-client",
            "karrio__ups__client_secret": "very-secret-value",
            "karrio__ups__account_number": "A1B2C3",
            "prefix": "SD",
        }
    )

    response = staff_client.post(reverse("admin:shipping_carrieraccount_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    account = CarrierAccount.objects.get(name="UPS (own account)")
    assert account.credentials == {
        "client_id": "my-client",
        "client_secret": "very-secret-value",
        "account_number": "A1B2C3",
    }
    assert (account.kind, account.karrio_carrier, account.label_format, account.test_mode) == (
        "karrio",
        "ups",
        "zpl",
        True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM shipping_carrieraccount WHERE id = %s", [account.pk])
        raw = cursor.fetchone()[0]
    if settings.FIELD_ENCRYPTION_KEY:
        assert "very-secret-value" not in str(raw)
    change = staff_client.get(reverse("admin:shipping_carrieraccount_change", args=[account.pk]))
    assert "very-secret-value" not in change.content.decode()
    assert "client_secret" in change.content.decode()  # which keys are set, not their values


def test_a_missing_required_credential_is_named_and_nothing_is_saved(staff_client):
    page = staff_client.get(reverse("admin:shipping_carrieraccount_add"))
    data = change_form_data(page)
    data.update(
        {
            "name": "DHL",
            "kind": "karrio",
            "karrio_carrier": "mydhl",
            "karrio__mydhl__username": "key",
            "prefix": "SD",
        }
    )

    response = staff_client.post(reverse("admin:shipping_carrieraccount_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["karrio__mydhl__password"] == ["This carrier needs it."]
    assert not CarrierAccount.objects.filter(name="DHL").exists()


def test_an_empty_secret_on_the_change_form_keeps_the_stored_one(staff_client):
    account = KarrioAccountFactory()
    stored = dict(account.credentials)
    page = staff_client.get(reverse("admin:shipping_carrieraccount_change", args=[account.pk]))
    data = change_form_data(page)
    data["karrio__ups__account_number"] = "Z9Z9Z9"

    response = staff_client.post(reverse("admin:shipping_carrieraccount_change", args=[account.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.credentials == {**stored, "account_number": "Z9Z9Z9"}
