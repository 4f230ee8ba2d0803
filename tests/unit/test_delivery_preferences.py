"""The preference page's save, on an in-memory store: the stored consent after each save is
the contact's choice (not only "which keys changed"), only configured topics are granted,
with the page's own words as proof, and a request naming anything else stores nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nurture.contacts import Consent, Contact
from nurture.delivery.config import DeliveryPolicy
from nurture.delivery.preferences import PreferenceCenter, PreferenceError
from nurture.delivery.tokens import UNSUBSCRIBE, LinkToken, sign
from nurture.tracking.events import Activity

pytestmark = pytest.mark.unit
SECRETS = ["preference-test-secret-0123456789"]
AT = "2026-01-01T00:00:00Z"


class Store:
    def __init__(self, contact: Contact):
        self.contact = contact
        self.counts: list[tuple[str, str, dict[str, int]]] = []

    def update_contact(self, contact_id: str, change: Callable[[Contact], bool]) -> Contact | None:
        if contact_id != self.contact.contact_id:
            return None
        working = self.contact.model_copy(deep=True)
        if change(working):  # an exception stores nothing, as the DynamoDB store
            self.contact = working
        return self.contact

    def count(self, program_id: str, step_id: str, counters: dict[str, int], key: str) -> None:
        self.counts.append((program_id, step_id, counters))


class Activities:
    def __init__(self) -> None:
        self.stored: list[Activity] = []

    def put_new(self, activity: Activity) -> bool:
        self.stored.append(activity)
        return True


def _consent(key: str, status: str, text: str = "form text") -> Consent:
    channel, _, topic = key.partition(":")
    return Consent.model_validate(
        {
            "channel": channel,
            "topic": topic,
            "status": status,
            "at": AT,
            "source": "form:x",
            "text": text,
        }
    )


def _center(**consent: str) -> tuple[PreferenceCenter, Store, Activities, str]:
    contact = Contact(
        contact_id="c1",
        created_at=AT,
        updated_at=AT,
        email="ada@example.com",
        consent={
            k.replace("__", ":"): _consent(k.replace("__", ":"), v) for k, v in consent.items()
        },
    )
    store, activities = Store(contact), Activities()
    policy = DeliveryPolicy(
        secrets=SECRETS,
        public_base_url="https://example.com",
        send_window=None,
        default_timezone="UTC",
        email_cap=None,
        sms_cap=None,
        topics=("newsletter", "offers", "events"),
    )
    center = PreferenceCenter(store=store, activities=activities, policy=policy)  # type: ignore[arg-type]
    token = sign(SECRETS, LinkToken("c1", UNSUBSCRIBE, 4_000_000_000, {"ch": "email"}))
    return center, store, activities, token


def _statuses(store: Store) -> dict[str, str]:
    return {k: v.status for k, v in store.contact.consent.items()}


SHOWN = "email:newsletter,email:offers,email:events"


@pytest.mark.parametrize(
    ("ticked", "expected"),
    [
        ((), {"email:newsletter": "withdrawn"}),
        (("email:offers",), {"email:newsletter": "withdrawn", "email:offers": "granted"}),
        (("email:newsletter",), {"email:newsletter": "granted"}),
        (
            ("email:newsletter", "email:offers", "email:events"),
            {"email:newsletter": "granted", "email:offers": "granted", "email:events": "granted"},
        ),
    ],
)
def test_what_is_stored_is_what_the_contact_ticked(
    ticked: tuple[str, ...], expected: dict[str, str]
) -> None:
    center, store, activities, token = _center(email__newsletter="granted")
    center.submit(token, {"action": "save", "shown": SHOWN, **{k: "on" for k in ticked}})

    assert _statuses(store) == expected
    for key, status in expected.items():
        record = store.contact.consent[key]
        if key == "email:newsletter" and status == "granted":
            assert (record.source, record.text) == ("form:x", "form text")  # untouched
            continue
        label = key.split(":")[1].capitalize()
        verb = "Ticked" if status == "granted" else "Unticked"
        assert record.source == "preference-page"
        assert record.text == f'{verb} "{label}" under "Email" on the preference page'
    granted = [a for a in activities.stored if a.name == "consent.granted"]
    withdrawn = [a for a in activities.stored if a.name == "consent.withdrawn"]
    assert [k for a in granted for k in a.properties["keys"]] == sorted(
        k for k, v in expected.items() if v == "granted" and k != "email:newsletter"
    )
    assert [k for a in withdrawn for k in a.properties["keys"]] == [
        k for k, v in expected.items() if v == "withdrawn"
    ]


def test_a_second_save_with_the_same_choices_changes_nothing() -> None:
    center, store, activities, token = _center(email__newsletter="granted")
    form = {"action": "save", "shown": SHOWN, "email:offers": "on"}
    center.submit(token, form)
    before, stored = store.contact.model_dump(), len(activities.stored)
    center.submit(token, form)
    assert store.contact.model_dump() == before and len(activities.stored) == stored


@pytest.mark.parametrize(
    ("form", "field"),
    [
        # a topic nobody configured, with wording of the client's choosing
        ({"shown": SHOWN + ",email:casino", "email:casino": "on"}, "'shown' lists 'email:casino'"),
        ({"shown": "email:casino"}, "'shown' lists 'email:casino'"),
        # the generic topic is not a choice on the page (it would cover every topic)
        ({"shown": "email:marketing", "email:marketing": "on"}, "'shown' lists 'email:marketing'"),
        # a channel the contact has no address for
        ({"shown": "sms:newsletter", "sms:newsletter": "on"}, "'shown' lists 'sms:newsletter'"),
        ({"shown": "fax:newsletter"}, "'shown' lists 'fax:newsletter'"),
        # a tick outside the choices shown
        ({"shown": "email:offers", "email:events": "on"}, "field 'email:events' is not one"),
        ({"shown": SHOWN, "text": "I agree to everything"}, "field 'text' is not one"),
    ],
)
def test_a_choice_the_page_does_not_offer_is_refused_naming_it_and_nothing_is_stored(
    form: dict[str, str], field: str
) -> None:
    center, store, activities, token = _center(email__newsletter="granted")
    before = store.contact.model_dump()
    with pytest.raises(PreferenceError) as refused:
        center.submit(token, {"action": "save", **form})
    assert refused.value.status == 400
    assert field in str(refused.value)
    assert store.contact.model_dump() == before
    assert activities.stored == [] and store.counts == []


def test_a_granted_topic_outside_the_configuration_can_be_withdrawn_but_never_granted() -> None:
    center, store, _, token = _center(email__guides="granted")
    page = center.view(token)
    assert 'name="email:guides" value="on" checked' in page
    center.submit(token, {"action": "save", "shown": SHOWN + ",email:guides"})
    assert _statuses(store) == {"email:guides": "withdrawn"}
    # withdrawn, it is no longer offered, and ticking it again is refused
    assert "email:guides" not in center.view(token)
    with pytest.raises(PreferenceError, match="'shown' lists 'email:guides'"):
        center.submit(token, {"action": "save", "shown": "email:guides", "email:guides": "on"})
    assert _statuses(store) == {"email:guides": "withdrawn"}


def test_every_configured_topic_is_offered_and_the_page_shows_the_stored_state() -> None:
    center, store, _, token = _center(email__offers="granted", email__events="withdrawn")
    page = center.view(token)
    assert 'name="email:offers" value="on" checked' in page
    assert 'name="email:newsletter" value="on">' in page
    assert 'name="email:events" value="on">' in page
    assert f'name="shown" value="{SHOWN}"' in page
    assert "sms:" not in page  # no phone number: no SMS choices


def test_unsubscribe_all_withdraws_every_key_on_every_channel() -> None:
    center, store, _, token = _center(email__newsletter="granted", email__offers="granted")
    center.submit(token, {"action": "unsubscribe_all"})
    assert _statuses(store) == {
        "email:newsletter": "withdrawn",
        "email:offers": "withdrawn",
        "email:marketing": "withdrawn",
        "sms:marketing": "withdrawn",
    }
