"""`moviebot train / recommend / similar` end to end on a small database, and the training glue."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.settings import Settings
from bot.training import RATINGS_CACHE, load_current, model_folder, needs_training
from recommender.filters import Filters
from storage import models, movies, ratings, users
from storage.db import Database
from storage.movies import Movie
from tests.recommender import synthetic

FAST = ["--factors", "4", "--iterations", "3"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("MOVIEBOT_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MOVIEBOT_DB", raising=False)
    return {"db": tmp_path / "bot.sqlite", "models": tmp_path / "models", "env": tmp_path / "x"}


def run(env: dict[str, Path], *args: str) -> int:
    return main(["--env-file", str(env["env"]), "--db", str(env["db"]), *args])


def settings(env: dict[str, Path]) -> Settings:
    return Settings(db_path=env["db"], model_dir=env["models"])


def fill(path: Path, every: int = 1) -> None:
    """The two-taste-block data set (40 movies, 80 users) in a database file; with `every`,
    only every so many of its ratings (another data set over the same catalogue)."""
    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    with Database(path) as db:
        movies.upsert_many(
            db,
            [
                Movie(int(m), cat.titles[i], int(cat.years[i]), cat.genres[i])
                for i, m in enumerate(cat.items.ids)
            ],
        )
        movies.add_features(
            db,
            [(int(m), k, v, w) for i, m in enumerate(cat.items.ids) for k, v, w in cat.features[i]],
        )
        coo = data.matrix.tocoo()
        with db.write() as conn:
            conn.executemany(
                "INSERT INTO users (kind, external_id, created_at) VALUES ('dataset', ?, 0)",
                [(int(u),) for u in data.users.ids],
            )
            conn.executemany(
                "INSERT INTO ratings (user_id, movie_id, rating, ts) SELECT id, ?, ?, ? "
                "FROM users WHERE kind = 'dataset' AND external_id = ?",
                [
                    (int(data.items.ids[c]), float(s), 1000, int(data.users.ids[r]))
                    for r, c, s in list(zip(coo.row, coo.col, coo.data, strict=True))[::every]
                ],
            )


@pytest.fixture
def filled(env: dict[str, Path]) -> dict[str, Path]:
    """The two-taste-block data set in the test's database file."""
    fill(env["db"])
    return env


def test_train_registers_a_model_with_its_figures(filled, capsys):
    assert run(filled, "train", *FAST) == 0
    out = capsys.readouterr()
    assert "model v1" in out.out and "train: training on 960 ratings" in out.err
    with Database(filled["db"]) as db:
        record = models.latest(db)
    assert record.version == 1 and record.ratings_seen == 960
    assert Path(record.path).is_file() and record.params["als"]["factors"] == 4
    assert {"ndcg@10", "rmse"} <= set(record.metrics)
    assert record.counts["snapshot"]["ratings"] == 960 and record.timings["total"] > 0
    # what training read is what the table holds (the figures come from its arrays)
    with Database(filled["db"]) as db:
        table = models.snapshot(db).as_dict()
    stored = record.counts["snapshot"]
    assert {k: stored[k] for k in ("ratings", "movies", "last_ts", "stars_total")} == {
        k: table[k] for k in ("ratings", "movies", "last_ts", "stars_total")
    }


def test_train_if_needed_waits_for_enough_new_ratings(filled, capsys, monkeypatch):
    """`make run` runs `train --if-needed` at every start. New ratings count at once through
    fold-in, so it retrains by the periodic rule: MOVIEBOT_RETRAIN_MIN_NEW_RATINGS of them."""
    monkeypatch.setenv("MOVIEBOT_RETRAIN_MIN_NEW_RATINGS", "3")
    rule = replace(settings(filled), retrain_min_new_ratings=3)
    assert run(filled, "train", *FAST, "--no-validate") == 0
    assert run(filled, "train", "--if-needed", *FAST) == 0
    assert "up to date" in capsys.readouterr().err
    with Database(filled["db"]) as db:
        ann = users.ensure_telegram(db, 4242, "Ann")
        ratings.upsert(db, ann, synthetic.BLOCK_A[0], 5)
        ratings.upsert(db, ann, synthetic.BLOCK_A[1], 4)
        assert needs_training(db, rule) is None
    assert run(filled, "train", "--if-needed", *FAST, "--no-validate") == 0
    assert "up to date" in capsys.readouterr().err
    with Database(filled["db"]) as db:
        assert models.next_version(db) == 2
        ratings.upsert(db, ann, synthetic.BLOCK_A[2], 5)
        assert needs_training(db, rule) == (
            "3 new ratings since model v1 (MOVIEBOT_RETRAIN_MIN_NEW_RATINGS=3)"
        )
    assert run(filled, "train", "--if-needed", *FAST, "--no-validate") == 0
    assert "train: 3 new ratings since model v1" in capsys.readouterr().err
    with Database(filled["db"]) as db:
        assert models.latest(db).version == 2 and models.latest(db).ratings_seen == 963
        assert needs_training(db, rule) is None


def older_format(path: Path) -> None:
    """Rewrite the artifact at `path` as if an older moviebot had written it."""
    import numpy as np

    from recommender.artifacts import FORMAT_VERSION, META_KEY

    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(arrays[META_KEY].tobytes())
    meta["format_version"] = FORMAT_VERSION - 1
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda path: path.write_bytes(b"garbage"), "model v1 is unusable"),
        (lambda path: path.unlink(), "model v1 is unusable"),
        (older_format, "model v1 is unusable"),
    ],
    ids=["damaged", "missing", "older format"],
)
def test_train_if_needed_retrains_at_once_without_a_usable_model(filled, capsys, damage, reason):
    assert run(filled, "train", *FAST, "--no-validate") == 0
    with Database(filled["db"]) as db:
        damage(Path(models.latest(db).path))
        assert needs_training(db, settings(filled)).startswith(reason)
    assert run(filled, "train", "--if-needed", *FAST, "--no-validate") == 0
    assert "train: model v1 is unusable" in capsys.readouterr().err
    with Database(filled["db"]) as db:
        assert models.latest(db).version == 2
        assert needs_training(db, settings(filled)) is None


def write_movielens(folder: Path) -> Path:
    """The two-taste-block data set as a MovieLens (ml-latest) folder, for `data import`."""
    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    folder.mkdir(parents=True, exist_ok=True)
    titles = [
        f"{m},{cat.titles[i]} ({cat.years[i]}),{'|'.join(cat.genres[i])}"
        for i, m in enumerate(cat.items.ids)
    ]
    (folder / "movies.csv").write_text("\n".join(["movieId,title,genres", *titles]) + "\n")
    coo = data.matrix.tocoo()
    rows = [
        f"{data.users.ids[r]},{data.items.ids[c]},{s:g},{1_000_000 + n}"
        for n, (r, c, s) in enumerate(zip(coo.row, coo.col, coo.data, strict=True))
    ]
    header = "userId,movieId,rating,timestamp"
    (folder / "ratings.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def test_train_if_needed_retrains_after_the_data_set_is_imported_again(env, capsys, tmp_path):
    source = write_movielens(tmp_path / "ml-latest-small")
    assert run(env, "data", "import", str(source)) == 0
    with Database(env["db"]) as db:  # imported a minute ago, not in the second of the next one
        db.set_meta("dataset_imported_at", str(int(db.get_meta("dataset_imported_at")) - 60))
    assert run(env, "train", "--if-needed", *FAST, "--no-validate") == 0
    assert run(env, "train", "--if-needed", *FAST, "--no-validate") == 0
    assert "up to date" in capsys.readouterr().err
    assert run(env, "data", "import", str(source)) == 0  # e.g. a corrected copy of the files
    with Database(env["db"]) as db:
        assert needs_training(db, settings(env)) == "the data set was imported again since model v1"
    assert run(env, "train", "--if-needed", *FAST, "--no-validate") == 0
    with Database(env["db"]) as db:
        assert models.latest(db).version == 2
        assert needs_training(db, settings(env)) is None


def test_recommend_prints_unrated_picks_with_predictions_and_reasons(filled, capsys):
    assert run(filled, "train", *FAST, "--no-validate") == 0
    capsys.readouterr()
    assert run(filled, "recommend", "--user", "ml:1", "--n", "5", "--json") == 0
    picks = json.loads(capsys.readouterr().out)
    with Database(filled["db"]) as db:
        rated = set(ratings.history(db, users.resolve(db, "ml:1")).ratings)
    assert len(picks) == 5 and not {p["movie_id"] for p in picks} & rated
    assert all(1 <= p["predicted"] <= 5 and p["reason"]["text"] for p in picks)
    assert run(filled, "recommend", "--user", "ml:1", "--genre", "Horror", "--decade", "1970") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all("Horror" in line and "predicted ★" in line for line in lines)


def test_similar_finds_the_title_and_lists_its_block(filled, capsys):
    assert run(filled, "train", *FAST, "--no-validate") == 0
    capsys.readouterr()
    assert run(filled, "similar", "horror 25", "--n", "3") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Movies like Horror 25 (1975):" and len(out) == 4
    assert all("similar to Horror 25 (1975)" in line for line in out[1:])


def test_a_retrain_replaces_an_earlier_versions_ratings_cache(env, capsys):
    """Earlier versions kept the data set's ratings as ratings-cache.npz (hundreds of MB at
    scale): a retrain removes it and reads the data set from the cache it writes instead."""
    fill(env["db"])
    with Database(env["db"]) as db:
        folder = model_folder(db, settings(env))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings-cache.npz").write_bytes(b"PK\x03\x04 an old zip")
    assert run(env, "train", *FAST, "--no-validate") == 0
    assert not (folder / "ratings-cache.npz").exists() and (folder / RATINGS_CACHE).is_file()
    assert run(env, "train", *FAST, "--no-validate") == 0
    with Database(env["db"]) as db:
        assert models.latest(db).version == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("recommend", "--user", "ml:1"), "no trained model: run `moviebot train` first"),
        (("recommend", "--user", "ml:99999"), "no user ml:99999"),
        (("similar", "zzzzqqqq"), "no movie matches 'zzzzqqqq'"),
        (("recommend", "--user", "ml:1", "--decade", "1995"), "--decade takes a decade"),
    ],
)
def test_user_errors_are_one_clean_line(filled, capsys, args, message):
    assert run(filled, *args) == 1
    assert message in capsys.readouterr().err


def test_training_an_empty_database_says_what_to_do(env, capsys):
    assert run(env, "train") == 1
    assert "no ratings: run `moviebot data fetch` first" in capsys.readouterr().err
    with Database(env["db"]) as db:
        assert models.latest(db) is None


def test_a_failed_training_keeps_the_current_model(filled, capsys):
    assert run(filled, "train", *FAST, "--no-validate") == 0
    assert run(filled, "train", "--factors", "64", "--no-validate") == 1
    assert "needs more than 64 movies" in capsys.readouterr().err
    with Database(filled["db"]) as db:
        assert [r.version for r in models.all_models(db)] == [1]
        assert load_current(db, settings(filled)).info["version"] == 1


def test_a_damaged_newest_model_falls_back_to_the_previous_one(filled, caplog):
    assert run(filled, "train", *FAST, "--no-validate") == 0
    assert run(filled, "train", *FAST, "--no-validate") == 0
    with Database(filled["db"]) as db:
        newest = Path(models.latest(db).path)
        newest.write_bytes(newest.read_bytes()[:100])
        model = load_current(db, settings(filled))
        assert model.info["version"] == 1
        assert "model v2 unusable" in caplog.text
        newest.unlink()
        Path(models.get(db, 1).path).unlink()
        assert load_current(db, settings(filled)) is None


def test_movies_added_after_training_are_served_by_the_loaded_model(filled):
    assert run(filled, "train", *FAST, "--no-validate") == 0
    with Database(filled["db"]) as db:
        movies.upsert_many(db, [Movie(777, "Comedy Brand New", 1995, ("Comedy",))])
        movies.add_features(db, [(777, "actor", "a", 1.0)])
        model = load_current(db, settings(filled))
        assert 777 in model.catalog.items
        fan = {m: 5.0 for m in synthetic.BLOCK_A[:4]}
        seen = set(synthetic.BLOCK_A[4:])
        comedy = Filters(genres=frozenset({"Comedy"}))
        picks = model.recommend(fan, n=3, exclude=seen, filters=comedy)
        assert [p.movie_id for p in picks] == [777]
        similar = model.similar(777, n=5)
        assert synthetic.in_block_a(p.movie_id for p in similar) == 1.0


def test_only_the_newest_artifacts_stay_on_disk(filled):
    for _ in range(4):
        assert run(filled, "train", *FAST, "--no-validate") == 0
    with Database(filled["db"]) as db:
        names = sorted(p.name for p in Path(models.latest(db).path).parent.glob("model-v*"))
        assert names == [f"model-v000{v}.npz{json}" for v in (2, 3, 4) for json in ("", ".json")]
        assert len(models.all_models(db)) == 4
        assert load_current(db, settings(filled)).info["version"] == 4


def test_the_holdout_figures_stored_with_a_model_ask_the_blend_at_each_users_time():
    """As `moviebot evaluate` does: `validate` passes each user's moment to the blend."""
    import numpy as np

    from recommender.blend import BlendConfig
    from recommender.data import history_row
    from recommender.hybrid import Recommender
    from recommender.suite import ServedHybrid
    from tests.recommender.test_scorers import SMALL

    cat = synthetic.catalog()
    data = synthetic.two_eras(cat)
    model = Recommender.train(data, cat, SMALL.__class__(als=SMALL.als, blend=BlendConfig()))
    newcomer = {synthetic.BLOCK_A[-1]: 4.0, synthetic.BLOCK_B[-1]: 4.0}
    blend, rows = ServedHybrid(model), history_row(newcomer, cat.items)
    assert blend.uses_time
    in_1996 = blend.score(rows, np.array([synthetic.T1996 + 90 * 86_400]))
    in_2015 = blend.score(rows, np.array([synthetic.T2015 + 3_600]))  # the last day of likes
    assert not np.allclose(in_1996, in_2015)
    np.testing.assert_allclose(blend.score(rows), in_2015)  # no moment: the latest rating


def test_the_figures_stored_with_a_model_are_what_moviebot_evaluate_reports():
    """One evaluation path: the served lists (re-rank included) and the served stars."""
    from bot.training import validate
    from recommender.report import compare
    from recommender.suite import standard_specs
    from tests.recommender.test_scorers import SMALL

    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    stored, _ = validate(data, cat, SMALL, lambda message: None)
    specs = standard_specs({"config": SMALL.to_dict()}, len(cat), models=["hybrid"])
    reported = compare(data, cat, specs, protocol="holdout", seed=0)["models"]["hybrid"]
    for key in ("ndcg@10", "precision@10", "recall@10", "coverage@10", "rmse", "mae"):
        assert stored[key] == round(reported[key], 4), key


def test_validation_holds_out_ratings_of_a_bounded_sample_of_users_only():
    """At scale validation scores a fixed sample of users; everyone else trains on everything."""
    from bot.training import VALIDATION_SEED, validation_split
    from recommender.data import rating_times
    from recommender.splits import holdout_split

    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    train_part, test_part = validation_split(data, users=5)
    tested = np.flatnonzero(np.diff(test_part.matrix.indptr) > 0)
    assert len(tested) == 5
    assert train_part.nnz + test_part.nnz == data.nnz
    whole = np.setdiff1d(np.arange(data.matrix.shape[0]), tested)
    assert (train_part.matrix[whole] != data.matrix[whole]).nnz == 0
    assert train_part.timestamps is not None and train_part.timestamps.nnz == train_part.nnz
    # The times line up with the ratings, so the era component of the validated fit (the one
    # served at scale) learns when people rated; it once got none.
    when = rating_times(train_part)
    assert when is not None and np.array_equal(when, train_part.timestamps.tocsr().data)
    again, _ = validation_split(data, users=5)
    assert (again.matrix != train_part.matrix).nnz == 0  # the same sample every time
    # … and the sample's test ratings are those the whole holdout split would give them
    _, holdout = holdout_split(data, seed=VALIDATION_SEED)
    assert (test_part.matrix[tested] != holdout.matrix[tested]).nnz == 0


def test_a_model_validated_on_a_tiny_held_out_share_is_the_one_served(monkeypatch):
    """A large data set is fitted once: the validation fit is served (its share recorded)."""
    from bot import training
    from tests.recommender.test_scorers import SMALL

    cat = synthetic.catalog()
    data = synthetic.ratings(cat)
    metrics, model = training.validate(data, cat, SMALL, lambda message: None)
    assert model is None  # 20% of everyone's ratings is far too much to leave out
    monkeypatch.setattr(training, "SERVE_VALIDATED_SHARE", 1.0)
    metrics, model = training.validate(data, cat, SMALL, lambda message: None)
    assert model is not None and model.info["counts"]["ratings"] < data.nnz
    assert 0.1 < metrics["held_out_share"] < 0.3


def test_a_large_data_sets_training_serves_its_validation_fit(filled, capsys, monkeypatch):
    """Where the held-out share is tiny (any data set past ~50,000 users), `train` fits once
    and serves the validation fit: through the whole command, registered and loadable."""
    from bot import training

    monkeypatch.setattr(training, "SERVE_VALIDATED_SHARE", 1.0)
    assert run(filled, "train", *FAST) == 0
    assert "training on" not in capsys.readouterr().err  # no second fit
    with Database(filled["db"]) as db:
        record = models.latest(db)
        model = load_current(db, settings(filled))
    assert record.version == 1 and 0.1 < record.metrics["held_out_share"] < 0.3
    assert model is not None and model.info["counts"]["ratings"] < 960


# -- one model directory, several databases -------------------------------------------------


def run_on(env: dict[str, Path], db: Path, *args: str) -> int:
    return main(["--env-file", str(env["env"]), "--db", str(db), *args])


def test_two_databases_in_one_checkout_keep_their_own_models(env, capsys):
    """The README's advice: another data set goes into another file with `--db`. Both train
    into the same MOVIEBOT_MODEL_DIR, and pruning one database's old files (the newest three
    are kept) leaves the other's alone."""
    full, half = env["db"], env["db"].with_name("half.sqlite")
    fill(full)
    fill(half, every=2)
    for _ in range(2):
        assert run_on(env, full, "train", *FAST, "--no-validate") == 0
    for _ in range(5):
        assert run_on(env, half, "train", *FAST, "--no-validate") == 0
    for path, version, seen in ((full, 2, 960), (half, 5, 480)):
        with Database(path) as db:
            model = load_current(db, settings(env))
            assert model is not None, path
            assert (model.info["version"], model.info["counts"]["ratings"]) == (version, seen)
            assert needs_training(db, settings(env)) is None
            on_disk = sorted(
                p.name for p in Path(models.latest(db).path).parent.glob("model-v*.npz")
            )
        assert on_disk == [f"model-v{v:04d}.npz" for v in range(max(1, version - 2), version + 1)]
        capsys.readouterr()
        assert run_on(env, path, "recommend", "--user", "ml:1", "--n", "3") == 0
        assert len(capsys.readouterr().out.splitlines()) == 3
    folders = sorted(p.name for p in env["models"].iterdir() if p.is_dir())
    assert len(folders) == 2 and folders[0].startswith("bot-") and folders[1].startswith("half-")


def test_a_copied_database_trains_into_a_folder_of_its_own(env, capsys):
    """`cp` a database and train both: neither overwrites the other's files; the copy keeps
    the tuned values and, until it trains, the original's model."""
    from recommender.tuned import write_tuned
    from tests.bot.world import small_model

    fill(env["db"])
    with Database(env["db"]) as db:
        write_tuned(small_model(factors=3), model_folder(db, settings(env)))
    assert run(env, "train", "--iterations", "3", "--no-validate") == 0
    copy = env["db"].with_name("copy.sqlite")
    shutil.copy(env["db"], copy)
    with Database(copy) as db:
        assert load_current(db, settings(env)).info["version"] == 1  # the original's file
        user = users.ensure_telegram(db, 4242, "Ann")
        ratings.upsert(db, user, synthetic.BLOCK_A[0], 5)
    for _ in range(3):
        assert run_on(env, copy, "train", "--iterations", "3", "--no-validate") == 0
    with Database(env["db"]) as db, Database(copy) as copied:
        mine, theirs = models.latest(db), models.latest(copied)
        assert Path(mine.path).parent != Path(theirs.path).parent
        assert load_current(db, settings(env)).info["counts"]["ratings"] == 960
        assert load_current(copied, settings(env)).info["counts"]["ratings"] == 961
        assert theirs.params["als"]["factors"] == 3  # tuned.json came along
        assert Path(mine.path).is_file()  # the copy's pruning left the original's v1 alone


def test_a_moved_database_keeps_its_folder(env):
    fill(env["db"])
    with Database(env["db"]) as db:
        before = model_folder(db, settings(env))
    moved = env["db"].with_name("renamed.sqlite")
    env["db"].rename(moved)
    with Database(moved) as db:
        assert model_folder(db, settings(env)) == before


def to_old_layout(db_path: Path, model_dir: Path) -> None:
    """Leave a database as an older moviebot did: its model files and tuned.json directly in
    the model directory, the registry pointing there, no folder of its own."""
    with Database(db_path) as db, db.write() as conn:
        own = Path(models.latest(db).path).parent
        for record in models.all_models(db):
            old = Path(record.path)
            if old.is_file():
                old.replace(model_dir / old.name)
                old.with_name(old.name + ".json").replace(model_dir / (old.name + ".json"))
            conn.execute(
                "UPDATE models SET path = ? WHERE version = ?",
                (str(model_dir / old.name), record.version),
            )
        conn.execute("DELETE FROM meta WHERE key LIKE 'model_folder%'")
    if (own / "tuned.json").is_file():
        (own / "tuned.json").replace(model_dir / "tuned.json")
    (own / RATINGS_CACHE).unlink(missing_ok=True)  # an older moviebot kept no ratings cache
    own.rmdir()


def test_a_database_trained_by_an_older_moviebot_keeps_its_model_and_tuned_values(env, capsys):
    """Upgrading: the registry points at models/model-v0001.npz. `make run` must not break:
    the model loads, `train --if-needed` has nothing to do, the next training goes to the
    database's own folder with the shared tuned.json copied along, and the old file stays."""
    from recommender.tuned import write_tuned
    from tests.bot.world import small_model

    fill(env["db"])
    with Database(env["db"]) as db:
        write_tuned(small_model(factors=3), model_folder(db, settings(env)))
    assert run(env, "train", "--iterations", "3", "--no-validate") == 0
    to_old_layout(env["db"], env["models"])
    old_file = env["models"] / "model-v0001.npz"
    with Database(env["db"]) as db:
        assert models.latest(db).path == str(old_file)
        assert load_current(db, settings(env)).info["version"] == 1
        assert needs_training(db, settings(env)) is None
    assert run(env, "train", "--if-needed", "--no-validate") == 0
    assert "up to date" in capsys.readouterr().err
    for _ in range(3):
        assert run(env, "train", "--no-validate") == 0
    with Database(env["db"]) as db:
        record = models.latest(db)
        folder = model_folder(db, settings(env))
        assert Path(record.path).parent == folder and record.params["als"]["factors"] == 3
        assert (folder / "tuned.json").is_file()
        assert load_current(db, settings(env)).info["version"] == 4
    assert old_file.is_file()  # never pruned: another database may name the same file


def test_an_old_model_file_another_database_overwrote_is_not_served(env, capsys, caplog):
    """An older moviebot let two databases write models/model-v0001.npz: the one whose model
    was overwritten refuses the other's and retrains into its own folder."""
    full, half = env["db"], env["db"].with_name("half.sqlite")
    fill(full)
    fill(half, every=2)
    for path in (full, half):  # half trained last: the shared file is its model
        assert run_on(env, path, "train", *FAST, "--no-validate") == 0
        to_old_layout(path, env["models"])
    with Database(full) as db:
        assert load_current(db, settings(env)) is None
        assert "holds another model than v1" in caplog.text
        assert needs_training(db, settings(env)).startswith("model v1 is unusable")
    with Database(half) as db:
        assert load_current(db, settings(env)).info["counts"]["ratings"] == 480
    assert run_on(env, full, "train", "--if-needed", *FAST, "--no-validate") == 0
    assert "holds another model than v1" in capsys.readouterr().err
    with Database(full) as db:
        assert load_current(db, settings(env)).info["counts"]["ratings"] == 960
