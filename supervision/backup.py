"""Backups (SPEC §6): a compressed, checksummed copy of the database and a manifest, and a
verification that restores it into a scratch database and checks row counts and the audit chain.

Files in ``CALLBACK["BACKUP_DIR"]``, one set per backup::

    callback-20260101T020000.dump          pg_dump custom format (compressed); SQLite: .sqlite3.gz
    callback-20260101T020000.dump.sha256   checksum of the dump, ``sha256sum -c`` compatible
    callback-20260101T020000.dump.json     manifest: row count of every table, audit-chain head

On PostgreSQL the counts and the dump come from the same snapshot (``pg_export_snapshot`` in a
REPEATABLE READ transaction, ``pg_dump --snapshot``), so they agree even while users write.
"""

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.db.utils import load_backend
from django.utils import timezone

from core.models import AuditLogEntry
from supervision.audit_chain import verify_chain

PREFIX = "callback-"


class BackupError(Exception):
    pass


@dataclass
class VerifyResult:
    ok: bool
    problems: list[str]
    tables: int
    audit_entries: int


def backup_dir() -> Path:
    path = Path(settings.CALLBACK["BACKUP_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tables(conn) -> list[str]:
    return sorted(conn.introspection.table_names(include_views=False))


def _count_rows(cursor, tables: list[str], quote) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
        counts[table] = cursor.fetchone()[0]
    return counts


def _audit_head(cursor) -> dict:
    table = AuditLogEntry._meta.db_table
    cursor.execute(f"SELECT id, hash FROM {table} ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return {"last_id": row[0], "last_hash": row[1]} if row else {"last_id": None, "last_hash": None}


def _open_connection(alias: str, settings_dict: dict):
    """A connection that exists only while we use it (not added to settings.DATABASES)."""
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
        {**settings_dict, "CONN_MAX_AGE": 0}, alias
    )
    connections[alias] = wrapper
    return wrapper


def _close_connection(alias: str) -> None:
    connections[alias].close()
    del connections[alias]


def _pg_env(db: dict) -> dict:
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _pg_args(db: dict, name: str | None = None) -> list[str]:
    args = ["--dbname", name or db["NAME"]]
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    return args


def _backup_postgres(target: Path) -> dict:
    db = connection.settings_dict
    # A separate connection holds the snapshot open while pg_dump reads it.
    alias = f"backup_{uuid.uuid4().hex[:8]}"
    snap = _open_connection(alias, db)
    try:
        snap.set_autocommit(False)
        with snap.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            tables = _tables(snap)
            counts = _count_rows(cursor, tables, snap.ops.quote_name)
            head = _audit_head(cursor)
            result = subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(target),
                    *_pg_args(db),
                ],
                env=_pg_env(db),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
        snap.rollback()
    finally:
        _close_connection(alias)
    return {"vendor": "postgresql", "tables": counts, "audit_head": head}


def _backup_sqlite(target: Path) -> dict:
    connection.ensure_connection()
    with tempfile.TemporaryDirectory() as tmp:
        copy_path = Path(tmp) / "copy.sqlite3"
        copy = sqlite3.connect(copy_path)
        try:
            connection.connection.backup(copy)  # a consistent copy, even with writers
        finally:
            copy.close()
        copy = sqlite3.connect(copy_path)
        try:
            cursor = copy.cursor()
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
            tables = sorted(row[0] for row in cursor.fetchall())
            counts = _count_rows(cursor, tables, lambda name: f'"{name}"')
            head = _audit_head(cursor)
        finally:
            copy.close()
        with copy_path.open("rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return {"vendor": "sqlite", "tables": counts, "audit_head": head}


def backup_create() -> Path:
    """Writes one backup set and prunes older ones beyond ``BACKUP_KEEP``."""
    folder = backup_dir()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    suffix = ".dump" if connection.vendor == "postgresql" else ".sqlite3.gz"
    target = folder / f"{PREFIX}{stamp}{suffix}"
    partial = target.with_name(target.name + ".partial")
    try:
        if connection.vendor == "postgresql":
            manifest = _backup_postgres(partial)
        elif connection.vendor == "sqlite":
            manifest = _backup_sqlite(partial)
        else:
            raise BackupError(f"no backup method for {connection.vendor}")
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    checksum = sha256_of(target)
    manifest.update(
        {"file": target.name, "sha256": checksum, "created_at": timezone.now().isoformat()}
    )
    Path(f"{target}.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    Path(f"{target}.sha256").write_text(f"{checksum}  {target.name}\n")
    backup_prune(keep=settings.CALLBACK["BACKUP_KEEP"])
    return target


def backups() -> list[Path]:
    found = [
        p for p in backup_dir().glob(f"{PREFIX}*") if p.name.endswith((".dump", ".sqlite3.gz"))
    ]
    return sorted(found, key=lambda p: p.name)


def backup_prune(*, keep: int) -> list[Path]:
    removed = []
    for old in backups()[: max(len(backups()) - max(keep, 1), 0)]:
        for path in (old, Path(f"{old}.sha256"), Path(f"{old}.json")):
            path.unlink(missing_ok=True)
        removed.append(old)
    return removed


def _verify_counts(conn, manifest: dict) -> tuple[list[str], int]:
    problems = []
    with conn.cursor() as cursor:
        tables = sorted(manifest["tables"])
        restored = _count_rows(cursor, tables, conn.ops.quote_name)
    for table, expected in manifest["tables"].items():
        if restored.get(table) != expected:
            problems.append(f"table {table}: {restored.get(table)} rows, backup says {expected}")
    return problems, len(tables)


def backup_verify(path: Path | str) -> VerifyResult:
    """Restores the backup into a scratch database (never the live one) and checks it."""

    path = Path(path)
    manifest_path = Path(f"{path}.json")
    checksum_path = Path(f"{path}.sha256")
    if not path.is_file() or not manifest_path.is_file() or not checksum_path.is_file():
        raise BackupError(f"{path}: backup, manifest or checksum file missing")
    expected = checksum_path.read_text().split()[0]
    if sha256_of(path) != expected:
        return VerifyResult(False, ["checksum mismatch: the file is damaged or altered"], 0, 0)
    manifest = json.loads(manifest_path.read_text())
    alias = f"restore_{uuid.uuid4().hex[:8]}"
    live = connection.settings_dict
    scratch_name = None
    tmp = tempfile.TemporaryDirectory()
    try:
        if manifest["vendor"] == "postgresql":
            scratch_name = f"{live['NAME']}_verify_{uuid.uuid4().hex[:8]}"
            with connection.cursor() as cursor:  # CREATE DATABASE cannot run in a transaction
                cursor.execute(f'CREATE DATABASE "{scratch_name}"')
            result = subprocess.run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--exit-on-error",
                    *_pg_args(live, scratch_name),
                    str(path),
                ],
                env=_pg_env(live),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")
            _open_connection(alias, {**live, "NAME": scratch_name})
        else:
            restored = Path(tmp.name) / "restored.sqlite3"
            with gzip.open(path, "rb") as src, restored.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            _open_connection(alias, {**live, "NAME": str(restored)})
        scratch = connections[alias]
        problems, tables = _verify_counts(scratch, manifest)
        ok_chain, _broken, explanation = verify_chain(using=alias)
        if not ok_chain:
            problems.append(f"audit chain: {explanation}")
        entries = AuditLogEntry.objects.using(alias).count()
        head = manifest.get("audit_head", {})
        last = (
            AuditLogEntry.objects.using(alias)
            .order_by("-pk")
            .values_list("hash", flat=True)
            .first()
        )
        if last != head.get("last_hash"):
            problems.append("audit chain head differs from the manifest")
        return VerifyResult(not problems, problems, tables, entries)
    finally:
        if hasattr(connections._connections, alias):
            _close_connection(alias)
        if scratch_name:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{scratch_name}"')
        tmp.cleanup()
