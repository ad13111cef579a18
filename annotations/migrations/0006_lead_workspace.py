import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0005_task_label_state"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SeriesSelection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("study_handle", models.CharField(max_length=32)),
                ("series_handle", models.CharField(max_length=32)),
                (
                    "decision",
                    models.CharField(
                        choices=[("include", "Include"), ("exclude", "Exclude")], max_length=8
                    ),
                ),
                ("reason_code_value", models.CharField(max_length=64)),
                ("reason_coding_scheme", models.CharField(max_length=16)),
                ("reason_code_meaning", models.CharField(max_length=64)),
                (
                    "kos_state",
                    models.CharField(
                        choices=[
                            ("pending", "Not yet written at the site"),
                            ("stored", "Stored in the PACS as a KOS"),
                            ("failed", "The site could not write the KOS"),
                        ],
                        default="pending",
                        editable=False,
                        max_length=8,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="selections",
                        to="annotations.project",
                    ),
                ),
                (
                    "selected_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="selections",
                        to="annotations.site",
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [
                    models.Index(fields=["project", "decision"], name="selection_project_decision")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("project", "series_handle"),
                        name="selection_unique_series_per_project",
                    )
                ],
            },
        ),
    ]
