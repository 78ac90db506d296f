# Beat deletes webhook ids older than a day by their time of receipt (audit finding 9).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0005_ledger_entries_plural"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="webhookevent",
            index=models.Index(fields=["received_at"], name="webhook_event_received"),
        ),
    ]
