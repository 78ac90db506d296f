# Several images per request (issue 11): the rows of one request point at its first (see
# Generation, and docs/architecture.md). A form token is unique per member and position.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0016_team_budget_and_alerts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="generation",
            name="one_generation_per_form",
        ),
        migrations.AddField(
            model_name="generation",
            name="batch_lead",
            field=models.ForeignKey(
                blank=True,
                help_text="The first image of the request this one belongs to; empty on the first.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="batch_followers",
                to="generations.generation",
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="batch_position",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="0 for a request's first image, then 1, 2, 3 in the order asked.",
            ),
        ),
        migrations.AddConstraint(
            model_name="generation",
            constraint=models.UniqueConstraint(
                fields=("user", "form_token", "batch_position"), name="one_request_per_form"
            ),
        ),
        migrations.AddConstraint(
            model_name="generation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("batch_lead__isnull", False)),
                fields=("batch_lead", "batch_position"),
                name="one_image_per_batch_slot",
            ),
        ),
        migrations.AddConstraint(
            model_name="generation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("batch_lead__isnull", True), ("batch_position", 0)),
                    models.Q(
                        ("batch_lead__isnull", False),
                        ("batch_position__gte", 1),
                        ("batch_position__lt", 4),
                    ),
                    _connector="OR",
                ),
                name="lead_first_followers_after",
            ),
        ),
    ]
