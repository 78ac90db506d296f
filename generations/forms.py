from __future__ import annotations

import unicodedata
import uuid
from typing import Any, cast

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from generations import catalog
from generations.models import MAX_BATCH
from generations.rivya import ModelInfo

MAX_SEED = 2**32 - 1
PROMPT_MAX = 5000
COUNT_WORDS = format_lazy(_("Ask for a whole number of images from 1 to {most}."), most=MAX_BATCH)


def western_digits(text: str) -> str:
    """``text`` with every decimal digit of any script (Thai digits among them) written 0 to 9,
    so a number typed on a Thai keyboard reads as the same number. Only decimal digits: '²' or
    '½' are not digits of a number, and stay as they are (to be refused)."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


class ModelSelect(forms.Select):
    """The model select; each option carries its model's cost and default aspect ratio, which
    static/js/app.js shows on the button and applies to the ratio when the member switches."""

    option_data: dict[str, dict[str, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_data = {}
        self.attrs["data-model-select"] = ""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        option["attrs"].update(self.option_data.get(str(value), {}))
        return option


def model_choice_label(model: ModelInfo) -> str:
    """ "Imagen 4 · 8 credits": the name before " · " is what app.js calls the model."""
    words = ngettext(
        "%(name)s · %(credits)d credit", "%(name)s · %(credits)d credits", model.base_credits
    )
    return words % {"name": model.display_name, "credits": model.base_credits}


class GenerateForm(forms.Form):
    """The generate form. Field names are the API's own."""

    form_token = forms.UUIDField(widget=forms.HiddenInput)
    model = forms.ChoiceField(
        label=_("Model"),
        widget=ModelSelect,
        error_messages={
            "invalid_choice": _(
                "%(value)s is not available at Rivya right now; pick another model."
            )
        },
    )
    prompt = forms.CharField(
        max_length=PROMPT_MAX,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": _("Describe the image…"),
                "data-counter": "prompt-counter",
            }
        ),
        error_messages={"required": _("Write a prompt: what should the image show?")},
    )
    aspect_ratio = forms.ChoiceField(
        label=_("Aspect ratio"), widget=forms.RadioSelect, initial="1:1"
    )
    negative_prompt = forms.CharField(
        label=_("Leave out"),
        required=False,
        max_length=PROMPT_MAX,
        widget=forms.TextInput(attrs={"placeholder": _("Things the image should not show")}),
    )
    seed = forms.CharField(
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": _("Random")}),
        help_text=_(
            "Empty for random. The same seed gives a similar image, not always the same one."
        ),
    )

    count = forms.IntegerField(
        label=_("Images"),
        required=False,  # left out or empty: one image, as before the field was there
        min_value=1,
        max_value=MAX_BATCH,
        initial=1,
        widget=forms.NumberInput(attrs={"data-count": "", "inputmode": "numeric"}),
        help_text=_("Each image is made, and charged, on its own."),
        error_messages={
            "invalid": COUNT_WORDS,
            "min_value": COUNT_WORDS,
            "max_value": COUNT_WORDS,
        },
    )

    def __init__(self, *args: Any, models: list[ModelInfo], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.models = {m.id: m for m in models}
        cast(forms.ChoiceField, self.fields["model"]).choices = [
            (m.id, model_choice_label(m)) for m in models
        ]
        cast(ModelSelect, self.fields["model"].widget).option_data = {
            m.id: {
                "data-credits": str(m.base_credits),
                "data-ratio": catalog.default_aspect_ratio(m),
            }
            for m in models
        }
        # The longest prompt any offered model takes (the browser counts and stops there; clean()
        # holds each model to its own limit).
        self.prompt_max = max((m.max_prompt_length or 0 for m in models), default=0) or PROMPT_MAX
        self.fields["prompt"].widget.attrs["maxlength"] = str(self.prompt_max)
        ratios = catalog.ASPECT_RATIOS
        cast(forms.ChoiceField, self.fields["aspect_ratio"]).choices = [(r, r) for r in ratios]
        # The member chose the ratio (a submitted form, or one filled from an earlier request):
        # picking another model keeps it (static/js/app.js); only an untouched form follows the
        # model's default ratio, and says so when it moves.
        self.ratio_chosen = self.is_bound or "aspect_ratio" in self.initial
        if not self.is_bound:
            self.initial.setdefault("form_token", uuid.uuid4())
            if catalog.DEFAULT_MODEL in self.models:
                self.initial.setdefault("model", catalog.DEFAULT_MODEL)
            elif models:
                self.initial.setdefault("model", models[0].id)
            chosen = self.models.get(self.initial.get("model", ""))
            self.initial.setdefault(
                "aspect_ratio", catalog.default_aspect_ratio(chosen) if chosen else "1:1"
            )

    def clean_count(self) -> int:
        count = self.cleaned_data["count"]
        return 1 if count is None else int(count)

    def clean_seed(self) -> int | None:
        raw = western_digits(self.cleaned_data["seed"].strip())
        if not raw:
            return None
        # isascii: '²' is a digit to isdigit() but not a number to int().
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_SEED:
            raise forms.ValidationError(
                gettext("The seed must be a whole number from 0 to %(most)d, or empty for random.")
                % {"most": MAX_SEED}
            )
        return int(raw)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        model = self.models.get(cleaned.get("model", ""))
        prompt = cleaned.get("prompt", "")
        if model and model.max_prompt_length and len(prompt) > model.max_prompt_length:
            self.add_error(
                "prompt",
                gettext("%(model)s takes at most %(most)d characters.")
                % {"model": model.display_name, "most": model.max_prompt_length},
            )
        ratio = cleaned.get("aspect_ratio")
        if model and ratio and ratio not in catalog.aspect_ratios(model):
            self.add_error(
                "aspect_ratio",
                gettext("%(model)s does not offer %(ratio)s.")
                % {"model": model.display_name, "ratio": ratio},
            )
        return cleaned

    @property
    def chosen_model(self) -> ModelInfo | None:
        return self.models.get(self.cleaned_data.get("model", ""))
