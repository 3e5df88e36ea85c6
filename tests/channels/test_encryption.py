"""Credentials are encrypted at rest when FIELD_ENCRYPTION_KEY is set: the column holds a Fernet
token (never the secret), rows stored before the key was set stay readable and are encrypted on
their next save, and a wrong key is a clear configuration error, not garbage credentials."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from channels.models import Channel
from shipping.models import CarrierAccount
from tests.factories import CarrierAccountFactory, ChannelFactory

SECRET = "shpat_live_0123456789abcdef"


def raw_column(model, pk) -> str:
    table, column = model._meta.db_table, model._meta.get_field("credentials").column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)} "
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("factory", "model"), [(ChannelFactory, Channel), (CarrierAccountFactory, CarrierAccount)]
)
def test_with_a_key_the_column_holds_a_token_and_reads_back(db, settings, factory, model):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    row = factory(credentials={"access_token": SECRET})

    stored = raw_column(model, row.pk)
    assert stored.startswith("fernet:") and SECRET not in stored
    assert model.objects.get(pk=row.pk).credentials == {"access_token": SECRET}


def test_rows_stored_before_the_key_stay_readable_and_are_encrypted_on_save(db, settings):
    settings.FIELD_ENCRYPTION_KEY = ""
    channel = ChannelFactory(credentials={"access_token": SECRET})
    assert SECRET in raw_column(Channel, channel.pk)  # plain JSON without a key

    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    channel = Channel.objects.get(pk=channel.pk)
    assert channel.credentials["access_token"] == SECRET
    channel.save()
    assert raw_column(Channel, channel.pk).startswith("fernet:")


def test_a_wrong_or_missing_key_is_a_configuration_error(db, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    channel = ChannelFactory(credentials={"access_token": SECRET})

    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(ImproperlyConfigured, match="does not decrypt"):
        Channel.objects.get(pk=channel.pk)
    settings.FIELD_ENCRYPTION_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="not set"):
        Channel.objects.get(pk=channel.pk)
    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured, match="must be a Fernet key"):
        Channel.objects.get(pk=channel.pk)
