"""LightGBM imported without scikit-learn and pandas (``model.lean``), in fresh processes.

Each case runs a real interpreter: what a process imported is the point, and the test process
itself has imported LightGBM whole long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

TRAIN_AND_PREDICT = """
import numpy as np, lightgbm as lgb
rng = np.random.default_rng(7)
x = rng.normal(size=(2000, 5)); y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "seed": 1},
                    lgb.Dataset(x, y), num_boost_round=10)
out["model"] = booster.model_to_string()
out["pred"] = booster.predict(x[:50]).tolist()
"""


def run(*parts: str) -> dict[str, object]:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    script = f"import json, sys\nout = {{}}\n{code}\nprint(json.dumps(out))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_lean_import_leaves_sklearn_and_pandas_out_and_trains_the_same_model() -> None:
    lean = run(
        """
        from workbench.model.lean import lean_lightgbm, imported_lean
        out["will"] = lean_lightgbm()
        import lightgbm
        out["loaded"] = [m for m in ("sklearn", "pandas") if m in sys.modules]
        out["flags"] = [lightgbm.compat.SKLEARN_INSTALLED, lightgbm.compat.PANDAS_INSTALLED]
        out["finder_left"] = any(type(f).__name__ == "_HideFromLightGBM" for f in sys.meta_path)
        out["lean"] = imported_lean()
        """,
        TRAIN_AND_PREDICT,
        """
        import sklearn, pandas  # anyone else still imports them as usual
        out["later"] = [sklearn.__name__, pandas.__name__]
        """,
    )
    assert lean["will"] is True
    assert lean["loaded"] == []
    assert lean["flags"] == [False, False]
    assert lean["finder_left"] is False  # removed once LightGBM was imported
    assert lean["lean"] is True
    assert lean["later"] == ["sklearn", "pandas"]

    whole = run(
        """
        from workbench.model.lean import imported_lean
        import lightgbm
        out["loaded"] = [m for m in ("sklearn", "pandas") if m in sys.modules]
        out["lean"] = imported_lean()
        """,
        TRAIN_AND_PREDICT,
    )
    assert whole["loaded"] == ["sklearn", "pandas"]
    assert whole["lean"] is False
    assert lean["model"] == whole["model"]  # the same trees, byte for byte
    assert lean["pred"] == whole["pred"]


def test_only_lightgbms_own_imports_are_refused() -> None:
    out = run(
        """
        from workbench.model.lean import lean_lightgbm
        lean_lightgbm()
        import pandas  # the user's own import, before LightGBM: untouched
        import lightgbm
        out["pandas"] = "pandas" in sys.modules
        out["pandas_flag"] = lightgbm.compat.PANDAS_INSTALLED  # imported already: LightGBM's too
        out["sklearn_flag"] = lightgbm.compat.SKLEARN_INSTALLED
        out["sklearn"] = "sklearn" in sys.modules
        """
    )
    assert out == {"pandas": True, "pandas_flag": True, "sklearn_flag": False, "sklearn": False}


def test_nothing_changes_once_lightgbm_is_imported() -> None:
    out = run(
        """
        import lightgbm
        from workbench.model.lean import lean_lightgbm, imported_lean
        out["will"] = lean_lightgbm()
        out["lean"] = imported_lean()
        out["sk"] = lightgbm.compat.SKLEARN_INSTALLED
        """
    )
    assert out == {"will": False, "lean": False, "sk": True}


@pytest.mark.parametrize(("engine", "lean"), [("local", True), ("dask", False)])
def test_a_one_shot_command_imports_lightgbm_lean_unless_dask(engine: str, lean: bool) -> None:
    """The CLI's choice, made before the command runs; the Dask engine needs scikit-learn, so
    a project that trains on Dask imports LightGBM whole."""
    out = run(
        f"""
        from workbench import cli
        from workbench.model.lean import imported_lean

        class Settings:
            class train:
                engine = {engine!r}
        cli._lean_lightgbm(Settings)
        import lightgbm
        out["lean"] = imported_lean()
        """
    )
    assert out == {"lean": lean}


def test_the_dask_engine_says_why_in_a_lean_process() -> None:
    """A lean process that came to train with the Dask engine gets workbench's own error
    (what happened, what to run), before anything reaches a cluster."""
    out = run(
        """
        from workbench.errors import TrainingError
        from workbench.model.lean import lean_lightgbm
        lean_lightgbm()
        import lightgbm
        from workbench.model import dask_engine
        try:
            dask_engine._fit_on_cluster(None, None, {}, None, None, None)
        except TrainingError as e:
            out["error"] = e.message
            out["hint"] = e.hint
        """
    )
    assert "without scikit-learn" in str(out["error"])
    assert "workbench train" in str(out["hint"])
