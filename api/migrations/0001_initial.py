# The api app's first migration: empty, so that the API keys and the webhook tables can each
# arrive as a migration of their own.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = []
