"""`<model_dir>/tuned.json`: the settings `moviebot tune` chose, which `train` uses as defaults.

Written atomically, read with a clear `TunedFileError` for a file this version cannot use.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TUNED_FILE = "tuned.json"
TUNED_FORMAT = 2
# Format 1 came before the Bayesian rating predictor: its "predictor" values (the MAP fit's
# factors, e.g. 64, and regularisation) are no settings of the Bayesian fit, whose
# regularisation is learnt: such a file is used with the predictor's defaults.
OLD_FORMAT = 1


class TunedFileError(ValueError):
    """tuned.json exists but cannot be used (corrupt, or written by an incompatible version)."""


def hybrid_config(tuned: Mapping[str, Any] | None = None) -> Any:
    """The hybrid's configuration: the committed defaults overlaid with tuned values."""
    from recommender.config import HybridConfig

    if not tuned:
        return HybridConfig()
    return HybridConfig.from_dict(tuned.get("config", {}))


def write_tuned(
    tuned: Mapping[str, Any], model_dir: str | Path, filename: str = TUNED_FILE
) -> Path:
    """Write `<model_dir>/tuned.json` atomically (temp file + rename); returns its path."""
    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    fd, tmp = tempfile.mkstemp(prefix=".tuned-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(tuned, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_tuned(model_dir: str | Path) -> dict[str, Any] | None:
    """The tuned values in `<model_dir>/tuned.json`, or None if there is none.

    A file that is not valid JSON, has another format or a configuration the hybrid does not
    accept raises `TunedFileError` naming the file: silently training with other values than
    the user tuned would be worse.
    """
    path = Path(model_dir) / TUNED_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TunedFileError(
            f"{path} is not readable JSON ({exc}); delete it or re-run `moviebot tune`"
        ) from None
    if isinstance(data, dict) and data.get("format") == OLD_FORMAT:
        kept = {k: v for k, v in dict(data.get("config") or {}).items() if k != "predictor"}
        data = {**data, "format": TUNED_FORMAT, "config": kept}
    if not isinstance(data, dict) or data.get("format") != TUNED_FORMAT:
        raise TunedFileError(f"{path} has an unknown format; delete it or re-run `moviebot tune`")
    try:
        hybrid_config(data)
        if not isinstance(data.get("config"), dict):
            raise TypeError("no configuration in it")
    except (TypeError, ValueError) as exc:
        raise TunedFileError(f"{path} has settings this version does not know: {exc}") from None
    return data


def summary(tuned: Mapping[str, Any]) -> Mapping[str, Any]:
    """The chosen values a person wants to see: ALS, EASE's λ for established and for new
    users, blend weights and re-rank."""
    config = tuned["config"]
    als = config["als"]
    return {
        "als": {key: als[key] for key in ("factors", "regularization", "alpha")},
        "ease": {
            name: {"lambda": config[name]["lam"], "values": config[name]["values"]}
            for name in ("ease", "ease_new")
            if name in config
        },
        "blend": config["blend"],
    }


def validation_summary(tuned: Mapping[str, Any]) -> list[tuple[str, str, float, float]]:
    """(stage, metric, first tried, chosen) validation figures for each tuning stage."""
    metric = tuned.get("metric", "ndcg@10")
    out = []
    for stage, rows in tuned.get("validation", {}).items():
        scored = [r for r in rows if metric in r]
        if not scored:
            continue
        if stage == "rerank":
            for protocol in dict.fromkeys(r["protocol"] for r in scored):
                mine = [r for r in scored if r["protocol"] == protocol]
                chosen = tuned["config"]["blend"]["diversity"]
                after = next((r for r in mine if r["diversity"] == chosen), mine[0])
                out.append(
                    (f"re-rank {chosen} ({protocol})", metric, mine[0][metric], after[metric])
                )
        elif stage.startswith("blend"):
            out.append((stage.replace("_", " "), metric, scored[0][metric], scored[-1][metric]))
        else:
            out.append((stage, metric, scored[0][metric], max(r[metric] for r in scored)))
    return out
