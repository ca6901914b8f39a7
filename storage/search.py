"""Fuzzy title search: find a movie from what a person types, typos and all.

`TitleIndex.build(movies, popularity)` precomputes everything once; `index.search(query)` then
answers in 5–10 ms (p50; p95 under 20 ms, under 40 ms with the machine overloaded) for an
ML-32M-sized catalogue of 87,000 titles on a two-core machine, built in about 2–5 s (see
bench/search_bench.py). The index is immutable, so one instance can serve every thread.

How a query is answered, and why in two stages:
1. Normalise the query the way titles were normalised at build time (case, accents, punctuation,
   "&" → "and", roman numerals → digits), cap its length, move a trailing ", The" to the
   front, drop a leading article and split off a trailing year ("heat 1995").
2. Find candidates cheaply. Rich scorers such as WRatio cost ~300 ms over 250,000 strings, far
   too slow, so cheap passes pick a few hundred candidates: a word pass (each query word and
   the title words close to it, weighted by rarity, TF-IDF over titles) that finds a query
   that is part of a title ("lost children") or has a typo in a word ("toy stroy"), and where
   that can miss ("toystory", "godfater"), plain `ratio` over every alias.
3. Score the candidates' aliases carefully (whole-string ratio, word-order-insensitive ratios,
   partial matches that are worth more on word boundaries and at the start, query words found
   in the title even when misspelt, numbers that must agree), adjust for the year, and rank
   best first; equal scores go to the movie with more ratings. A candidate must also share
   words with the query (`_same_movie_words`): as strings "lord of the rings" is close to
   "The Hour of the Pig", in words it is not. The year counts as title text only where the
   title has it ("Death Race 2000"); elsewhere it is the release year, and a wrong one costs.
   A typed article counts: "the heat" is The Heat before Heat (`_typed_score`).

`search` answers only with movies it is confident of: every word asked for is a title word
with at most one typing slip (two from ten letters, `_slips`), or how title words start, or
the whole is the title so misspelt. Anything further ("barbie" for Babe) is for `suggest`,
the bot's "did you mean …?", which allows one slip more; a title not in the catalogue gets
"not found", not a confident wrong movie.

MovieLens writes "Matrix, The" and "City of Lost Children, The (Cité des enfants perdus, La)";
every name in such a title becomes an alias, with its article in front and without it, so
"the matrix", "matrix", "la cite des enfants perdus" and "city of lost children" all match.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from scipy import sparse

from storage.db import Database
from storage.movies import (
    AKA,
    ARTICLES,
    Movie,
    all_movies,
    article_in_front,
    display_title,
    rating_counts,
)

MAX_QUERY_CHARS = 200  # longer input is cut here: no title is that long
MAX_QUERY_WORDS = (
    30  # "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb" has 13
)
SEARCH_CUTOFF = 75.0  # below this a result is more likely noise than the movie meant
SUGGEST_CUTOFF = 62.0  # "did you mean …?" may reach further, but not into nonsense
_TOKEN_CUTOFF = 70.0  # a query word must be this close to a title word to count
_RATIO_CANDIDATES = 60
_WORD_CANDIDATES = 150
_CLOSE_REMEMBERED = 20_000  # words whose close words a title index remembers
_POPULAR_CANDIDATES = 40
_YEAR_MISS_PENALTY = 15.0
_YEAR_NEAR_PENALTY = 4.0  # one year off: release dates differ between countries
_YEAR_UNKNOWN_PENALTY = 6.0
_MISSING_NUMBER_PENALTY = 8.0
_ARTICLE_PENALTY = 4.0  # "the heat" typed, a title without "the"
_PREFIX = 92.0  # the query is how the title starts, on a word boundary
_WHOLE_WORDS = 90.0  # the query is whole words inside the title
_INSIDE_A_WORD = 80.0  # "heat" inside "Heathers"
_QUERY_WORDS_IN_TITLE = 85.5  # every query word is in the title, in another order
_CLOSE_WORD = 90.0  # a misspelt query word this close to a title word stands for it…
_CLOSE_WORD_LETTERS = 5  # …if it has this many letters ("heat" is not "heart")
_TWO_SLIPS_LETTERS = 10  # a word this long may have two typing slips and still be itself
_SHARED_LONG_WORD = 5  # letters of a word that alone makes a title worth suggesting
_TITLE_IN_QUERY = 85.0  # every title word is in the query, which says more (at most)

ENGLISH_ARTICLES = frozenset({"the", "a", "an"})
_QUERY_TRAILING_ARTICLE = re.compile(
    r"^(?P<name>.*\S)\s*,\s*(?P<article>[^\s,()]+)\s*(?P<year>\(?\d{4}\)?)?\s*$"
)
_TRAILING_PARENS = re.compile(r"^(?P<rest>.*\S)\s*\((?P<inner>[^()]*)\)\s*$")
_APOSTROPHES = str.maketrans("", "", "'’‘`´.")
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "þ": "th",
        "ð": "d",
        "ı": "i",
        "&": " and ",
    }
)
_NON_WORD = re.compile(r"[\W_]+")
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
_NUMBERS = {
    w: str(n)
    for n, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_NOT_NAMES = frozenset({"tv", "video", "tv movie", "tv series", "mini series", "short"})
_FILLER = ARTICLES | {"of", "and", "in", "on", "at", "to"}
_YEAR = re.compile(r"^(18[89]\d|19\d\d|20\d\d)$")


@dataclass(frozen=True)
class Match:
    """One search result: which movie, how well it matched (0–100) and through which name."""

    movie_id: int
    score: float  # a whole number: finer differences are noise, and equal scores are ties
    label: str  # "The Matrix (1999)": Movie.label, as the chat shows it
    alias: str  # the name that matched, e.g. "La Cité des enfants perdus"
    popularity: int  # number of ratings


def normalize(text: str) -> str:
    """Lower case, no accents or punctuation, "&" → "and", roman numerals II–IX → digits.

    Applied to titles and queries alike, so both sides meet in the same form.
    """
    plain = text.casefold().translate(_LETTERS)
    if not plain.isascii():  # most titles are: skip the costly part for them
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = _NON_WORD.sub(" ", plain.translate(_APOSTROPHES)).split()
    return " ".join(_ROMAN.get(w, w) for w in words)


def title_names(title: str) -> list[str]:
    """The names a MovieLens title holds, readable and with any article back in front.

    "City of Lost Children, The (Cité des enfants perdus, La)" →
    ["The City of Lost Children", "La Cité des enfants perdus"]; "Seven (Se7en)" →
    ["Seven", "Se7en"]; "Léon (a.k.a. The Professional)" → ["Léon", "The Professional"].
    """
    return [name for name, _ in _names(title)]


def _names(title: str) -> list[tuple[str, bool]]:
    """`title_names`, each with whether its article was moved back from the end."""
    rest, alternatives = title.strip(), list[str]()
    while m := _TRAILING_PARENS.match(rest):
        inner = AKA.sub("", m["inner"]).strip()
        if _is_name(inner):
            alternatives.insert(0, inner)
        rest = m["rest"]
    names = [rest, *alternatives] if rest else alternatives
    return [article_in_front(n) for n in names if n]


def _is_name(text: str) -> bool:
    """Whether a parenthesised part of a title is another name, not "(1995)", "(V)" or "(TV)"."""
    key = normalize(text)
    return len(key) > 2 and any(c.isalpha() for c in key) and key not in _NOT_NAMES


def _keys(name: str, moved: bool) -> list[str]:
    """Normalised forms of one name: as written, and without its article.

    MovieLens moves real articles to the end ("Boot, Das"), so a foreign article is dropped
    only if it was moved: "Die Hard" keeps its "die", and "hard" does not find it.
    """
    key = normalize(name)
    if not key:
        return []
    words = key.split()
    keys = [key]
    if len(words) > 1 and words[0] in (ARTICLES if moved else ENGLISH_ARTICLES):
        keys.append(" ".join(words[1:]))
    elif moved and re.match(r"^l['’]\w", name.casefold()):
        keys.append(key[1:])  # "l'année" normalises to "lannee"
    # "Twelve Monkeys" is also "12 monkeys".
    for key in list(keys):
        digits = " ".join(_NUMBERS.get(w, w) for w in key.split())
        if digits != key:
            keys.append(digits)
    return keys


def _aliases(movie: Movie) -> list[tuple[str, str]]:
    """(normalised key, readable name) pairs for one movie, without repeats."""
    seen: dict[str, str] = {}
    names = _names(movie.title) or [(movie.title, False)]
    for name, moved in names:
        for key in _keys(name, moved):
            seen.setdefault(key, name)
    if len(names) > 1:  # a label pasted whole: "Hate (La Haine) (1995)", "Hate (Haine, La)"
        for whole in (display_title(movie.title), movie.title):
            seen.setdefault(normalize(whole), whole)
    return list(seen.items())


@dataclass(frozen=True)
class _Query:
    text: str  # normalised, without the year
    full: str  # normalised, year included
    year: int | None
    article: str = ""  # the English article the query began with, dropped from text and full


def _parse(query: str) -> _Query | None:
    """Normalise and cap a query; a trailing year is split off. None: nothing to look for."""
    text = query[:MAX_QUERY_CHARS]
    if (m := _QUERY_TRAILING_ARTICLE.match(text)) and m["article"].casefold() in ARTICLES:
        # "Matrix, The (1999)" as MovieLens writes it: the article goes back in front.
        text = f"{m['article']} {m['name']} {m['year'] or ''}"
    words = normalize(text).split()[:MAX_QUERY_WORDS]
    if not words or all(w in _FILLER for w in words):
        return None
    article = ""
    if len(words) > 1 and words[0] in ENGLISH_ARTICLES:
        # Every alias also exists without its article, so "the matrix" loses nothing, and
        # "the" no longer makes "The War" look like "The Matrix" (`_typed_score` weighs it
        # back in). Foreign ones stay: "la haine" is an alias as it is, and "die hard" is
        # not "hard".
        article, words = words[0], words[1:]
    full = " ".join(words)
    if len(words) > 1 and _YEAR.match(words[-1]):
        return _Query(" ".join(words[:-1]), full, int(words[-1]), article)
    return _Query(full, full, None, article)


def _typed_score(query: str, article: str, key: str) -> float:
    """`_score` of a query typed with an English `article` in front ("the heat"): a title with
    that article scores as typed, one without it a little less, so "the heat" is The Heat
    before Heat. People often leave an article out, seldom put in one the title lacks; so a
    query without one ("heat", "matrix") leaves the titles with and without it equal."""
    if not article:
        return _score(query, key)
    if key.startswith(article + " "):
        return _score(f"{article} {query}", key)
    return _score(query, key) - _ARTICLE_PENALTY


def query_year(query: str) -> int | None:
    """The release year a query names at its end ("seven samurai 1954"), or None."""
    parsed = _parse(query)
    return None if parsed is None else parsed.year


def _score(query: str, key: str) -> float:
    """How well one normalised query matches one normalised alias, 0–100.

    Whole-string similarity handles typos; word-order-insensitive ratios handle moved words;
    a query that is part of a longer title scores up to 92 at its start, 90 on whole words and
    80 inside a word ("heat" → "Heat Wave" before "Heathers"), so a full match always wins.
    """
    if query == key:
        return 100.0
    return _similarity(query, key) - _MISSING_NUMBER_PENALTY * _missing_numbers(query, key)


def _missing_numbers(query: str, key: str) -> int:
    """Numbers the query names that the title lacks: "godfather 2" is not "The Godfather"."""
    key_words = set(key.split())
    return sum(1 for w in set(query.split()) if w.isdigit() and w not in key_words)


def _similarity(query: str, key: str) -> float:
    """How close two normalised strings are (typos, moved words, part of a title), 0–100."""
    score = max(fuzz.ratio(query, key), 0.95 * fuzz.token_sort_ratio(query, key))
    query_words, key_words = set(query.split()), set(key.split())
    if len(query) > len(key):
        # The user typed more than this title: it counts if all its words are there, and
        # the more of the query it explains the better ("fight lcb" is not "A Fight").
        if key_words <= query_words:
            score = max(score, _TITLE_IN_QUERY * (0.8 + 0.2 * len(key) / len(query)))
        # A word typed that the title lacks says more than one it has that was not typed:
        # such a title ranks below any the query is how it begins ("… captain home" is
        # "… Captain Home Reloaded" before "… Captain").
        if score > _WHOLE_WORDS and any(_lacks(key_words, w) for w in _content_words(query)):
            score = _WHOLE_WORDS
        return score
    if key.startswith(query + " "):  # the first words of the title: "et" → "E.T. the …"
        return max(score, _PREFIX)
    if len(query) <= 2:  # "d" is not a search for "Jaws 3-D"
        return score
    if query_words <= key_words:
        score = max(score, _QUERY_WORDS_IN_TITLE)
    else:
        # Every word there but misspelt: "godfater" → "The Godfather: Part II".
        score = max(score, _QUERY_WORDS_IN_TITLE * _closeness(query_words, key_words))
    if len(key) >= 8 * len(query):
        return max(score, 0.6 * fuzz.partial_ratio(query, key))
    where = fuzz.partial_ratio_alignment(query, key)
    if where is None:  # only below a score_cutoff, and this asks for none
        return score
    # An imperfect partial match is a typo inside a longer title: count its misses double.
    partial = max(0.0, 2 * where.score - 100)
    starts_word = where.dest_start == 0 or key[where.dest_start - 1] == " "
    ends_word = where.dest_end == len(key) or key[where.dest_end] == " "
    if starts_word and ends_word:
        scale = _PREFIX if where.dest_start == 0 else _WHOLE_WORDS
    else:
        scale = _INSIDE_A_WORD
    return max(score, scale / 100 * partial)


def _lacks(key_words: set[str], word: str) -> bool:
    """Whether no title word is `word`, even with the slips a word that long may have ("drr"
    is "Dr." typed with a letter doubled)."""
    slips = _slips(word)
    return word not in key_words and all(
        OSA.distance(word, k, score_cutoff=slips) > slips for k in key_words
    )


def _closeness(query_words: set[str], key_words: set[str]) -> float:
    """How closely each query word matches some title word (mean of their ratios, 0–1); 0 if
    a word is far from all of them, or is short and not there as it is."""
    total = 0.0
    for word in query_words:
        if word in key_words:
            total += 1.0
            continue
        if len(word) < _CLOSE_WORD_LETTERS:
            return 0.0
        best = max(fuzz.ratio(word, other) for other in key_words)
        if best < _CLOSE_WORD:
            return 0.0
        total += best / 100
    return total / len(query_words)


def _content_words(text: str) -> list[str]:
    """The words of a normalised text that say which movie it is: not articles, "of" and the
    like, not numbers (`_missing_numbers` weighs those), at least three letters."""
    return [w for w in text.split() if len(w) >= 3 and w not in _FILLER and not w.isdigit()]


def _slips(word: str) -> int:
    """Typing slips (a letter dropped, added or replaced, two letters swapped) a word may have
    and still be taken for the word meant: none in one or two letters, one up to nine
    letters ("godfater", "matirx"), two from ten ("shawshenk redemtion" is one in each word).

    Elasticsearch's "AUTO" fuzziness allows two from six letters, but it ranks a list; this
    decides whether a movie is confidently the one meant, and "riloru" is not "Loru".
    """
    return 0 if len(word) <= 2 else 1 if len(word) < _TWO_SLIPS_LETTERS else 2


def _misspelt(word: str, other: str, slack: int) -> bool:
    """Whether `word` is `other` with at most its share of slips (`_slips` of the shorter of
    the two, plus `slack`)."""
    allowed = _slips(min(word, other, key=len)) + slack
    return OSA.distance(word, other, score_cutoff=allowed) <= allowed


def _explained(word: str, words: list[str], slack: int) -> bool:
    """Whether `word` is among `words`, misspelt or not, or (with at least five letters) is
    how a run of them starts, spelt right: "cabinboy" for "cabin boy", "shawshank redem" typed
    before the end. A misspelt part of a word ("shosbe" in "Kashosber") could be any word."""
    if word in words or any(_misspelt(word, other, slack) for other in words):
        return True
    if len(word) < _CLOSE_WORD_LETTERS:
        return False  # a short word may start a longer one by chance ("art": "artemis")
    return any("".join(words[i:]).startswith(word) for i in range(len(words)))


@dataclass(frozen=True)
class _Words:
    """A query's words as `_same_movie_words` compares them, split once per search."""

    asked: tuple[str, ...]  # its content words
    words: tuple[str, ...]
    text: str  # the words, one space apart

    @classmethod
    def of(cls, text: str) -> _Words:
        words = tuple(text.split())
        return cls(tuple(_content_words(text)), words, " ".join(words))


def _same_movie_words(query: _Words, key: str, suggesting: bool = True) -> bool:
    """Whether the words say it could be this movie: every word asked for is in the title
    (misspelt or not), or every word of the title was asked for ("alien ridley scott"), or
    the whole is the title misspelt ("rearkwinndow"); for a suggestion, a word may have one
    slip more, and sharing a long word is enough ("last year at marienbad": "L'Année
    dernière à Marienbad").

    As strings "lord of the rings" is close to "the hour of the pig" and "manon of the
    spring" (they share "of the " and letters), but in words it is neither; and a word two
    slips from every title word ("riloru": "Loru") is another word, not a typo.
    """
    if not query.asked:
        return True  # "et", "2001", "m": nothing to tell by
    title_words = key.split()
    if all(w in title_words for w in query.asked):
        return True  # the common case, and the cheapest
    slack = 1 if suggesting else 0
    if all(_explained(w, title_words, slack) for w in query.asked):
        return True
    words = list(query.words)
    if all(w in words or any(_misspelt(w, o, slack) for o in words) for w in _content_words(key)):
        return True
    if _misspelt(query.text, key, slack):  # a space left out or put in is a slip too
        return True
    return suggesting and any(len(w) >= _SHARED_LONG_WORD and w in title_words for w in query.asked)


def _year_penalty(wanted: int | None, year: int | None) -> float:
    if wanted is None or year == wanted:
        return 0.0
    if year is None:
        return _YEAR_UNKNOWN_PENALTY
    return _YEAR_NEAR_PENALTY if abs(year - wanted) == 1 else _YEAR_MISS_PENALTY


@dataclass(frozen=True)
class _Lexicon:
    """Distinct strings sorted by length, so a ratio cutoff can skip whole length ranges.

    Two strings of lengths a ≤ b can reach `ratio` c (as a fraction) only if
    b ≤ a·(2 − c)/c: a 9-letter query need not be compared with a 30-letter title.
    """

    strings: tuple[str, ...]
    lengths: np.ndarray

    @classmethod
    def of(cls, strings: Iterable[str]) -> _Lexicon:
        ordered = tuple(sorted(set(strings), key=lambda s: (len(s), s)))
        lengths = np.fromiter(map(len, ordered), dtype=np.int64, count=len(ordered))
        lengths.setflags(write=False)
        return cls(ordered, lengths)

    def positions(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.strings)}

    def window(self, length: int, cutoff: float) -> tuple[int, int]:
        """The [start, stop) range of strings whose length allows a ratio ≥ `cutoff`."""
        c = cutoff / 100
        low = math.ceil(length * c / (2 - c))
        high = math.floor(length * (2 - c) / c)
        start = np.searchsorted(self.lengths, low, side="left")
        stop = np.searchsorted(self.lengths, high, side="right")
        return int(start), int(stop)


@dataclass(frozen=True, eq=False)
class TitleIndex:
    """An immutable fuzzy index over every title in a catalogue; safe to share across threads.

    Build it once with `build` or `from_db` and keep it; rebuild after an import.
    """

    ids: np.ndarray  # row → movie id
    labels: tuple[str, ...]  # row → Movie.label, "The Matrix (1999)"
    years: tuple[int | None, ...]
    popularity: np.ndarray  # row → number of ratings
    aliases: tuple[tuple[tuple[str, str], ...], ...]  # row → ((key, readable name), …)
    keys: _Lexicon  # every distinct alias key
    key_movies: sparse.csr_matrix  # keys × rows, 1 where a movie has that key
    vocab: _Lexicon  # every distinct word of every key
    word_positions: Mapping[str, int]  # word → its column in key_words
    idf: np.ndarray  # word → inverse document frequency over keys
    key_words: sparse.csr_matrix  # keys × words, TF-IDF with unit rows
    key_norms: np.ndarray  # key → the length its TF-IDF row had before it was made 1
    key_popularity: np.ndarray  # key → ratings of the most rated movie with that key
    # word → the vocabulary words close to it (`_close_words`), as they are asked for: the
    # same words recur across queries, and finding them is most of a search in a large
    # catalogue. Filled by whichever thread asks first; the answer is the same either way.
    _close: dict[str, tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def build(cls, movies: Iterable[Movie], popularity: Mapping[int, int]) -> TitleIndex:
        """Precompute aliases, their normalised keys and the word index for every movie."""
        movies = list(movies)
        aliases = tuple(tuple(_aliases(m)) for m in movies)
        keys = _Lexicon.of(key for movie_aliases in aliases for key, _ in movie_aliases)
        key_pos = keys.positions()
        pairs = [
            (key_pos[key], row)
            for row, movie_aliases in enumerate(aliases)
            for key, _ in movie_aliases
        ]
        vocab, idf, key_words, key_norms = _word_matrix(keys.strings)
        ids = np.fromiter((m.id for m in movies), dtype=np.int64, count=len(movies))
        pop = np.fromiter(
            (int(popularity.get(m.id, 0)) for m in movies), dtype=np.int64, count=len(movies)
        )
        key_movies = _incidence(pairs, (len(keys.strings), len(movies)))
        key_popularity = (
            np.maximum.reduceat(pop[key_movies.indices], key_movies.indptr[:-1])
            if len(keys.strings)
            else np.zeros(0, dtype=np.int64)
        )
        for matrix in (key_movies, key_words):
            for array in (matrix.data, matrix.indices, matrix.indptr):
                array.setflags(write=False)
        for array in (ids, pop, idf, key_norms, key_popularity):
            array.setflags(write=False)
        return cls(
            ids=ids,
            labels=tuple(m.label for m in movies),
            years=tuple(m.year for m in movies),
            popularity=pop,
            aliases=aliases,
            keys=keys,
            key_movies=key_movies,
            vocab=vocab,
            word_positions=MappingProxyType(vocab.positions()),
            idf=idf,
            key_words=key_words,
            key_norms=key_norms,
            key_popularity=key_popularity,
        )

    @classmethod
    def from_db(cls, db: Database) -> TitleIndex:
        """The index of everything in the database's catalogue, ranked by its rating counts."""
        return cls.build(all_movies(db), rating_counts(db))

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, limit: int = 5) -> list[Match]:
        """The movies `query` most likely names, best first; [] if nothing is close enough."""
        return self._rank(query, limit, SEARCH_CUTOFF)

    def suggest(self, query: str, limit: int = 3) -> list[Match]:
        """Closest spellings for "did you mean …?" when `search` found nothing.

        The same ranking with a lower bar: it reaches further than `search`, but still
        returns nothing for input that resembles no title at all.
        """
        return self._rank(query, limit, SUGGEST_CUTOFF)

    def _rank(self, query: str, limit: int, cutoff: float) -> list[Match]:
        """Score candidate aliases once each, give every movie its best, sort, cut."""
        if limit <= 0 or not len(self.ids):
            return []
        parsed = _parse(query)
        if parsed is None:
            return self._exact(query, limit)
        best: dict[int, tuple[float, int]] = {}  # movie row → (score, key)
        words, suggesting = _Words.of(parsed.text), cutoff < SEARCH_CUTOFF
        for key in self._candidate_keys(parsed):
            text = self.keys.strings[key]
            text_score = _typed_score(parsed.text, parsed.article, text)
            # The year counts as part of the title only where the title has it ("Death Race
            # 2000"); anywhere else it names the release year, and a wrong one costs.
            in_title = parsed.year is not None and str(parsed.year) in text.split()
            full_score = _typed_score(parsed.full, parsed.article, text) if in_title else -1.0
            if max(text_score, full_score) < cutoff:
                continue  # the year can only lower it
            if not _same_movie_words(words, text, suggesting):
                continue  # alike in letters and "of the", not in words: another movie
            for row in self._rows_of(key):
                score = max(text_score - _year_penalty(parsed.year, self.years[row]), full_score)
                if score >= cutoff and score > best.get(row, (-1.0, -1))[0]:
                    best[row] = (score, key)
        ranked = sorted(
            best.items(),
            key=lambda item: (-round(item[1][0]), -self.popularity[item[0]], self.ids[item[0]]),
        )
        # The best match came out in the year typed ("godfather 1972"): that year was meant,
        # and the others (Part II, 1974) are not what was asked for.
        year = parsed.year
        if year is not None and not suggesting and ranked and self.years[ranked[0][0]] == year:
            ranked = [item for item in ranked if self.years[item[0]] == year]
        return [self._match(row, score, key) for row, (score, key) in ranked[:limit]]

    def _exact(self, query: str, limit: int) -> list[Match]:
        """The movies with exactly this title, most rated first: for a query made only of
        words like "the", "a", "of" and "i", which say nothing alone but are whole titles
        ("O", "Die", "A To")."""
        text = normalize(query[:MAX_QUERY_CHARS])
        strings = self.keys.strings
        at = bisect.bisect_left(strings, (len(text), text), key=lambda s: (len(s), s))
        if not text or at == len(strings) or strings[at] != text:
            return []
        rows = sorted(self._rows_of(at), key=lambda row: (-self.popularity[row], self.ids[row]))
        return [self._match(row, 100.0, at) for row in rows[:limit]]

    def _rows_of(self, key: int) -> list[int]:
        """The movies (rows) that have this alias key."""
        start, stop = self.key_movies.indptr[key], self.key_movies.indptr[key + 1]
        return self.key_movies.indices[start:stop].tolist()

    def _match(self, row: int, score: float, key: int) -> Match:
        """A result for one movie, naming the alias the score came from as it is written."""
        key_text = self.keys.strings[key]
        name = next(name for k, name in self.aliases[row] if k == key_text)
        pop = int(self.popularity[row])
        return Match(int(self.ids[row]), float(round(score)), self.labels[row], name, pop)

    def _candidate_keys(self, parsed: _Query) -> set[int]:
        """Alias keys worth scoring: sharing (close) words, or close as whole strings.

        The whole-string pass costs most, so it runs only where the word pass can miss: for
        a one-word query no title has as a word ("toystory", "godfater"), or when some word has
        no title word close to it. The year stays out of it (titles do not contain it) but is
        kept in the word pass, where "Death Race 2000" can use it. A number has no close words:
        "2" is not a typo of "3", and 1988 names a year, not titles with 1989 in them.
        """
        weights, exact, unplaced = self._word_weights(parsed.text, parsed.full)
        scores = self.key_words @ weights
        keys = set(_top(scores, _WORD_CANDIDATES).tolist())
        keys.update(self._popular_full_matches(scores, exact).tolist())
        words = parsed.text.split()
        unknown = any(w not in self.word_positions for w in words)
        if not (unplaced or (unknown and len(words) == 1)):
            return keys
        start, stop = self.keys.window(len(parsed.text), SUGGEST_CUTOFF)
        if start < stop:
            sims = process.cdist(
                [parsed.text],
                self.keys.strings[start:stop],
                scorer=fuzz.ratio,
                score_cutoff=SUGGEST_CUTOFF,
                dtype=np.uint8,
            )[0]
            keys.update((start + _top(sims, _RATIO_CANDIDATES)).tolist())
        return keys

    def _popular_full_matches(self, scores: np.ndarray, exact: float) -> np.ndarray:
        """The most rated keys among those holding every query word that titles use.

        TF-IDF prefers short titles; when hundreds share the words ("star wars"), the famous
        long one ("Star Wars: Episode IV - A New Hope") must still be scored. `exact` is the
        coverage of a key with exactly those words.
        """
        if exact <= 0:
            return np.zeros(0, dtype=np.int64)
        coverage = scores * self.key_norms  # undo the length normalisation
        full = np.flatnonzero(coverage >= exact * 0.999)
        if full.size > _POPULAR_CANDIDATES:
            most = np.argpartition(self.key_popularity[full], -_POPULAR_CANDIDATES)
            full = full[most[-_POPULAR_CANDIDATES:]]
        return full

    def _word_weights(self, text: str, full: str) -> tuple[np.ndarray, float, bool]:
        """Weights over the vocabulary for the query's words and the title words close to them.

        Weight is IDF (rare words count most) times the square of the closeness. Also returns
        the coverage a key holding exactly the known query words gets, and whether some word
        of `text` found neither itself nor a close word among the titles. `full` is `text`
        with the year: it counts where a title has it ("Death Race 2000"), but is no sign of
        a typo where none has it.
        """
        weights = np.zeros(len(self.vocab.strings), dtype=np.float32)
        exact, unplaced = 0.0, False
        words = set(text.split())
        for word in dict.fromkeys(full.split()):
            found = self.word_positions.get(word)
            if found is not None:
                weights[found] = self.idf[found]
                exact += float(self.idf[found]) ** 2
            if len(word) <= 2 or word.isdigit():
                # Too short to tell a typo from another word; and 1988 is not 1989 misspelt.
                unplaced |= found is None and word in words
                continue
            # Close words too, for typos and for the word meant ("alien" → "Aliens").
            cols, close = self._close_words(word)
            unplaced |= not cols.size
            if cols.size:
                weights[cols] = np.maximum(weights[cols], close)
        return weights, exact, unplaced

    def _close_words(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary positions of the words within `_TOKEN_CUTOFF` of `word` (itself
        included) and their weights, (ratio / 100)² × IDF; remembered (`_close`)."""
        known = self._close.get(word)
        if known is not None:
            return known
        start, stop = self.vocab.window(len(word), _TOKEN_CUTOFF)
        sims = process.cdist(
            [word],
            self.vocab.strings[start:stop],
            scorer=fuzz.ratio,
            score_cutoff=_TOKEN_CUTOFF,
            dtype=np.uint8,
        )[0]
        cols = np.flatnonzero(sims)
        close = ((sims[cols] / 100.0) ** 2 * self.idf[start + cols]).astype(np.float32)
        found = (start + cols, close)
        for array in found:
            array.setflags(write=False)
        if len(self._close) >= _CLOSE_REMEMBERED:
            self._close.clear()  # a flood of made-up words: start over rather than grow
        self._close[word] = found
        return found


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` highest non-zero scores, in no particular order."""
    nonzero = np.flatnonzero(scores)
    if nonzero.size > n:
        nonzero = nonzero[np.argpartition(scores[nonzero], -n)[-n:]]
    return nonzero


def _incidence(pairs: list[tuple[int, int]], shape: tuple[int, int]) -> sparse.csr_matrix:
    """A 0/1 CSR matrix with a one at each (row, column) pair."""
    rows = np.fromiter((r for r, _ in pairs), dtype=np.int64, count=len(pairs))
    cols = np.fromiter((c for _, c in pairs), dtype=np.int64, count=len(pairs))
    data = np.ones(len(pairs), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=shape)
    matrix.data[:] = 1.0  # a key repeated within one movie still counts once
    return matrix


def _word_matrix(
    keys: tuple[str, ...],
) -> tuple[_Lexicon, np.ndarray, sparse.csr_matrix, np.ndarray]:
    """The title vocabulary, each word's IDF, the keys × words TF-IDF matrix (rows L2 = 1)
    and each row's length before it was made 1.

    Rare words weigh most, and among titles sharing a word the shorter ones rank first.
    """
    vocab = _Lexicon.of(word for key in keys for word in key.split())
    word_pos = vocab.positions()
    pairs = [(row, word_pos[word]) for row, key in enumerate(keys) for word in key.split()]
    matrix = _incidence(pairs, (len(keys), len(vocab.strings)))
    doc_freq = np.asarray(matrix.sum(axis=0)).ravel()
    idf = np.log((1 + len(keys)) / (1 + doc_freq)).astype(np.float32) + 1.0
    weighted = matrix.multiply(idf[np.newaxis, :]).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    weighted = sparse.diags(1.0 / norms.astype(np.float32)) @ weighted
    return vocab, idf, weighted.tocsr(), norms.astype(np.float32)
