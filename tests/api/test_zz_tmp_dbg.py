import pytest
from tests.api.conftest import txn_event
from visits.models import Visit

@pytest.mark.django_db
def test_dbg(api, account, frozen_now):
    events = [txn_event(f"RB-{i}", account.number, "100.00", kind="transfer") for i in range(50)]
    events.append(txn_event("RB-big", account.number))
    r = api.post("/api/v1/events/batch", {"events": events}, format="json")
    print(r.json()["results"][-1], r.json()["results"][20], list(Visit.objects.values("kind", "status")))
