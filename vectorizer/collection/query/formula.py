"""Qdrant's score formulas, evaluated with numpy over the whole candidate set at once.

A formula re-scores the union of its prefetches' results.  Every sub-expression is
an array over the candidates; `live` masks say which candidates actually evaluate a
sub-expression (a zero factor stops a product, a zero numerator a division, as in
Qdrant), so errors are raised only for values Qdrant would have computed.  Payload
variables read the candidates' payloads (falling back to `defaults`), `$score[i]`
the i-th prefetch's score (default 0), conditions count as 1 or 0.  Final scores
are float32 and must be finite.  Error messages follow Qdrant's.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from qdrant_client.http import models

from vectorizer.common import json_path
from vectorizer.common.datetimes import parse_datetime
from vectorizer.common.errors import BadInput
from vectorizer.index.payload.geo import haversine_m

Hit = dict[str, Any]
CONDITIONS = (models.FieldCondition, models.IsEmptyCondition, models.IsNullCondition,
              models.HasIdCondition, models.HasVectorCondition, models.NestedCondition,
              models.Filter, models.SliceCondition)
DECAYS = {models.LinDecayExpression: "lin_decay", models.ExpDecayExpression: "exp_decay",
          models.GaussDecayExpression: "gauss_decay"}
UNARY = {models.NegExpression: "neg", models.AbsExpression: "abs",
         models.SqrtExpression: "sqrt", models.ExpExpression: "exp",
         models.Log10Expression: "log10", models.LnExpression: "ln",
         models.AcoshExpression: "acosh"}


def _non_finite(text: str) -> BadInput:
    return BadInput(f"The expression {text} produced a non-finite number")


def _rs(x: float) -> str:
    """A float as Rust's `Display` prints it (`-4`, `0.5`, `inf`, `NaN`)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def _variable_error(key: str, kind: str, description: str) -> BadInput:
    return BadInput(f"Expected {kind} value for {key} in the payload and/or in the formula "
                    f"defaults. Error: {description}")


def parse_variable(var: str) -> str | int:
    """A payload path, or the prefetch index of `$score` / `$score[i]`."""
    if not var.startswith("$score"):
        return var
    rest = var[len("$score"):]
    if rest == "":
        return 0
    if not (rest.startswith("[") and rest.endswith("]")):
        raise BadInput(f"Invalid score pattern: {var}")
    idx = rest[1:-1]
    if not (idx.isascii() and idx.isdigit()):
        raise BadInput(f"Invalid score pattern: {var}")
    return int(idx)


def _check_path(path: str) -> None:
    try:
        json_path.parse(path)
    except Exception as exc:
        raise BadInput(str(exc)) from None


def _parse_datetime(text: Any) -> float | None:
    dt = parse_datetime(text) if isinstance(text, str) else None
    return None if dt is None else dt.timestamp()


def validate(query: models.FormulaQuery) -> None:
    """Reject what Qdrant refuses while parsing a formula, before anything runs."""
    for key in (query.defaults or {}):
        parse_variable(key)
    _validate(query.formula)


def _validate(expr: Any) -> None:
    nested: list[Any] = []
    if isinstance(expr, str):
        var = parse_variable(expr)
        if isinstance(var, str):
            _check_path(var)
    elif isinstance(expr, models.DatetimeExpression):
        if _parse_datetime(expr.datetime) is None:
            raise BadInput(f"Expected datetime in supported format for {expr.datetime}")
    elif isinstance(expr, models.DatetimeKeyExpression):
        _check_path(expr.datetime_key)
    elif isinstance(expr, models.GeoDistance):
        _check_path(expr.geo_distance.to)
    elif isinstance(expr, models.MaxExpression | models.MinExpression):
        operands = expr.max if isinstance(expr, models.MaxExpression) else expr.min
        if not operands:
            op = "max" if isinstance(expr, models.MaxExpression) else "min"
            raise BadInput(f"`{op}` needs at least one operand")
        nested = list(operands)
    elif isinstance(expr, models.MultExpression):
        nested = list(expr.mult)
    elif isinstance(expr, models.SumExpression):
        nested = list(expr.sum)
    elif type(expr) in UNARY:
        nested = [getattr(expr, UNARY[type(expr)])]
    elif isinstance(expr, models.DivExpression):
        nested = [expr.div.left, expr.div.right]
    elif isinstance(expr, models.PowExpression):
        nested = [expr.pow.base, expr.pow.exponent]
    elif type(expr) in DECAYS:
        params = getattr(expr, DECAYS[type(expr)])
        midpoint = 0.5 if params.midpoint is None else params.midpoint
        if isinstance(expr, models.LinDecayExpression):
            if not 0.0 <= midpoint <= 1.0:
                raise BadInput("Linear decay midpoint should be in the range [0.0, 1.0], got "
                               f"{midpoint}")
        elif not 0.0 < midpoint < 1.0:
            raise BadInput(f"Decay midpoint should be in the range (0.0, 1.0), got {midpoint}")
        scale = 1.0 if params.scale is None else params.scale
        if scale <= 0.0:
            raise BadInput(f"Scale must be non-zero positive, got {scale}")
        nested = [params.x] + ([params.target] if params.target is not None else [])
    for sub in nested:
        _validate(sub)


_TOP_LEVEL_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a path of one plain step


class Evaluator:
    """Evaluates expressions over `n` candidates given their ids, payloads and scores."""

    def __init__(self, col: Any, ids: list[Any], payloads: list[dict[str, Any]],
                 scores: list[np.ndarray], defaults: dict[str, Any], shard_key: Any) -> None:
        self.col, self.ids, self.payloads, self.scores = col, ids, payloads, scores
        self.shard_key = shard_key
        self.defaults = {}
        for key, value in defaults.items():
            var = parse_variable(key)
            self.defaults[f"$score[{var}]" if isinstance(var, int) else key] = value
        self.n = len(ids)

    # ------------------------------------------------------------ payload values

    def _value(self, key: str, i: int, kind: str) -> Any:
        """The payload value at `key` (several values: a list), else the default."""
        values = json_path.extract_values(self.payloads[i], key)
        if values:
            return values[0] if len(values) == 1 else values
        if key in self.defaults and self.defaults[key] is not None:
            return self.defaults[key]
        raise _variable_error(key, kind, "No value found in a payload nor defaults")

    def _numbers(self, key: str, live: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n)
        top_level = _TOP_LEVEL_KEY.fullmatch(key) is not None
        for i in np.flatnonzero(live).tolist():
            if top_level:  # a top-level number needs no JSON path walk
                value = self.payloads[i].get(key)
                if type(value) is float or type(value) is int:
                    out[i] = value
                    continue
            value = self._value(key, i, "number")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _variable_error(key, "number", "Value is not a number")
            out[i] = value
        return out

    def _condition(self, cond: Any) -> np.ndarray:
        flt = models.Filter(must=[models.HasIdCondition(has_id=self.ids), cond])
        hits, _next = self.col.scroll(flt, None, self.n, None, False, self.shard_key)
        matched = {h["id"] for h in hits}
        return np.array([pid in matched for pid in self.ids], dtype=np.float64)

    # ------------------------------------------------------------ expressions

    def eval(self, expr: Any, live: np.ndarray) -> np.ndarray:
        if isinstance(expr, bool):
            return np.full(self.n, float(expr))
        if isinstance(expr, int | float):
            return np.full(self.n, float(expr))
        if isinstance(expr, str):
            var = parse_variable(expr)
            if isinstance(var, str):
                return self._numbers(var, live)
            if var < len(self.scores):
                default = self.defaults.get(f"$score[{var}]")
                column = self.scores[var]
                return np.where(np.isnan(column), 0.0 if default is None else default, column)
            default = self.defaults.get(f"$score[{var}]")
            return np.full(self.n, 0.0 if default is None else float(default))
        if isinstance(expr, CONDITIONS):
            return self._condition(expr)
        if isinstance(expr, models.MultExpression):
            out = np.ones(self.n)
            going = live.copy()
            for factor in expr.mult:
                value = self.eval(factor, going)
                out = np.where(going, out * value, out)
                zero = going & (value == 0.0)
                out[zero] = 0.0
                going &= ~zero
            return out
        if isinstance(expr, models.SumExpression):
            return np.sum([self.eval(e, live) for e in expr.sum], axis=0) if expr.sum \
                else np.zeros(self.n)
        if isinstance(expr, models.MaxExpression):
            return np.fmax.reduce([np.full(self.n, -np.inf)] + [self.eval(e, live)
                                                                  for e in expr.max])
        if isinstance(expr, models.MinExpression):
            return np.fmin.reduce([np.full(self.n, np.inf)] + [self.eval(e, live)
                                                                 for e in expr.min])
        if isinstance(expr, models.DivExpression):
            return self._div(expr.div, live)
        if isinstance(expr, models.PowExpression):
            base = self.eval(expr.pow.base, live)
            exponent = self.eval(expr.pow.exponent, live)
            with np.errstate(all="ignore"):
                out = np.power(base, exponent)
            self._finite(out, live, lambda i: f"{_rs(base[i])}^{_rs(exponent[i])} = "
                         f"{_rs(out[i])}")
            return out
        if type(expr) in UNARY:
            return self._unary(UNARY[type(expr)], self.eval(getattr(expr, UNARY[type(expr)]),
                                                             live), live)
        if isinstance(expr, models.GeoDistance):
            return self._geo(expr.geo_distance, live)
        if isinstance(expr, models.DatetimeExpression):
            return np.full(self.n, _parse_datetime(expr.datetime))
        if isinstance(expr, models.DatetimeKeyExpression):
            out = np.zeros(self.n)
            for i in np.flatnonzero(live).tolist():
                value = self._value(expr.datetime_key, i, "datetime")
                if not isinstance(value, str):
                    raise _variable_error(expr.datetime_key, "datetime", "value is not a string")
                stamp = _parse_datetime(value)
                if stamp is None:
                    raise _variable_error(expr.datetime_key, "datetime",
                                          f"invalid datetime {value!r}")
                out[i] = stamp
            return out
        if type(expr) in DECAYS:
            return self._decay(type(expr), getattr(expr, DECAYS[type(expr)]), live)
        raise BadInput(f"Unsupported expression: {expr!r}")

    @staticmethod
    def _finite(values: np.ndarray, live: np.ndarray, text: Any) -> None:
        bad = live & ~np.isfinite(values)
        if bad.any():
            raise _non_finite(text(int(np.flatnonzero(bad)[0])))

    def _div(self, div: models.DivParams, live: np.ndarray) -> np.ndarray:
        left = self.eval(div.left, live)
        going = live & (left != 0.0)
        right = self.eval(div.right, going)
        by_zero = going & (right == 0.0) if div.by_zero_default is not None \
            else np.zeros(self.n, dtype=bool)
        with np.errstate(all="ignore"):
            quotient = left / right
        self._finite(quotient, going & ~by_zero,
                     lambda i: f"{_rs(left[i])}/{_rs(right[i])} = {_rs(quotient[i])}")
        out = np.where(going & ~by_zero, quotient, 0.0)
        out[by_zero] = div.by_zero_default
        return out

    def _unary(self, op: str, value: np.ndarray, live: np.ndarray) -> np.ndarray:
        if op == "neg":
            return -value
        if op == "abs":
            return np.abs(value)
        fn = {"sqrt": np.sqrt, "log10": np.log10, "ln": np.log, "acosh": np.arccosh,
              "exp": np.exp}[op]
        with np.errstate(all="ignore"):
            out = fn(value)
        text = "√{} = {}" if op == "sqrt" else op + "({}) = {}"
        self._finite(out, live, lambda i: text.format(_rs(value[i]), _rs(out[i])))
        return out

    def _geo(self, geo: models.GeoDistanceParams, live: np.ndarray) -> np.ndarray:
        lat, lon = np.zeros(self.n), np.zeros(self.n)
        for i in np.flatnonzero(live).tolist():
            value = self._value(geo.to, i, "geo point")
            if not isinstance(value, dict) or "lat" not in value or "lon" not in value:
                raise _variable_error(geo.to, "geo point", "missing field `lat` or `lon`")
            lat[i], lon[i] = float(value["lat"]), float(value["lon"])
        return haversine_m(lat, lon, geo.origin.lat, geo.origin.lon)

    def _decay(self, kind: type, params: models.DecayParamsExpression,
               live: np.ndarray) -> np.ndarray:
        x = self.eval(params.x, live)
        target = np.zeros(self.n) if params.target is None else self.eval(params.target, live)
        midpoint = 0.5 if params.midpoint is None else params.midpoint
        scale = 1.0 if params.scale is None else params.scale
        if kind is models.LinDecayExpression:
            return np.maximum(0.0, -((1.0 - midpoint) / scale) * np.abs(x - target) + 1.0)
        if kind is models.ExpDecayExpression:
            return np.exp(math.log(midpoint) / scale * np.abs(x - target))
        return np.exp(math.log(midpoint) / (scale * scale) * (x - target) ** 2)


def rescore(col: Any, query: models.FormulaQuery, sources: list[list[Hit]],
            shard_key: Any, depth: int | None = None, threshold: float | None = None,
            ) -> list[Hit]:
    """The union of `sources` re-scored by the formula, best first: the first `depth` of
    those scoring at least `threshold` (all of them when None)."""
    first: dict[Any, Hit] = {}
    for source in sources:
        for hit in source:
            first.setdefault(hit["id"], hit)
    ids = list(first)
    if not ids:
        return []
    position = {pid: i for i, pid in enumerate(ids)}
    scores = []
    for source in sources:
        column = np.full(len(ids), np.nan)
        for hit in source:
            column[position[hit["id"]]] = hit["score"]
        scores.append(column)
    payload_of = col.payloads_of(ids, shard_key)
    present = [pid for pid in ids if pid in payload_of]
    if len(present) != len(ids):  # deleted since the prefetch ran
        keep = [position[pid] for pid in present]
        ids, scores = present, [column[keep] for column in scores]
    evaluator = Evaluator(col, ids, [payload_of[pid] for pid in ids], scores,
                          query.defaults or {}, shard_key)
    values = evaluator.eval(query.formula, np.ones(len(ids), dtype=bool))
    with np.errstate(all="ignore"):
        as_f32 = values.astype(np.float32)
    bad = ~np.isfinite(as_f32)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _non_finite(f"{values[i]} as f32 = {as_f32[i]}")
    order = np.argsort(-as_f32, kind="stable")
    if threshold is not None:
        order = order[as_f32[order].astype(np.float64) >= threshold]
    if depth is not None:
        order = order[:depth]
    return [{**first[ids[i]], "score": float(as_f32[i])} for i in order.tolist()]
