"""Foreign keys checked once per statement on PostgreSQL (decision 0503), as migration SQL.

A native foreign key checks each inserted row with its own query (and locks the parent row): a
billing month inserts about a million child rows, and those checks cost more than the rows. For
the few hot relations named in migrations, the constraint is dropped (`db_constraint=False`) and
these triggers check the same rule set-based:

* child INSERT or UPDATE: every distinct new key is present in the parent table (one anti-join
  per key over the statement's transition table, probing the parent's primary key);
* parent DELETE: no deleted id is still referenced (one semi-join over the deleted rows, on the
  child's index of the key);
* parent UPDATE OF id: a referenced id does not change.

Checks run at the end of each statement, not deferred to commit, and take no lock on the parent
row. Pure SQL text, no Django: the migrations that install them import this module.
"""

from __future__ import annotations

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION gridcare_key_check_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  i integer := 0;
  bad bigint;
BEGIN
  -- TG_ARGV: column, parent table, column, parent table, ... Each distinct new key is looked up once.
  WHILE i < TG_NARGS LOOP
    EXECUTE format('SELECT n.k FROM (SELECT DISTINCT %1$I AS k FROM gridcare_new_rows WHERE %1$I IS NOT NULL) n '
                   'WHERE NOT EXISTS (SELECT FROM %2$I p WHERE p.id = n.k) LIMIT 1', TG_ARGV[i], TG_ARGV[i + 1])
      INTO bad;
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'insert or update on table "%" violates foreign key on %', TG_TABLE_NAME, TG_ARGV[i]
        USING ERRCODE = 'foreign_key_violation',
              DETAIL = format('Key (%s)=(%s) is not present in table "%s".', TG_ARGV[i], bad, TG_ARGV[i + 1]);
    END IF;
    i := i + 2;
  END LOOP;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gridcare_key_check_parents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad bigint;
BEGIN
  EXECUTE format('SELECT o.id FROM gridcare_old_rows o WHERE EXISTS (SELECT FROM %1$I c WHERE c.%2$I = o.id) '
                 'LIMIT 1', TG_ARGV[0], TG_ARGV[1]) INTO bad;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'delete on table "%" violates foreign key %.%', TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', bad, TG_ARGV[0]);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION gridcare_key_check_parent_id() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE referenced boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT FROM %1$I c WHERE c.%2$I = $1)', TG_ARGV[0], TG_ARGV[1])
    INTO referenced USING OLD.id;
  IF referenced THEN
    RAISE EXCEPTION 'update on table "%" violates foreign key %.%', TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[1]
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', OLD.id, TG_ARGV[0]);
  END IF;
  RETURN NEW;
END $$;
"""


def _name(table: str, suffix: str) -> str:
    return f"{table}_{suffix}"[:63]


def install(child: str, keys: list[tuple[str, str]]) -> list[str]:
    """Statements that check each (column, parent table) of `child` (run FUNCTIONS first): one
    statement trigger per event on the child, two triggers per key on its parent."""
    args = ", ".join(f"'{column}', '{parent}'" for column, parent in keys)
    out = [
        f"CREATE TRIGGER {_name(child, 'keys_ins')} AFTER INSERT ON {child} REFERENCING NEW TABLE AS "
        f"gridcare_new_rows FOR EACH STATEMENT EXECUTE FUNCTION gridcare_key_check_rows({args})",
        f"CREATE TRIGGER {_name(child, 'keys_upd')} AFTER UPDATE ON {child} REFERENCING NEW TABLE AS "
        f"gridcare_new_rows FOR EACH STATEMENT EXECUTE FUNCTION gridcare_key_check_rows({args})",
    ]
    for column, parent in keys:
        back = f"'{child}', '{column}'"
        out += [
            f"CREATE TRIGGER {_name(child, column + '_del')} AFTER DELETE ON {parent} REFERENCING OLD TABLE AS "
            f"gridcare_old_rows FOR EACH STATEMENT EXECUTE FUNCTION gridcare_key_check_parents({back})",
            f"CREATE TRIGGER {_name(child, column + '_key')} BEFORE UPDATE OF id ON {parent} FOR EACH ROW "
            f"WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION gridcare_key_check_parent_id({back})",
        ]
    return out


def remove(child: str, keys: list[tuple[str, str]]) -> list[str]:
    out = [f"DROP TRIGGER IF EXISTS {_name(child, 'keys_ins')} ON {child}",
           f"DROP TRIGGER IF EXISTS {_name(child, 'keys_upd')} ON {child}"]
    for column, parent in keys:
        out += [f"DROP TRIGGER IF EXISTS {_name(child, column + '_del')} ON {parent}",
                f"DROP TRIGGER IF EXISTS {_name(child, column + '_key')} ON {parent}"]
    return out


def install_all(schema_editor, keys_by_table: dict[str, list[tuple[str, str]]]) -> None:
    """A migration's RunPython body: the check functions and every listed table's triggers, on
    PostgreSQL only (SQLite, the development lane, keeps no constraint on these columns)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS, None)
    for child, keys in keys_by_table.items():
        for sql in install(child, keys):
            schema_editor.execute(sql, None)


def remove_all(schema_editor, keys_by_table: dict[str, list[tuple[str, str]]]) -> None:
    """The reverse of `install_all` (the shared functions stay: other tables may use them)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for child, keys in keys_by_table.items():
        for sql in remove(child, keys):
            schema_editor.execute(sql, None)
