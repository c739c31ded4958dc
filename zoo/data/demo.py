"""Offline demo corpora, generated deterministically from a seed (pure Python).

One generator per task, each a small real learning problem:

- `nmt`: dates written by hand in English, French, German and Spanish, in many formats
  ("the 3rd of March, 2021", "3 mars 2021", "Mittwoch, 3. März 2021", "03/03/21",
  "March 3rd '21") → ISO `2021-03-03`. Month names must be translated and the fields
  reordered. Validation and test dates never occur in training (any format).
- `summarization`: short synthetic news paragraphs (sports results, company results,
  weather warnings, transport strikes), the key sentence phrased in several ways among
  distracting sentences → a one-line headline.
- `classification`: customer messages whose class (`billing`, `delivery`, `technical`,
  `account`, `feedback`) is set by one key phrase at a varying position among neutral
  filler, some of which mentions words of other classes.
- `qa`: bAbI-like stories (people move between places) with "Where is X?" questions; the
  answer is a span of the story: the place in the last sentence that moves X, and
  `answer_start` is its character offset.

Each `*_splits` function returns `{"train": [...], "validation": [...], "test": [...]}`,
lists of records (dicts as in `zoo.data`); no text of a held-out split occurs in train.

Example:

>>> import zoo.data
>>> splits = zoo.data.demo.nmt_splits(seed=0, train_size=3, validation_size=1, test_size=1)
>>> splits["train"][0]
{'source': '25. Januar 2033', 'target': '2033-01-25'}
"""

import datetime
import random

NMT_FIRST_DATE = datetime.date(1970, 1, 1)  # two-digit years 70-99 are 19xx, 00-39 20xx
NMT_LAST_DATE = datetime.date(2039, 12, 31)

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"],
}
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}
CLASS_NAMES = ["billing", "delivery", "technical", "account", "feedback"]


def _ordinal(day):
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_formats(date):
    """Every written form of `date` (numeric forms follow each language's convention)."""
    d, m, y, yy = date.day, date.month, date.year, f"{date.year % 100:02d}"
    en_month, en_day = MONTHS["en"][m - 1], WEEKDAYS["en"][date.weekday()]
    fr_month, fr_day = MONTHS["fr"][m - 1], WEEKDAYS["fr"][date.weekday()]
    de_month, de_day = MONTHS["de"][m - 1], WEEKDAYS["de"][date.weekday()]
    es_month, es_day = MONTHS["es"][m - 1], WEEKDAYS["es"][date.weekday()]
    fr_d = "1er" if d == 1 else str(d)
    return [
        # English; numeric dates are month/day/two-digit year.
        f"the {_ordinal(d)} of {en_month}, {y}",
        f"{en_month} {_ordinal(d)}, {y}",
        f"{en_month} {d}, {y}",
        f"{en_day}, {en_month} {d}, {y}",
        f"{d} {en_month} {y}",
        f"{en_month[:3]} {d} {y}",
        f"{en_month} {_ordinal(d)} '{yy}",
        f"{m:02d}/{d:02d}/{yy}",
        # French; numeric dates are day/month/four-digit year.
        f"{fr_d} {fr_month} {y}",
        f"le {fr_d} {fr_month} {y}",
        f"{fr_day} {fr_d} {fr_month} {y}",
        f"{d:02d}/{m:02d}/{y}",
        # German; numeric dates use dots.
        f"{d}. {de_month} {y}",
        f"{de_day}, {d}. {de_month} {y}",
        f"am {d}. {de_month} {y}",
        f"{d:02d}.{m:02d}.{y}",
        f"{d}.{m}.{yy}",
        # Spanish; numeric dates use dashes, day first.
        f"{d} de {es_month} de {y}",
        f"el {d} de {es_month} de {y}",
        f"{es_day}, {d} de {es_month} de {y}",
        f"{d:02d}-{m:02d}-{y}",
    ]


def date_example(date, rng):
    """One `{"source", "target"}` record for `date`, in a format drawn with `rng`."""
    return {"source": rng.choice(_date_formats(date)), "target": date.isoformat()}


def nmt_splits(seed=0, train_size=20000, validation_size=1000, test_size=1000):
    """Hand-written dates → ISO dates; held-out dates never occur in training.

    Args:
        seed: int, the seed everything is drawn from.
        train_size, validation_size, test_size: ints, records per split (each held-out
            split has one record per date).
    """
    rng = random.Random(seed)
    days = (NMT_LAST_DATE - NMT_FIRST_DATE).days + 1
    order = rng.sample(range(days), days)
    if validation_size + test_size >= days:
        raise ValueError(f"validation_size + test_size must be below {days} dates")
    dates = [NMT_FIRST_DATE + datetime.timedelta(days=offset) for offset in order]
    validation_dates = dates[:validation_size]
    test_dates = dates[validation_size:validation_size + test_size]
    train_dates = dates[validation_size + test_size:]
    return {
        "train": [date_example(rng.choice(train_dates), rng) for _ in range(train_size)],
        "validation": [date_example(date, rng) for date in validation_dates],
        "test": [date_example(date, rng) for date in test_dates],
    }


def _disjoint_splits(make_record, key, seed, sizes):
    """Draws held-out splits first, then train records whose `key` no held-out one has."""
    rng = random.Random(seed)
    held_out_keys = set()
    splits = {}
    for name in ("validation", "test"):
        records = []
        while len(records) < sizes[name]:
            record = make_record(rng)
            if key(record) not in held_out_keys:
                held_out_keys.add(key(record))
                records.append(record)
        splits[name] = records
    train = []
    while len(train) < sizes["train"]:
        record = make_record(rng)
        if key(record) not in held_out_keys:
            train.append(record)
    splits["train"] = train
    return {name: splits[name] for name in ("train", "validation", "test")}


TEAMS = ["Lions", "Eagles", "Tigers", "Wolves", "Bears", "Sharks", "Hawks", "Bulls", "Foxes",
         "Rams", "Owls", "Pumas"]
CITIES = ["Denver", "Oslo", "Lyon", "Madrid", "Berlin", "Boston", "Dublin", "Lisbon",
          "Vienna", "Prague", "Seattle", "Milan", "Porto", "Zurich", "Munich", "Paris"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
             "Wonka", "Cyberdyne", "Soylent", "Tyrell"]
PEOPLE = ["Smith", "Garcia", "Müller", "Rossi", "Dubois", "Novak", "Silva", "Jensen"]
DAYS = WEEKDAYS["en"]
QUARTERS = ["first", "second", "third", "fourth"]
WEATHER = ["snow", "rain", "storms", "winds", "fog"]
TRANSPORT = ["trains", "flights", "buses", "ferries"]


def _sports_story(rng):
    winner, loser = rng.sample(TEAMS, 2)
    won = rng.randint(1, 6)
    lost = rng.randint(0, won - 1)
    day, city = rng.choice(DAYS), rng.choice(CITIES)
    key = rng.choice([
        f"The {winner} beat the {loser} {won}-{lost} on {day} in {city}.",
        f"On {day}, the {loser} lost {lost}-{won} to the {winner} in {city}.",
        f"In {city} on {day}, the {winner} defeated the {loser} {won}-{lost}.",
    ])
    other, rival = rng.sample([team for team in TEAMS if team not in (winner, loser)], 2)
    filler = [
        f"The match drew a crowd of {rng.randint(2, 60)} thousand.",
        f"Coach {rng.choice(PEOPLE)} praised the defence.",
        f"The {other} play the {rival} next week.",
        f"It was a cold night in {city}.",
    ]
    return key, filler, f"{winner} beat {loser} {won}-{lost}"


def _results_story(rng):
    company, quarter, percent = rng.choice(COMPANIES), rng.choice(QUARTERS), rng.randint(2, 40)
    rose = rng.random() < 0.5
    day = rng.choice(DAYS)
    key = rng.choice([
        f"{company} said on {day} that its profit {'rose' if rose else 'fell'} {percent} "
        f"percent in the {quarter} quarter.",
        f"Profit at {company} {'rose' if rose else 'fell'} by {percent} percent in the "
        f"{quarter} quarter, the company said on {day}.",
        f"In the {quarter} quarter, {company} saw its profit {'rise' if rose else 'fall'} "
        f"{percent} percent.",
    ])
    rival = rng.choice([name for name in COMPANIES if name != company])
    filler = [
        f"Shares of {rival} were little changed.",
        f"Chief executive {rng.choice(PEOPLE)} did not comment.",
        f"Analysts had expected a change of {rng.randint(1, 40)} percent.",
        "The results were published before markets opened.",
    ]
    change = "rises" if rose else "falls"
    headline = f"{company} profit {change} {percent} percent in {quarter} quarter"
    return key, filler, headline


def _weather_story(rng):
    weather, city, day = rng.choice(WEATHER), rng.choice(CITIES), rng.choice(DAYS)
    key = rng.choice([
        f"Forecasters expect heavy {weather} in {city} on {day}.",
        f"Heavy {weather} will hit {city} on {day}, forecasters said.",
        f"On {day}, {city} should prepare for heavy {weather}, according to forecasters.",
    ])
    other = rng.choice([name for name in CITIES if name != city])
    filler = [
        f"The weather in {other} will stay calm.",
        "Schools may close early.",
        f"Mayor {rng.choice(PEOPLE)} asked people to stay at home.",
        f"Temperatures will fall to {rng.randint(1, 15)} degrees below zero.",
    ]
    return key, filler, f"Heavy {weather} expected in {city} on {day}"


def _strike_story(rng):
    origin, destination = rng.sample(CITIES, 2)
    transport, day = rng.choice(TRANSPORT), rng.choice(DAYS)
    key = rng.choice([
        f"All {transport} between {origin} and {destination} were cancelled on {day} "
        "because of a strike.",
        f"A strike on {day} cancelled {transport} between {origin} and {destination}.",
        f"Because of a strike, there were no {transport} between {origin} and "
        f"{destination} on {day}.",
    ])
    other = rng.choice([name for name in CITIES if name not in (origin, destination)])
    filler = [
        f"Unions want higher pay for {rng.randint(2, 90)} thousand workers.",
        f"Services to {other} ran as normal.",
        f"Minister {rng.choice(PEOPLE)} called for talks.",
        "Travellers were told to check before leaving.",
    ]
    return key, filler, f"Strike cancels {origin}-{destination} {transport} on {day}"


def news_example(rng):
    """One `{"source": paragraph, "target": headline}` record."""
    key, filler, headline = rng.choice(
        [_sports_story, _results_story, _weather_story, _strike_story])(rng)
    sentences = rng.sample(filler, rng.randint(1, 3))
    sentences.insert(rng.randint(0, min(1, len(sentences))), key)
    return {"source": " ".join(sentences), "target": headline}


def summarization_splits(seed=0, train_size=10000, validation_size=500, test_size=500):
    """News paragraphs → headlines; no held-out paragraph occurs in train.

    Args:
        seed: int, the seed everything is drawn from.
        train_size, validation_size, test_size: ints, records per split.
    """
    sizes = {"train": train_size, "validation": validation_size, "test": test_size}
    return _disjoint_splits(news_example, lambda record: record["source"], seed, sizes)


KEY_PHRASES = {
    "billing": ["I was charged twice for the same order", "the invoice amount is wrong",
                "I want a refund of the extra fee", "my card was billed again this month",
                "the price on my bill is higher than the one you advertised"],
    "delivery": ["the package never arrived", "my parcel is two weeks late",
                 "the courier left the box at the wrong address",
                 "the order was delivered damaged", "the tracking page shows no update"],
    "technical": ["the app keeps crashing", "I cannot connect to the server",
                  "the screen freezes when I start it", "the update broke the login page",
                  "the device will not turn on"],
    "account": ["I forgot my password", "please delete my account",
                "I need to change my email address", "my profile is locked",
                "I cannot verify my phone number"],
    "feedback": ["your support team was great", "I love the new design",
                 "the service is excellent", "thanks a lot for the quick help",
                 "the product works better than I hoped"],
}
OPENINGS = ["Hello,", "Hi team,", "Good morning,", "Dear support,", "Hey,", ""]
FILLER = ["I am writing again", "as I said on the phone", "since last Tuesday",
          "I use the app every day", "my order number is {number}",
          "I have been a customer for {years} years", "my account is in my name",
          "the package was for my sister",
          "I paid with my card", "honestly", "to be clear", "this is the {nth} time I write"]
CLOSINGS = ["Please let me know.", "Thank you.", "Best regards.", "Thanks in advance.", ""]


def message_example(rng):
    """One `{"text", "label"}` customer-message record (label indexes `CLASS_NAMES`)."""
    label = rng.randrange(len(CLASS_NAMES))
    parts = [filler.format(number=rng.randint(10000, 99999), years=rng.randint(2, 12),
                           nth=rng.choice(["second", "third", "fourth"]))
             for filler in rng.sample(FILLER, rng.randint(0, 4))]
    parts.insert(rng.randint(0, len(parts)), rng.choice(KEY_PHRASES[CLASS_NAMES[label]]))
    opening = rng.choice(OPENINGS)
    body = ", ".join(parts) + "."
    if not opening:
        body = body[0].upper() + body[1:]
    text = " ".join(part for part in [opening, body, rng.choice(CLOSINGS)] if part)
    return {"text": text, "label": label}


def classification_splits(seed=0, train_size=5000, validation_size=500, test_size=500):
    """Customer messages → one of `CLASS_NAMES`; no held-out text occurs in train.

    Args:
        seed: int, the seed everything is drawn from.
        train_size, validation_size, test_size: ints, records per split.
    """
    sizes = {"train": train_size, "validation": validation_size, "test": test_size}
    return _disjoint_splits(message_example, lambda record: record["text"], seed, sizes)


NAMES = ["Mary", "John", "Sandra", "Daniel", "Emma", "Paul", "Julie", "Fred"]
PLACES = ["kitchen", "garden", "office", "bathroom", "hallway", "bedroom", "cellar", "park"]
MOVES = ["went to", "moved to", "travelled to", "journeyed to", "walked to", "went back to"]
QUESTIONS = ["Where is {name}?", "Where is {name} now?", "Where did {name} go last?"]


def story_example(rng):
    """One bAbI-like `{"question", "context", "answer", "answer_start"}` record."""
    people = rng.sample(NAMES, rng.randint(2, 4))
    sentences, last_place_offset = [], {}
    offset = 0
    for _ in range(rng.randint(2, 8)):
        name, place = rng.choice(people), rng.choice(PLACES)
        prefix = f"{name} {rng.choice(MOVES)} the "
        sentence = f"{prefix}{place}."
        last_place_offset[name] = (place, offset + len(prefix))
        sentences.append(sentence)
        offset += len(sentence) + 1
    name = rng.choice(sorted(last_place_offset))
    place, start = last_place_offset[name]
    return {"question": rng.choice(QUESTIONS).format(name=name),
            "context": " ".join(sentences), "answer": place, "answer_start": start}


def qa_splits(seed=0, train_size=5000, validation_size=500, test_size=500):
    """bAbI-like stories and "where" questions; no held-out (story, question) in train.

    Args:
        seed: int, the seed everything is drawn from.
        train_size, validation_size, test_size: ints, records per split.
    """
    sizes = {"train": train_size, "validation": validation_size, "test": test_size}
    splits = _disjoint_splits(story_example, lambda r: (r["context"], r["question"]), seed,
                              sizes)
    for name, records in splits.items():  # the fields of `zoo.data.qa_files` records
        for number, record in enumerate(records, start=1):
            record.update(id=f"demo-{name}-{number}", answers=[record["answer"]],
                          answer_starts=[record["answer_start"]], source="demo")
    return splits


DESCRIPTIONS = {
    "nmt": "Hand-written dates in English, French, German and Spanish -> ISO dates "
           "(zoo demo corpus; held-out dates never occur in training).",
    "summarization": "Synthetic news paragraphs -> one-line headlines (zoo demo corpus).",
    "classification": "Customer messages -> billing, delivery, technical, account or "
                      "feedback, set by one key phrase (zoo demo corpus).",
    "qa": "bAbI-like stories and 'Where is X?' questions, answers are spans of the story "
          "(zoo demo corpus).",
}
SPLITS_BY_TASK = {
    "nmt": nmt_splits,
    "summarization": summarization_splits,
    "classification": classification_splits,
    "qa": qa_splits,
}
