"""Cost computation from usage, the shipped price table, and project model definitions."""

from __future__ import annotations

import importlib.resources
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tracemark.ingest.costs import (
    ModelPrice,
    builtin_prices,
    compute_cost,
    fill_costs,
    find_price,
    normalize_usage,
    parse_model_definition,
    usage_totals,
)
from tracemark.services.errors import Invalid

PER_M = 1e-6


def price_of(model: str) -> ModelPrice:
    price = find_price(model)
    assert price is not None, model
    return price


def builtin(name: str) -> ModelPrice:
    return next(p for p in builtin_prices() if p.model_name == name)


# --- the data file ---------------------------------------------------------------------------


def test_data_file_is_package_data_with_source_and_date() -> None:
    resource = importlib.resources.files("tracemark") / "data" / "model_prices.json"
    document = json.loads(resource.read_text("utf-8"))
    assert document["updated"] == "2026-11"
    assert document["source"]
    for entry in document["models"]:
        assert entry["unit"] == "TOKENS"
        assert entry["matchPattern"].startswith("(?i)^") and entry["matchPattern"].endswith("$")
        assert all(0 <= value < 1e-3 for value in entry["prices"].values()), entry["modelName"]
        assert isinstance(entry["inputIncludesCached"], bool)


REQUIRED_MODELS = [
    # OpenAI
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o1",
    "o1-mini",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    # Anthropic
    "claude-3-haiku",
    "claude-3-5-haiku",
    "claude-3-5-sonnet",
    "claude-3-7-sonnet",
    "claude-sonnet-4",
    "claude-opus-4",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    # Google
    "gemini-1.5-flash",
    "gemini-1.5-pro",
    "gemini-2.0-flash",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    # Mistral
    "mistral-large",
    "mistral-medium",
    "mistral-small",
    "codestral",
    "open-mistral-nemo",
]


@pytest.mark.parametrize("model", REQUIRED_MODELS)
def test_every_required_model_is_priced_under_its_own_name(model: str) -> None:
    assert price_of(model).model_name == model


def test_builtin_prices_are_loaded_once_and_returned_as_copies() -> None:
    first, second = builtin_prices(), builtin_prices()
    assert first == second and first is not second
    assert all(p.project_id is None for p in first)
    first.clear()
    assert builtin_prices()


# Names seen in the wild: (model as sent, built-in entry expected or None).
NAMES: list[tuple[str, str | None]] = [
    ("gpt-4o", "gpt-4o"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2024-11-20", "gpt-4o"),
    ("GPT-4o", "gpt-4o"),
    ("openai/gpt-4o", "gpt-4o"),
    ("azure/gpt-4o", "gpt-4o"),
    ("  gpt-4o  ", "gpt-4o"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-audio-preview", None),
    ("gpt-4o-realtime-preview-2024-10-01", None),
    ("chatgpt-4o-latest", None),
    ("gpt-4.1", "gpt-4.1"),
    ("gpt-4.1-2025-04-14", "gpt-4.1"),
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
    ("gpt-4.1-nano", "gpt-4.1-nano"),
    ("gpt-41", None),
    ("o1", "o1"),
    ("o1-2024-12-17", "o1"),
    ("o1-preview", "o1"),
    ("o1-mini-2024-09-12", "o1-mini"),
    ("o1-pro", None),
    ("o3", "o3"),
    ("o3-2025-04-16", "o3"),
    ("o3-mini-2025-01-31", "o3-mini"),
    ("o3-pro", None),
    ("o4-mini-2025-04-16", "o4-mini"),
    ("gpt-4-turbo", "gpt-4-turbo"),
    ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
    ("gpt-4-0125-preview", "gpt-4-turbo"),
    ("gpt-4", None),
    ("gpt-3.5-turbo", "gpt-3.5-turbo"),
    ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
    ("gpt-35-turbo", "gpt-3.5-turbo"),
    ("gpt-3.5-turbo-instruct", None),
    ("gpt-3.5-turbo-16k", None),
    ("text-embedding-3-small", "text-embedding-3-small"),
    ("text-embedding-3-large", "text-embedding-3-large"),
    ("text-embedding-ada-002", None),
    ("gpt-5", "gpt-5"),
    ("gpt-5-2025-08-07", "gpt-5"),
    ("gpt-5-chat-latest", "gpt-5"),
    ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ("gpt-5-nano", "gpt-5-nano"),
    ("gpt-5-pro", None),
    ("gpt-5.1", None),
    ("claude-3-haiku-20240307", "claude-3-haiku"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
    ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
    ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
    ("claude-3.5-sonnet", "claude-3-5-sonnet"),
    ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
    ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
    ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet"),
    ("claude-3-opus-20240229", None),
    ("claude-sonnet-4-20250514", "claude-sonnet-4"),
    ("claude-sonnet-4-0", "claude-sonnet-4"),
    ("claude-sonnet-4@20250514", "claude-sonnet-4"),
    ("global.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
    ("claude-opus-4-20250514", "claude-opus-4"),
    ("claude-opus-4-1-20250805", "claude-opus-4-1"),
    ("anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"),
    ("claude-opus-4-5", None),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-sonnet-4.5", "claude-sonnet-4-5"),
    ("claude-sonnet-4-6", None),
    ("gemini-1.5-flash-002", "gemini-1.5-flash"),
    ("gemini-1.5-flash-8b", None),
    ("gemini-1.5-pro-latest", "gemini-1.5-pro"),
    ("gemini-2.0-flash-001", "gemini-2.0-flash"),
    ("gemini-2.0-flash-lite", None),
    ("models/gemini-2.5-flash", "gemini-2.5-flash"),
    ("google/gemini-2.5-flash", "gemini-2.5-flash"),
    ("gemini-2.5-flash-lite", None),
    ("gemini-2.5-pro", "gemini-2.5-pro"),
    ("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro"),
    ("gemini-3-pro-preview", None),
    ("mistral-large-latest", "mistral-large"),
    ("mistral-large-2512", "mistral-large"),
    ("mistral-large-2411", "mistral-large-2411"),
    ("mistral-medium-latest", "mistral-medium"),
    ("mistral-medium-2508", "mistral-medium-2508"),
    ("mistral-small-latest", "mistral-small"),
    ("mistral-small-2506", "mistral-small"),
    ("mistral/codestral-latest", "codestral"),
    ("codestral-2508", "codestral"),
    ("open-mistral-nemo", "open-mistral-nemo"),
    ("mistral-nemo", "open-mistral-nemo"),
    ("pixtral-large-latest", None),
    ("my-finetune", None),
    ("xgpt-4o", None),
    ("gpt-4o-extra", None),
]


@pytest.mark.parametrize(("model", "expected"), NAMES)
def test_model_names_resolve_to_the_right_entry(model: str, expected: str | None) -> None:
    price = find_price(model)
    assert (price.model_name if price else None) == expected


@pytest.mark.parametrize("model", [name for name, _ in NAMES] + REQUIRED_MODELS)
def test_builtin_patterns_do_not_overlap(model: str) -> None:
    matching = [p.model_name for p in builtin_prices() if p.matches(model.strip())]
    assert len(matching) <= 1, (model, matching)


def test_specific_models_are_not_priced_as_the_general_one() -> None:
    general, specific = price_of("gpt-4o"), price_of("gpt-4o-mini")
    assert specific.model_name == "gpt-4o-mini"
    assert specific.prices["input"] == pytest.approx(0.15 * PER_M)
    assert general.prices["input"] == pytest.approx(2.50 * PER_M)
    assert not re.search(general.match_pattern, "gpt-4o-mini")
    assert price_of("claude-opus-4-1").model_name == "claude-opus-4-1"
    assert price_of("claude-sonnet-4-5").model_name == "claude-sonnet-4-5"
    assert price_of("o3-mini").model_name == "o3-mini"
    assert price_of("gpt-5-nano").model_name == "gpt-5-nano"


# --- compute_cost ----------------------------------------------------------------------------


def test_gpt_4o_generation_costs_exactly_input_plus_output() -> None:
    price = price_of("gpt-4o")
    cost = compute_cost({"input": 100, "output": 20, "total": 120}, price)
    expected_in = 100 * price.prices["input"]
    expected_out = 20 * price.prices["output"]
    assert cost == {
        "input": expected_in,
        "output": expected_out,
        "total": expected_in + expected_out,
    }
    assert cost["total"] == pytest.approx(100 * 2.5e-6 + 20 * 10e-6)


def test_dated_prefixed_and_uppercase_names_cost_the_same() -> None:
    usage = {"input": 1000, "output": 500}
    reference = compute_cost(usage, price_of("gpt-4o"))
    for name in ("gpt-4o-2024-08-06", "openai/gpt-4o", "GPT-4O"):
        assert fill_costs(name, usage, None) == reference


def test_openai_cached_tokens_are_part_of_input() -> None:
    price = price_of("gpt-4o-mini")
    cost = compute_cost({"input": 1000, "input_cached_tokens": 400, "output": 10}, price)
    assert cost is not None
    assert cost["input"] == pytest.approx(600 * 0.15 * PER_M)
    assert cost["input_cached_tokens"] == pytest.approx(400 * 0.075 * PER_M)
    assert cost["output"] == pytest.approx(10 * 0.60 * PER_M)
    assert cost["total"] == pytest.approx(cost["input"] + cost["input_cached_tokens"] + 6e-6)


def test_cached_tokens_without_a_cached_price_are_charged_as_input() -> None:
    price = price_of("gpt-4-turbo")
    cost = compute_cost({"input": 1000, "input_cached_tokens": 400, "output": 0}, price)
    assert cost == {"input": 1000 * 10 * PER_M, "output": 0.0, "total": 1000 * 10 * PER_M}


def test_claude_cache_reads_and_writes_are_charged_on_top_of_input() -> None:
    price = price_of("claude-3-5-sonnet-20241022")
    assert price.input_includes_cached is False
    usage = {
        "input": 50,
        "output": 200,
        "input_cached_tokens": 10_000,
        "input_cache_creation_tokens": 2_000,
    }
    cost = compute_cost(usage, price)
    assert cost is not None
    assert cost["input"] == pytest.approx(50 * 3 * PER_M)
    assert cost["input_cached_tokens"] == pytest.approx(10_000 * 0.30 * PER_M)
    assert cost["input_cache_creation_tokens"] == pytest.approx(2_000 * 3.75 * PER_M)
    assert cost["output"] == pytest.approx(200 * 15 * PER_M)
    assert cost["total"] == pytest.approx(
        (50 * 3 + 10_000 * 0.30 + 2_000 * 3.75 + 200 * 15) * PER_M
    )


def test_anthropic_raw_usage_keys_are_understood() -> None:
    usage = {
        "input_tokens": 50,
        "output_tokens": 200,
        "cache_read_input_tokens": 10_000,
        "cache_creation_input_tokens": 2_000,
    }
    price = price_of("claude-sonnet-4-5")
    canonical = {
        "input": 50,
        "output": 200,
        "input_cached_tokens": 10_000,
        "input_cache_creation_tokens": 2_000,
    }
    assert compute_cost(usage, price) == compute_cost(canonical, price)


def test_anthropic_style_cache_reads_without_a_price_fall_back_to_input() -> None:
    price = ModelPrice("m", "^m$", {"input": 1.0, "output": 2.0}, input_includes_cached=False)
    cost = compute_cost({"input": 5, "input_cached_tokens": 10, "output": 1}, price)
    assert cost == {"input": 15.0, "output": 2.0, "total": 17.0}


def test_inconsistent_cached_count_never_makes_input_negative() -> None:
    price = price_of("gpt-4o")
    cost = compute_cost({"input": 10, "input_cached_tokens": 40}, price)
    assert cost is not None
    assert cost["input"] == 0.0
    assert cost["input_cached_tokens"] == pytest.approx(40 * 1.25 * PER_M)


def test_reasoning_tokens_are_part_of_output_unless_priced() -> None:
    o3 = price_of("o3")
    plain = compute_cost({"input": 10, "output": 100}, o3)
    assert compute_cost({"input": 10, "output": 100, "output_reasoning_tokens": 80}, o3) == plain
    custom = ModelPrice("r", "^r$", {"output": 1.0, "output_reasoning_tokens": 0.5})
    cost = compute_cost({"output": 100, "output_reasoning_tokens": 80}, custom)
    assert cost == {"output_reasoning_tokens": 40.0, "output": 20.0, "total": 60.0}


def test_other_usage_keys_are_charged_when_priced() -> None:
    price = ModelPrice("a", "^a$", {"input": 1.0, "input_audio_tokens": 3.0})
    cost = compute_cost({"input": 2, "input_audio_tokens": 1, "images": 4}, price)
    assert cost == {"input": 2.0, "input_audio_tokens": 3.0, "total": 5.0}


def test_total_price_applies_to_total_tokens_only_without_input_output_prices() -> None:
    flat = ModelPrice("t", "^t$", {"total": 0.5})
    assert compute_cost({"input": 3, "output": 1}, flat) == {"total": 2.0}
    assert compute_cost({"total": 10}, flat) == {"total": 5.0}
    assert compute_cost({}, flat) is None


def test_embedding_usage_is_priced_on_input() -> None:
    cost = fill_costs("text-embedding-3-small", {"input": 1000, "total": 1000}, None)
    assert cost == pytest.approx({"input": 1000 * 0.02 * PER_M, "total": 2e-5})


def test_nothing_priced_gives_none() -> None:
    price = price_of("gpt-4o")
    assert compute_cost(None, price) is None
    assert compute_cost({}, price) is None
    assert compute_cost({"total": 120}, price) is None
    assert compute_cost({"input": "a lot", "output": -1, "x": True}, price) is None


def test_zero_usage_is_priced_at_zero() -> None:
    assert compute_cost({"input": 0, "output": 0}, price_of("gpt-4o")) == {
        "input": 0.0,
        "output": 0.0,
        "total": 0.0,
    }


# --- fill_costs ------------------------------------------------------------------------------


def test_unknown_or_missing_model_gives_none() -> None:
    assert fill_costs("my-private-llm", {"input": 100, "output": 20}, None) is None
    assert fill_costs(None, {"input": 100, "output": 20}, None) is None
    assert fill_costs("", {"input": 100, "output": 20}, None) is None
    assert find_price("   ") is None


def test_no_usage_gives_none() -> None:
    assert fill_costs("gpt-4o", None, None) is None
    assert fill_costs("gpt-4o", {}, {}) is None


def test_provided_costs_win_and_total_is_added() -> None:
    provided = {"input": 0.001, "output": 0.002}
    cost = fill_costs("gpt-4o", {"input": 100, "output": 20}, provided)
    assert cost == pytest.approx({"input": 0.001, "output": 0.002, "total": 0.003})
    assert provided == {"input": 0.001, "output": 0.002}  # not mutated


def test_provided_total_is_kept_as_sent() -> None:
    provided = {"input": 0.001, "total": 0.5}
    assert fill_costs("gpt-4o", {"input": 100}, provided) == provided
    assert fill_costs(None, None, {"total": 0.25}) == {"total": 0.25}


def test_computed_cost_when_client_sent_none() -> None:
    cost = fill_costs("gpt-4o", {"input": 100, "output": 20}, None)
    assert cost is not None
    assert cost["total"] == pytest.approx(100 * 2.5 * PER_M + 20 * 10 * PER_M)


# --- project prices --------------------------------------------------------------------------


def project_price(input_price: float, **extra: Any) -> ModelPrice:
    body = {"modelName": "gpt-4o", "matchPattern": r"(?i)^gpt-4o$", "inputPrice": input_price}
    return parse_model_definition({**body, **extra}, project_id="p1")


def test_project_override_beats_builtin() -> None:
    override = project_price(1e-6, outputPrice=2e-6)
    assert find_price("gpt-4o", [override]) is override
    assert fill_costs("gpt-4o", {"input": 100, "output": 20}, None, [override]) == pytest.approx(
        {
            "input": 1e-4,
            "output": 4e-5,
            "total": 1.4e-4,
        }
    )
    # Names the override does not match keep the built-in price.
    assert find_price("gpt-4o-2024-08-06", [override]) == builtin("gpt-4o")


def test_later_project_definition_wins() -> None:
    first, second = project_price(1e-6), project_price(2e-6)
    assert find_price("gpt-4o", [first, second]) is second
    assert find_price("gpt-4o", [second, first]) is first


def test_project_price_for_a_model_not_in_the_table() -> None:
    mine = parse_model_definition(
        {"modelName": "my-llm", "matchPattern": "^my-llm(-v\\d+)?$", "prices": {"input": 1e-6}}
    )
    assert fill_costs("my-llm-v2", {"input": 1000}, None, [mine]) == pytest.approx(
        {
            "input": 1e-3,
            "total": 1e-3,
        }
    )


def test_project_price_with_start_date_applies_from_that_date() -> None:
    base = project_price(1e-6)
    dated = project_price(5e-6, startDate="2026-06-01T00:00:00Z")
    before = datetime(2026, 5, 1, tzinfo=UTC)
    after = datetime(2026, 7, 1, tzinfo=UTC)
    assert find_price("gpt-4o", [base, dated], at=before) is base
    assert find_price("gpt-4o", [base, dated], at=after) is dated
    # A dated price beats an undated one even when defined earlier.
    assert find_price("gpt-4o", [dated, base], at=after) is dated
    assert find_price("gpt-4o", [dated], at=before) == builtin("gpt-4o")
    assert fill_costs("gpt-4o", {"input": 10}, None, [base, dated], at=after) == pytest.approx(
        {
            "input": 5e-5,
            "total": 5e-5,
        }
    )


# --- parse_model_definition ------------------------------------------------------------------


def test_model_definition_is_parsed() -> None:
    price = parse_model_definition(
        {
            "modelName": " my-llm ",
            "matchPattern": "(?i)^my-llm$",
            "inputPrice": 1e-6,
            "outputPrice": 2,
            "prices": {"input_cache_read": 1e-7, "input_cache_creation": 0},
            "unit": "tokens",
            "startDate": "2026-01-02",
            "inputIncludesCached": False,
        },
        project_id="p1",
    )
    assert price == ModelPrice(
        model_name="my-llm",
        match_pattern="(?i)^my-llm$",
        prices={
            "input_cached_tokens": 1e-7,
            "input_cache_creation_tokens": 0.0,
            "input": 1e-6,
            "output": 2.0,
        },
        project_id="p1",
        input_includes_cached=False,
        unit="TOKENS",
        start_date=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_minimal_model_definition_defaults() -> None:
    price = parse_model_definition({"modelName": "m", "matchPattern": "m", "totalPrice": None})
    assert price.prices == {}
    assert price.unit == "TOKENS"
    assert price.input_includes_cached is True
    assert price.project_id is None and price.start_date is None
    assert compute_cost({"input": 1}, price) is None


BAD_DEFINITIONS: list[tuple[Any, str]] = [
    ([], "body"),
    ({"matchPattern": "x"}, "modelName"),
    ({"modelName": "", "matchPattern": "x"}, "modelName"),
    ({"modelName": "   ", "matchPattern": "x"}, "modelName"),
    ({"modelName": 5, "matchPattern": "x"}, "modelName"),
    ({"modelName": "m" * 256, "matchPattern": "x"}, "modelName"),
    ({"modelName": "m"}, "matchPattern"),
    ({"modelName": "m", "matchPattern": ""}, "matchPattern"),
    ({"modelName": "m", "matchPattern": "(unclosed"}, "matchPattern"),
    ({"modelName": "m", "matchPattern": "*x"}, "matchPattern"),
    ({"modelName": "m", "matchPattern": "a" * 501}, "matchPattern"),
    ({"modelName": "m", "matchPattern": "x", "inputPrice": -1}, "inputPrice"),
    ({"modelName": "m", "matchPattern": "x", "outputPrice": "0.1"}, "outputPrice"),
    ({"modelName": "m", "matchPattern": "x", "totalPrice": True}, "totalPrice"),
    ({"modelName": "m", "matchPattern": "x", "inputPrice": float("nan")}, "inputPrice"),
    ({"modelName": "m", "matchPattern": "x", "prices": [1]}, "prices"),
    ({"modelName": "m", "matchPattern": "x", "prices": {"input": -0.5}}, "prices.input"),
    ({"modelName": "m", "matchPattern": "x", "prices": {"input": None}}, "prices.input"),
    ({"modelName": "m", "matchPattern": "x", "prices": {"": 1}}, "prices"),
    (
        {"modelName": "m", "matchPattern": "x", "prices": {"input": 1}, "inputPrice": 2},
        "inputPrice",
    ),
    ({"modelName": "m", "matchPattern": "x", "unit": "BYTES"}, "unit"),
    ({"modelName": "m", "matchPattern": "x", "startDate": "yesterday"}, "startDate"),
    ({"modelName": "m", "matchPattern": "x", "startDate": 20260101}, "startDate"),
    ({"modelName": "m", "matchPattern": "x", "inputIncludesCached": "no"}, "inputIncludesCached"),
    ({"modelName": "m", "matchPattern": "x", "pricingTiers": []}, "pricingTiers"),
]


@pytest.mark.parametrize(("body", "field"), BAD_DEFINITIONS)
def test_bad_model_definitions_are_rejected_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_model_definition(body)
    assert field in caught.value.message
    assert caught.value.status == 400


def test_a_500_character_pattern_is_accepted() -> None:
    pattern = "^" + "a" * 498 + "$"
    assert parse_model_definition({"modelName": "m", "matchPattern": pattern}).match_pattern


# --- usage -----------------------------------------------------------------------------------


def test_usage_totals() -> None:
    assert usage_totals({"input": 100, "output": 20, "total": 130}) == (100, 20, 130)
    assert usage_totals({"input": 100, "output": 20}) == (100, 20, 120)
    assert usage_totals({"input": 100}) == (100, None, 100)
    assert usage_totals({"output": 7.0}) == (None, 7, 7)
    assert usage_totals({"total": 55}) == (None, None, 55)
    assert usage_totals({"prompt_tokens": 3, "completion_tokens": 4}) == (3, 4, 7)
    assert usage_totals({"input_cached_tokens": 5}) == (None, None, None)
    assert usage_totals({}) == (None, None, None)
    assert usage_totals(None) == (None, None, None)


def test_normalize_usage_maps_aliases_and_drops_junk() -> None:
    usage = {
        "prompt_tokens": 5,
        "input": 7,
        "cache_read_input_tokens": 2,
        "reasoning_tokens": 1,
        "input_audio_tokens": 3,
        "bad": "x",
        "negative": -1,
        "flag": True,
    }
    assert normalize_usage(usage) == {
        "input": 7,
        "input_cached_tokens": 2,
        "output_reasoning_tokens": 1,
        "input_audio_tokens": 3,
    }
