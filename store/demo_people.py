"""Demo borrowers and their contact points, for the retail (China) and us-cards (US) portfolios.

Retail borrowers get Chinese names, GB 11643 national IDs, mobile numbers and addresses from
``Faker("zh_CN")``; us-cards borrowers get US names, social security numbers and addresses from
``Faker("en_US")``, phone numbers in the fictional 555-01XX range with the area code of a city,
and the time zone of that city (New York, Chicago, Denver or Los Angeles). Some US borrowers carry
a mobile whose area code is in another zone than their address, as people who moved do.

Every borrower has three contact points: the mobile (the ``phone`` column, VERIFIED), the e-mail
and the home address; a share also a second number, and numbers of a guarantor, a spouse, an
emergency contact or an unrelated third party, with every status. Values never leave this module
except in rows; the activity modules see points through their ids, kinds, owners and statuses.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.contacts.model import ContactParty, ContactPointKind, ContactPointStatus

if TYPE_CHECKING:
    from faker import Faker

Row = dict[str, Any]

SHANGHAI = "Asia/Shanghai"
NEW_YORK, CHICAGO, DENVER, LOS_ANGELES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@dataclass(frozen=True)
class City:
    name: str
    state: str
    zone: str
    area_codes: tuple[str, ...]
    weight: int


# US cities borrowers live in: (city, state, IANA zone, area codes, weight).
US_CITIES = (
    City("New York", "NY", NEW_YORK, ("212", "646", "718"), 14),
    City("Boston", "MA", NEW_YORK, ("617",), 4),
    City("Philadelphia", "PA", NEW_YORK, ("215",), 5),
    City("Atlanta", "GA", NEW_YORK, ("404", "678"), 6),
    City("Miami", "FL", NEW_YORK, ("305", "786"), 6),
    City("Charlotte", "NC", NEW_YORK, ("704",), 3),
    City("Detroit", "MI", NEW_YORK, ("313",), 3),
    City("Chicago", "IL", CHICAGO, ("312", "773"), 9),
    City("Houston", "TX", CHICAGO, ("713", "832"), 7),
    City("Dallas", "TX", CHICAGO, ("214", "469"), 6),
    City("Minneapolis", "MN", CHICAGO, ("612",), 2),
    City("St. Louis", "MO", CHICAGO, ("314",), 2),
    City("Nashville", "TN", CHICAGO, ("615",), 2),
    City("Denver", "CO", DENVER, ("303", "720"), 5),
    City("Salt Lake City", "UT", DENVER, ("801",), 2),
    City("Albuquerque", "NM", DENVER, ("505",), 2),
    City("Boise", "ID", DENVER, ("208",), 1),
    City("Los Angeles", "CA", LOS_ANGELES, ("213", "310"), 10),
    City("San Francisco", "CA", LOS_ANGELES, ("415",), 4),
    City("Seattle", "WA", LOS_ANGELES, ("206",), 4),
    City("Portland", "OR", LOS_ANGELES, ("503",), 2),
    City("Las Vegas", "NV", LOS_ANGELES, ("702",), 2),
)
_US_WEIGHTS = [c.weight for c in US_CITIES]
_BY_NAME = {c.name: c for c in US_CITIES}

# Statuses of the extra points, with weights.
_SECOND_PHONE = (
    (ContactPointStatus.VERIFIED, 30),
    (ContactPointStatus.UNVERIFIED, 35),
    (ContactPointStatus.INVALID, 20),
    (ContactPointStatus.OPTED_OUT, 15),
)
_EMAIL = (
    (ContactPointStatus.VERIFIED, 60),
    (ContactPointStatus.UNVERIFIED, 28),
    (ContactPointStatus.OPTED_OUT, 8),
    (ContactPointStatus.INVALID, 4),
)
_ADDRESS = (
    (ContactPointStatus.VERIFIED, 70),
    (ContactPointStatus.UNVERIFIED, 25),
    (ContactPointStatus.INVALID, 5),
)
_RELATED = ((ContactPointStatus.VERIFIED, 55), (ContactPointStatus.UNVERIFIED, 45))
# Share of borrowers with each kind of related party's number.
_PARTY_SHARE = (
    (ContactParty.GUARANTOR, 0.2),
    (ContactParty.SPOUSE, 0.15),
    (ContactParty.EMERGENCY_CONTACT, 0.3),
    (ContactParty.UNRELATED_THIRD_PARTY, 0.06),
)
USABLE = frozenset({ContactPointStatus.VERIFIED, ContactPointStatus.UNVERIFIED})


@dataclass(frozen=True)
class Needs:
    """Contact points a scripted story needs besides the usual ones (a story's borrower has a
    verified e-mail and address unless it asks otherwise)."""

    story: bool = False
    third_parties: bool = False  # two unrelated third parties' numbers
    bad_points: bool = False  # an opted-out and an invalid second number, an opted-out e-mail
    consent_hours: bool = False  # the mobile with consented hours 07:00-23:00
    two_zones: bool = False  # (US) address in New York, mobile with a Los Angeles number


@dataclass
class Person:
    """A borrower's row, their contact points' rows and the time zones known for them."""

    borrower: Row
    points: list[Row] = field(default_factory=list)

    @property
    def zones(self) -> tuple[str, ...]:
        """Returns the borrower's own zone first, then those of their own points."""
        zones = [self.borrower["time_zone"]]
        for point in self.points:
            zone = point["time_zone"]
            if point["owner"] == ContactParty.BORROWER and zone and zone not in zones:
                zones.append(zone)
        return tuple(zones)

    @property
    def mobile(self) -> Row:
        return self.points[0]

    def usable(self, kind: ContactPointKind, owner: ContactParty) -> list[Row]:
        """Returns the points of a kind and owner that may be contacted (not invalid, opted out)."""
        return [
            p
            for p in self.points
            if p["kind"] == kind and p["owner"] == owner and p["status"] in USABLE
        ]

    def of(self, kind: ContactPointKind, owner: ContactParty, status: str) -> Row | None:
        """Returns the first point of a kind, owner and status, if any."""
        return next(
            (
                p
                for p in self.points
                if p["kind"] == kind and p["owner"] == owner and p["status"] == status
            ),
            None,
        )

    @property
    def reachable(self) -> bool:
        """Whether the borrower has a usable phone number."""
        return bool(self.usable(ContactPointKind.PHONE, ContactParty.BORROWER))


def cents(amount: int) -> Decimal:
    """Returns an integer number of cents as a Decimal with exactly two places."""
    return Decimal(amount).scaleb(-2)


def _check_character(body: str) -> str:
    """Returns the GB 11643 check character for the first 17 digits of a national ID."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _pick(rng: random.Random, weighted: Sequence[tuple[ContactPointStatus, int]]) -> str:
    return rng.choices([s for s, _ in weighted], weights=[w for _, w in weighted])[0].value


class People:
    """Builds borrowers and their contact points; every random choice comes from ``rng``."""

    def __init__(self, rng: random.Random, cn: Faker, us: Faker, as_of: date, take: Any) -> None:
        self.rng, self.cn, self.us, self.as_of = rng, cn, us, as_of
        self.take = take  # take("contact_points") -> the next id
        self.national_ids: set[str] = set()
        self.names: set[str] = set()
        self.phones: set[str] = set()

    # -- borrowers ------------------------------------------------------------------------------

    def person(self, n: int, us: bool, needs: Needs) -> Person:
        """Returns borrower ``n`` with their contact points."""
        if us:
            person, phone_zone = self._us_borrower(n, needs)
        else:
            person, phone_zone = self._cn_borrower(n), SHANGHAI
        self._points(person, us, phone_zone, needs)
        return person

    def _name(self, draw: Callable[[], str]) -> str:
        """A full name no other demo borrower has (so that a name finds one person)."""
        while (name := draw()) in self.names:
            pass
        self.names.add(name)
        return name

    def _cn_borrower(self, n: int) -> Person:
        fake = self.cn
        name, national_id = self._name(fake.name), self._national_id()
        phone, email = self._unique_phone(fake.phone_number), fake.email()
        province, city, district = fake.province(), fake.city(), fake.district() + "区"
        address = f"{province}{city}{district}{fake.street_address()} {fake.postcode()}"
        return Person(
            {
                "id": n,
                "full_name": name,
                "national_id": national_id,
                "phone": phone,
                "email": email,
                "address": address,
                "city": city,
                "district": district,
                "employer": fake.company(),
                "income": cents(self.rng.randint(3_000, 60_000) * 100),
                "income_currency": "CNY",
                "time_zone": SHANGHAI,
            }
        )

    def _national_id(self) -> str:
        """Faker's area code and sequence, a birth date relative to as_of, a valid checksum."""
        while True:
            raw = self.cn.ssn()
            born = self.as_of - timedelta(days=self.rng.randint(22 * 365, 65 * 365))
            body = raw[:6] + born.strftime("%Y%m%d") + raw[14:17]
            candidate = body + _check_character(body)
            if candidate not in self.national_ids:
                self.national_ids.add(candidate)
                return candidate

    def _us_borrower(self, n: int, needs: Needs) -> tuple[Person, str]:
        rng, fake = self.rng, self.us
        if needs.two_zones:
            home, phone_city = _BY_NAME["New York"], _BY_NAME["Los Angeles"]
        else:
            home = rng.choices(US_CITIES, weights=_US_WEIGHTS)[0]
            phone_city = home
            if not needs.story and rng.random() < 0.25:  # moved: the mobile kept its number
                others = [c for c in US_CITIES if c.zone != home.zone]
                phone_city = rng.choice(others)
        while True:
            ssn = fake.ssn()
            if ssn not in self.national_ids:
                self.national_ids.add(ssn)
                break
        zip_code = fake.zipcode_in_state(home.state)
        person = Person(
            {
                "id": n,
                "full_name": self._name(lambda: f"{fake.first_name()} {fake.last_name()}"),
                "national_id": ssn,
                "phone": self._us_phone(phone_city),
                "email": fake.email(),
                "address": f"{fake.street_address()}, {home.name}, {home.state} {zip_code}",
                "city": home.name,
                "district": home.state,
                "employer": fake.company(),
                "income": cents(rng.randint(2_500, 12_000) * 100),
                "income_currency": "USD",
                "time_zone": home.zone,
            }
        )
        return person, phone_city.zone

    def _unique_phone(self, draw: Callable[[], str]) -> str:
        """A number no other contact point of the demo has (the rules count attempts on a
        number across its points)."""
        while (number := draw()) in self.phones:
            pass
        self.phones.add(number)
        return number

    def _us_phone(self, city: City) -> str:
        """An E.164 number of a city's area code in the 555-0100..0199 range set aside for
        fiction (further 555 numbers once a large demo has used those up)."""
        rng, tries = self.rng, 0

        def draw() -> str:
            nonlocal tries
            tries += 1
            line = rng.randint(100, 199) if tries <= 20 else rng.randint(200, 9999)
            return f"+1{rng.choice(city.area_codes)}555{line:04d}"

        return self._unique_phone(draw)

    def _other_phone(self, us: bool) -> tuple[str, str | None]:
        """A number of someone else (or a second one) and its zone where known."""
        if us:
            city = self.rng.choices(US_CITIES, weights=_US_WEIGHTS)[0]
            value = self._us_phone(city)
            return value, city.zone if self.rng.random() < 0.6 else None
        value = self._unique_phone(self.cn.phone_number)
        return value, SHANGHAI if self.rng.random() < 0.5 else None

    # -- contact points -------------------------------------------------------------------------

    def _points(self, person: Person, us: bool, phone_zone: str, needs: Needs) -> None:
        rng, b = self.rng, person.borrower
        # Before any case of the demo opened (the oldest opened about two years ago).
        onboarded = datetime.combine(
            self.as_of - timedelta(days=rng.randint(730, 2200)), time(1, 0), UTC
        )

        def add(
            kind: ContactPointKind,
            value: str,
            owner: ContactParty,
            status: str,
            zone: str | None,
        ) -> Row:
            row: Row = {
                "id": self.take("contact_points"),
                "borrower_id": b["id"],
                "kind": kind.value,
                "value": value,
                "owner": owner.value,
                "status": status,
                "time_zone": zone,
                "consent_start": None,
                "consent_end": None,
                "consented_at": None,
                "created_at": onboarded,
                "version": 1,
            }
            person.points.append(row)
            return row

        phone, email = ContactPointKind.PHONE, ContactPointKind.EMAIL
        borrower = ContactParty.BORROWER
        verified = ContactPointStatus.VERIFIED.value
        mobile = add(phone, b["phone"], borrower, verified, phone_zone)
        story = needs.story
        if needs.consent_hours:
            self._consent(mobile, time(7, 0), time(23, 0), days_ago=20)
        elif story:
            pass  # a story's rules play out as scripted: no consent it did not ask for
        elif not us and rng.random() < 0.05:  # agreed to later evening calls
            self._consent(mobile, time(8, 0), time(22, 30), days_ago=rng.randint(10, 200))
        elif us and rng.random() < 0.05:  # consented to calls, long enough ago not to count
            mobile["consented_at"] = self._days_ago(rng.randint(30, 300))
        email_status = ContactPointStatus.OPTED_OUT.value if needs.bad_points else None
        if email_status is None:
            email_status = ContactPointStatus.VERIFIED.value if story else _pick(rng, _EMAIL)
        add(email, b["email"], borrower, email_status, None)
        address_status = ContactPointStatus.VERIFIED.value if story else _pick(rng, _ADDRESS)
        add(ContactPointKind.ADDRESS, b["address"], borrower, address_status, b["time_zone"])
        if needs.bad_points:
            for status in (ContactPointStatus.OPTED_OUT, ContactPointStatus.INVALID):
                value, zone = self._other_phone(us)
                add(phone, value, borrower, status.value, zone)
        elif rng.random() < 0.3:
            value, zone = self._other_phone(us)
            add(phone, value, borrower, _pick(rng, _SECOND_PHONE), zone)
        for party, share in _PARTY_SHARE:
            wanted = rng.random() < share
            if party is ContactParty.UNRELATED_THIRD_PARTY and needs.third_parties:
                for _ in range(2):
                    value, zone = self._other_phone(us)
                    add(phone, value, party, ContactPointStatus.UNVERIFIED.value, zone)
            elif wanted:
                value, zone = self._other_phone(us)
                add(phone, value, party, _pick(rng, _RELATED), zone)

    def _days_ago(self, days: int) -> datetime:
        at = time(self.rng.randint(2, 10), self.rng.randrange(60), tzinfo=UTC)
        return datetime.combine(self.as_of - timedelta(days=days), at)

    def _consent(self, point: Row, start: time, end: time, days_ago: int) -> None:
        point["consent_start"], point["consent_end"] = start, end
        point["consented_at"] = self._days_ago(days_ago)
