"""Column types: one rule per type, in one place.

Each type of `ingestion/registry.py` has a `TypeRule` here (module by family: text,
numbers, dates, codes, boolean, structured) holding everything the loader needs about
it: the general parser (normalise what people type or reject it, used by validate.py),
the COPY formatter and the per-value fast path (encode.py) and the whole-line regex
fragment (fastrow.py). A rule changed here changes all three paths together.
"""
from __future__ import annotations

from ingestion.coltypes import boolean, codes, dates, numbers, structured, text
from ingestion.coltypes.base import TypeRule

RULES: dict[str, TypeRule] = {
    "text": text.TEXT,
    "integer": numbers.INTEGER,
    "decimal": numbers.DECIMAL,
    "date": dates.DATE,
    "timestamp": dates.TIMESTAMP,
    "boolean": boolean.BOOLEAN,
    "division_code": codes.DIVISION_CODE,
    "uscc": codes.USCC,
    "id_number": codes.ID_NUMBER,
    "phone": codes.PHONE,
    "list": structured.LIST,
    "json": structured.JSON,
}
