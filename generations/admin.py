"""The Django admin. Generations, their images, the ledger and the alerts sent are records:
read-only here. What an admin sets is a member's monthly limit and the team's monthly cap (one
row, beside the members' budgets); what was used, and in which period, the ledger owns."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from generations import errors
from generations.credits import team_budget
from generations.models import (
    AlertSent,
    Generation,
    GenerationImage,
    LedgerEntry,
    MemberBudget,
    MemberPreference,
    MonthlyBudget,
    TeamBudget,
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


# Generation's fields that hold a stored sentence, and the GenerationAdmin method showing each.
STORED_WORDS = {
    "status_note": "status_note_words",
    "error_message": "error_message_words",
    "admin_message": "admin_message_words",
}


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
    # Every field, as a record; the stored sentences (English, whatever the site speaks) are
    # shown in the reader's language, as the studio's pages show them.
    readonly_fields = tuple(STORED_WORDS.get(f.name, f.name) for f in Generation._meta.fields)
    fields = readonly_fields
    inlines = [GenerationImageInline, LedgerEntryInline]
    date_hierarchy = "created_at"

    @admin.display(description=_("Prompt"))
    def short_prompt(self, obj: Generation) -> str:
        return obj.prompt[:60]

    @admin.display(description=_("status note"))
    def status_note_words(self, obj: Generation) -> str:
        return errors.member_words("", obj.status_note)

    @admin.display(description=_("error message"))
    def error_message_words(self, obj: Generation) -> str:
        return errors.member_words(obj.error_code, obj.error_message)

    @admin.display(description=_("admin message"))
    def admin_message_words(self, obj: Generation) -> str:
        return errors.stored_admin_words(obj.error_code, obj.admin_message)

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


def warn_if_used_up(request: HttpRequest, budget: MonthlyBudget, member: object = None) -> None:
    """Say so when the limit just set is below what was already used this month: ``member``'s
    budget, or the team's when no member is given."""
    if budget.monthly_limit is None or budget.monthly_limit >= budget.used:
        return
    if member is None:
        text = ngettext(
            "The team has already used %(used)d credit this month, more than the new limit of "
            "%(limit)d: no more generations until next month.",
            "The team has already used %(used)d credits this month, more than the new limit of "
            "%(limit)d: no more generations until next month.",
            budget.used,
        )
    else:
        text = ngettext(
            "%(member)s has already used %(used)d credit this month, more than the new limit "
            "of %(limit)d: no more generations until next month.",
            "%(member)s has already used %(used)d credits this month, more than the new limit "
            "of %(limit)d: no more generations until next month.",
            budget.used,
        )
    messages.warning(
        request, text % {"member": member, "used": budget.used, "limit": budget.monthly_limit}
    )


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
        warn_if_used_up(request, obj, obj.user)


@admin.register(TeamBudget)
class TeamBudgetAdmin(admin.ModelAdmin[TeamBudget]):
    """The one row of the team's cap; it exists from the first look (``credits.team_budget``)."""

    list_display = ("__str__", "monthly_limit", "used", "period")
    list_editable = ("monthly_limit",)
    readonly_fields = ("used", "period")

    def get_queryset(self, request: HttpRequest) -> Any:
        team_budget()  # the row, in this month: the list always has the one to edit
        return super().get_queryset(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: TeamBudget, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warn_if_used_up(request, obj)


@admin.register(AlertSent)
class AlertSentAdmin(admin.ModelAdmin[AlertSent]):
    """Which alerts went to the admins; one claimed and not sent yet has no "sent at"."""

    list_display = ("claimed_at", "kind", "subject", "period", "threshold", "sent_at")
    list_filter = ("kind", "period")
    readonly_fields = ("kind", "subject", "period", "threshold", "claimed_at", "sent_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MemberPreference)
class MemberPreferenceAdmin(admin.ModelAdmin[MemberPreference]):
    """A member's language and time zone; a member sets the language with the header's switch,
    and an admin can set a time zone for a member whose browser's is not the one they want."""

    list_display = ("user", "language", "time_zone")
    list_select_related = ("user",)
