"""Backups: compressed, checksummed, pruned to the last N; verified by restoring into a
scratch database and comparing the manifest's row counts and the audit chain."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.audit import audit
from supervision.backup import backup_create, backup_verify, backups
from tests.factories import CustomerFactory


@pytest.fixture
def backup_folder(tmp_path, settings):
    settings.CALLBACK = {**settings.CALLBACK, "BACKUP_DIR": str(tmp_path), "BACKUP_KEEP": 2}
    return tmp_path


def _backup_then_write_more(branch, supervisor):
    CustomerFactory(branch=branch)
    audit("user.change", actor=supervisor)
    path = backup_create()
    manifest = json.loads(Path(f"{path}.json").read_text())
    for _ in range(3):  # written after the backup: must not be in it
        CustomerFactory(branch=branch)
        audit("user.change", actor=supervisor)
    return path, manifest


@pytest.mark.spec("6.backup", clause="八.2")
@pytest.mark.django_db(transaction=True)
def test_it_backs_up_and_verifies_the_copy_on_sqlite(backup_folder, branch, supervisor):
    path, manifest = _backup_then_write_more(branch, supervisor)
    assert manifest["tables"]["accounts_customer"] == 1
    assert Path(f"{path}.sha256").read_text().split()[0] == manifest["sha256"]
    result = backup_verify(path)
    assert result.ok, result.problems
    assert result.audit_entries == manifest["tables"]["core_auditlogentry"]


@pytest.mark.spec("6.backup", clause="八.2")
@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_damaged_backup(backup_folder, branch, supervisor):
    path = backup_create()
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\xff\x00\xff")
    with pytest.raises(CommandError):
        call_command("restore", str(path), "--verify")
    assert not backup_verify(path).ok


@pytest.mark.spec("6.backup", clause="八.2")
@pytest.mark.django_db(transaction=True)
def test_it_keeps_only_the_last_n_backups(backup_folder, branch):
    made = [backup_create() for _ in range(3)]
    assert backups() == made[1:]
    assert not Path(f"{made[0]}.json").exists() and not Path(f"{made[0]}.sha256").exists()


@pytest.mark.postgres
@pytest.mark.spec("6.backup", clause="八.2")
@pytest.mark.django_db(transaction=True)
def test_it_restores_a_postgres_dump_into_a_scratch_database(
    backup_folder, branch, supervisor, capsys
):
    path, manifest = _backup_then_write_more(branch, supervisor)
    assert path.name.endswith(".dump")
    assert manifest["vendor"] == "postgresql"
    assert manifest["tables"]["accounts_customer"] == 1  # the backup's count, not the live 4
    call_command("restore", str(path), "--verify")
    out = capsys.readouterr().out
    assert "backup OK" in out and "chain intact" in out
    result = backup_verify(path)
    assert result.ok and result.audit_entries == manifest["tables"]["core_auditlogentry"]


@pytest.mark.postgres
@pytest.mark.spec("6.backup", clause="八.2")
@pytest.mark.django_db(transaction=True)
def test_it_reports_a_manifest_that_does_not_match_the_dump(backup_folder, branch, supervisor):
    path, manifest = _backup_then_write_more(branch, supervisor)
    manifest["tables"]["accounts_customer"] = 4
    Path(f"{path}.json").write_text(json.dumps(manifest))
    result = backup_verify(path)
    assert not result.ok
    assert any("accounts_customer" in problem for problem in result.problems)


@pytest.mark.spec("6.backup", clause="八.2")
def test_it_schedules_the_daily_backup(db):
    from django_celery_beat.models import PeriodicTask

    from core.schedules import schedules_sync

    schedules_sync()
    task = PeriodicTask.objects.get(task="supervision.tasks.backup_daily_task")
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_month) == ("2", "30", "*")
    assert PeriodicTask.objects.filter(
        task="supervision.tasks.destruction_list_monthly_task"
    ).exists()
