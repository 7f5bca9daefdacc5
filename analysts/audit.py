"""The audit trail's one writer: explicit rows, in the caller's transaction."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from analysts.models import AuditEntry

# Never copied into the trail: a password hash is a secret even when hashed.
SECRET_FIELDS = frozenset({"password"})


def snapshot(obj: models.Model, many: dict[str, list] | None = None) -> dict:
    """The record's concrete fields (and many-to-many ids) as JSON-safe values;
    ``many`` gives the ids of many-to-many fields already known (a record just
    created with them) rather than read."""
    data = {}
    for field in obj._meta.concrete_fields:
        if field.attname in SECRET_FIELDS:
            continue
        data[field.attname] = getattr(obj, field.attname)
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            if many is not None and field.name in many:
                ids = many[field.name]
            else:
                ids = getattr(obj, field.name).values_list("pk", flat=True)
            data[field.name] = sorted(set(ids))
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def record(
    actor,
    action: str,
    obj: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEntry:
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        actor=actor if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        action=action,
        model=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:300],
        before=before,
        after=after,
        note=note,
    )


def record_refusal(actor, obj: models.Model, note: str) -> AuditEntry:
    return record(actor, AuditEntry.Action.REFUSED, obj, note=note)
