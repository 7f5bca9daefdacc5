"""The roles as groups and the model permissions each holds.

Used by the data migration that creates them and by `manage.py setup_roles`;
both are idempotent. Finer rules (four-eyes, own claims) live in the access
querysets, not here.
"""

ANALYST_MODELS = (
    "claims.claim",
    "claims.citation",
    "claims.relation",
    "claims.place",
    "claims.topic",
    "sources.source",
    "sources.document",
)
READ_MODELS = ANALYST_MODELS + ("claims.review", "sources.gradechange")

ROLE_PERMISSIONS: dict[str, set[str]] = {
    "Analyst": {f"{m}.view" for m in READ_MODELS}
    | {f"{m}.{a}" for m in ANALYST_MODELS for a in ("add", "change")},
    "Reviewer": {f"{m}.view" for m in READ_MODELS} | {"claims.review.add"},
    "Manager": {f"{m}.view" for m in READ_MODELS}
    | {
        "sources.source.change_grade",
        "sources.source.view_reliability_report",
        "sources.gradechange.add",
    },
}


def codename(spec: str) -> tuple[str, str]:
    """'claims.claim.add' -> ('claims', 'add_claim'); custom ones keep their name."""
    app_label, model, action = spec.split(".")
    if action in ("add", "change", "delete", "view"):
        return app_label, f"{action}_{model}"
    return app_label, action


def ensure_roles(apps) -> None:
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after migrations; a fresh database needs them
    # now. Historical app configs have no models module, hence the stand-in.
    for app_config in apps.get_app_configs():
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = previous or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, specs in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for spec in sorted(specs):
            app_label, code = codename(spec)
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=code)
            )
        group.permissions.set(wanted)
