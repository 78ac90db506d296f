"""The Django admin. Generations, their images and the ledger are records: read-only here. The
one thing an admin sets is a member's monthly limit; what was used, and in which period, the
ledger owns."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from generations.models import (
    Generation,
    GenerationImage,
    LedgerEntry,
    MemberBudget,
    MemberPreference,
)


class GenerationImageInline(admin.TabularInline[GenerationImage, Generation]):
    model = GenerationImage
    extra = 0
    readonly_fields = ("position", "image", "width", "height")
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class LedgerEntryInline(admin.TabularInline[LedgerEntry, Generation]):
    model = LedgerEntry
    extra = 0
    fields = readonly_fields = ("user", "phase", "kind", "credits", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin[Generation]):
    list_display = (
        "id",
        "short_prompt",
        "user",
        "model",
        "status",
        "credits_reserved",
        "credits_final",
        "created_at",
    )
    list_filter = ("status", "user", "model", "error_code")
    search_fields = ("prompt", "remote_task_id", "uuid")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Generation._meta.fields]
    inlines = [GenerationImageInline, LedgerEntryInline]
    date_hierarchy = "created_at"

    @admin.display(description="Prompt")
    def short_prompt(self, obj: Generation) -> str:
        return obj.prompt[:60]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # generations are made through the studio, never by hand


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin[LedgerEntry]):
    list_display = ("created_at", "user", "generation", "phase", "kind", "credits")
    list_filter = ("kind", "user")
    list_select_related = ("user", "generation")
    readonly_fields = ("generation", "user", "phase", "kind", "credits", "created_at")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(MemberBudget)
class MemberBudgetAdmin(admin.ModelAdmin[MemberBudget]):
    list_display = ("user", "monthly_limit", "used", "period")
    list_editable = ("monthly_limit",)
    list_select_related = ("user",)
    readonly_fields = ("used", "period")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The member is chosen once, when the budget is added.
        return ("user", *self.readonly_fields) if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: MemberBudget, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.monthly_limit is not None and obj.monthly_limit < obj.used:
            messages.warning(
                request,
                f"{obj.user} has already used {obj.used} credits this month, more than the new "
                f"limit of {obj.monthly_limit}: they cannot generate again until next month.",
            )


@admin.register(MemberPreference)
class MemberPreferenceAdmin(admin.ModelAdmin[MemberPreference]):
    """A member's language and time zone; a member sets the language with the header's switch,
    and an admin can set a time zone for a member whose browser's is not the one they want."""

    list_display = ("user", "language", "time_zone")
    list_select_related = ("user",)
