"""``__in_array`` (core.lookups): the rows whose key is in a set of integers, with the set sent as
ONE parameter, on primary keys and foreign keys alike; the same rows as ``__in``."""

import pytest

from tests.factories import VisitFactory
from visits.models import Visit

pytestmark = [pytest.mark.django_db]


def test_primary_keys_same_rows_as_in_with_one_parameter():
    visits = [VisitFactory() for _ in range(5)]
    wanted = {visits[0].pk, visits[3].pk, visits[4].pk, 10**12}  # one id of no visit
    query = Visit.objects.filter(pk__in_array=wanted).values_list("pk", flat=True)
    found = set(query)
    assert found == set(Visit.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found == {visits[0].pk, visits[3].pk, visits[4].pk}
    # The ids travel as one value, where ``__in`` takes one placeholder each.
    _sql, params = query.query.sql_with_params()
    assert len(params) == 1
    _sql, params = Visit.objects.filter(pk__in=wanted).query.sql_with_params()
    assert len(params) == 4


def test_foreign_keys_by_column_and_by_relation():
    first, second = VisitFactory(), VisitFactory()
    assert first.account_id != second.account_id
    by_column = Visit.objects.filter(account_id__in_array=frozenset({first.account_id}))
    by_relation = Visit.objects.filter(account__in_array={first.account_id})
    assert list(by_column.values_list("pk", flat=True)) == [first.pk]
    assert list(by_relation.values_list("pk", flat=True)) == [first.pk]


def test_an_empty_set_matches_nothing_and_a_list_works_too():
    visit = VisitFactory()
    assert not Visit.objects.filter(pk__in_array=set()).exists()
    assert Visit.objects.filter(pk__in_array=[visit.pk, visit.pk]).count() == 1


@pytest.mark.parametrize("bad", [["1"], [1.5], [True], [None]])
def test_anything_but_integers_is_refused(bad):
    with pytest.raises(TypeError, match="integers"):
        Visit.objects.filter(pk__in_array=bad)
