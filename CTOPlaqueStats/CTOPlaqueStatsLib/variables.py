"""Turning cohort columns into analysable variables: binary outcomes, numbers, categories.

Nothing here raises on bad data: a column that cannot be used is reported and left out. A setting that names
what the data do not hold (a reference level absent from its column) is an input error.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.export import spreadsheet_safe

from .problems import ProblemLog

_TRUE_WORDS = {"1", "yes", "y", "true", "t", "success", "successful", "positive"}
_FALSE_WORDS = {"0", "no", "n", "false", "f", "failure", "failed", "fail", "negative"}
MAX_CATEGORIES = 10
# A number written with a comma: a decimal comma ("59,2") or thousands separators ("4,445.0").
_COMMA_NUMBER = r"[+-]?\d+(,\d+)+(\.\d+)?"


def is_categorical_text(column: pd.Series) -> bool:
    """A text column (no cell a number) that is not a yes/no column: e.g. sex M/F, smoking never/former/current."""
    present = column.dropna()
    if present.empty or pd.api.types.is_bool_dtype(column) or pd.to_numeric(present, errors="coerce").notna().any():
        return False
    if _comma_numbers(present).any():
        return False
    words = set(present.astype(str).str.strip().str.lower())
    return not words <= _TRUE_WORDS | _FALSE_WORDS


def level_order(levels) -> list:
    """Levels in the default order, whose first is the default reference: by letter regardless of accents and
    case, then unaccented first, then lower case first ('ärzte' < 'Ärzte' < 'ge' < 'Ge' < 'GE' < 'Öl' < 'Philips'
    < 'zürich'). For names of letters and digits this is R's sort() and factor() in a UTF-8 locale, where R
    collates with ICU (tested against R 4.2 in Testing/test_stats_against_r.py); R in the C locale, and Python's
    plain sorted(), sort by code point instead ('GE' < 'Philips' < 'ge' < 'zürich' < 'ärzte')."""
    return sorted(levels, key=lambda level: (_without_accents(level.casefold()), level.casefold(), level.swapcase()))


def _without_accents(text: str) -> str:
    """'arzte' from 'ärzte': the letters without their combining marks (Unicode decomposition NFKD)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def level_text(value) -> str:
    """A category's printed level: 1.0 as "1", text as it is."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value).strip()


@dataclass
class Variable:
    """A usable column: ``kind`` "continuous" (numbers), "binary" (0/1: one row, the count of 1s) or "categorical"
    (text, or two numbers other than 0/1: one row per level). ``values``: floats for numbers, stripped text for
    text (missing stays missing). ``levels``: a categorical variable's levels as text, reference first."""

    name: str
    values: pd.Series
    kind: str
    levels: tuple = ()

    @property
    def reference(self) -> str:
        return self.levels[0] if self.levels else ""

    def level_values(self) -> pd.Series:
        """The values as level text ("1", "GE"), missing kept: what the comparison tables count."""
        return self.values.map(level_text).where(self.values.notna())

    def numeric(self) -> bool:
        return pd.api.types.is_numeric_dtype(self.values)


def analysis_variable(column: pd.Series, name: str, problems: ProblemLog, reference: str = None):
    """The Variable of a cohort column, or None (reported) when it cannot be used.

    reference: the level to compare the others with (``--reference name=level``); default the first of
    ``level_order``. Raises CTOPlaqueInputError when the column has no such level."""
    if is_categorical_text(column):
        values = column.where(column.isna(), column.astype(str).str.strip())
    else:
        values = numeric_variable(column, name, problems)
        if values is None:
            return None
        if values.dropna().nunique() > 2:
            return Variable(name, values, "continuous")
        if set(values.dropna().unique()) <= {0.0, 1.0}:
            return Variable(name, values, "binary")
    levels = level_order({level_text(v) for v in values.dropna().unique()})
    if not 2 <= len(levels) <= MAX_CATEGORIES:
        problems.add(name, f"{len(levels)} categories; a categorical variable needs 2..{MAX_CATEGORIES}: left out")
        return None
    if reference is not None:
        if reference not in levels:
            raise CTOPlaqueInputError(f"--reference {name}={reference}: {name} has no level {reference!r} "
                                      f"(its levels: {', '.join(levels)})")
        levels.remove(reference)
        levels.insert(0, reference)
    return Variable(name, values, "categorical", tuple(levels))


def category_indicators(variable: Variable, problems: ProblemLog) -> dict:
    """0/1 indicator columns "name=level" of a text covariate, one per level but the reference (as R's treatment
    contrasts); missing cells stay missing in every indicator. A numeric variable passes as it is."""
    if variable.kind != "categorical" or variable.numeric():
        return {variable.name: variable.values.astype(float)}
    values = variable.level_values()
    problems.add(variable.name, f"text covariate dummy-coded against the reference {variable.reference!r}: "
                                + ", ".join(f"{variable.name}={level}" for level in variable.levels[1:]))
    return {f"{variable.name}={level}": (values == level).astype(float).where(values.notna())
            for level in variable.levels[1:]}


def binary_outcome(column: pd.Series, name: str, problems: ProblemLog):
    """0/1 coding of a two-valued column (1 = yes/true/success/1); None (reported) if not binary. Rows without a
    value stay missing and are noted: every analysis of the outcome leaves them out."""
    present = column.dropna()
    if present.empty:
        problems.add(name, "outcome has no values; analyses of it skipped")
        return None
    words = present.astype(str).str.strip().str.lower().str.replace(r"\.0$", "", regex=True)
    if not set(words) <= _TRUE_WORDS | _FALSE_WORDS:
        problems.add(name, f"outcome is not binary ({present.nunique()} distinct values: "
                           f"{', '.join(map(str, sorted(present.astype(str).unique())[:5]))}); code it 0/1, "
                           "yes/no or success/failure; analyses of it skipped")
        return None
    coded = words.map(lambda w: 1.0 if w in _TRUE_WORDS else 0.0)
    if coded.nunique() < 2:
        problems.add(name, "outcome takes a single value; analyses of it skipped")
        return None
    if len(present) < len(column):
        problems.add(name, f"{len(column) - len(present)} of {len(column)} rows without an outcome value: left out "
                           "of its analyses")
    return coded.reindex(column.index).astype(float)


def numeric_variable(column: pd.Series, name: str, problems: ProblemLog):
    """Numbers of a column; text cells in a mostly numeric column are reported and treated as missing.

    Returns None (reported) for an all-missing, non-numeric or constant column.
    """
    present = column.dropna()
    if present.empty:
        problems.add(name, "all values missing; left out")
        return None
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    numbers = pd.to_numeric(column, errors="coerce")
    text = present[pd.to_numeric(present, errors="coerce").isna()]
    commas = text[_comma_numbers(text)]
    if len(commas):
        problems.add(name, f"{len(commas)} number(s) written with a comma ({_examples(commas)}): a decimal comma "
                           "and a thousands separator cannot always be told apart; write numbers with a decimal point "
                           "and no separator. Left out")
        return None
    if len(text) == len(present):
        words = present.astype(str).str.strip().str.lower()
        if set(words) <= _TRUE_WORDS | _FALSE_WORDS:
            return words.map(lambda w: 1.0 if w in _TRUE_WORDS else 0.0).reindex(column.index)
        problems.add(name, "not numeric; left out of numeric analyses")
        return None
    if len(text):
        problems.add(name, f"{len(text)} text value(s) in a numeric column ({_examples(text)}) treated as missing")
    if _is_constant(numbers.dropna().to_numpy(float)):
        problems.add(name, "constant (a single value); left out")
        return None
    return numbers.astype(float)


def _comma_numbers(values: pd.Series) -> pd.Series:
    """Which values are numbers written with a comma (``_COMMA_NUMBER``)."""
    return values.astype(str).str.strip().str.fullmatch(_COMMA_NUMBER)


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in values.astype(str).unique()[:3])


def _is_constant(values: np.ndarray) -> bool:
    """One value, up to floating-point rounding (e.g. a PAV computed from a constant total, whose last bits
    differ with the order of summation): spread within 1e-9 of the values' magnitude."""
    return len(values) == 0 or np.ptp(values) <= 1e-9 * max(1.0, float(np.abs(values).max()))


def spreadsheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of a table whose text cells are safe to open in a spreadsheet (see CTOPlaqueLib.export)."""
    def safe(column):
        textual = column.dtype == object or pd.api.types.is_string_dtype(column)
        return column.map(spreadsheet_safe) if textual else column

    return frame.apply(safe)


def finite(values) -> np.ndarray:
    array = np.asarray(values, float)
    return array[np.isfinite(array)]
