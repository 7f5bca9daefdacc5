"""The demo world `manage.py load_demo` builds, and the loader that builds it.

Everything comes from one real essay, Tsutomu Nishioka's "Reality of North Korea's
Participation in Ukraine War" (JINF Speaking Out #1192, 24 October 2024), which
holds every difficulty the tracker is for: relayed sources, "about" counts, ranges,
dates of every precision, forecasts and the author's own inferences, figures that
agree across unrelated origins and figures that disagree. Claim statements put the
essay's facts in plain words of their own; excerpts are short verbatim fragments,
"para N" counting the essay's body paragraphs (headings and byline left out).

The essay is the only text at hand, so every citation is read in it (or, once, in
the June essay's title): the statements of Zelensky, the Ukrainian Center and the
South Korean NIS are cited as those sources, read in the essay that relays them.
Their own documents are listed, without text or URL, for an analyst to find.

Loading is idempotent: each row is looked up by a natural key and created only when
missing; nothing that exists is changed, so re-running never overwrites what people
did with the demo since.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import IO, Any

from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.db import models, transaction

from analysts.audit import record, snapshot
from analysts.models import ROLES, Analyst, AuditEntry
from analysts.roles import ensure_roles
from claims.confirmation_store import recompute_claims
from claims.models import (
    Citation,
    Claim,
    Place,
    Relation,
    Review,
    Topic,
    excerpt_digest,
)
from sources.models import Document, GradeChange, Source

# Published on purpose: `make run` prints them. Never load the demo into a
# database that real people sign in to.
USERS: list[dict[str, Any]] = [
    {
        "username": "alice",
        "password": "demo-alice-2024!",
        "first_name": "Alice",
        "roles": ["Analyst"],
    },
    {
        "username": "bob",
        "password": "demo-bob-2024!!",
        "first_name": "Bob",
        "roles": ["Analyst"],
    },
    {
        "username": "rita",
        "password": "demo-rita-2024!",
        "first_name": "Rita",
        "roles": ["Reviewer"],
    },
    {
        "username": "max",
        "password": "demo-max-2024!!",
        "first_name": "Max",
        "roles": ["Manager"],
    },
    {
        "username": "admin",
        "password": "demo-admin-2024!",
        "first_name": "Ada",
        "roles": [],
        "is_superuser": True,
        "is_staff": True,
    },
]

# Grades are the manager's (max); each comes with the rationale kept in its
# GradeChange. Parents come before their parts.
SOURCES: list[dict[str, Any]] = [
    {
        "name": "Government of Ukraine",
        "kind": "government",
        "country": "Ukraine",
        "grade": "B",
        "parent": None,
        "logged_by": "alice",
        "description": "The Ukrainian state; top of the chain for its organs.",
        "rationale": "Usually borne out on Russian deployments, though a party to "
        "the war with a stake in how they are seen.",
    },
    {
        "name": "President of Ukraine Volodymyr Zelensky",
        "kind": "person",
        "country": "Ukraine",
        "grade": "B",
        "parent": "Government of Ukraine",
        "logged_by": "alice",
        "description": "Speaks for the Ukrainian government, often from its "
        "intelligence services' reporting.",
        "rationale": "Relays Ukraine's intelligence services, usually reliable "
        "on Russian forces; a party to the war.",
    },
    {
        "name": "Ministry of Culture and Information Policy of Ukraine",
        "kind": "agency",
        "country": "Ukraine",
        "grade": "C",
        "parent": "Government of Ukraine",
        "logged_by": "alice",
        "description": "Ukrainian ministry, named as the essay names it.",
        "rationale": "An information-policy ministry: reports are sometimes "
        "shaped for their effect.",
    },
    {
        "name": "Center for Strategic Communication and Information Security",
        "kind": "agency",
        "country": "Ukraine",
        "grade": "C",
        "parent": "Ministry of Culture and Information Policy of Ukraine",
        "logged_by": "alice",
        "description": "Ukrainian government body that counters disinformation and "
        "publishes material on Russia's war.",
        "rationale": "Releases material with little provenance; fairly reliable "
        "so far.",
    },
    {
        "name": "Government of the Republic of Korea",
        "kind": "government",
        "country": "South Korea",
        "grade": "B",
        "parent": None,
        "logged_by": "alice",
        "description": "The South Korean state; top of the chain for its organs.",
        "rationale": "Long record on North Korean affairs; not a party to the war.",
    },
    {
        "name": "National Intelligence Service (Republic of Korea)",
        "kind": "agency",
        "country": "South Korea",
        "grade": "B",
        "parent": "Government of the Republic of Korea",
        "logged_by": "alice",
        "description": "South Korea's intelligence service (NIS).",
        "rationale": "Usually reliable on North Korean military movements, and "
        "not a party to the war.",
    },
    {
        "name": "Japan Institute for National Fundamentals",
        "kind": "organization",
        "country": "Japan",
        "grade": "C",
        "parent": None,
        "logged_by": "bob",
        "description": "Tokyo policy institute (JINF); publishes the 'Speaking "
        "Out' essays of its fellows.",
        "rationale": "A publisher of its fellows' opinion, not a collector; "
        "fairly reliable.",
    },
    {
        # His own origin, not a part of the institute: he reports from his own
        # contacts, and the institute only publishes what he writes.
        "name": "Tsutomu Nishioka",
        "kind": "person",
        "country": "Japan",
        "grade": "C",
        "parent": None,
        "logged_by": "bob",
        "description": "Senior fellow of the Japan Institute for National "
        "Fundamentals; writes on the two Koreas.",
        "rationale": "Long-standing Korea watcher with sources in the North; "
        "relays more than he observes.",
    },
    {
        # A separate origin from Nishioka on purpose: he relays them, and a relay
        # neither merges two origins nor creates a new one. Were they part of
        # him, his own inferences would count as their reporting.
        "name": "Nishioka's unnamed sources inside North Korea",
        "kind": "unnamed",
        "country": "North Korea",
        "grade": "F",
        "parent": None,
        "logged_by": "bob",
        "description": "People inside North Korea whom Tsutomu Nishioka quotes "
        "without naming ('my sources', 'I was told'); reach us only through him.",
        "rationale": "Unnamed and unverifiable from here: reliability cannot be "
        "judged yet.",
    },
    {
        "name": "Ukrainian media (outlets not named)",
        "kind": "media",
        "country": "Ukraine",
        "grade": "D",
        "parent": None,
        "logged_by": "alice",
        "description": "Ukrainian news outlets the essay cites without naming them.",
        "rationale": "Outlets not named, reporting unconfirmed news from a war zone.",
    },
    {
        # Not in the essay: kept so that a denial from Moscow has a source to
        # be logged against.
        "name": "Government of the Russian Federation",
        "kind": "government",
        "country": "Russia",
        "grade": "D",
        "parent": None,
        "logged_by": "alice",
        "description": "The Russian state, including the Kremlin's spokesmen.",
        "rationale": "Has denied deployments of its own and allied forces that "
        "later proved real.",
    },
]

TOPICS: list[dict[str, Any]] = [
    {
        "name": "North Korean troops in Russia",
        "description": "How many North Korean soldiers went to Russia, when, "
        "where, and for what.",
        "logged_by": "alice",
    },
    {
        "name": "Russia–North Korea arms cooperation",
        "description": "What each side gives the other: money, weapons, "
        "technology, visits.",
        "logged_by": "bob",
    },
]

# Oblasts and regions are pinned at their main city, only to put them on a map.
PLACES: list[dict[str, Any]] = [
    {
        "name": "Vladivostok",
        "country": "Russia",
        "latitude": 43.1155,
        "longitude": 131.8855,
        "logged_by": "alice",
    },
    {
        "name": "Donetsk region",
        "country": "Ukraine",
        "latitude": 48.0159,
        "longitude": 37.8028,
        "logged_by": "bob",
    },
    {
        "name": "Bryansk region",
        "country": "Russia",
        "latitude": 53.2521,
        "longitude": 34.3717,
        "logged_by": "alice",
    },
    {
        "name": "Kursk region",
        "country": "Russia",
        "latitude": 51.7304,
        "longitude": 36.1926,
        "logged_by": "alice",
    },
    {
        # The training ground's location is not given; Khabarovsk is a pin,
        # not a finding.
        "name": "Russian Far East",
        "country": "Russia",
        "latitude": 48.4802,
        "longitude": 135.0719,
        "logged_by": "alice",
    },
    {
        "name": "Pyongyang",
        "country": "North Korea",
        "latitude": 39.0392,
        "longitude": 125.7625,
        "logged_by": "bob",
    },
]

JINF = "Japan Institute for National Fundamentals"
NISHIOKA = "Tsutomu Nishioka"
NK_SOURCES = "Nishioka's unnamed sources inside North Korea"
ZELENSKY = "President of Ukraine Volodymyr Zelensky"
CENTER = "Center for Strategic Communication and Information Security"
NIS = "National Intelligence Service (Republic of Korea)"
UA_MEDIA = "Ukrainian media (outlets not named)"

ESSAY = "Speaking Out #1192: Reality of North Korea’s Participation in Ukraine War"
JUNE_ESSAY = "North Korea Has Sent Military Engineers for Ukraine War"

DOCUMENTS: list[dict[str, Any]] = [
    {
        "title": ESSAY,
        "publisher": JINF,
        "published_on": dt.date(2024, 10, 24),
        "url": "https://jinf.jp/",
        "kind": "article",
        "logged_by": "bob",
    },
    {
        "title": JUNE_ESSAY,
        "publisher": JINF,
        "published_on": dt.date(2024, 6, 24),
        "url": "",
        "kind": "article",
        "logged_by": "bob",
    },
    # The titles below describe; the originals' own titles are not known here.
    {
        "title": "Statement on Russia mobilising North Korean soldiers",
        "publisher": ZELENSKY,
        "published_on": dt.date(2024, 10, 17),
        "url": "",
        "kind": "statement",
        "logged_by": "alice",
    },
    {
        "title": "Video of North Korean soldiers at a training ground in the "
        "Russian Far East",
        "publisher": CENTER,
        "published_on": dt.date(2024, 10, 18),
        "url": "",
        "kind": "video",
        "logged_by": "alice",
    },
    {
        "title": "Announcement on North Korean special forces sent to Russia",
        "publisher": NIS,
        "published_on": dt.date(2024, 10, 18),
        "url": "",
        "kind": "statement",
        "logged_by": "alice",
    },
    {
        "title": "Report of 18 North Korean soldiers escaping in the Bryansk and "
        "Kursk regions",
        "publisher": UA_MEDIA,
        "published_on": None,
        "url": "",
        "kind": "article",
        "logged_by": "alice",
    },
]

TROOPS = "North Korean troops in Russia"
ARMS = "Russia–North Korea arms cooperation"

# A blank qualifier means the source gave a bare number; reading "about" into it
# would be the analyst's word, not the source's.
CLAIMS: list[dict[str, Any]] = [
    {
        "external_id": "demo-01",
        "statement": "North Korea has decided to send about 12,000 special "
        "operations troops to Russia.",
        "quantity_low": Decimal("12000"),
        "quantity_high": Decimal("12000"),
        "quantity_unit": "special operations troops",
        "quantity_qualifier": "about",
        "time_end": dt.date(2024, 10, 18),
        "time_precision": "day",
        "time_text": "decided by 18 October 2024",
        "topic": TROOPS,
        "actors": "North Korea, Russia",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-02",
        "statement": "The special operations troops North Korea is sending to "
        "Russia come from its 11th Corps.",
        "topic": TROOPS,
        "actors": "North Korean 11th Corps",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-03",
        "statement": "About 1,500 North Korean special operations troops were "
        "shipped to Vladivostok on Russian Navy transport ships between 8 and 13 "
        "October 2024.",
        "quantity_low": Decimal("1500"),
        "quantity_high": Decimal("1500"),
        "quantity_unit": "special operations troops",
        "quantity_qualifier": "about",
        "time_start": dt.date(2024, 10, 8),
        "time_end": dt.date(2024, 10, 13),
        "time_precision": "day",
        "places": ["Vladivostok", "Russian Far East"],
        "topic": TROOPS,
        "actors": "North Korea, Russian Navy",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-04",
        "statement": "Russian forces are getting ready to mobilise 10,000 North "
        "Korean soldiers.",
        "quantity_low": Decimal("10000"),
        "quantity_high": Decimal("10000"),
        "quantity_unit": "soldiers",
        "time_start": dt.date(2024, 10, 17),
        "time_end": dt.date(2024, 10, 17),
        "time_precision": "day",
        "time_text": "as of 17 October 2024",
        "topic": TROOPS,
        "actors": "Russian armed forces, North Korea",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-05",
        "statement": "North Korean soldiers were being issued equipment at a "
        "military training ground in the Russian Far East in mid-October 2024.",
        "time_end": dt.date(2024, 10, 18),
        "time_precision": "day",
        "time_text": "filmed before 18 October 2024",
        "places": ["Russian Far East"],
        "topic": TROOPS,
        "actors": "North Korean soldiers, Russian armed forces",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-06",
        "statement": "The North Korean soldiers at the Far East training ground "
        "were given Russian military uniforms.",
        "time_end": dt.date(2024, 10, 18),
        "time_precision": "day",
        "time_text": "filmed before 18 October 2024",
        "places": ["Russian Far East"],
        "topic": TROOPS,
        "actors": "North Korean soldiers, Russian armed forces",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-07",
        "statement": "North Korean soldiers are being readied in Russia to serve "
        "in Russia's war against Ukraine.",
        "time_start": dt.date(2024, 10, 1),
        "time_end": dt.date(2024, 10, 31),
        "time_precision": "month",
        "topic": TROOPS,
        "actors": "North Korea, Russian armed forces",
        "logged_by": "alice",
        "status": "in_review",
        "submission_note": "Zelensky and the Center both say so, but both answer "
        "to the Government of Ukraine: one origin, not two. Please rule on "
        "whether that is enough, or send it back for South Korean reporting.",
    },
    {
        "external_id": "demo-08",
        "kind": "forecast",
        "statement": "North Korea will have sent about 10,000 soldiers to Russia "
        "in all by the end of 2024.",
        "quantity_low": Decimal("10000"),
        "quantity_high": Decimal("10000"),
        "quantity_unit": "soldiers",
        "quantity_qualifier": "about",
        "time_end": dt.date(2024, 12, 31),
        "time_precision": "year",
        "time_text": "by the end of 2024",
        "topic": TROOPS,
        "actors": "North Korea, Russia",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-09",
        "statement": "About 1,000 North Korean military engineers were sent to "
        "Russia in May 2024.",
        "quantity_low": Decimal("1000"),
        "quantity_high": Decimal("1000"),
        "quantity_unit": "military engineers",
        "quantity_qualifier": "about",
        "time_start": dt.date(2024, 5, 1),
        "time_end": dt.date(2024, 5, 31),
        "time_precision": "month",
        "time_text": "May 2024",
        "topic": TROOPS,
        "actors": "North Korea, Russia",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-10",
        "statement": "North Korea's first batch of 1,500 soldiers, three "
        "battalions, went to Russia in early May 2024.",
        "quantity_low": Decimal("1500"),
        "quantity_high": Decimal("1500"),
        "quantity_unit": "soldiers",
        "time_start": dt.date(2024, 5, 1),
        "time_end": dt.date(2024, 5, 10),
        "time_precision": "day",
        "time_text": "early May 2024",
        "topic": TROOPS,
        "actors": "North Korea, Russia",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-11",
        "statement": "North Korea's second batch of 1,500 soldiers went to "
        "Russia in August 2024.",
        "quantity_low": Decimal("1500"),
        "quantity_high": Decimal("1500"),
        "quantity_unit": "soldiers",
        "time_start": dt.date(2024, 8, 1),
        "time_end": dt.date(2024, 8, 31),
        "time_precision": "month",
        "time_text": "August 2024",
        "topic": TROOPS,
        "actors": "North Korea, Russia",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-12",
        "statement": "By early October 2024 a third batch of about 5,000 North "
        "Korean soldiers had been picked and was waiting to leave for Russia.",
        "quantity_low": Decimal("5000"),
        "quantity_high": Decimal("5000"),
        "quantity_unit": "soldiers",
        "quantity_qualifier": "about",
        "time_start": dt.date(2024, 10, 1),
        "time_end": dt.date(2024, 10, 10),
        "time_precision": "day",
        "time_text": "early October 2024",
        "topic": TROOPS,
        "actors": "North Korea",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-13",
        "statement": "The first two North Korean batches do building work in "
        "civilian clothes in the Russian-held part of Donetsk region and take no "
        "part in combat.",
        "quantity_low": Decimal("3000"),
        "quantity_high": Decimal("3000"),
        "quantity_unit": "soldiers (two batches of 1,500)",
        "places": ["Donetsk region"],
        "topic": TROOPS,
        "actors": "North Korean soldiers, Russia",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-14",
        "statement": "Russia pays $1,500 to $2,000 a month for each North Korean "
        "soldier it receives.",
        "quantity_low": Decimal("1500"),
        "quantity_high": Decimal("2000"),
        "quantity_unit": "USD per soldier per month",
        "topic": ARMS,
        "actors": "Russia, North Korea",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-15",
        "statement": "Since the war began North Korea has been sending military "
        "officers to Russia to study Russian tactics for its own forces.",
        "time_start": dt.date(2022, 2, 24),
        "time_precision": "day",
        "time_text": "since the outbreak of the war",
        "topic": TROOPS,
        "actors": "North Korean officers, Russian armed forces",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-16",
        "statement": "In 2023 North Korea weighed sending special forces to Russia "
        "but dropped the idea when a secret survey suggested many soldiers might "
        "run away in combat.",
        "time_start": dt.date(2023, 1, 1),
        "time_end": dt.date(2023, 12, 31),
        "time_precision": "year",
        "time_text": "last year (2023)",
        "topic": TROOPS,
        "actors": "North Korea",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-17",
        "kind": "forecast",
        "statement": "Should North Korean soldiers be sent into deadly fighting, "
        "many of them will desert.",
        "topic": TROOPS,
        "actors": "North Korean soldiers",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-18",
        "statement": "Eighteen North Korean soldiers posted to Russia's Bryansk "
        "and Kursk regions have fled their units.",
        "quantity_low": Decimal("18"),
        "quantity_high": Decimal("18"),
        "quantity_unit": "soldiers",
        "quantity_qualifier": "exact",
        "time_end": dt.date(2024, 10, 21),
        "time_precision": "day",
        "time_text": "reported before 21 October 2024",
        "places": ["Bryansk region", "Kursk region"],
        "topic": TROOPS,
        "actors": "North Korean soldiers",
        "logged_by": "alice",
    },
    {
        "external_id": "demo-19",
        "kind": "assessment",
        "statement": "Russia may intend to send North Korean soldiers into combat "
        "passed off as Russian troops.",
        "topic": TROOPS,
        "actors": "Russia, North Korean soldiers",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-20",
        "kind": "assessment",
        "statement": "The roughly 1,500 soldiers South Korea says were moved to "
        "Vladivostok may belong to North Korea's third batch.",
        "quantity_low": Decimal("1500"),
        "quantity_high": Decimal("1500"),
        "quantity_unit": "soldiers",
        "quantity_qualifier": "about",
        "places": ["Vladivostok"],
        "topic": TROOPS,
        "actors": "North Korea",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-21",
        "kind": "assessment",
        "statement": "Kim Jong Un is rushing to get advanced weapons or their "
        "technology from Russia, such as nuclear submarines, stealth fighters, "
        "hypersonic glide vehicles and military satellites, before a truce in "
        "Ukraine.",
        "topic": ARMS,
        "actors": "Kim Jong Un, Russia",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-22",
        "statement": "Russia has handed military satellites over to North Korea.",
        "topic": ARMS,
        "actors": "Russia, North Korea",
        "logged_by": "bob",
    },
    {
        # Not stated in the essay: the hypothesis it argues against, logged so
        # that the essay's denial has something to deny.
        "external_id": "demo-23",
        "statement": "Russia is giving North Korea advanced weapons beyond "
        "satellites, such as nuclear submarines or stealth fighters, in return for "
        "its troops.",
        "topic": ARMS,
        "actors": "Russia, North Korea",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-24",
        "kind": "assessment",
        "statement": "North Korea's dispatch of engineers in May 2024 paved the "
        "way for Vladimir Putin's visit to North Korea in June 2024.",
        "time_start": dt.date(2024, 6, 1),
        "time_end": dt.date(2024, 6, 30),
        "time_precision": "month",
        "time_text": "June 2024",
        "places": ["Pyongyang"],
        "topic": ARMS,
        "actors": "Vladimir Putin, North Korea",
        "logged_by": "bob",
    },
    {
        "external_id": "demo-25",
        "statement": "The money Russia pays for North Korean soldiers goes to the "
        "North Korean state, not to the soldiers themselves.",
        "places": ["Pyongyang"],
        "topic": ARMS,
        "actors": "Russia, North Korean state",
        "logged_by": "bob",
    },
]

OCT_17 = dt.date(2024, 10, 17)
OCT_18 = dt.date(2024, 10, 18)
# The date the essay bears; what the sources told Nishioka since June is not
# dated more finely.
OCT_21 = dt.date(2024, 10, 21)
JUNE_24 = dt.date(2024, 6, 24)

# Each row: claim, document, citing source, supports, excerpt, locator, said on,
# credibility. The creator is the analyst who logged the claim.
CITATIONS: list[dict[str, Any]] = [
    {
        "claim": "demo-01",
        "document": ESSAY,
        "source": NIS,
        "excerpt": "North Korea had decided to dispatch about 12,000 special "
        "operation forces of the 11th Corps to Russia",
        "locator": "para 1",
        "said_on": OCT_18,
        "credibility": 3,
    },
    {
        "claim": "demo-02",
        "document": ESSAY,
        "source": NIS,
        "excerpt": "about 12,000 special operation forces of the 11th Corps",
        "locator": "para 1",
        "said_on": OCT_18,
        "credibility": 3,
    },
    {
        "claim": "demo-03",
        "document": ESSAY,
        "source": NIS,
        "excerpt": "about 1,500 among them were transferred to Vladivostok in the "
        "Russian Far East on Russian Navy transport ships between October 8 and 13",
        "locator": "para 1",
        "said_on": OCT_18,
        "credibility": 2,
    },
    {
        "claim": "demo-04",
        "document": ESSAY,
        "source": ZELENSKY,
        "excerpt": "Russian forces were preparing to mobilize 10,000 North Korean "
        "soldiers",
        "locator": "para 1",
        "said_on": OCT_17,
        "credibility": 3,
    },
    {
        "claim": "demo-05",
        "document": ESSAY,
        "source": CENTER,
        "excerpt": "North Korean soldiers were receiving equipment at a training "
        "ground in Russia’s Far East",
        "locator": "para 1",
        "said_on": OCT_18,
        "credibility": 3,
    },
    {
        # Nishioka describes the footage, but the footage is the Center's: the
        # Center is the source, he only relays it.
        "claim": "demo-06",
        "document": ESSAY,
        "source": CENTER,
        "excerpt": "they were provided with Russian military uniforms",
        "locator": "para 5",
        "said_on": OCT_18,
        "credibility": 3,
    },
    {
        "claim": "demo-07",
        "document": ESSAY,
        "source": ZELENSKY,
        "excerpt": "Russian forces were preparing to mobilize 10,000 North Korean "
        "soldiers",
        "locator": "para 1",
        "said_on": OCT_17,
        "credibility": 3,
    },
    {
        "claim": "demo-07",
        "document": ESSAY,
        "source": CENTER,
        "excerpt": "released a video claimed as showing that North Korean soldiers "
        "were receiving equipment",
        "locator": "para 1",
        "said_on": OCT_18,
        "credibility": 3,
    },
    {
        "claim": "demo-08",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "A total of about 10,000 soldiers will be dispatched by the end "
        "of this year, my sources said.",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        "claim": "demo-08",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "a plan to increase the number of North Korean soldiers "
        "dispatched to Russia to 10,000",
        "locator": "para 2",
        "said_on": JUNE_24,
        "credibility": 3,
    },
    {
        "claim": "demo-08",
        "document": ESSAY,
        "source": ZELENSKY,
        "excerpt": "Russian forces were preparing to mobilize 10,000 North Korean "
        "soldiers",
        "locator": "para 1",
        "said_on": OCT_17,
        "credibility": 3,
    },
    {
        "claim": "demo-09",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "about 1,000 military engineers were sent to Russia in May",
        "locator": "para 2",
        "said_on": JUNE_24,
        "credibility": 3,
    },
    {
        # The June essay's own text is not at hand; its title is the one part
        # of it quoted verbatim. Same origin as the row above: it counts once.
        "claim": "demo-09",
        "document": JUNE_ESSAY,
        "source": NK_SOURCES,
        "excerpt": "North Korea Has Sent Military Engineers for Ukraine War",
        "locator": "title",
        "said_on": JUNE_24,
        "credibility": 3,
    },
    {
        "claim": "demo-10",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "the first batch of 1,500 soldiers or three battalions was sent "
        "to Russia in early May",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        "claim": "demo-11",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "the second batch of 1,500 in August",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        "claim": "demo-12",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "As of early October, the third batch of about 5,000 soldiers "
        "had been selected and was on standby.",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        "claim": "demo-13",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "The first and second groups have been dressed in plain clothes, "
        "working on construction in the Russian-occupied Donetsk region in eastern "
        "Ukraine, without participating in the fighting",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        "claim": "demo-14",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "Russia pays $1,500-2,000 per soldier every month.",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        # Unattributed in the essay, so the author carries it himself.
        "claim": "demo-15",
        "document": ESSAY,
        "source": NISHIOKA,
        "excerpt": "Pyongyang since the outbreak of the war has sent military "
        "officers to learn how Russian forces fight",
        "locator": "para 4",
        "said_on": OCT_21,
        "credibility": 4,
    },
    {
        "claim": "demo-16",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "North Korea considered but cancelled a plan to send special "
        "forces to Russia after a secret survey of soldiers found that many of "
        "them could flee during the fighting",
        "locator": "para 6",
        "said_on": OCT_21,
        "credibility": 4,
    },
    {
        "claim": "demo-17",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "if North Korean soldiers are thrown into a deadly battle, there "
        "should certainly be a large-scale desertion",
        "locator": "para 6",
        "said_on": OCT_21,
        "credibility": 4,
    },
    {
        "claim": "demo-18",
        "document": ESSAY,
        "source": UA_MEDIA,
        "excerpt": "18 North Korean soldiers deployed in the Bryansk and Kursk "
        "regions in western Russia had escaped",
        "locator": "para 6",
        "said_on": None,
        "credibility": 4,
    },
    {
        "claim": "demo-19",
        "document": ESSAY,
        "source": NISHIOKA,
        "excerpt": "Russia may be planning to put North Korean soldiers disguised "
        "as Russian into battle.",
        "locator": "para 5",
        "said_on": OCT_21,
        "credibility": 6,
    },
    {
        "claim": "demo-20",
        "document": ESSAY,
        "source": NISHIOKA,
        "excerpt": "the 1,500 soldiers confirmed by South Korea as transferred to "
        "Vladivostok may be part of the third batch",
        "locator": "para 5",
        "said_on": OCT_21,
        "credibility": 6,
    },
    {
        # "Is said to be": the essay does not say by whom, so the author
        # carries it.
        "claim": "demo-21",
        "document": ESSAY,
        "source": NISHIOKA,
        "excerpt": "in a hurry to obtain advanced weapons such as "
        "nuclear submarines, stealth fighter jets, hypersonic glide vehicles, and "
        "military satellites, or their technologies, from Russia before a truce",
        "locator": "para 7",
        "said_on": OCT_21,
        "credibility": 6,
    },
    {
        "claim": "demo-22",
        "document": ESSAY,
        "source": NISHIOKA,
        "excerpt": "except for military satellites it has handed over to Pyongyang",
        "locator": "para 7",
        "said_on": OCT_21,
        "credibility": 4,
    },
    {
        "claim": "demo-23",
        "document": ESSAY,
        "source": NISHIOKA,
        "supports": False,
        "excerpt": "Moscow is reluctant to provide advanced weapons except for "
        "military satellites",
        "locator": "para 7",
        "said_on": OCT_21,
        "credibility": 3,
    },
    {
        "claim": "demo-24",
        "document": ESSAY,
        "source": NISHIOKA,
        "excerpt": "leading to Russian President Vladimir Putin’s visit to North "
        "Korea in June",
        "locator": "para 2",
        "said_on": JUNE_24,
        "credibility": 6,
    },
    {
        "claim": "demo-25",
        "document": ESSAY,
        "source": NK_SOURCES,
        "excerpt": "the money is given not to the soldiers but to Pyongyang",
        "locator": "para 3",
        "said_on": OCT_21,
        "credibility": 3,
    },
]

# Relations are symmetric, so an assessment is not linked to the facts it rests
# on (demo-19 on demo-06): it would corroborate them back with their own evidence.
RELATIONS: list[dict[str, Any]] = [
    {
        "claims": ("demo-04", "demo-08"),
        "kind": "corroborates",
        "rationale": "Ukraine's president and, four months earlier, Nishioka's "
        "sources inside North Korea give the same figure of about 10,000; the two "
        "have no known link.",
        "created_by": "bob",
    },
    {
        "claims": ("demo-03", "demo-05"),
        "kind": "corroborates",
        "rationale": "South Korea puts North Korean troops in the Russian Far East "
        "in mid-October; Ukraine's footage, released the same day, shows North "
        "Korean soldiers being equipped there. Different origins, same movement.",
        "created_by": "alice",
    },
    {
        "claims": ("demo-03", "demo-12"),
        "kind": "corroborates",
        "rationale": "A batch on standby in early October fits troops reaching "
        "Vladivostok between 8 and 13 October; South Korea's service and "
        "Nishioka's sources are unrelated.",
        "created_by": "bob",
    },
    {
        "claims": ("demo-17", "demo-18"),
        "kind": "corroborates",
        "rationale": "The essay itself puts the two side by side: desertions "
        "already reported in Russia bear out the warning that many would flee. "
        "Ukrainian media and sources inside North Korea are unrelated.",
        "created_by": "alice",
    },
    {
        "claims": ("demo-01", "demo-04"),
        "kind": "contradicts",
        "rationale": "Both size the same contingent: about 12,000 for South Korea, "
        "10,000 for Ukraine. They cannot both be the total.",
        "created_by": "alice",
    },
    {
        "claims": ("demo-01", "demo-08"),
        "kind": "contradicts",
        "rationale": "About 12,000 decided against about 10,000 in all by the end "
        "of 2024; unless the rest goes in 2025, one of the totals is wrong.",
        "created_by": "alice",
    },
    {
        "claims": ("demo-09", "demo-10"),
        "kind": "contradicts",
        "rationale": "The same sources gave two accounts of May 2024: about 1,000 "
        "engineers in June, then 1,500 soldiers in three battalions in October.",
        "created_by": "bob",
    },
]

# Rita logged and cited none of these: four-eyes holds.
RULINGS: list[dict[str, Any]] = [
    {
        "claim": "demo-03",
        "reviewer": "rita",
        "outcome": "confirmed",
        "rationale": "South Korea's service gives port, ships and dates, and "
        "Ukraine's footage independently shows North Korean soldiers being "
        "equipped in the Far East that same week.",
    },
    {
        "claim": "demo-05",
        "reviewer": "rita",
        "outcome": "confirmed",
        "rationale": "The footage's setting matches South Korea's separate "
        "account of troops landing at Vladivostok days before.",
    },
    {
        "claim": "demo-09",
        "reviewer": "rita",
        "outcome": "refuted",
        "rationale": "The same sources later described the May contingent as "
        "1,500 soldiers in three battalions; the earlier count of about 1,000 "
        "engineers does not hold.",
    },
]

DEMO_CLAIM_IDS = tuple(claim["external_id"] for claim in CLAIMS)


def credentials() -> list[dict[str, str]]:
    """The demo users with their published passwords and roles, for printing."""
    return [
        {
            "username": user["username"],
            "password": user["password"],
            "role": "Administrator"
            if user.get("is_superuser")
            else ", ".join(user["roles"]),
        }
        for user in USERS
    ]


def is_loaded() -> bool:
    """Every demo claim is present: an earlier load ran to the end."""
    present = Claim.objects.filter(external_id__in=DEMO_CLAIM_IDS).count()
    return present == len(DEMO_CLAIM_IDS)


class _Loader:
    def __init__(self, stdout: IO[str] | None) -> None:
        self.stdout = stdout
        self.created: Counter[str] = Counter()
        self.users: dict[str, Analyst] = {}
        self.sources: dict[str, Source] = {}
        self.topics: dict[str, Topic] = {}
        self.places: dict[str, Place] = {}
        self.documents: dict[str, Document] = {}
        self.claims: dict[str, Claim] = {}

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    def audit_create(self, actor: Analyst | None, obj: models.Model) -> None:
        self.created[obj._meta.label_lower] += 1
        after = snapshot(obj)
        # A password hash has no business in an audit trail.
        after.pop("password", None)
        record(actor, AuditEntry.Action.CREATE, obj, after=after)

    def create(self, model: type[models.Model], **fields: Any) -> models.Model:
        obj = model(**fields)
        obj.full_clean()
        obj.save()
        return obj

    def load_users(self) -> None:
        if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
            ensure_roles(django_apps)
        for spec in USERS:
            # An existing account is left alone: its password or rights may
            # have been changed on purpose since the last load.
            user = Analyst.objects.filter(username=spec["username"]).first()
            if user is None:
                user = Analyst.objects.create_user(
                    username=spec["username"],
                    email=f"{spec['username']}@example.org",
                    password=spec["password"],
                    first_name=spec["first_name"],
                    is_superuser=spec.get("is_superuser", False),
                    is_staff=spec.get("is_staff", False),
                )
                user.groups.add(*Group.objects.filter(name__in=spec["roles"]))
                self.audit_create(None, user)
            self.users[spec["username"]] = user

    def load_sources(self) -> None:
        for spec in SOURCES:
            source = Source.objects.filter(name=spec["name"]).first()
            if source is None:
                analyst = self.users[spec["logged_by"]]
                source = self.create(
                    Source,
                    name=spec["name"],
                    kind=spec["kind"],
                    country=spec["country"],
                    description=spec["description"],
                    grade=spec["grade"],
                    parent=self.sources[spec["parent"]] if spec["parent"] else None,
                )
                self.audit_create(analyst, source)
                # A new source's grade is the manager's first grading.
                change = self.create(
                    GradeChange,
                    source=source,
                    old_grade="",
                    new_grade=spec["grade"],
                    rationale=spec["rationale"],
                    changed_by=self.users["max"],
                )
                self.audit_create(self.users["max"], change)
            self.sources[spec["name"]] = source

    def load_topics_and_places(self) -> None:
        for spec in TOPICS:
            topic = Topic.objects.filter(name=spec["name"]).first()
            if topic is None:
                analyst = self.users[spec["logged_by"]]
                topic = self.create(
                    Topic, name=spec["name"], description=spec["description"]
                )
                self.audit_create(analyst, topic)
            self.topics[spec["name"]] = topic
        for spec in PLACES:
            place = Place.objects.filter(name=spec["name"]).first()
            if place is None:
                fields = {k: v for k, v in spec.items() if k != "logged_by"}
                analyst = self.users[spec["logged_by"]]
                place = self.create(Place, **fields)
                self.audit_create(analyst, place)
            self.places[spec["name"]] = place

    def load_documents(self) -> None:
        for spec in DOCUMENTS:
            publisher = self.sources[spec["publisher"]]
            document = Document.objects.filter(
                publisher=publisher, title=spec["title"]
            ).first()
            if document is None:
                fields = {
                    k: v for k, v in spec.items() if k not in ("logged_by", "publisher")
                }
                analyst = self.users[spec["logged_by"]]
                document = self.create(Document, publisher=publisher, **fields)
                self.audit_create(analyst, document)
            self.documents[spec["title"]] = document

    def load_claims(self) -> None:
        for spec in CLAIMS:
            claim = Claim.objects.filter(external_id=spec["external_id"]).first()
            if claim is None:
                fields = {
                    k: v
                    for k, v in spec.items()
                    if k not in ("places", "topic", "logged_by")
                }
                analyst = self.users[spec["logged_by"]]
                claim = self.create(
                    Claim,
                    topic=self.topics[spec["topic"]],
                    logged_by=analyst,
                    **fields,
                )
                claim.places.set([self.places[name] for name in spec.get("places", [])])
                self.audit_create(analyst, claim)
                if claim.status == Claim.Status.IN_REVIEW:
                    record(
                        analyst,
                        AuditEntry.Action.SUBMIT,
                        claim,
                        note=claim.submission_note,
                    )
            self.claims[spec["external_id"]] = claim

    def load_citations(self) -> None:
        for spec in CITATIONS:
            claim = self.claims[spec["claim"]]
            document = self.documents[spec["document"]]
            exists = Citation.objects.filter(
                claim=claim,
                document=document,
                excerpt_digest=excerpt_digest(spec["excerpt"]),
            ).exists()
            if exists:
                continue
            analyst = claim.logged_by
            citation = self.create(
                Citation,
                claim=claim,
                document=document,
                source=self.sources[spec["source"]],
                supports=spec.get("supports", True),
                excerpt=spec["excerpt"],
                excerpt_digest=excerpt_digest(spec["excerpt"]),
                grade_at_citation=self.sources[spec["source"]].grade,
                locator=spec["locator"],
                said_on=spec["said_on"],
                credibility=spec["credibility"],
                created_by=analyst,
            )
            self.audit_create(analyst, citation)

    def load_relations(self) -> None:
        for spec in RELATIONS:
            first, second = sorted(
                (self.claims[ext] for ext in spec["claims"]), key=lambda c: c.pk
            )
            if Relation.objects.filter(claim_a=first, claim_b=second).exists():
                continue
            analyst = self.users[spec["created_by"]]
            relation = self.create(
                Relation,
                claim_a=first,
                claim_b=second,
                kind=spec["kind"],
                rationale=spec["rationale"],
                created_by=analyst,
            )
            self.audit_create(analyst, relation)

    def load_rulings(self) -> None:
        for spec in RULINGS:
            claim = Claim.objects.get(pk=self.claims[spec["claim"]].pk)
            reviewer = self.users[spec["reviewer"]]
            if Review.objects.filter(
                claim=claim, outcome=spec["outcome"], reviewer=reviewer
            ).exists():
                continue
            involved = (
                claim.logged_by_id == reviewer.pk
                or claim.citations.filter(created_by=reviewer).exists()
            )
            if involved:
                raise ValueError(
                    f"Demo data breaks four-eyes: {reviewer} rules on {claim}."
                )
            review = self.create(
                Review,
                claim=claim,
                reviewer=reviewer,
                outcome=spec["outcome"],
                rationale=spec["rationale"],
                likelihood_at=claim.likelihood,
                level_at=claim.computed_level,
            )
            self.audit_create(reviewer, review)
            before = {"status": claim.status}
            claim.status = spec["outcome"]
            claim.save(update_fields=["status", "updated_at"])
            record(
                reviewer,
                AuditEntry.Action.RULE,
                claim,
                before=before,
                after={"status": claim.status},
                note=spec["rationale"],
            )

    def recompute(self) -> None:
        recompute_claims([claim.pk for claim in self.claims.values()])


def load_demo(stdout: IO[str] | None = None) -> dict[str, Any]:
    """Create whatever part of the demo world is missing; change nothing else.

    Returns the rows created per model, the demo's totals and the demo users'
    credentials.
    """
    loader = _Loader(stdout)
    with transaction.atomic():
        loader.load_users()
        loader.load_sources()
        loader.load_topics_and_places()
        loader.load_documents()
        loader.load_claims()
        loader.load_citations()
        loader.load_relations()
        # Rulings record the computed result at the moment of ruling, so the
        # claims are computed before them and again after.
        loader.recompute()
        loader.load_rulings()
        loader.recompute()
    created = dict(sorted(loader.created.items()))
    if created:
        names = (
            f"{n} {django_apps.get_model(label)._meta.verbose_name_plural}"
            for label, n in created.items()
        )
        loader.say(f"Demo data created: {', '.join(names)}.")
    else:
        loader.say("Demo data already complete; nothing changed.")
    return {
        "created": created,
        "totals": {
            "sources": len(loader.sources),
            "topics": len(loader.topics),
            "places": len(loader.places),
            "documents": len(loader.documents),
            "claims": len(loader.claims),
            "citations": len(CITATIONS),
            "relations": len(RELATIONS),
            "rulings": len(RULINGS),
        },
        "credentials": credentials(),
    }
