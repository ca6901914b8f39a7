"""Fuzzy title search: what a person types → the movie they mean, or nothing."""

from __future__ import annotations

import json
import threading
import time

import pytest

from bot.cli import main
from storage import movies, ratings, users
from storage.db import Database
from storage.movies import Movie
from storage.search import Match, TitleIndex, normalize, query_year, title_names

# Titles as MovieLens writes them (year apart), with near-duplicates on purpose.
CATALOGUE = (
    Movie(1, "Toy Story", 1995, ("Animation",)),
    Movie(2, "Toy Story 2", 1999, ("Animation",)),
    Movie(3, "Heat", 1995, ("Action",)),
    Movie(4, "Heat", 1986, ("Action",)),
    Movie(5, "Heathers", 1989, ("Comedy",)),
    Movie(6, "Matrix, The", 1999, ("Sci-Fi",)),
    Movie(7, "Matrix Reloaded, The", 2003, ("Sci-Fi",)),
    Movie(8, "Godfather, The", 1972, ("Crime",)),
    Movie(9, "Godfather: Part II, The", 1974, ("Crime",)),
    Movie(10, "Amélie (Fabuleux destin d'Amélie Poulain, Le)", 2001, ("Comedy",)),
    Movie(11, "City of Lost Children, The (Cité des enfants perdus, La)", 1995, ("Fantasy",)),
    Movie(12, "Hate (Haine, La)", 1995, ("Drama",)),
    Movie(13, "Boot, Das", 1981, ("War",)),
    Movie(14, "Seven (Se7en)", 1995, ("Thriller",)),
    Movie(15, "Seven Samurai (Shichinin no samurai)", 1954, ("Drama",)),
    Movie(16, "Alien", 1979, ("Horror",)),
    Movie(17, "Aliens", 1986, ("Action",)),
    Movie(18, "Twelve Monkeys (a.k.a. 12 Monkeys)", 1995, ("Sci-Fi",)),
    Movie(19, "Léon: The Professional (a.k.a. The Professional) (Léon)", 1994, ("Action",)),
    Movie(20, "Hamlet", 1990, ("Drama",)),
    Movie(21, "Hamlet", 1996, ("Drama",)),
    Movie(22, "Hamlet", 2000, ("Drama",)),
    Movie(23, "Année dernière à Marienbad, L'", 1961, ("Drama",)),
    Movie(24, "Star Wars: Episode V - The Empire Strikes Back", 1980, ("Sci-Fi",)),
    Movie(25, "Wallace & Gromit: The Wrong Trousers", 1993, ("Animation",)),
    Movie(26, "Death Race 2000", 1975, ("Action",)),
    Movie(27, "Death Race", 2008, ("Action",)),
    Movie(28, "Usual Suspects, The", 1995, ("Crime",)),
    Movie(29, "Untitled", None, ()),
    Movie(30, "Jaws 3-D", 1983, ("Horror",)),
    Movie(31, "Die Hard", 1988, ("Action",)),
    Movie(32, "Hard", 2011, ("Drama",)),
    Movie(33, "E.T. the Extra-Terrestrial", 1982, ("Children's",)),
)
POPULARITY = {
    1: 900,
    2: 400,
    3: 700,
    4: 30,
    5: 150,
    6: 950,
    7: 300,
    8: 800,
    9: 500,
    10: 350,
    11: 90,
    12: 60,
    13: 120,
    14: 600,
    15: 110,
    16: 500,
    17: 450,
    18: 300,
    19: 320,
    20: 5,
    21: 80,
    22: 40,
    23: 8,
    24: 700,
    25: 90,
    26: 20,
    27: 70,
    28: 650,
    30: 15,
    31: 200,
    32: 900,
    33: 400,
}


@pytest.fixture(scope="module")
def index() -> TitleIndex:
    return TitleIndex.build(CATALOGUE, POPULARITY)


def top(index: TitleIndex, query: str) -> int | None:
    found = index.search(query)
    return found[0].movie_id if found else None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # typos
        ("toy stroy", 1),
        ("toystory", 1),
        ("toystory 2", 2),
        ("godfater", 8),
        ("matirx", 6),
        ("hmlet", 21),
        # articles: missing, in front, or moved to the end as MovieLens writes them
        ("the matrix", 6),
        ("matrix", 6),
        ("Matrix, The", 6),
        ("usual suspects", 28),
        ("the godfather part 2", 9),
        ("godfather part ii", 9),
        ("godfather 2", 9),
        ("la cite des enfants perdus", 11),
        ("la haine", 12),
        ("haine", 12),
        ("das boot", 13),
        ("Boot, Das", 13),
        ("Hate (Haine, La) (1995)", 12),
        ("annee derniere a marienbad", 23),
        ("die hard", 31),  # "die" is German for "the", but not here
        ("hard", 32),
        # a year picks among remakes, even the less popular one
        ("heat 1995", 3),
        ("heat 1986", 4),
        ("heat (1986)", 4),
        ("Heat 1987", 4),
        ("hamlet 1990", 20),
        ("death race 2000", 26),
        ("death race", 27),
        # case and accents
        ("amelie", 10),
        ("AMÉLIE", 10),
        ("Amélie", 10),
        # alternative titles in parentheses, and "a.k.a."
        ("city of lost children", 11),
        ("cite des enfants perdus", 11),
        ("se7en", 14),
        ("seven", 14),
        ("shichinin no samurai", 15),
        ("12 monkeys", 18),
        ("twelve monkeys", 18),
        ("leon", 19),
        ("the professional", 19),
        # part of a longer title, "&" spelled out, sequels
        ("empire strikes back", 24),
        ("wallace and gromit", 25),
        ("toy story 2", 2),
        ("matrix reloaded", 7),
        ("aliens", 17),
        ("alien", 16),
        ("et", 33),
        ("E.T.", 33),
        # ties go to the movie with more ratings
        ("heat", 3),
        ("hamlet", 21),
        # nothing rather than garbage
        ("qwxzv", None),
        ("asdfgh jkl", None),
        ("zzzzzz", None),
        ("", None),
        ("   ", None),
        ("\t\n", None),
        ("the", None),
        ("d", None),
        ("!!! ???", None),
        ("x" * 10_000, None),
    ],
)
def test_search_finds_the_movie_a_person_means(index, query, expected):
    assert top(index, query) == expected


def test_best_matches_come_first_and_the_exact_title_wins(index):
    heat = index.search("heat")
    assert [m.movie_id for m in heat[:2]] == [3, 4]  # both exact: the more popular first
    assert heat[0].score == heat[1].score == 100 and heat[0].popularity > heat[1].popularity
    alien = index.search("alien")
    assert [m.movie_id for m in alien[:2]] == [16, 17]  # Alien, then Aliens
    assert alien[0].score == 100 > alien[1].score
    for found in (heat, alien, index.search("toy stroy")):
        assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_a_year_the_best_match_came_out_in_leaves_out_the_other_years(index):
    """Typing the year is choosing: "godfather 1972" is not asking about Part II (1974)."""
    assert [m.movie_id for m in index.search("godfather 1972")] == [8]
    assert [m.movie_id for m in index.search("heat 1986")] == [4]  # the less popular remake
    # A year nothing came out in keeps every match, each costed by how far off it is …
    assert [m.movie_id for m in index.search("heat 1996")][:2] == [3, 4]
    # … and a year that is part of the best title names no release year.
    assert index.search("death race 2000")[0].movie_id == 26


def test_a_misspelt_word_finds_every_title_that_has_it(index):
    """ "godfater" is The Godfather, but someone who typed it may want Part II: offer both."""
    godfather = index.search("godfater")
    assert [m.movie_id for m in godfather[:2]] == [8, 9]
    assert godfather[0].score > godfather[1].score


def test_a_short_word_one_letter_off_is_another_word_inside_a_longer_title():
    movies = [Movie(1, "Heat", 1995, ()), Movie(2, "Wild at Heart", 1990, ())]
    index = TitleIndex.build(movies, {1: 500, 2: 100})
    assert [m.movie_id for m in index.search("heat")] == [1]
    assert index.search("wild heat")[0].movie_id == 2  # with its other words, a typo is fine


def test_a_famous_long_title_is_found_among_hundreds_sharing_its_words():
    fan_edits = [Movie(100 + n, f"Star Wars Fan Edit {n}", 2010, ()) for n in range(400)]
    famous = Movie(1, "Star Wars: Episode IV - A New Hope", 1977, ("Sci-Fi",))
    index = TitleIndex.build([*fan_edits, famous], {1: 80_000, **{m.id: 3 for m in fan_edits}})
    assert index.search("star wars")[0].movie_id == 1


def test_a_match_names_the_title_and_the_alias_it_came_through(index):
    (match, *_) = index.search("cite des enfants perdus")
    assert match == Match(
        movie_id=11,
        score=100.0,
        label="The City of Lost Children (La Cité des enfants perdus) (1995)",
        alias="La Cité des enfants perdus",
        popularity=90,
    )


def test_limit_caps_the_results(index):
    assert len(index.search("hamlet", limit=2)) == 2
    assert index.search("hamlet", limit=0) == []


def test_suggest_offers_close_spellings_when_search_finds_nothing(index):
    assert index.search("last year at marienbad") == []
    assert [m.movie_id for m in index.suggest("last year at marienbad")] == [23]


@pytest.mark.parametrize("query", ["qwxzv", "asdfgh jkl", "", "x" * 10_000])
def test_suggest_has_nothing_for_nonsense(index, query):
    assert index.suggest(query) == []


def test_huge_input_is_cut_and_answered_quickly(index):
    started = time.perf_counter()
    assert top(index, "heat" + " " * 10_000) == 3
    assert top(index, " " * 10_000 + "heat") is None  # only the first 200 characters count
    assert index.search("heat " + "blah " * 5_000) == []
    assert time.perf_counter() - started < 1.0


def test_an_empty_catalogue_finds_nothing():
    empty = TitleIndex.build([], {})
    assert len(empty) == 0
    assert empty.search("heat") == [] and empty.suggest("heat") == []


def test_one_index_serves_many_threads_with_the_same_answers(index):
    queries = ["toy stroy", "heat 1986", "amelie", "qwxzv", "la haine", "hamlet"]
    expected = {q: index.search(q) for q in queries}
    results: list[bool] = []

    def worker() -> None:
        results.extend(index.search(q) == expected[q] for _ in range(5) for q in queries)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 8 * 5 * len(queries) and all(results)


def test_words_remembered_from_earlier_queries_give_the_same_answers(monkeypatch):
    from storage import search

    queries = ["toy stroy", "heat 1986", "amelie", "qwxzv", "the godfater", "godfather toy"]
    fresh = {q: TitleIndex.build(CATALOGUE, POPULARITY).search(q) for q in queries}
    used = TitleIndex.build(CATALOGUE, POPULARITY)
    for q in queries + queries[::-1]:  # the words of each query met before, in other queries
        assert used.search(q) == fresh[q]
        assert used.suggest(q) == TitleIndex.build(CATALOGUE, POPULARITY).suggest(q)
    # A flood of made-up words does not grow what an index remembers without bound.
    monkeypatch.setattr(search, "_CLOSE_REMEMBERED", 5)
    for i in range(20):
        used.search(f"zqx{i}word")
    assert len(used._close) <= 5
    assert used.search("toy stroy") == fresh["toy stroy"]


@pytest.mark.parametrize(
    ("title", "names"),
    [
        ("Toy Story", ["Toy Story"]),
        ("Matrix, The", ["The Matrix"]),
        ("Boot, Das", ["Das Boot"]),
        ("Année dernière à Marienbad, L'", ["L'Année dernière à Marienbad"]),
        ("Seven (Se7en)", ["Seven", "Se7en"]),
        (
            "City of Lost Children, The (Cité des enfants perdus, La)",
            ["The City of Lost Children", "La Cité des enfants perdus"],
        ),
        (
            "Léon: The Professional (a.k.a. The Professional) (Léon)",
            ["Léon: The Professional", "The Professional", "Léon"],
        ),
        ("Mrs. Brown (Her Majesty, Mrs. Brown)", ["Mrs. Brown", "Her Majesty, Mrs. Brown"]),
        (
            "Land Before Time III: The Time of the Great Giving (V)",
            ["Land Before Time III: The Time of the Great Giving"],
        ),
        ("I, Robot", ["I, Robot"]),
        ("(500) Days of Summer", ["(500) Days of Summer"]),
        ("Babylon 5 (2006–2007)", ["Babylon 5"]),
    ],
)
def test_title_names_reads_movielens_titles(title, names):
    assert title_names(title) == names


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("Amélie", "amelie"),
        ("  Schindler’s   List ", "schindlers list"),
        ("Tom & Jerry", "tom and jerry"),
        ("L.A. Confidential", "la confidential"),
        ("Rocky IV", "rocky 4"),
        ("Spider-Man", "spider man"),
        ("Smörgåsbord Ærø", "smorgasbord aero"),
    ],
)
def test_normalize_meets_titles_and_queries_in_one_form(text, normal):
    assert normalize(text) == normal


def test_from_db_ranks_by_the_number_of_ratings(tiny_catalog):
    index = TitleIndex.from_db(tiny_catalog)
    (heat, *_) = index.search("heat")
    assert (heat.label, heat.popularity) == ("Heat (1995)", 2)
    assert index.search("tom and jerry")[0].movie_id == 7


# ---------------------------------------------------------------- the command line


def catalogue_file(tmp_path) -> list[str]:
    """A database file holding CATALOGUE with ratings; returns the CLI's common options."""
    path = tmp_path / "m.sqlite"
    with Database(path) as db:
        movies.upsert_many(db, CATALOGUE)
        for n, (movie_id, count) in enumerate([(3, 3), (4, 1)]):
            for user_no in range(count):
                user = users.ensure_telegram(db, 100 + user_no)
                ratings.upsert(db, user, movie_id, 4, ts=1000 + n)
    return ["--env-file", str(tmp_path / "none.env"), "--db", str(path)]


def test_cli_prints_the_matches_from_a_database_file(tmp_path, capsys):
    env = catalogue_file(tmp_path)
    assert main([*env, "search", "heat"]) == 0
    header, first, second, *_ = capsys.readouterr().out.splitlines()
    assert header.split() == ["title", "id", "score", "ratings"]
    assert first.split() == ["Heat", "(1995)", "3", "100", "3"]
    assert second.split() == ["Heat", "(1986)", "4", "100", "1"]


def test_cli_json_and_limit(tmp_path, capsys):
    env = catalogue_file(tmp_path)
    assert main([*env, "search", "godfater", "--limit", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"movie_id": 8, "title": "The Godfather (1972)", "matched": "The Godfather",
         "score": 94, "ratings": 0}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["search", "qwxzv"],
            "no movie matches 'qwxzv' in the catalogue (33 movies from 1954 to 2011)",
        ),
        (["search", "last year at marienbad"], "did you mean L'Année dernière à Marienbad (1961)"),
        (["search", "  "], "moviebot: the query is empty"),
        (["search", "heat", "--limit", "0"], "--limit must be between 1 and 100"),
    ],
)
def test_cli_no_match_is_one_clear_line_and_exit_code_1(tmp_path, capsys, args, message):
    env = catalogue_file(tmp_path)
    assert main([*env, *args]) == 1
    out, err = capsys.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1


def test_cli_on_an_empty_database_says_how_to_get_movies(tmp_path, capsys):
    env = ["--env-file", str(tmp_path / "none.env"), "--db", str(tmp_path / "empty.sqlite")]
    assert main([*env, "search", "heat"]) == 1
    assert "run `moviebot data fetch` first" in capsys.readouterr().err


# Titles of MovieLens 100K that a search once offered for movies it does not have.
NOT_THE_ONE = (
    Movie(1, "Hour of the Pig, The", 1993, ()),
    Movie(2, "Manon of the Spring (Manon des sources)", 1986, ()),
    Movie(3, "Lord of Illusions", 1995, ()),
    Movie(4, "Remains of the Day, The", 1993, ()),
    Movie(5, "Seven (Se7en)", 1995, ()),
    Movie(6, "Seventh Seal, The (Sjunde inseglet, Det)", 1957, ()),
    Movie(7, "Evening Star, The", 1996, ()),
    Movie(8, "Lost in Space", 1998, ()),
    Movie(9, "Death Race 2000", 1975, ()),
    Movie(10, "Crimson Tide", 1995, ()),
)


@pytest.mark.parametrize(
    "query",
    [
        "lord of the rings",  # "of the" and a few letters in common, not one word
        "seven samurai 1954",  # "Seven" is from 1995
        "lost in translation",
        "the matrix",
    ],
)
def test_a_movie_the_catalogue_lacks_finds_nothing_and_suggests_nothing(query):
    index = TitleIndex.build(NOT_THE_ONE, {m.id: 100 for m in NOT_THE_ONE})
    assert index.search(query) == [] and index.suggest(query) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("seven samurai", [5]),  # no year: "Seven" is a fair guess, "The Seventh Seal" is not
        ("lord of ilusions", [3]),
        ("death race 2000", [9]),  # a year that is part of the title still counts
        ("the remains of the dya", [4]),
        ("rear window", []),
    ],
)
def test_suggestions_share_the_words_asked_for(query, expected):
    index = TitleIndex.build(NOT_THE_ONE, {m.id: 100 for m in NOT_THE_ONE})
    assert [m.movie_id for m in index.suggest(query)] == expected


def test_one_long_word_in_common_is_a_suggestion_not_a_match():
    index = TitleIndex.build(NOT_THE_ONE, {m.id: 100 for m in NOT_THE_ONE})
    assert index.search("the crimson rivers") == []
    assert [m.movie_id for m in index.suggest("the crimson rivers")] == [10]


def test_query_year_is_the_year_at_the_end():
    assert query_year("seven samurai 1954") == 1954
    assert query_year("Heat (1995)") == 1995
    assert query_year("2001") is None  # alone it is a title
    assert query_year("heat") is None


# ---------------------------------------------------------------- when a match is confident

# Real titles (MovieLens latest) with near neighbours in letters.
NEIGHBOURS = (
    Movie(1, "Babe", 1995, ("Children",)),
    Movie(2, "Barb Wire", 1996, ("Action",)),
    Movie(3, "Strangers on a Train", 1951, ("Thriller",)),
    Movie(4, "Lone Ranger, The", 2013, ("Western",)),
    Movie(5, "Psycho", 1960, ("Horror",)),
    Movie(6, "Shawshank Redemption, The", 1994, ("Drama",)),
    Movie(7, "Jurassic Park", 1993, ("Adventure",)),
    Movie(8, "Heat", 1995, ("Action",)),
    Movie(9, "Heat, The", 2013, ("Comedy",)),
    Movie(10, "Star, The", 1952, ("Drama",)),
    Movie(11, "Star", 2001, ("Drama",)),
    Movie(12, "O", 2001, ("Drama",)),
    Movie(13, "Die", 2010, ("Thriller",)),
    Movie(14, "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1964, ()),
    Movie(15, "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb 2", 2030, ()),
    Movie(16, "Fight Club", 1999, ("Drama",)),
    Movie(17, "Moonlighting", 1982, ("Drama",)),
    Movie(18, "Moonrise Kingdom", 2012, ("Comedy",)),
)
NEIGHBOUR_RATINGS = dict(
    enumerate([300, 40, 90, 60, 500, 900, 800, 700, 50, 5, 30, 10, 3, 400, 1, 850, 2, 120], 1)
)


@pytest.fixture(scope="module")
def neighbours() -> TitleIndex:
    return TitleIndex.build(NEIGHBOURS, NEIGHBOUR_RATINGS)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("psyco", 5),  # one slip in a word is a typo
        ("psycoh", 5),  # two letters swapped is one slip
        ("shawshenk redemtion", 6),  # one in each word
        ("jurrasic park", 7),  # two in a title of ten letters and more
        ("shawshank redem", 6),  # typed before the end
        ("fightclub", 16),  # a space left out is one slip
        ("lone ranger", 4),
        ("ranger", 4),  # a whole word of the title
    ],
)
def test_a_title_within_a_typo_of_the_query_is_found(neighbours, query, expected):
    assert top(neighbours, query) == expected


@pytest.mark.parametrize(
    ("query", "suggested"),
    [
        ("barbie", 1),  # two slips from "Babe": a word of its own, not a typo of it
        ("pyschho", 5),  # two slips in seven letters
        ("moonlight kingdom zz", 18),  # "Moonlighting" has none of the other words
    ],
)
def test_a_word_two_slips_away_is_a_suggestion_not_a_match(neighbours, query, suggested):
    assert neighbours.search(query) == []
    assert suggested in [m.movie_id for m in neighbours.suggest(query)]


def test_part_of_a_word_is_no_match_unless_a_word_starts_there(neighbours):
    """ "ranger" sits inside "Strangers": by chance, not because someone typed it."""
    assert [m.movie_id for m in neighbours.search("ranger")] == [4]
    assert [m.movie_id for m in neighbours.search("rangers")] == [4]  # "Ranger" misspelt
    assert neighbours.search("angers") == []
    assert top(neighbours, "trangers") == 3  # one slip from "strangers"
    assert top(neighbours, "strange") == 3  # how "Strangers" starts


def test_a_typed_article_prefers_the_title_that_has_it(neighbours):
    assert [m.movie_id for m in neighbours.search("heat")[:2]] == [8, 9]  # more ratings first
    assert [m.movie_id for m in neighbours.search("the heat")[:2]] == [9, 8]
    assert top(neighbours, "The Heat (2013)") == 9
    assert top(neighbours, "Heat, The") == 9  # as MovieLens writes it
    assert top(neighbours, "the star") == 10 and top(neighbours, "star") == 11


@pytest.mark.parametrize(("query", "expected"), [("O", 12), ("o", 12), ("Die", 13)])
def test_a_title_made_only_of_little_words_is_found_as_typed(neighbours, query, expected):
    assert top(neighbours, query) == expected


@pytest.mark.parametrize("query", ["the", "a", "of the", "die die"])
def test_little_words_alone_find_no_other_title(neighbours, query):
    assert neighbours.search(query) == []


def test_every_word_of_a_long_title_counts(neighbours):
    """The thirteenth word and after still tell two titles apart."""
    full = "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb"
    assert top(neighbours, full) == 14
    assert top(neighbours, f"{full} 2") == 15
    assert top(neighbours, "dr strangelove") == 14


def test_a_title_lacking_a_typed_word_ranks_below_one_the_query_begins():
    """The first words of a long title typed: a shorter title that lacks the last of them is
    close as a string, but the longer one has every word (titles as bench/ generates them)."""
    movies = [
        Movie(1, "Matrix Reloaded, The: Captain", 2005, ()),
        Movie(2, "Matrix Reloaded, The: Captain Home Reloaded", 2011, ()),
    ]
    index = TitleIndex.build(movies, {1: 1_422, 2: 152})
    found = index.search("Matrix Reloaded, The: Captain Home")
    assert [m.movie_id for m in found] == [2, 1] and found[0].score > found[1].score
    assert top(index, "matrix reloaded the captain") == 1
