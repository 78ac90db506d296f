"""Stars: each member's own mark on any generation the team can see.

Invariant: at most one star per member and generation (the database's unique constraint says
so). Setting a star that is set, or clearing one that is clear, changes nothing, so a double
click or a replayed request leaves the star as the member last asked for it.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from generations.models import Favorite, Generation


def set_star(user: User, generation: Generation, starred: bool) -> bool:
    """Star or clear the star; the star as it now is."""
    if not starred:
        Favorite.objects.filter(user_id=user.pk, generation_id=generation.pk).delete()
        return False
    try:
        with transaction.atomic():  # a savepoint: the failed insert must not end the request's
            Favorite.objects.create(user_id=user.pk, generation_id=generation.pk)
    except IntegrityError:
        pass  # the unique pair is there already: the other click of a double click
    return True


def toggle(user: User, generation: Generation) -> bool:
    """Clear the star if there is one, else set it; the star as it now is."""
    cleared, _ = Favorite.objects.filter(user_id=user.pk, generation_id=generation.pk).delete()
    return False if cleared else set_star(user, generation, True)


def is_starred(user: User, generation: Generation) -> bool:
    return Favorite.objects.filter(user_id=user.pk, generation_id=generation.pk).exists()


def with_stars(rows: QuerySet[Generation], user: User) -> QuerySet[Generation]:
    """``rows``, each with ``starred`` (by ``user``), in the same query: what a card shows."""
    mine = Favorite.objects.filter(user_id=user.pk, generation_id=OuterRef("pk"))
    return rows.annotate(starred=Exists(mine))
