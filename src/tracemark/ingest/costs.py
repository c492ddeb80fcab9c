"""Generation costs computed from token usage and a model price table.

When a client reports usage but no cost, the cost is derived from a price: the project's own
model definitions first, then the built-in table shipped in `tracemark/data/model_prices.json`.
Costs the client sent always win.

Prices are USD per unit (per token for unit TOKENS), keyed by usage key. The usage keys this
module understands (after `normalize_usage` has mapped common aliases onto them):

- ``input``: prompt tokens; ``output``: completion tokens (reasoning included); ``total``;
- ``input_cached_tokens``: cache reads; ``input_cache_creation_tokens``: cache writes;
- ``output_reasoning_tokens``: reasoning tokens, a part of ``output``.

Cached tokens: does ``input`` include them? Vendors disagree, so each price says which
convention its vendor's usage follows (`ModelPrice.input_includes_cached`):

- OpenAI, Google, Mistral (``True``): ``prompt_tokens`` / ``promptTokenCount`` already contain
  the cached tokens, so the cache tokens that have a price of their own are taken out of
  ``input`` before it is charged: ``(input - cached) * input_price + cached * cached_price``.
- Anthropic (``False``): ``input_tokens`` excludes cache reads and writes, so ``input`` is
  charged whole and the cache keys are charged on top.

Either way every input token is charged once: at its cache price when the price has one,
otherwise at the input price. ``output_reasoning_tokens`` is treated the same way against
``output`` (it is a part of ``output``; charged separately only when the price names it).
Any other usage key is charged when the price has the same key. A ``total`` price (Langfuse's
``totalPrice``) applies to the total token count only when the price has neither an ``input``
nor an ``output`` price.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tracemark.services.errors import Invalid

INPUT = "input"
OUTPUT = "output"
TOTAL = "total"
CACHE_READ = "input_cached_tokens"
CACHE_WRITE = "input_cache_creation_tokens"
REASONING = "output_reasoning_tokens"

# Details of `input` that a price may charge at a rate of their own.
_INPUT_DETAILS = (CACHE_READ, CACHE_WRITE)
_HANDLED = frozenset({INPUT, OUTPUT, TOTAL, CACHE_READ, CACHE_WRITE, REASONING})

# Other spellings of the canonical keys seen in the wild (vendor usage objects flattened by
# SDKs, Langfuse's own keys). The canonical key wins when both are present.
USAGE_ALIASES: dict[str, tuple[str, ...]] = {
    INPUT: ("input_tokens", "prompt_tokens", "promptTokens"),
    OUTPUT: ("output_tokens", "completion_tokens", "completionTokens"),
    TOTAL: ("total_tokens", "totalTokens"),
    CACHE_READ: ("input_cache_read", "cache_read_input_tokens", "cache_read_tokens"),
    CACHE_WRITE: ("input_cache_creation", "cache_creation_input_tokens", "cache_write_tokens"),
    REASONING: ("output_reasoning", "reasoning_tokens"),
}
_ALIAS_TO_KEY = {alias: key for key, aliases in USAGE_ALIASES.items() for alias in aliases}

UNITS = frozenset({"TOKENS", "CHARACTERS", "MILLISECONDS", "SECONDS", "IMAGES", "REQUESTS"})
MAX_PATTERN_LENGTH = 500
MAX_MODEL_NAME_LENGTH = 255

_DATA_FILE = "model_prices.json"


@dataclass(frozen=True)
class ModelPrice:
    """One model definition: which model names it covers and what each usage unit costs."""

    model_name: str
    match_pattern: str
    prices: dict[str, float]  # usage key -> USD per unit
    project_id: str | None = None  # None = built-in
    input_includes_cached: bool = True  # see the module docstring
    unit: str = "TOKENS"
    start_date: datetime | None = None  # project prices: applies to generations from then on

    def matches(self, model: str) -> bool:
        return _compiled(self.match_pattern).search(model) is not None


# --- price table -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.cache
def _builtin() -> tuple[ModelPrice, ...]:
    text = (importlib.resources.files("tracemark") / "data" / _DATA_FILE).read_text("utf-8")
    document = json.loads(text)
    prices = tuple(parse_model_definition(entry) for entry in document["models"])
    for price in prices:
        _compiled(price.match_pattern)
    return prices


def builtin_prices() -> list[ModelPrice]:
    """The shipped price table, in file order (loaded and compiled once per process)."""
    return list(_builtin())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def find_price(
    model: str | None,
    project_prices: Sequence[ModelPrice] = (),
    *,
    at: datetime | None = None,
) -> ModelPrice | None:
    """The price for `model`: a matching project price first, else the built-in one.

    Among matching project prices, those whose `start_date` lies after `at` (default: now)
    are skipped; of the rest the latest `start_date` wins (no date counts as earliest), and
    on a tie the one defined later in `project_prices`. Built-in patterns do not overlap, so
    at most one of them matches.
    """
    if model is None:
        return None
    name = model.strip()
    if not name:
        return None
    when = _aware(at) if at is not None else datetime.now(UTC)
    best: ModelPrice | None = None
    best_start: datetime | None = None
    for price in project_prices:
        start = _aware(price.start_date) if price.start_date is not None else None
        if start is not None and start > when:
            continue
        if not price.matches(name):
            continue
        if best is None or best_start is None or (start is not None and start >= best_start):
            best, best_start = price, start
    if best is not None:
        return best
    return _builtin_price(name)


@functools.lru_cache(maxsize=4096)
def _builtin_price(name: str) -> ModelPrice | None:
    for price in _builtin():
        if price.matches(name):
            return price
    return None


# --- usage -----------------------------------------------------------------------------------


_INF = math.inf


def _number(value: object) -> float | None:
    """A non-negative finite number as a float, else None (booleans are not numbers)."""
    # Exact-type fast paths first: this runs for every usage value of every observation.
    t = type(value)
    if t is float:
        return value if 0.0 <= value < _INF else None  # type: ignore[return-value,operator]
    if t is int:
        return float(value) if value >= 0 else None  # type: ignore[arg-type,operator]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0:
        return None
    return number


def normalize_usage(usage_details: Mapping[str, Any] | None) -> dict[str, float]:
    """Usage with known aliases mapped onto the canonical keys; values that are not
    non-negative finite numbers are dropped."""
    result: dict[str, float] = {}
    if not usage_details:
        return result
    aliased: list[tuple[str, Any]] = []
    for key, value in usage_details.items():
        canonical = _ALIAS_TO_KEY.get(key)
        if canonical is not None:
            aliased.append((canonical, value))
            continue
        number = _number(value)
        if number is not None:
            result[key] = number
    # Aliases fill only what the canonical keys left unset; the first alias wins.
    for canonical, value in aliased:
        number = _number(value)
        if number is not None and canonical not in result:
            result[canonical] = number
    return result


def usage_totals(
    usage_details: Mapping[str, Any] | None,
) -> tuple[int | None, int | None, int | None]:
    """(input, output, total) token counts for list aggregates.

    `total` is the reported total, else input + output when either is present.
    """
    usage = normalize_usage(usage_details)
    input_tokens = usage.get(INPUT)
    output_tokens = usage.get(OUTPUT)
    total = usage.get(TOTAL)
    if total is None and (input_tokens is not None or output_tokens is not None):
        total = (input_tokens or 0.0) + (output_tokens or 0.0)
    return _as_int(input_tokens), _as_int(output_tokens), _as_int(total)


def _as_int(value: float | None) -> int | None:
    return None if value is None else round(value)


# --- costs -----------------------------------------------------------------------------------


def compute_cost(
    usage_details: Mapping[str, Any] | None, price: ModelPrice
) -> dict[str, float] | None:
    """Cost in USD per priced usage key plus ``total`` (their sum); None if nothing is priced.

    See the module docstring for how cached and reasoning tokens are counted.
    """
    usage = normalize_usage(usage_details)
    prices = price.prices
    cost: dict[str, float] = {}

    # Input and its cache details: each input token is charged once.
    separately_priced = 0.0  # cache tokens charged at their own price
    unpriced_cache = 0.0  # cache tokens with no price of their own: charged as input
    for key in _INPUT_DETAILS:
        tokens = usage.get(key)
        if tokens is None:
            continue
        if key in prices:
            cost[key] = tokens * prices[key]
            separately_priced += tokens
        else:
            unpriced_cache += tokens
    if INPUT in prices:
        input_tokens = usage.get(INPUT)
        billable: float | None
        if price.input_includes_cached:
            # `input` already counts the cache tokens: take out those charged separately.
            billable = None if input_tokens is None else max(input_tokens - separately_priced, 0.0)
        elif input_tokens is not None or unpriced_cache:
            # `input` excludes the cache tokens: add those that have no price of their own.
            billable = (input_tokens or 0.0) + unpriced_cache
        else:
            billable = None
        if billable is not None:
            cost[INPUT] = billable * prices[INPUT]

    # Output, of which reasoning tokens are a part.
    output_tokens = usage.get(OUTPUT)
    reasoning_tokens = usage.get(REASONING)
    if REASONING in prices and reasoning_tokens is not None:
        cost[REASONING] = reasoning_tokens * prices[REASONING]
        if output_tokens is not None:
            output_tokens = max(output_tokens - reasoning_tokens, 0.0)
    if OUTPUT in prices and output_tokens is not None:
        cost[OUTPUT] = output_tokens * prices[OUTPUT]

    # Any other usage key the price names (audio tokens, images, requests, ...).
    for key, amount in usage.items():
        if key not in _HANDLED and key in prices:
            cost[key] = amount * prices[key]

    if not cost and TOTAL in prices and INPUT not in prices and OUTPUT not in prices:
        total_tokens = usage_totals(usage)[2]
        if total_tokens is not None:
            return {TOTAL: total_tokens * prices[TOTAL]}
    if not cost:
        return None
    cost[TOTAL] = math.fsum(cost.values())
    return cost


def _provided_costs(cost_details: Mapping[str, Any]) -> dict[str, float]:
    result = {}
    for key, value in cost_details.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            result[key] = float(value)
    if result and TOTAL not in result:
        result[TOTAL] = math.fsum(result.values())
    return result


def fill_costs(
    model: str | None,
    usage_details: Mapping[str, Any] | None,
    cost_details: Mapping[str, Any] | None,
    project_prices: Sequence[ModelPrice] = (),
    *,
    at: datetime | None = None,
) -> dict[str, float] | None:
    """The costs to store for a generation.

    Costs the client sent always win (``total`` is added as the sum of the other keys when
    missing); otherwise they are computed from usage with the matching price; else None.
    `at` is the generation's time, used to pick among dated project prices.
    """
    if cost_details:
        provided = _provided_costs(cost_details)
        if provided:
            return provided
    if not usage_details:
        return None
    price = find_price(model, project_prices, at=at)
    if price is None:
        return None
    return compute_cost(usage_details, price)


# --- project model definitions ----------------------------------------------------------------

_LEGACY_PRICE_FIELDS = {"inputPrice": INPUT, "outputPrice": OUTPUT, "totalPrice": TOTAL}


def _price_value(value: object, field_name: str) -> float:
    number = None if isinstance(value, bool) or not isinstance(value, int | float) else value
    if number is None or not math.isfinite(number):
        raise Invalid(f"{field_name} must be a number")
    if number < 0:
        raise Invalid(f"{field_name} must not be negative")
    return float(number)


def parse_model_definition(body: Mapping[str, Any], *, project_id: str | None = None) -> ModelPrice:
    """Validate a Langfuse-style model definition (``POST /api/public/models`` body).

    Fields: modelName, matchPattern (a regular expression searched in the model name),
    inputPrice / outputPrice / totalPrice (USD per unit), prices ({usageKey: price}, merged
    with the former; alias keys such as ``input_cache_read`` are mapped to canonical ones),
    unit (default TOKENS), startDate (ISO 8601), and the Tracemark extension
    inputIncludesCached (default true). Raises `Invalid` naming the offending field.
    """
    if not isinstance(body, Mapping):
        raise Invalid("body must be a JSON object")

    model_name = body.get("modelName")
    if not isinstance(model_name, str) or not model_name.strip():
        raise Invalid("modelName is required and must be a non-empty string")
    model_name = model_name.strip()
    if len(model_name) > MAX_MODEL_NAME_LENGTH:
        raise Invalid(f"modelName must be at most {MAX_MODEL_NAME_LENGTH} characters")

    pattern = body.get("matchPattern")
    if not isinstance(pattern, str) or not pattern:
        raise Invalid("matchPattern is required and must be a non-empty string")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise Invalid(f"matchPattern must be at most {MAX_PATTERN_LENGTH} characters")
    try:
        _compiled(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise Invalid(f"matchPattern is not a valid regular expression: {exc}") from None

    if body.get("pricingTiers") is not None:
        raise Invalid("pricingTiers is not supported; use prices or inputPrice/outputPrice")

    prices: dict[str, float] = {}
    raw_prices = body.get("prices")
    if raw_prices is not None:
        if not isinstance(raw_prices, Mapping):
            raise Invalid("prices must be an object of usage key to price")
        for key, value in raw_prices.items():
            if not isinstance(key, str) or not key.strip():
                raise Invalid("prices keys must be non-empty strings")
            canonical = _ALIAS_TO_KEY.get(key, key)
            amount = _price_value(value, f"prices.{key}")
            if canonical in prices and prices[canonical] != amount:
                raise Invalid(f"prices.{key} conflicts with another price for {canonical}")
            prices[canonical] = amount
    for field_name, key in _LEGACY_PRICE_FIELDS.items():
        value = body.get(field_name)
        if value is None:
            continue
        amount = _price_value(value, field_name)
        if key in prices and prices[key] != amount:
            raise Invalid(f"{field_name} conflicts with prices.{key}")
        prices[key] = amount

    unit = body.get("unit")
    if unit is None:
        unit = "TOKENS"
    if not isinstance(unit, str) or unit.upper() not in UNITS:
        raise Invalid(f"unit must be one of {', '.join(sorted(UNITS))}")

    start_date = body.get("startDate")
    parsed_start: datetime | None = None
    if start_date is not None:
        if not isinstance(start_date, str):
            raise Invalid("startDate must be an ISO 8601 date-time string")
        try:
            parsed_start = _aware(datetime.fromisoformat(start_date))
        except ValueError:
            raise Invalid("startDate must be an ISO 8601 date-time string") from None

    includes_cached = body.get("inputIncludesCached", True)
    if includes_cached is None:
        includes_cached = True
    if not isinstance(includes_cached, bool):
        raise Invalid("inputIncludesCached must be a boolean")

    return ModelPrice(
        model_name=model_name,
        match_pattern=pattern,
        prices=prices,
        project_id=project_id,
        input_includes_cached=includes_cached,
        unit=unit.upper(),
        start_date=parsed_start,
    )
