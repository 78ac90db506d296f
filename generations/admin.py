from django.contrib import admin

from generations.models import Generation, GenerationImage, LedgerEntry, MemberBudget


class GenerationImageInline(admin.TabularInline[GenerationImage, Generation]):
    model = GenerationImage
    extra = 0
    readonly_fields = ("position", "image", "width", "height")
    can_delete = False


class LedgerEntryInline(admin.TabularInline[LedgerEntry, Generation]):
    model = LedgerEntry
    extra = 0
    readonly_fields = ("phase", "kind", "credits", "created_at")
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
