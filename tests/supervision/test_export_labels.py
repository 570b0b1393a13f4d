"""Exports people open in Excel: labels instead of codes, staff by name with the username beside
it, real date cells, a frozen header, column widths, a Chinese sheet name, no formula cell."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, CustomerFactory, VisitFactory

from .conftest import at, make_record

pytestmark = [pytest.mark.django_db, pytest.mark.spec("9.export")]

CODES = {"True", "False", "None", "periodic", "completed", "assigned", "phone", "no_problem",
         "escalated", "pending", "in_progress"}  # fmt: skip


@pytest.fixture
def data(branch, agent):
    account = AccountFactory(customer=CustomerFactory(branch=branch, name="=HYPERLINK(1)"))
    VisitFactory(
        account=account, kind="periodic", status="assigned", assigned_to=agent,
        due_at=at(2026, 11, 5, 10), suspected_fraud=True,
    )  # fmt: skip
    make_record(agent=agent, branch=branch, submitted_at=at(2026, 11, 4, 9), satisfaction=4)


def _get(client, name, fmt):
    response = client.get(reverse("supervision:export", args=[name, fmt]), {"unmasked": "1"})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_the_csv_export_is_in_words_with_names_and_local_times(client, supervisor, agent, data):
    client.force_login(supervisor)
    rows = list(csv.reader(io.StringIO(_get(client, "visits", "csv").decode("utf-8")[1:])))
    header = rows[0]
    assert header[:3] == ["编号", "回访类型", "状态"] and "用户名" in header
    row = dict(zip(header, rows[1]))
    assert (row["回访类型"], row["状态"], row["疑似欺诈"]) == ("定期回访", "已分配", "是")
    assert (row["回访人员"], row["用户名"]) == ("李娜", agent.username)
    assert row["到期时间"] == "2026-11-05 10:00:00"
    assert row["客户"] == "'=HYPERLINK(1)"  # a formula stays text
    assert not CODES & {cell for r in rows[1:] for cell in r}


def test_the_excel_export_has_date_cells_a_frozen_header_widths_and_no_formula(
    client, supervisor, agent, data
):
    from openpyxl import load_workbook

    client.force_login(supervisor)
    for name, title in (("visits", "回访"), ("records", "回访记录")):
        workbook = load_workbook(io.BytesIO(_get(client, name, "xlsx")))
        sheet = workbook.active
        assert sheet.title == title
        assert sheet.freeze_panes == "A2"
        assert sheet.column_dimensions["E"].width >= 16
        header = [cell.value for cell in sheet[1]]
        assert all(cell.font.bold for cell in sheet[1])
        values = [cell.value for row in sheet.iter_rows(min_row=2) for cell in row]
        assert not CODES & {v for v in values if isinstance(v, str)}
        assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
        row = dict(zip(header, [cell for cell in sheet[2]]))
        when = row["到期时间" if name == "visits" else "提交时间"]
        assert isinstance(when.value, dt.datetime) and when.is_date
        assert when.number_format == "yyyy-mm-dd hh:mm"
        assert row["回访人员"].value == "李娜" and row["用户名"].value == agent.username
    records = load_workbook(io.BytesIO(_get(client, "records", "xlsx"))).active
    row = dict(zip([c.value for c in records[1]], [c.value for c in records[2]]))
    assert (row["问题处理"], row["已提示防诈骗"], row["满意度"]) == ("无问题", "是", 4)
