# Serving a stored file looks up the generation that owns it by the file's name (audit finding 3).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0006_webhookevent_received_at"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(fields=["image"], name="generation_image_file"),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(fields=["thumbnail"], name="generation_thumbnail_file"),
        ),
        migrations.AddIndex(
            model_name="generationimage",
            index=models.Index(fields=["image"], name="generation_image_image_file"),
        ),
    ]
