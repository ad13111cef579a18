from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotations", "0004_gateway_link_and_health")]

    operations = [
        migrations.AddField(
            model_name="task",
            name="label_revision",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="task",
            name="label_state",
            field=models.CharField(blank=True, max_length=16),
        ),
    ]
