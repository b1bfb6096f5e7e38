"""``[model] params`` checked against LightGBM itself before anything trains.

LightGBM only warns about a parameter it does not know (``learning_rat`` trains silently with
the default learning rate) and refuses a bad value only once training starts. So, before a
version is recorded: every key must be one of LightGBM's parameter names or aliases (the
table LightGBM publishes through its C API, read with ``_ConfigAliases``; where a LightGBM
build lacks it, this check is skipped rather than guessed), with a close match when it is
not; and the whole parameter set must be accepted by LightGBM on a tiny dataset of the task's
shape (a few milliseconds), so a value LightGBM rejects is a config error naming the key.
"""

from __future__ import annotations

import difflib
from typing import Any

from workbench.config import Settings
from workbench.errors import ConfigError

TINY_ROWS = 20


def check_params(settings: Settings, params: dict[str, Any], classes: int) -> None:
    """Raise ``ConfigError`` for an unknown key or a set LightGBM refuses (see module doc)."""
    _known_names(settings)
    _accepted(settings, params, classes)


def _aliases() -> dict[str, list[str]] | None:
    try:
        from lightgbm.basic import _ConfigAliases

        table = _ConfigAliases._get_all_param_aliases()
    except (ImportError, AttributeError):  # not in this LightGBM build: skip, never guess
        return None
    return table if isinstance(table, dict) else None


def _known_names(settings: Settings) -> None:
    table = _aliases()
    if table is None:
        return
    names = {a for main, aliases in table.items() for a in (main, *aliases)}
    for key in settings.model.params:
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.75)
            raise ConfigError(
                f"{settings.source.name}: model.params.{key} is not a LightGBM parameter",
                f"did you mean {close[0]!r}?"
                if close
                else "see LightGBM's parameter list (lightgbm.readthedocs.io, Parameters)",
            )


def _accepted(settings: Settings, params: dict[str, Any], classes: int) -> None:
    import lightgbm as lgb
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(TINY_ROWS, 2))
    task = settings.model.task
    y = (
        rng.normal(size=TINY_ROWS)
        if task == "regression"
        else np.arange(TINY_ROWS) % max(classes, 2)
    ).astype(float)
    try:
        lgb.Booster(params | {"verbosity": -1}, lgb.Dataset(x, y, params={"verbosity": -1}))
    except lgb.basic.LightGBMError as e:
        raise ConfigError(
            f"{settings.source.name}: LightGBM refuses [model] params: {str(e).strip()}",
            "fix the value in [model] params (LightGBM's message names the parameter)",
        ) from e
