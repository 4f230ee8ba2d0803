"""Customer programs end to end on the local cloud in virtual time: onboarding with
escalating follow-ups, cross-category expansion, triggered upsell, abandoned cart, win-back,
repurchase cycle (a multi-year wait), referral and birthday greetings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from care import Person, deploy, tasks

from localcloud import LocalCloud

pytestmark = pytest.mark.integration


def customer(cloud: LocalCloud, email: str, **fields: str) -> Person:
    """A shop customer who created an account and agreed to offers by email."""
    person = Person(cloud, email)
    person.form("shop-account", first_name="Cleo", consent_offers="on", **fields)
    return person


# --- onboarding and cross-sell -------------------------------------------------------------
def test_onboarding_escalates_until_the_account_is_set_up_then_offers_a_new_category(
    cloud: LocalCloud,
) -> None:
    # Given onboarding and cross-sell, and a new customer's first order (a bike)
    deploy(cloud, "onboarding", "cross-sell")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    cleo.track("order_completed", order_id="o-1", category="bikes", total=899)

    # When she never sets up her account
    cloud.advance(timedelta(days=20))

    # Then: thanks at once, the ask after two days, the incentive four days later, a last
    # reminder five days after that, and a week later an offer from a category she lacks
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("Thank you for your order, Cleo!", timedelta(0)),
        ("One step to get the most out of your purchase", timedelta(days=2)),
        ("A thank-you for setting up your account: 10% off", timedelta(days=6)),
        ("Your warranty is not registered yet", timedelta(days=11)),
        ("Made for what you bought: accessories", timedelta(days=18)),
    ]
    assert cleo.branches() == [
        "branch taken at 'setup-done': deadline passed",
        "branch taken at 'setup-after-offer': deadline passed",
        "branch taken at 'which-category': to accessories",
    ]
    assert cleo.contact().stage == "customer"
    [change] = cleo.activities("contact.stage_changed")
    assert change.properties["from"] == "subscriber" and change.properties["to"] == "customer"
    assert cloud.errors == []


def test_onboarding_stops_asking_once_the_account_is_set_up(cloud: LocalCloud) -> None:
    # Given a new customer who already bought accessories
    deploy(cloud, "onboarding", "cross-sell")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    cleo.track("order_completed", order_id="o-1", category="accessories", total=49)
    cleo.track("order_completed", order_id="o-2", category="bikes", total=899)

    # When she sets up her account after the incentive
    cloud.advance(timedelta(days=7))
    cleo.track("account_setup_completed")
    cloud.advance(timedelta(days=20))

    # Then no more reminders; onboarding hands over to cross-sell, which offers service
    # plans (she has accessories); the second order did not start onboarding again
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("Thank you for your order, Cleo!", timedelta(0)),
        ("One step to get the most out of your purchase", timedelta(days=2)),
        ("A thank-you for setting up your account: 10% off", timedelta(days=6)),
        ("Keep it like new: service plans", timedelta(days=7)),
    ]
    assert "branch taken at 'setup-after-offer': happened" in cleo.branches()
    assert len(cleo.activities("program.entered")) == 2  # onboarding once, cross-sell once
    assert cloud.errors == []


# --- triggered upsell --------------------------------------------------------------------
def test_trip_purchase_gets_an_insurance_offer_and_a_reminder(cloud: LocalCloud) -> None:
    deploy(cloud, "upsell-travel-insurance")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    dan = customer(cloud, "dan@example.com")

    # When Cleo buys a trip, and Dan a book
    cleo.track("order_completed", order_id="t-1", category="trips", total=1200)
    dan.track("order_completed", order_id="b-1", category="books", total=20)
    cloud.advance(timedelta(days=4))

    # Then Cleo gets the offer an hour later and, without a click, a reminder; Dan nothing
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("Travel with peace of mind", timedelta(hours=1)),
        ("Is your trip covered?", timedelta(hours=1, days=3)),
    ]
    assert dan.emails() == []
    assert cleo.branches() == ["branch taken at 'clicked-offer': deadline passed"]
    assert cloud.errors == []


def test_buying_the_insurance_ends_the_upsell_as_converted(cloud: LocalCloud) -> None:
    deploy(cloud, "upsell-travel-insurance")
    cleo = customer(cloud, "cleo@example.com")
    cleo.track("order_completed", order_id="t-1", category="trips", total=1200)
    cloud.advance(timedelta(hours=2))

    # When she buys the insurance after the offer
    cleo.track("order_completed", order_id="i-1", category="insurance", total=60)
    cloud.advance(timedelta(days=4))

    # Then the run stopped at its goal: no reminder, and the conversion is on record
    assert cleo.subjects() == ["Travel with peace of mind"]
    [converted] = cleo.activities("program.converted")
    assert converted.properties["program_id"] == "upsell-travel-insurance"
    assert converted.properties["goal"] == "bought insurance"
    assert "program 'upsell-travel-insurance' stopped" in cleo.timeline()
    enrolment = cleo.enrolment("upsell-travel-insurance")
    assert enrolment is not None and enrolment.status == "converted"

    # and a second trip is a new entry (every time), with its own offer
    cleo.track("order_completed", order_id="t-2", category="trips", total=800)
    cloud.advance(timedelta(hours=2))
    assert cleo.subjects() == ["Travel with peace of mind", "Travel with peace of mind"]
    assert cloud.errors == []


# --- abandoned cart ------------------------------------------------------------------------
def test_abandoned_cart_reminds_only_when_no_order_follows(cloud: LocalCloud) -> None:
    deploy(cloud, "abandoned-cart")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    dan = customer(cloud, "dan@example.com")

    # When both start checking out, and only Dan completes the order (an hour later)
    cleo.track("checkout_started", cart_value=120)
    dan.track("checkout_started", cart_value=80)
    cloud.advance(timedelta(hours=1))
    dan.track("order_completed", order_id="d-1", total=80)
    cloud.advance(timedelta(days=2))

    # Then Cleo is reminded after 4 hours with a link back to her cart, and once more a
    # day later; Dan, who ordered, hears nothing
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("You left something in your cart", timedelta(hours=4)),
        ("Your cart will be cleared tomorrow", timedelta(days=1, hours=4)),
    ]
    assert "https://shop.example.com/cart" in cleo.mail("You left something").links()
    assert dan.emails() == []
    [converted] = dan.activities("program.converted")
    assert converted.properties["goal"] == "ordered"
    assert cleo.activities("program.converted") == []
    assert cloud.errors == []


# --- win-back ------------------------------------------------------------------------------
def test_win_back_reminds_offers_offers_more_then_asks_for_a_call(cloud: LocalCloud) -> None:
    # Given a customer whose last order was long ago, with an assigned salesperson
    deploy(cloud, "win-back")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    cleo.identify(stage="customer", owner="sam@sales.example.com")
    cleo.track("order_completed", order_id="o-1", category="bikes", total=899)

    # When 121 days pass without an order, and then the whole program
    cloud.advance(timedelta(days=170))

    # Then the daily sweep enrols her once the 120 days have passed (05:00; sends wait
    # for the 08:00 send window), and every two weeks the stakes rise, ending in a call
    day = timedelta(days=1)
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("We miss you, Cleo", 121 * day - timedelta(hours=1)),
        ("Free delivery on your next order", 135 * day - timedelta(hours=1)),
        ("15% off, just for you", 149 * day - timedelta(hours=1)),
    ]
    [call] = tasks(cloud, "sam@sales.example.com")
    assert call.title == "Call Cleo: no order in 5 months"
    [entered] = [a for a in cleo.activities("program.entered")]
    assert entered.properties["program_id"] == "win-back"
    assert cloud.errors == []


def test_an_order_ends_the_win_back(cloud: LocalCloud) -> None:
    deploy(cloud, "win-back")
    cleo = customer(cloud, "cleo@example.com")
    cleo.identify(stage="customer")
    cleo.track("order_completed", order_id="o-1", category="bikes", total=899)
    cloud.advance(timedelta(days=136))
    assert cleo.subjects() == ["We miss you, Cleo", "Free delivery on your next order"]

    # When she orders again
    cleo.track("order_completed", order_id="o-2", category="bikes", total=99)
    cloud.advance(timedelta(days=60))

    # Then no better offer, no call; and not enrolled again within the year
    assert cleo.subjects() == ["We miss you, Cleo", "Free delivery on your next order"]
    assert [a.properties["goal"] for a in cleo.activities("program.converted")] == ["ordered again"]
    assert len(cleo.activities("program.entered")) == 1
    assert cloud.errors == []


# --- referral ------------------------------------------------------------------------------
def test_promoters_are_asked_for_referrals_others_for_a_review(cloud: LocalCloud) -> None:
    deploy(cloud, "referral")
    cleo = customer(cloud, "cleo@example.com")
    dan = customer(cloud, "dan@example.com")

    # When Cleo would recommend us (10/10) and Dan is lukewarm (6/10)
    cleo.track("survey_answered", survey="after-purchase", score=10)
    dan.track("survey_answered", survey="after-purchase", score=6)

    # Then Cleo is asked to invite a friend (and tagged a promoter), Dan to write a review
    assert cleo.subjects() == ["Thank you! Would you tell a friend?"]
    assert dan.subjects() == ["How did we do? Rate us in one click"]
    assert cleo.branches() == ["branch taken at 'promoter-or-not': to ask-referral"]
    assert dan.branches() == ["branch taken at 'promoter-or-not': to ask-review"]
    assert "promoter" in cleo.contact().tags and "promoter" not in dan.contact().tags
    assert cloud.errors == []


# --- birthday ------------------------------------------------------------------------------
def test_birthday_greeting_every_year_at_nine_local_time(cloud: LocalCloud) -> None:
    # Given a customer in Helsinki born on 12 January
    deploy(cloud, "birthday")
    cleo = customer(cloud, "cleo@example.com", birthday="1990-01-12", timezone="Europe/Helsinki")

    # When two birthdays pass
    cloud.advance(timedelta(days=400))

    # Then a greeting on each, at 09:00 Helsinki time (07:00 UTC)
    assert [(e.subject, e.sent_at.isoformat()) for e in cleo.emails()] == [
        ("Happy birthday, Cleo!", "2026-01-12T07:00:00+00:00"),
        ("Happy birthday, Cleo!", "2027-01-12T07:00:00+00:00"),
    ]
    assert len(cleo.activities("program.entered")) == 2
    assert cloud.errors == []


# --- repurchase cycle (a wait of years) ----------------------------------------------------
def test_repurchase_offers_a_trade_in_three_and_a_half_years_after_a_car(
    cloud: LocalCloud,
) -> None:
    # Given a car buyer with a dealer assigned
    deploy(cloud, "repurchase")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    cleo.identify(owner="dealer@cars.example.com")
    cleo.track("order_completed", order_id="car-1", category="cars", total=31000)

    # When 42 months pass (longer than one Step Functions execution may live), and a month
    cloud.advance(timedelta(days=1260 + 31))

    # Then the trade-in offer comes 42 months later, a reminder a month after, and the
    # dealer is asked to call
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("Time for a new car? Your trade-in offer", timedelta(days=1260)),
        ("Your trade-in offer is still open", timedelta(days=1290)),
    ]
    [call] = tasks(cloud, "dealer@cars.example.com")
    assert call.title == "Call Cleo about a new car"
    assert any("resumed by schedule" in e.what for e in cloud.timeline)
    assert cloud.errors == []


def test_buying_a_car_again_ends_the_waiting_run_and_starts_a_new_cycle(
    cloud: LocalCloud,
) -> None:
    deploy(cloud, "repurchase")
    start = cloud.clock.now()
    cleo = customer(cloud, "cleo@example.com")
    cleo.track("order_completed", order_id="car-1", category="cars", total=31000)
    cloud.advance(timedelta(days=730))

    # When she buys a car again two years later, during the long wait
    cleo.track("order_completed", order_id="car-2", category="cars", total=28000)
    cloud.advance(timedelta(days=1261))

    # Then the first cycle ended at its goal (its pending resume cancelled: no offer at 42
    # months after the first car), and the second cycle offers 42 months after the second
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("Time for a new car? Your trade-in offer", timedelta(days=730 + 1260)),
    ]
    assert [a.properties["goal"] for a in cleo.activities("program.converted")] == [
        "bought a car again"
    ]
    assert len(cleo.activities("program.entered")) == 2
    assert cloud.errors == []
