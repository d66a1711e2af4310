"""Learners' values as plain data: ``export`` in the learner's kernel, ``decode`` in the checker.

The kernel cannot be trusted to judge itself (policylab.grading.checks), so at grading time it
only turns the values a test reads into JSON: numbers, strings, lists, dicts, numpy arrays,
pandas Series/DataFrames, regex patterns, plotly figures, statsmodels fits as summaries;
anything else becomes an ``Unsupported`` placeholder that equals nothing. Budgets
(``MAX_ITEMS``, ``MAX_EXPORT_CHARS``) keep a hostile value from exhausting the grader.
This module runs inside learners' kernels, so it imports the standard library only.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import json
import re

EXPORT_MIME = "application/vnd.policylab.export+json"
MAX_EXPORT_CHARS = 20_000_000
MAX_ITEMS = 2_000_000
# Modules a test cell may use without importing them (a learner's `pd` is re-imported, by name).
MODULES = {"math", "statistics", "re", "datetime", "json", "numpy", "pandas", "scipy", "scipy.stats",
           "statsmodels.api", "statsmodels.formula.api", "plotly.express", "plotly.graph_objects", "plotly.io"}


class Unsupported:
    """Stands for a value that could not travel as plain data: it equals nothing."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError(f"채점할 수 없는 형식의 값입니다 ({self.type_name}).")

    def __repr__(self):
        return f"<채점할 수 없는 값: {self.type_name}>"


_DTYPE = re.compile(
    r"^(bool|u?int(8|16|32|64)|float(16|32|64)|complex(64|128)|object|str|string|<U\d+|"
    r"datetime64\[(ns|us|ms|s)(, [A-Za-z0-9_/+\-]+)?\]|timedelta64\[(ns|us|ms|s)\]|"
    r"category|U?Int(8|16|32|64)|Float(32|64)|boolean|string\[python\]|string\[pyarrow\])$")


def encode(value, _depth: int = 0, _budget: list | None = None):
    """A JSON-able description of ``value`` built from exact types only (no subclasses)."""
    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or _depth > 40:
        return {"t": "unsupported", "type": "too large or too deep"}
    t = type(value)
    if value is None:
        return {"t": "none"}
    if t is bool:
        return {"t": "bool", "v": value}
    if t is int:
        return {"t": "int", "v": str(value)}
    if t is float:
        return {"t": "float", "v": repr(value)}
    if t is str:
        return {"t": "str", "v": value}
    if t in (list, tuple, set, frozenset):
        items = [encode(v, _depth + 1, budget) for v in value]
        return {"t": t.__name__, "v": items}
    if t is dict:
        return {"t": "dict", "v": [[encode(k, _depth + 1, budget), encode(v, _depth + 1, budget)]
                                   for k, v in value.items()]}
    if t is _dt.datetime:
        return {"t": "datetime", "v": value.isoformat()}
    if t is _dt.date:
        return {"t": "date", "v": value.isoformat()}
    if t is decimal.Decimal:
        return {"t": "decimal", "v": str(value)}
    if t is re.Pattern:
        return {"t": "regex", "pattern": encode(value.pattern, _depth + 1, budget), "flags": int(value.flags)}
    mod = getattr(t, "__module__", "") or ""
    if mod.startswith("numpy"):
        return _encode_numpy(value, t, _depth, budget)
    if mod.startswith("pandas"):
        return _encode_pandas(value, t, _depth, budget)
    if mod.startswith("statsmodels") and t.__name__.endswith("ResultsWrapper"):
        return _encode_fit(value, _depth, budget)
    if mod == "plotly.graph_objs._figure" and t.__name__ == "Figure":
        return {"t": "plotly", "v": encode(_typed_arrays_to_numpy(value.to_dict()), _depth + 1, budget)}
    return {"t": "unsupported", "type": f"{mod}.{getattr(t, '__qualname__', '?')}"}


FIT_ATTRIBUTES = ("params", "bse", "pvalues", "tvalues", "nobs", "rsquared", "rsquared_adj", "df_model",
                  "df_resid", "fvalue", "f_pvalue", "aic", "bic", "llf", "cov_type")


class FitSummary:
    """A statsmodels fit as the checker sees it: its plain results, no model to re-run."""

    def __init__(self, attributes: dict, conf_int, formula):
        for name, value in attributes.items():
            setattr(self, name, value)
        self._conf_int = conf_int
        self.model = type("Model", (), {"formula": formula})()

    def conf_int(self, alpha: float = 0.05):
        if alpha != 0.05 or self._conf_int is None:
            raise ValueError("채점기는 95% 신뢰구간만 받습니다.")
        return self._conf_int

    def __repr__(self):
        return "<FitSummary of a statsmodels fit>"


def _encode_fit(value, depth, budget):
    attributes = {}
    for name in FIT_ATTRIBUTES:
        try:
            attributes[name] = encode(getattr(value, name), depth + 1, budget)
        except Exception:
            continue
    try:
        conf = encode(value.conf_int(), depth + 1, budget)
    except Exception:
        conf = {"t": "none"}
    formula = getattr(getattr(value, "model", None), "formula", None)
    return {"t": "fit", "attributes": attributes, "conf_int": conf,
            "formula": encode(formula if type(formula) is str else None, depth + 1, budget)}


def _typed_arrays_to_numpy(obj):
    """plotly's to_dict packs numeric arrays as {"dtype", "bdata"} (base64); unpack them so the
    checker's Figure holds arrays, as the learner's did."""
    import base64

    import numpy as np

    if type(obj) is dict:
        if set(obj) <= {"dtype", "bdata", "shape"} and {"dtype", "bdata"} <= set(obj):
            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            if obj.get("shape"):
                arr = arr.reshape([int(n) for n in str(obj["shape"]).split(",")])
            return arr.copy()
        return {k: _typed_arrays_to_numpy(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_typed_arrays_to_numpy(v) for v in obj)
    return obj


def _encode_numpy(value, t, depth, budget):
    import numpy as np

    if t is np.ndarray and value.dtype.kind in "biufcUSMmO":
        if value.size > MAX_ITEMS:
            return {"t": "unsupported", "type": "numpy.ndarray (too large)"}
        return {"t": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                "v": [encode(v, depth + 1, budget) for v in value.ravel().tolist()]
                if value.dtype.kind in "OMm" else encode(value.ravel().tolist(), depth + 1, budget)}
    if isinstance(value, np.generic) and t.__module__ == "numpy" and value.dtype.kind in "biufc":
        return {"t": "npscalar", "dtype": str(value.dtype), "v": encode(value.item(), depth + 1, budget)}
    if isinstance(value, np.datetime64):
        return {"t": "npdatetime", "v": str(value)}
    return {"t": "unsupported", "type": f"numpy.{t.__qualname__}"}


def _encode_index(index, depth, budget):
    import pandas as pd

    if type(index) is pd.RangeIndex:
        return {"t": "rangeindex", "start": index.start, "stop": index.stop, "step": index.step,
                "name": encode(index.name, depth + 1, budget)}
    if type(index) is pd.MultiIndex:
        return {"t": "multiindex", "v": encode(list(index), depth + 1, budget),
                "names": encode(list(index.names), depth + 1, budget)}
    return {"t": "index", "dtype": str(index.dtype), **_encode_values(index.tolist(), depth, budget),
            "name": encode(index.name, depth + 1, budget)}


_RAW_TYPES = frozenset({int, float, bool, str, type(None)})


def _encode_values(values: list, depth, budget) -> dict:
    """The elements of a pandas object: a plain JSON list when they are all plain (fast, small),
    ISO strings when they are all timestamps, else one tagged element at a time."""
    import pandas as pd

    budget[0] -= len(values)
    kinds = {type(v) for v in values}
    if kinds <= _RAW_TYPES:
        return {"raw": values}
    if kinds <= {pd.Timestamp, type(pd.NaT), type(None)}:
        return {"ts": [None if v is None or v is pd.NaT else v.isoformat() for v in values]}
    return {"v": [_encode_cell(v, depth + 1, budget) for v in values]}


def _encode_cell(v, depth, budget):
    """One element of a pandas object (tolist gives Timestamps, NaT and NA there)."""
    import pandas as pd

    if v is pd.NA or v is pd.NaT:
        return {"t": "none"}
    if type(v) is pd.Timestamp:
        return {"t": "timestamp", "v": v.isoformat()}
    if type(v) is pd.Timedelta:
        return {"t": "timedelta", "v": v.value}
    return encode(v, depth, budget)


def _encode_series(s, depth, budget):
    dtype = str(s.dtype)
    out = {"t": "series", "dtype": dtype, "name": encode(s.name, depth + 1, budget),
           "index": _encode_index(s.index, depth + 1, budget)}
    if dtype == "category":
        out["categories"] = encode(list(s.cat.categories), depth + 1, budget)
        out["ordered"] = bool(s.cat.ordered)
        values = s.astype(object).tolist()
    else:
        values = s.tolist()
    out.update(_encode_values(values, depth, budget))
    return out


def _encode_pandas(value, t, depth, budget):
    import pandas as pd

    if t is pd.Series:
        return _encode_series(value, depth, budget)
    if t is pd.DataFrame:
        if value.size > MAX_ITEMS:
            return {"t": "unsupported", "type": "pandas.DataFrame (too large)"}
        return {"t": "frame", "columns": _encode_index(value.columns, depth + 1, budget),
                "index": _encode_index(value.index, depth + 1, budget),
                "data": [_encode_series(value.iloc[:, i], depth + 1, budget) for i in range(value.shape[1])]}
    if t in (pd.Index, pd.RangeIndex, pd.MultiIndex):
        return _encode_index(value, depth, budget)
    if t is pd.Timestamp:
        return {"t": "timestamp", "v": value.isoformat()}
    if t is pd.Timedelta:
        return {"t": "timedelta", "v": value.value}
    return {"t": "unsupported", "type": f"pandas.{t.__qualname__}"}


def _dtype(name: str):
    if not isinstance(name, str) or not _DTYPE.match(name):
        raise ValueError(f"dtype not allowed: {name!r}")
    import pandas as pd

    return pd.api.types.pandas_dtype(name)


def decode(doc):
    """The value ``encode`` described; refuses anything outside its own vocabulary."""
    t = doc["t"]
    if t == "none":
        return None
    if t == "bool":
        return bool(doc["v"])
    if t == "int":
        return int(doc["v"])
    if t == "float":
        return float(doc["v"])
    if t == "str":
        return str(doc["v"])
    if t in ("list", "tuple", "set", "frozenset"):
        items = [decode(v) for v in doc["v"]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[t](items)
    if t == "dict":
        return {decode(k): decode(v) for k, v in doc["v"]}
    if t == "datetime":
        return _dt.datetime.fromisoformat(doc["v"])
    if t == "date":
        return _dt.date.fromisoformat(doc["v"])
    if t == "decimal":
        return decimal.Decimal(doc["v"])
    if t == "unsupported":
        return Unsupported(str(doc.get("type")))
    if t == "regex":
        return re.compile(decode(doc["pattern"]), int(doc["flags"]))
    if t == "fit":
        attributes = {k: decode(v) for k, v in doc["attributes"].items() if k in FIT_ATTRIBUTES}
        return FitSummary(attributes, decode(doc["conf_int"]), decode(doc["formula"]))
    import numpy as np
    import pandas as pd

    if t == "npscalar":
        return np.dtype(_dtype(doc["dtype"])).type(decode(doc["v"]))
    if t == "npdatetime":
        return np.datetime64(doc["v"])
    if t == "ndarray":
        dtype = _dtype(doc["dtype"])
        flat = [decode(v) for v in doc["v"]] if isinstance(doc["v"], list) else decode(doc["v"])
        return np.array(flat, dtype=dtype).reshape(doc["shape"])
    if t == "timestamp":
        return pd.Timestamp(doc["v"])
    if t == "plotly":
        import plotly.graph_objects as go

        return go.Figure(decode(doc["v"]))
    if t == "timedelta":
        return pd.Timedelta(int(doc["v"]))
    if t in ("index", "rangeindex", "multiindex"):
        return _decode_index(doc)
    if t == "series":
        return _decode_series(doc)
    if t == "frame":
        columns = _decode_index(doc["columns"])
        index = _decode_index(doc["index"])
        data = {i: _decode_series(s) for i, s in enumerate(doc["data"])}
        frame = pd.DataFrame(data, index=index) if data else pd.DataFrame(index=index)
        frame.columns = columns
        return frame
    raise ValueError(f"unknown plain-data tag {t!r}")


def _values(doc) -> list:
    import pandas as pd

    if "raw" in doc:
        raw = doc["raw"]
        if not isinstance(raw, list) or not {type(v) for v in raw} <= _RAW_TYPES:
            raise ValueError("raw values must be plain")
        return raw
    if "ts" in doc:
        return [pd.NaT if v is None else pd.Timestamp(str(v)) for v in doc["ts"]]
    return [decode(v) for v in doc["v"]]


def _decode_index(doc):
    import pandas as pd

    if doc["t"] == "rangeindex":
        return pd.RangeIndex(int(doc["start"]), int(doc["stop"]), int(doc["step"]), name=decode(doc["name"]))
    if doc["t"] == "multiindex":
        return pd.MultiIndex.from_tuples(decode(doc["v"]), names=decode(doc["names"]))
    if doc["t"] != "index":
        raise ValueError("not an index")
    return pd.Index(_values(doc), dtype=_dtype(doc["dtype"]), name=decode(doc["name"]))


def _decode_series(doc):
    import pandas as pd

    if doc["t"] != "series":
        raise ValueError("not a series")
    values = _values(doc)
    index = _decode_index(doc["index"])
    if doc["dtype"] == "category":
        dtype = pd.CategoricalDtype(decode(doc["categories"]), ordered=bool(doc.get("ordered")))
    else:
        dtype = _dtype(doc["dtype"])
    return pd.Series(values, index=index, dtype=dtype, name=decode(doc["name"]))


# ----------------------------------------------------------------------------- in the kernel
def export(nonce: str, grade_id: str, namespace: dict, names: list[str]) -> None:
    """Publish the named values as plain data for the grader (called by the grading line of a test cell)."""
    from IPython.display import publish_display_data

    values = {}
    for name in names:
        if name not in namespace:
            values[name] = {"t": "missing"}
            continue
        value = namespace[name]
        if type(value).__name__ == "module" and getattr(value, "__name__", None) in MODULES:
            values[name] = {"t": "module", "v": value.__name__}
            continue
        try:
            values[name] = encode(value)
        except Exception as exc:  # a value that breaks while being read is not gradable
            values[name] = {"t": "unsupported", "type": f"{type(value).__name__} ({type(exc).__name__})"}
    payload = {"nonce": nonce, "grade_id": grade_id, "values": values}
    text = json.dumps(payload)
    if len(text) > MAX_EXPORT_CHARS:
        payload = {"nonce": nonce, "grade_id": grade_id, "values": {
            n: {"t": "unsupported", "type": "too large"} for n in names}}
    publish_display_data({EXPORT_MIME: payload, "text/plain": "(채점용 값)"})


def export_line(nonce: str, grade_id: str, names: list[str]) -> str:
    return (f'__import__("policylab.grading.values", fromlist=["export"]).export({nonce!r}, {grade_id!r}, globals(), '
            f"{names!r})\n")


