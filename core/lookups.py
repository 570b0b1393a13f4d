"""``__in_array``: membership in a list of integers passed as ONE parameter.

``visit_id__in=ids`` makes Django prepare every element and write one placeholder per element:
with 1,000 ids that was about 7 ms of Python per filter (the supervisor's dashboard filters four
times by the visits changed in the last minutes, so a busy morning cost 30 ms of the page in
building IN lists). ``visit_id__in_array=ids`` sends the ids as one array: on PostgreSQL
``= ANY(%s::<type>[])`` with the array's text form (``core.pg.pg_array``), elsewhere
``IN (SELECT value FROM json_each(%s))``. Integers only (primary and foreign keys): anything
else is refused with TypeError, as a wrong lookup value is a programming error.

Pass a set or a frozenset: Django resolves the elements of a list or a tuple given to any lookup
one by one (another 3 ms per 1,000), a set as one value.

Registered on the integer fields and on foreign keys by ``CoreConfig.ready``.
"""

from __future__ import annotations

import json

from django.db.models import Lookup

from core.pg import pg_array


class InArray(Lookup):
    lookup_name = "in_array"
    prepare_rhs = False

    def get_prep_lookup(self):
        values = sorted(self.rhs) if isinstance(self.rhs, set | frozenset) else list(self.rhs)
        for value in values:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"in_array takes integers, not {type(value).__name__}")
        return [int(value) for value in values]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            # integer, bigint or smallint (an AutoField casts to its integer type)
            sql_type = self.lhs.output_field.cast_db_type(connection)
            return f"{lhs} = ANY(%s::{sql_type}[])", [*lhs_params, pg_array(self.rhs)]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, json.dumps(self.rhs)]
