"""`moviebot evaluate` and `moviebot tune` end to end on a small database file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from recommender.tuned import TUNED_FORMAT
from storage import models, movies, ratings, users
from storage.db import Database
from storage.movies import Movie

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi")
N_USERS, N_MOVIES = 90, 70


def build_db(path: Path, telegram_ratings: int = 6) -> None:
    """Two taste groups over 70 movies, 90 data-set users, and one Telegram user."""
    rng = np.random.default_rng(3)
    with Database(path) as db:
        movies.upsert_many(
            db,
            [
                Movie(m, f"Movie {m}", 1970 + m % 40, (GENRES[m % 6], GENRES[(m * 7) % 6]))
                for m in range(1, N_MOVIES + 1)
            ],
        )
        with db.write() as conn:
            conn.executemany(
                "INSERT INTO users (kind, external_id, created_at) VALUES ('dataset', ?, 0)",
                [(u,) for u in range(1, N_USERS + 1)],
            )
            for u in range(1, N_USERS + 1):
                user = users.resolve(db, f"ml:{u}")
                liked = np.arange(1, 36) if u % 2 else np.arange(36, N_MOVIES + 1)
                picked = rng.choice(liked, size=18, replace=False)
                others = rng.choice(np.arange(1, N_MOVIES + 1), size=6, replace=False)
                for m in set(picked.tolist()) | set(others.tolist()):
                    stars = 5 if m in picked else int(rng.integers(1, 4))
                    ratings.upsert(db, user, m, stars, ts=1000 + m)
        me = users.ensure_telegram(db, 4242, "me")
        for m in range(1, telegram_ratings + 1):
            ratings.upsert(db, me, m, 4, ts=5000)


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # model dir ("models") and .env are looked up here
    path = tmp_path / "movies.sqlite"
    build_db(path)
    return path


def run(db: Path, *args: str) -> int:
    return main(["--env-file", "none.env", "--db", str(db), *args])


def tuned_file(db: Path) -> Path:
    """This database's tuned.json: in its own folder of the model directory (./models)."""
    from bot.settings import Settings
    from bot.training import model_folder

    with Database(db) as opened:
        folder = model_folder(opened, Settings(db_path=db))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "tuned.json"


def test_evaluate_prints_the_table_and_writes_json_and_png(db_file: Path, tmp_path, capsys) -> None:
    code = run(
        db_file,
        "evaluate",
        "--models",
        "popularity,ease,hybrid",
        "--k",
        "5",
        "--json",
        "out.json",
        "--plot",
        "out.png",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "out.json").read_text())
    assert (report["protocol"], report["k"], report["seed"]) == ("holdout", 5, 0)
    assert list(report["models"]) == ["popularity", "ease", "hybrid"]
    hybrid = report["models"]["hybrid"]
    for key in (
        "ndcg@5",
        "precision@5",
        "recall@5",
        "f1@5",
        "map@5",
        "hitrate@5",
        "coverage@5",
        "diversity@5",
        "novelty@5",
        "rmse",
        "mae",
        "mse",
        "fit_seconds",
        "params",
    ):
        assert key in hybrid
    # two clear taste groups: the personal models beat popularity
    assert hybrid["ndcg@5"] > report["models"]["popularity"]["ndcg@5"]
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"
    assert f"| hybrid | {hybrid['ndcg@5']:.3f} |" in out
    assert "moviebot evaluate --protocol holdout --k 5 --seed 0" in out
    assert "score hybrid" in err  # progress goes to stderr


def test_max_users_scores_a_sample(db_file, tmp_path, capsys) -> None:
    assert (
        run(db_file, "evaluate", "--models", "popularity", "--max-users", "7", "--json", "s.json")
        == 0
    )
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["models"]["popularity"]["users"] == 7
    assert "at most 7 users" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "telegram"), [((), False), (("--include-telegram",), True)])
def test_telegram_ratings_only_when_asked(db_file, tmp_path, capsys, extra, telegram) -> None:
    assert run(db_file, "evaluate", "--models", "popularity", "--json", "o.json", *extra) == 0
    counts = json.loads((tmp_path / "o.json").read_text())["dataset"]
    with Database(db_file) as db:
        dataset_only = ratings.count(db, "dataset")
    assert counts["ratings"] == dataset_only + (6 if telegram else 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("evaluate", "--protocol", "given-five"), "unknown protocol 'given-five'"),
        (("evaluate", "--models", "popularity,slopeone"), "unknown model(s) slopeone"),
        (("evaluate", "--k", "0"), "--k must be at least 1"),
        (("evaluate", "--max-users", "0"), "--max-users must be at least 1"),
        (("evaluate", "--cold-share", "0"), "--cold-share must be more than 0"),
        (("evaluate", "--json", "no/such/dir/out.json"), "its folder does not exist"),
    ],
)
def test_user_errors_are_one_clean_line(db_file, capsys, args, message) -> None:
    assert run(db_file, *args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("moviebot: ") and message in err and "Traceback" not in err


def test_empty_database_says_to_fetch_data(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Database(tmp_path / "empty.sqlite").close()
    assert run(tmp_path / "empty.sqlite", "evaluate") == 1
    assert "no ratings to evaluate on: run `moviebot data fetch` first" in capsys.readouterr().err


def test_given_n_protocol_and_ease_skipped_when_over_the_memory_limit(
    db_file, tmp_path, capsys
) -> None:
    code = run(
        db_file,
        "evaluate",
        "--protocol",
        "given-3",
        "--models",
        "popularity,ease",
        "--ease-memory-gb",
        "0.00001",
        "--cold-share",
        "1",
        "--json",
        "g.json",
    )
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads((tmp_path / "g.json").read_text())
    assert report["protocol"] == "given-3"
    assert "skipped" in report["models"]["ease"] and "| ease | skipped: EASE needs" in out
    # with --cold-share 1 every user with ≥ 20 ratings keeps 3 in train; the few with fewer
    # keep all of theirs
    with Database(db_file) as db:
        per_user = [
            n
            for (n,) in db.conn.execute(
                "SELECT count(*) FROM ratings JOIN users u ON u.id = user_id "
                "WHERE u.kind = 'dataset' GROUP BY user_id"
            )
        ]
    expected = sum(3 if n >= 20 else n for n in per_user)
    assert report["dataset"]["train_ratings"] == expected


def test_tune_writes_values_that_evaluate_and_train_then_use(db_file, tmp_path, capsys) -> None:
    grid = ("--als", "factors=32,200", "--als", "regularization=20", "--als", "alpha=2")
    assert run(db_file, "tune", "--k", "5", *grid) == 0
    out = capsys.readouterr().out
    tuned = json.loads(tuned_file(db_file).read_text())
    assert tuned["config"]["als"]["factors"] == 32  # 200 factors cannot run on 90 users
    assert [r.get("error", "")[:8] for r in tuned["validation"]["als"]] == ["", "ALS with"]
    assert tuned["config"]["blend"]["pivot"] > 0
    assert {"als", "blend_warm", "blend_cold", "rerank"} <= set(tuned["validation"])
    assert "ALS" in out and '"ease_new": {"lambda": ' in out
    assert "re-rank" in out and "(given-5)" in out and "(chosen)" in out
    assert run(db_file, "evaluate", "--models", "hybrid", "--json", "t.json") == 0
    report = json.loads((tmp_path / "t.json").read_text())
    assert report["config"].startswith("tuned values from")
    assert report["models"]["hybrid"]["params"]["als"]["factors"] == 32
    assert run(db_file, "train", "--no-validate") == 0
    with Database(db_file) as db:
        assert models.latest(db).params["als"]["factors"] == 32


def test_evaluate_tune_under_the_temporal_protocol_tunes_on_the_past(
    db_file, tmp_path, capsys
) -> None:
    """Out of sample: --tune tunes on the split's own train part, the warm stages on a temporal
    carve of it; the report pairs the hybrid with each model."""
    grid = ("--als", "factors=16", "--als", "regularization=20", "--als", "alpha=2")
    args = ("--protocol", "temporal", "--tune", "--models", "popularity,hybrid", *grid)
    assert run(db_file, "evaluate", *args, "--json", "t.json") == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "t.json").read_text())
    assert report["protocol"] == "temporal" and "tuned by --tune" in report["config"]
    tuned = json.loads(tuned_file(db_file).read_text())
    assert {"als", "ease", "predictor", "blend_warm", "blend_cold"} <= set(tuned["validation"])
    assert {r["protocol"] for r in tuned["validation"]["blend_warm"]} == {"temporal"}
    # new users' EASE: λ and input chosen on the new users of given-5 carves (several)
    new_users = [r for r in tuned["validation"]["ease_new"] if "error" not in r]
    assert new_users and all(r["carves"] > 1 for r in new_users)
    metric, ease_new = tuned["metric"], tuned["config"]["ease_new"]
    picked = {"lambda": ease_new["lam"], "values": ease_new["values"]}
    chosen = [r for r in new_users if r["params"] == picked]
    assert chosen and chosen[0][metric] >= max(r[metric] for r in new_users) * 0.99
    assert set(report["paired"]) == {"popularity"}
    assert "95% interval" in out and "| popularity |" in out


def test_a_corrupt_tuned_file_is_refused_clearly(db_file, tmp_path, capsys) -> None:
    tuned_file(db_file).write_text("{not json")
    assert run(db_file, "evaluate", "--models", "popularity") == 1
    assert "tuned.json is not readable JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"ease_lambda": 500.0, "ease_memory_limit": 2**31}, "ease_lambda"),
        ({"trend": {"tau_days": 365.0}}, "trend"),
        ({"blend": {"trend_cold": 1.0, "trend_warm": -1.0}}, "trend_cold"),
        ({"blend": {"content_cold": 0.1, "ease_warm": 0.25}}, "content_cold"),
    ],
    ids=["EASE's λ", "trend settings", "trend weights", "content and EASE weights"],
)
def test_a_tuned_file_naming_removed_settings_is_refused_clearly(
    db_file, tmp_path, capsys, config, named
) -> None:
    """Settings the ablation removed (docs/evaluation.md) are refused, never silently dropped:
    the file was tuned with a blend this version no longer has."""
    (tmp_path / "models").mkdir()
    tuned_file(db_file).write_text(json.dumps({"format": 1, "config": config}))
    assert run(db_file, "evaluate", "--models", "popularity") == 1
    err = capsys.readouterr().err
    assert "tuned.json has settings this version does not know" in err and named in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("factors", "NAME=V1,V2"),
        ("colour=3", "NAME=V1,V2"),
        ("factors=many", "are not ints"),
        ("factors=,", "at least one value"),
    ],
)
def test_bad_als_grid_is_refused(db_file, capsys, option, message) -> None:
    assert run(db_file, "tune", "--als", option) == 1
    assert message in capsys.readouterr().err


def test_evaluate_tune_tunes_first_then_reports_with_the_tuned_values(
    db_file, tmp_path, capsys
) -> None:
    code = run(
        db_file,
        "evaluate",
        "--tune",
        "--k",
        "5",
        "--models",
        "als",
        "--als",
        "factors=32",
        "--als",
        "regularization=7",
        "--als",
        "alpha=2",
        "--json",
        "e.json",
    )
    assert code == 0, capsys.readouterr().err
    assert tuned_file(db_file).is_file()
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["models"]["als"]["params"]["regularization"] == 7.0
    tuned = json.loads(tuned_file(db_file).read_text())
    assert (tuned["protocol"], tuned["seed"]) == ("holdout", 0)
    assert report["config"].startswith("values tuned by --tune on the train part of this split")
    assert "moviebot evaluate --protocol holdout --k 5 --seed 0 --tune" in capsys.readouterr().out


def test_tuning_never_sees_the_test_part_of_the_split(db_file) -> None:
    """Flipping every test rating (5 ↔ 1 stars) leaves the split and the tuned values as they
    were: tuning only ever looked at the train part."""
    from dataclasses import replace

    from bot.training import catalog_from_db, ratings_from_db
    from recommender.splits import holdout_split
    from recommender.tuning import tune_hybrid

    with Database(db_file) as db:
        catalog = catalog_from_db(db)
        ratings = ratings_from_db(db, catalog, kinds=("dataset",))
    _, test = holdout_split(ratings, seed=4)
    flipped = ratings.matrix.copy()
    flipped.data = flipped.data.copy()
    is_test = np.asarray(test.matrix[ratings.matrix.nonzero()]).ravel() != 0
    flipped.data[is_test] = 6.0 - flipped.data[is_test]
    grid = {"factors": [8], "regularization": [5.0, 50.0], "alpha": [2.0]}

    def tuned(r):
        out = tune_hybrid(r, catalog, seed=4, k=5, als_grid=grid)
        figures = {
            stage: [{k: v for k, v in row.items() if k != "fit_seconds"} for row in rows]
            for stage, rows in out["validation"].items()
        }
        return out["config"], figures

    assert tuned(replace(ratings, matrix=flipped)) == tuned(ratings)


def test_tune_output_goes_where_asked_and_is_not_used_by_default(db_file, tmp_path, capsys) -> None:
    grid = ("--als", "factors=8", "--als", "regularization=20", "--als", "alpha=2")
    assert run(db_file, "tune", "--k", "5", "--output", "elsewhere/t.json", *grid) == 0
    assert json.loads((tmp_path / "elsewhere" / "t.json").read_text())["format"] == TUNED_FORMAT
    assert not tuned_file(db_file).exists()
    assert run(db_file, "evaluate", "--models", "popularity", "--json", "p.json") == 0
    assert json.loads((tmp_path / "p.json").read_text())["config"].startswith("the committed")
