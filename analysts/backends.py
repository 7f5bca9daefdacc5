"""Django's model backend, reading the signed-in user of each page through SQL
compiled once (analysts/reads.py)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.db import router

from analysts import reads


def _user(pk):
    return get_user_model()._default_manager.filter(pk=pk)


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        # As objects.get(pk=user_id) prepares it.
        pk = model._meta.pk.get_prep_value(user_id)
        user = reads.instance("user", _user, pk, router.db_for_read(model))
        return user if user is not None and self.user_can_authenticate(user) else None
