"""Make the journal append-only in the database itself, not only by convention.

A journal entry or posting is never changed: a mistake is corrected by a reversing entry. The
triggers refuse an UPDATE of either table on both databases, and a DELETE on PostgreSQL. SQLite
is spared the DELETE rule because Django's test flush empties tables with DELETE there
(PostgreSQL flushes with TRUNCATE, which row triggers do not see).
"""

from django.db import migrations

TABLES = ("payments_journalentry", "payments_posting")


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(
                "CREATE OR REPLACE FUNCTION payments_refuse_change() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'the payments journal is append-only (%): post a reversal instead', "
                "TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
            )
            for table in TABLES:
                cursor.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                               "FOR EACH ROW EXECUTE FUNCTION payments_refuse_change()")
        elif vendor == "sqlite":
            for table in TABLES:
                cursor.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
                               "SELECT RAISE(ABORT, 'the payments journal is append-only: post a reversal instead'); "
                               "END")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            if vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            elif vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        if vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS payments_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
