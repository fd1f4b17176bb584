"""Runtime state and rotated secrets a full ``save()`` never writes back.

A circuit breaker's failure count, a once-per-crossing claim, a campaign's state: each is written
only by its service's conditional ``filter(...).update(...)``, which reads and changes the row in
one statement. A callback token or a signing secret is written only by its rotation. A full
``save()`` writes every field as the instance was *read*; an instance read before such a write (the
admin's change form between its read and its write, a shell, a service holding a row) writes the
old value back and undoes it: a count lost, or the secret just rotated away working again.
"""

from __future__ import annotations


class RuntimeStateMixin:
    """A model whose ``RUNTIME_STATE_FIELDS`` and ``ROTATED_SECRET_FIELDS`` are left out of every full
    save of an existing row.

    Creating a row writes them (with their defaults, or what the creator gave); afterwards only the
    services' UPDATEs and rotations, or a save naming them in ``update_fields``, change them.
    """

    RUNTIME_STATE_FIELDS: tuple[str, ...] = ()
    ROTATED_SECRET_FIELDS: tuple[str, ...] = ()

    def save(self, *args, **kwargs):
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = self.fields_a_full_save_writes()
        super().save(*args, **kwargs)

    def fields_a_full_save_writes(self) -> list[str]:
        """Every concrete field but the primary key, the runtime state, the rotated secrets and (as Django's
        own save) deferred ones."""
        skipped = {*self.RUNTIME_STATE_FIELDS, *self.ROTATED_SECRET_FIELDS, *self.get_deferred_fields()}
        return [
            field.attname
            for field in self._meta.concrete_fields
            if not field.primary_key
            and not field.generated
            and field.name not in skipped
            and field.attname not in skipped
        ]
