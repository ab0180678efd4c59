"""The file formats of the role sites' imports and exports: spreadsheet cells stay inert.

A text cell starting with = + - @, a tab or a carriage return is run as a formula when a
spreadsheet opens the file (CSV injection), so CSV, TSV and XLSX exports prefix such cells
with an apostrophe, which spreadsheets read as "this is text". Importing a file strips that
apostrophe again, so an export imports back unchanged.

(django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops one leading "="
and writes empty cells as "None", so it stays off.)
"""

from typing import Any

import tablib
from import_export.formats import base_formats

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"


def inert(value: Any) -> Any:
    """The cell as a spreadsheet will show it, never run it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return _ESCAPE + value
    return value


def restored(value: Any) -> Any:
    """The inverse of inert(), for cells read from an imported file."""
    if isinstance(value, str) and value.startswith(_ESCAPE) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def _map_cells(dataset: tablib.Dataset, change: Any) -> tablib.Dataset:
    mapped = tablib.Dataset(headers=dataset.headers, title=dataset.title)
    for row in dataset:
        mapped.append([change(cell) for cell in row])
    return mapped


class _InertSpreadsheet(base_formats.TablibFormat):  # type: ignore[misc]
    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> Any:
        return super().export_data(_map_cells(dataset, inert), **kwargs)

    def create_dataset(self, in_stream: Any, **kwargs: Any) -> tablib.Dataset:
        return _map_cells(super().create_dataset(in_stream, **kwargs), restored)


class InertCSV(_InertSpreadsheet, base_formats.CSV):  # type: ignore[misc]
    pass


class InertTSV(_InertSpreadsheet, base_formats.TSV):  # type: ignore[misc]
    pass


class InertXLSX(_InertSpreadsheet, base_formats.XLSX):  # type: ignore[misc]
    pass


_INERT = {base_formats.CSV: InertCSV, base_formats.TSV: InertTSV, base_formats.XLSX: InertXLSX}

# import-export's own list (the formats whose libraries are installed), in its order.
FORMATS: list[type[base_formats.Format]] = [_INERT.get(f, f) for f in base_formats.DEFAULT_FORMATS]
