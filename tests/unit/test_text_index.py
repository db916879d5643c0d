"""Tests of the full-text payload index (`vectorizer.index.payload.text`)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client.http import models

from vectorizer.index.payload.field_indexes import PayloadFieldIndexes, make_index, normalize_params
from vectorizer.index.payload.text import TextIndex, Tokenizer
from vectorizer.index.payload.text.ascii_folding import fold_to_ascii
from vectorizer.index.payload.text.stopwords import StopwordsFilter, language_stopwords


def params(**kw: Any) -> models.TextIndexParams:
    return models.TextIndexParams(type="text", **kw)


def cond(match: Any, key: str = "t") -> models.FieldCondition:
    return models.FieldCondition(key=key, match=match)


def hits(index: TextIndex, match: Any, n: int) -> list[int]:
    mask = index.filter(cond(match), n)
    assert mask is not None
    return np.flatnonzero(mask).tolist()


# ---------------------------------------------------------------- tokenizers

def test_word_tokenizer() -> None:
    t = Tokenizer(params())
    assert t.tokenize_doc("hello, world! Привет, мир!") == ["hello", "world", "привет", "мир"]
    assert t.tokenize_doc("snake_case x2 you'll") == ["snake", "case", "x2", "you", "ll"]
    assert t.tokenize_doc("") == []
    assert Tokenizer(params(lowercase=False)).tokenize_doc("Hello, Мир") == ["Hello", "Мир"]


def test_whitespace_tokenizer() -> None:
    t = Tokenizer(params(tokenizer="whitespace"))
    assert t.tokenize_doc("Hello, world!\tfoo_bar") == ["hello,", "world!", "foo_bar"]


def test_prefix_tokenizer() -> None:
    t = Tokenizer(params(tokenizer="prefix", min_token_len=1, max_token_len=4))
    assert t.tokenize_doc("hello, мир!") == ["h", "he", "hel", "hell", "м", "ми", "мир"]
    assert t.tokenize_query("hello, мир!") == ["hell", "мир"]
    t = Tokenizer(params(tokenizer="prefix", min_token_len=2))
    assert t.tokenize_doc("Hello a ab") == ["he", "hel", "hell", "hello", "ab"]
    assert t.tokenize_query("h hel") == ["hel"]  # shorter than min_token_len: dropped
    # query words keep stopwords (a prefix of a longer word may be a stopword)
    t = Tokenizer(params(tokenizer="prefix", stopwords="english"))
    assert "the" in t.tokenize_doc("theory")
    assert t.tokenize_query("the") == ["the"]
    assert t.tokenize_doc("the") == []


def test_multilingual_tokenizer() -> None:
    t = Tokenizer(params(tokenizer="multilingual"))
    text = "This is english text. It's being used within Qdrant's code in a unit test."
    expected = "this is english text it s being used within qdrant s code in a unit test"
    assert t.tokenize_doc(text) == expected.split()
    assert t.tokenize_doc("Dies ist ein Test") == ["dies", "ist", "ein", "test"]
    assert t.tokenize_doc("café 2024 x1") == ["cafe", "x1"]  # numbers dropped, diacritics off
    assert t.tokenize_doc("今天是星期一") == ["今", "天", "是", "星", "期", "一"]
    assert "テスト" in t.tokenize_doc("これはテストです")


def test_code_tokenizer() -> None:
    t = Tokenizer(params(tokenizer="code"))
    assert t.tokenize_doc("parseHTTPResponse2xx") == ["parse", "http", "response", "2", "xx"]
    assert t.tokenize_doc("get_user_name getUserName") == ["get", "user", "name"] * 2
    assert t.tokenize_doc("MyClass.my_method(argOne)") == [
        "my", "class", "my", "method", "arg", "one"]


def test_token_length_limits() -> None:
    t = Tokenizer(params(min_token_len=3, max_token_len=5))
    assert t.tokenize_doc("a ab abc abcdef abcde") == ["abc", "abcde"]


def test_ascii_folding() -> None:
    assert fold_to_ascii("ação Ærøskøbing straße ﬁne Łódź") == "acao AEroskobing strasse fine Lodz"
    t = Tokenizer(params(ascii_folding=True))
    assert t.tokenize_doc("Ação ÉCOLE") == ["acao", "ecole"]
    assert Tokenizer(params()).tokenize_doc("Ação") == ["ação"]


def test_stopwords() -> None:
    t = Tokenizer(params(stopwords="english"))
    assert t.tokenize_doc("The quick brown fox jumps over the lazy dog") == [
        "quick", "brown", "fox", "jumps", "lazy", "dog"]
    t = Tokenizer(params(stopwords=models.StopwordsSet(languages=["english"], custom=["Fox"])))
    assert t.tokenize_doc("The FOX and the dog") == ["dog"]
    # case-sensitive when not lowercasing
    f = StopwordsFilter(models.StopwordsSet(custom=["Hello"]), lowercase=False)
    assert f.is_stopword("Hello") and not f.is_stopword("hello")
    f = StopwordsFilter(models.Language.ENGLISH, lowercase=False)
    assert f.is_stopword("the") and not f.is_stopword("The")
    assert "mustn't" in language_stopwords("english")
    assert len(language_stopwords("english")) == 179
    for lang, word in [("german", "und"), ("french", "et"), ("spanish", "y"), ("italian", "e"),
                       ("russian", "и"), ("dutch", "en"), ("portuguese", "e")]:
        assert word in language_stopwords(lang), lang
    t = Tokenizer(params(stopwords=models.StopwordsSet(languages=["german", "french"])))
    assert t.tokenize_doc("Und der Hund et le chat") == ["hund", "chat"]


def test_stopwords_every_language(caplog: pytest.LogCaptureFixture) -> None:
    language_stopwords.cache_clear()
    with caplog.at_level("WARNING"):
        for lang in models.Language:
            assert language_stopwords(lang.value), lang
    assert not [r for r in caplog.records if "no stopword list" in r.getMessage()]
    # words taken from Qdrant's stop_words/*.rs lists
    for lang, words in [
        ("swedish", ["och", "att", "vilkas"]),
        ("norwegian", ["og", "ikkje", "vart"]),
        ("finnish", ["ja", "olla", "itse"]),
        ("danish", ["og", "sådan"]),
        ("turkish", ["ve", "için"]),
        ("greek", ["και", "ὥστε"]),
        ("chinese", ["的", "是不是"]),
        ("japanese", ["の", "について"]),
        ("arabic", ["في", "هبّ"]),
        ("tajik", ["ва", "ҳаргиз"]),
    ]:
        for word in words:
            assert word in language_stopwords(lang), (lang, word)
    # Qdrant entries containing whitespace can never match a token and are left out
    assert "ala" not in language_stopwords("basque")  # Qdrant lists only "ala "
    assert not any(" " in w for lang in models.Language for w in language_stopwords(lang.value))
    t = Tokenizer(params(stopwords=models.Language.SWEDISH))
    assert t.tokenize_doc("Katten och hunden") == ["katten", "hunden"]


def test_stemming() -> None:
    stem = models.SnowballParams(type="snowball", language="english")
    t = Tokenizer(params(stemmer=stem))
    assert t.tokenize_doc("Running runners testing") == ["run", "runner", "test"]
    t = Tokenizer(params(stemmer=stem, stopwords="english"))
    assert t.tokenize_doc("this is testing") == ["test"]


# ---------------------------------------------------------------- matching vs brute force

WORDS = ["alpha", "beta", "gamma", "delta", "Epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "the", "of", "ação"]


def random_docs(seed: int, n: int) -> list[list[Any]]:
    rnd = random.Random(seed)
    docs: list[list[Any]] = []
    for _ in range(n):
        values: list[Any] = []
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
            k = rnd.randint(0, 8)
            sep = rnd.choice([" ", ", ", "-", "! "])
            values.append(sep.join(rnd.choice(WORDS) for _ in range(k)))
        if rnd.random() < 0.05:
            values.append(rnd.choice([17, 3.5, True, None]))
        docs.append(values)
    return docs


def random_queries(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        k = rnd.randint(0, 3)
        words = [rnd.choice([*WORDS, "unknown"]) for _ in range(k)]
        out.append(" ".join(w.upper() if rnd.random() < 0.2 else w for w in words))
    return out


def reference(tok: Tokenizer, values: list[Any], query: str, kind: str) -> bool:
    strings = [v for v in values if isinstance(v, str)]
    if kind == "phrase":
        phrase = tok.tokenize_doc(query)
        if not phrase:
            return False
        for s in strings:
            doc = tok.tokenize_doc(s)
            for i in range(len(doc) - len(phrase) + 1):
                if doc[i:i + len(phrase)] == phrase:
                    return True
        return False
    q = set(tok.tokenize_query(query))
    doc_tokens = {t for s in strings for t in tok.tokenize_doc(s)}
    if not q:
        return False
    if kind == "text":
        return q <= doc_tokens
    return bool(q & doc_tokens)


PARAM_CASES = [
    params(phrase_matching=True),
    params(phrase_matching=True, stopwords="english", ascii_folding=True),
    params(phrase_matching=True, tokenizer="whitespace", lowercase=False),
    params(phrase_matching=True, tokenizer="prefix", min_token_len=2, max_token_len=4),
    params(phrase_matching=True, stemmer=models.SnowballParams(type="snowball",
                                                               language="english")),
    params(phrase_matching=True, tokenizer="multilingual", scoring=True),
    params(phrase_matching=True, tokenizer="code", scoring=True),
]


@pytest.mark.parametrize("p", PARAM_CASES)
def test_matches_brute_force(p: models.TextIndexParams) -> None:
    docs = random_docs(7, 300)
    index = TextIndex(p)
    for i, values in enumerate(docs):
        index.add(i, values)
    # churn: remove some, replace some
    rnd = random.Random(3)
    for i in rnd.sample(range(len(docs)), 40):
        index.remove(i)
        docs[i] = []
    for i in rnd.sample(range(len(docs)), 40):
        docs[i] = random_docs(100 + i, 1)[0]
        index.add(i, docs[i])
    n = len(docs) + 5
    tok = index.tokenizer
    for query in random_queries(11, 60):
        for kind, match in (("text", models.MatchText(text=query)),
                            ("any", models.MatchTextAny(text_any=query)),
                            ("phrase", models.MatchPhrase(phrase=query))):
            expected = [i for i, v in enumerate(docs) if reference(tok, v, query, kind)]
            assert hits(index, match, n) == expected, (kind, query)
    assert index.points_count() == sum(1 for v in docs if any(isinstance(x, str) for x in v))


def test_unindexed_semantics_edge_cases() -> None:
    index = TextIndex(params(phrase_matching=True))
    index.add(0, ["quick brown fox", "jumps high"])
    index.add(1, ["fox brown quick"])
    n = 3
    assert hits(index, models.MatchText(text="quick fox"), n) == [0, 1]
    assert hits(index, models.MatchText(text="fox jumps"), n) == [0]  # union over values
    assert hits(index, models.MatchText(text="fox unknown"), n) == []
    assert hits(index, models.MatchText(text=""), n) == []
    assert hits(index, models.MatchTextAny(text_any="unknown fox"), n) == [0, 1]
    assert hits(index, models.MatchTextAny(text_any="..."), n) == []
    assert hits(index, models.MatchPhrase(phrase="brown fox"), n) == [0]
    assert hits(index, models.MatchPhrase(phrase="fox jumps"), n) == []  # no crossing values
    assert hits(index, models.MatchPhrase(phrase=""), n) == []
    # other conditions are not for this index
    assert index.filter(cond(models.MatchValue(value="fox")), n) is None
    assert index.filter(models.FieldCondition(key="t", range=models.Range(gt=1)), n) is None
    assert index.values_count(0) == 5 and index.values_count(2) == 0
    assert index.points_count() == 2


def test_phrase_without_phrase_matching_matches_nothing() -> None:
    index = TextIndex(params())
    index.add(0, ["quick brown fox"])
    assert hits(index, models.MatchPhrase(phrase="brown fox"), 1) == []
    assert hits(index, models.MatchText(text="brown fox"), 1) == [0]


def test_nested_elements() -> None:
    index = TextIndex(params(nested="offers", phrase_matching=True))
    index.add_elements(0, [["red apple"], ["green pear"]])
    index.add_elements(1, [["red pear"], []])
    assert hits(index, models.MatchText(text="red pear"), 2) == [1]
    assert index.filter_elements(cond(models.MatchText(text="pear"))) == {0: {1}, 1: {0}}
    index.remove(1)
    assert hits(index, models.MatchText(text="red"), 2) == [0]


# ---------------------------------------------------------------- persistence

@pytest.mark.parametrize("p", [PARAM_CASES[0], PARAM_CASES[3], PARAM_CASES[5],
                               params(nested="offers", scoring=True)])
def test_persistence_round_trip(tmp_path: Path, p: models.TextIndexParams) -> None:
    docs = random_docs(5, 200)
    index = TextIndex(p)
    for i, values in enumerate(docs):
        if index.nested:
            index.add_elements(i, [[v] for v in values])
        else:
            index.add(i, values)
    for i in range(0, 200, 7):
        index.remove(i)
    index.save(tmp_path)
    loaded = TextIndex.load(tmp_path, p)
    assert loaded.points_count() == index.points_count()
    for query in random_queries(2, 30):
        for match in (models.MatchText(text=query), models.MatchTextAny(text_any=query),
                      models.MatchPhrase(phrase=query)):
            assert hits(loaded, match, 210) == hits(index, match, 210)
    for i in range(200):
        assert loaded.values_count(i) == index.values_count(i)
        assert loaded.term_frequencies(i) == index.term_frequencies(i)
    a, b = index.bm25_stats(), loaded.bm25_stats()
    assert (a.doc_count, a.total_length, a.doc_freq) == (b.doc_count, b.total_length, b.doc_freq)


def test_through_payload_field_indexes(tmp_path: Path) -> None:
    p = normalize_params({"type": "text", "tokenizer": "word", "phrase_matching": True})
    assert isinstance(make_index(p), TextIndex)
    fields = PayloadFieldIndexes()
    fields.create("doc.title", p)
    fields.on_payload_set(0, {"doc": {"title": "Hello brave new world"}})
    fields.on_payload_set(1, {"doc": {"title": ["new", "world order"]}})
    fields.save(tmp_path)
    loaded = PayloadFieldIndexes.load(tmp_path)
    index = loaded.get("doc.title")
    assert isinstance(index, TextIndex)
    assert hits(index, models.MatchText(text="new world"), 2) == [0, 1]
    assert hits(index, models.MatchPhrase(phrase="new world"), 2) == [0]


# ---------------------------------------------------------------- BM25

def test_bm25_statistics() -> None:
    index = TextIndex(params(scoring=True))
    index.add(0, ["a b c a"])
    index.add(1, ["b b"])
    index.add(2, ["c", "d e"])
    index.add(3, [42])
    stats = index.bm25_stats()
    assert stats.doc_count == 3
    assert stats.total_length == 9
    assert stats.avg_length == pytest.approx(3.0)
    assert stats.doc_freq == {"a": 1, "b": 2, "c": 2, "d": 1, "e": 1}
    assert index.term_frequencies(0) == {"a": 2, "b": 1, "c": 1}
    assert index.term_frequencies(2) == {"c": 1, "d": 1, "e": 1}
    assert index.doc_length(0) == 4 and index.doc_length(1) == 2 and index.doc_length(3) == 0
    assert index.tokenize_query("A, b") == ["a", "b"]
    index.remove(1)
    stats = index.bm25_stats()
    assert (stats.doc_count, stats.total_length, stats.doc_freq["b"]) == (2, 7, 1)
    # BM25 score of one token
    k1, b = 1.2, 0.75
    scores = index.bm25_scores("a", k1=k1, b=b)
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    tf, length, avg = 2, 4, 3.5
    expected = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
    assert scores == {0: pytest.approx(expected)}
    assert set(index.bm25_scores("c d")) == {0, 2}


def test_bm25_without_scoring_flag_computes_on_the_fly() -> None:
    index = TextIndex(params())
    index.add(0, ["x y x"])
    assert index.term_frequencies(0) == {"x": 2, "y": 1}
    assert index.doc_length(0) == 3
    assert index.bm25_stats().doc_count == 1
