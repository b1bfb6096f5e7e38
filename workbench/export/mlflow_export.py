"""``workbench export mlflow``: every version as an MLflow run, model and registered version.

What goes where: one experiment (default: the project's name) gets one run per model version
(``content.py`` says what a run holds); each version with a model gets one *logged model* (MLflow
3's first-class model, ``models:/m-…``) and one version of one registered model (default: the
experiment's name); the registered model's ``champion`` alias names the champion's version.

The logged model has two flavors in one ``MLmodel``: ``lightgbm`` (``model.lgb``: the store's
model text, byte for byte, so ``mlflow.lightgbm.load_model`` gives the booster) and
``python_function`` written as *models from code* (``mlflow_model.py`` plus the model text and
the feature spec as artifacts), so ``mlflow.pyfunc.load_model(...).predict(rows)`` takes the raw
rows ``workbench predict`` takes, strings for categorical columns, and predicts the same.
Nothing is pickled. The model's requirements are pinned from the installed versions instead of
being inferred (inference imports the model in a subprocess: seconds per version).

Incremental and idempotent (``workbench.store.exports`` is the mapping table): versions already
exported are skipped; a changed status (promotion, rollback) is written again to the run's and
the model version's ``workbench.status`` tag; new drift results are added; the alias moves to
the champion. When the store shows nothing to do, the command answers without importing MLflow
(``--verify`` asks MLflow instead, and exports again what was deleted there). A kill part-way is
finished by the next export: a version's row is written only after all of it is in MLflow, and
a run MLflow holds without a row (found by its ``workbench.version`` and ``workbench.created_at``
tags) is adopted — its metrics are logged again (a no-op: same values and times), a logged model
that is ``READY`` is kept and an unfinished one deleted, a registered version of that run is
kept — so the end state is the one a clean export gives. ``WORKBENCH_EXPORT_CRASH_AT=v2:model``
(a test hook) ends the process abruptly at that point (``run``, ``model``, ``registered``).

Known MLflow pitfalls handled: the file store (``./mlruns``, ``file:``) is deprecated and recent
MLflow refuses it, so the URI must be ``sqlite:///…`` or ``http(s)://…`` (a relative sqlite
path is made absolute, and a new experiment on sqlite keeps its artifacts beside the database in
``mlartifacts/``, not in the current folder); the client is bound to the URI and MLflow's global
tracking and registry URIs are set to it for the export (and put back after), since parts of
MLflow read the global one; a registered version's source is the logged model's ``models:/m-…``
URI, as ``runs:/…`` does not resolve as a source in MLflow 3. MLflow's telemetry is off unless
the user turned it on (``MLFLOW_DISABLE_TELEMETRY``): workbench sends nothing anywhere. An
unreachable server fails after 3 retries (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, unless set).

Errors: a bad URI, a deleted experiment, a name MLflow cannot take or the missing extra are
usage errors (exit 2); MLflow failing part-way (a server that went down, a database that is not
writable) is exit 6 with the cause, and exporting again finishes the job.

Cost: MLflow's own calls are most of it — about 15 SQLite commits per version on a ``sqlite:``
store (each ``create_run``, ``log_batch``, logged model and registered version commits on its
own), plus MLflow's import and, on a new database, its migrations (seconds). The store's side is
one read session and a DuckDB write per ``FLUSH_ROWS`` versions.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from workbench.config import Settings
from workbench.errors import UsageError, WorkbenchError
from workbench.export import content
from workbench.store import Store, exports, now_iso
from workbench.store.exports import MlflowRun, MlflowTarget
from workbench.store.registry import VersionRecord
from workbench.store.session import SnapshotRecord

ALIAS = "champion"
MODEL_NAME = "model"
CODE_FILE = Path(__file__).with_name("mlflow_model.py")
CRASH_ENV = "WORKBENCH_EXPORT_CRASH_AT"
# finished versions are recorded in the store in batches (a DuckDB write costs ~20-100 ms);
# what a kill loses of a batch, the next export finds in MLflow by its tags
FLUSH_SECONDS = 10.0
FLUSH_ROWS = 25
INSTALL_HINT = 'install the extra: pip install "workbench[mlflow]"'


@dataclass(frozen=True)
class ExportResult:
    tracking_uri: str
    experiment: str
    experiment_id: str | None
    registered_model: str
    exported: list[str] = field(default_factory=list)  # versions new in MLflow
    resumed: list[str] = field(default_factory=list)  # of those, found half-exported
    updated: list[str] = field(default_factory=list)  # status, drift or registration written
    unchanged: int = 0
    champion: str | None = None
    champion_model_version: str | None = None
    alias_moved: bool = False
    mlflow_called: bool = True  # False: the store showed nothing to do
    runs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "registered_model": self.registered_model,
            "exported": self.exported,
            "resumed": self.resumed,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "champion": self.champion,
            "champion_model_version": self.champion_model_version,
            "alias_moved": self.alias_moved,
            "mlflow_called": self.mlflow_called,
            "runs": self.runs,
            "seconds": round(self.seconds, 3),
        }


# ------------------------------------------------------------------ the tracking URI


def normalize_uri(uri: str) -> str:
    """The URI as the mapping table keys it: sqlite paths absolute, no trailing slash."""
    text = uri.strip()
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in ("http", "https"):
        return text.rstrip("/")
    if scheme == "sqlite":
        path = text[len("sqlite:///") :] if text.lower().startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            raise UsageError(
                f"--tracking-uri {uri!r} names no database file",
                "give a file: --tracking-uri sqlite:///mlflow.db (or sqlite:////abs/path.db)",
            )
        db = Path(path).expanduser().absolute()
        if db.is_dir():
            raise UsageError(f"{db} is a folder", "name the database file, e.g. .../mlflow.db")
        return f"sqlite:///{db}"
    raise UsageError(
        f"--tracking-uri {uri!r} is not supported: MLflow's file store (./mlruns, file:) is"
        " deprecated and refused by recent MLflow",
        "use a database file (--tracking-uri sqlite:///mlflow.db) or a tracking server"
        " (--tracking-uri http://127.0.0.1:5000)",
    )


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


# ------------------------------------------------------------------ what the store holds


@dataclass(frozen=True)
class _State:
    versions: list[VersionRecord]  # oldest first
    snapshots: dict[str, SnapshotRecord]
    champion: int | None
    target: MlflowTarget | None
    runs: dict[int, MlflowRun]
    drift_counts: dict[int, int]


def _read(store: Store, uri: str, experiment: str) -> _State:
    with store.read() as s:
        versions = list(reversed(s.versions()))
        snapshots = {sid: s.snapshot(sid) for sid in {v.snapshot_id for v in versions}}
        return _State(
            versions,
            snapshots,
            s.champion_number(),
            exports.target(s, uri, experiment),
            exports.runs(s, uri, experiment),
            exports.drift_counts(s),
        )


def _up_to_date(state: _State, registered_model: str) -> bool:
    """Whether the store shows MLflow already holds everything as it is now."""
    t = state.target
    if t is None or t.registered_model != registered_model or t.champion != state.champion:
        return False
    db = _sqlite_path(t.tracking_uri)
    if db is not None and not db.is_file():
        return False  # the database was deleted (or moved): export everything again
    for v in state.versions:
        row = state.runs.get(v.number)
        if row is None or not _row_current(row, v, state, registered_model):
            return False
    return True


def _row_current(row: MlflowRun, v: VersionRecord, state: _State, registered_model: str) -> bool:
    return (
        row.status == v.status
        and row.drift_results == state.drift_counts.get(v.number, 0)
        and (row.model_id is None or row.registered_model == registered_model)
    )


# ------------------------------------------------------------------ the export


def export_mlflow(
    settings: Settings,
    store: Store,
    tracking_uri: str,
    *,
    experiment: str | None = None,
    registered_model: str | None = None,
    verify: bool = False,
) -> ExportResult:
    started = time.perf_counter()
    uri = normalize_uri(tracking_uri)
    project = settings.project.name or settings.root.name
    experiment = (experiment or project).strip()
    registered_model = (registered_model or experiment).strip()
    for what, name in (("--experiment", experiment), ("--registered-model", registered_model)):
        if not name or "'" in name:
            raise UsageError(f"{what} {name!r} is not usable", f"give {what} a name without '")
    _require_mlflow()
    state = _read(store, uri, experiment)
    if not state.versions:
        raise UsageError("there are no model versions to export", "run `workbench train` first")
    if not verify and _up_to_date(state, registered_model):
        assert state.target is not None
        champion = state.runs.get(state.champion) if state.champion else None
        return ExportResult(
            uri,
            experiment,
            state.target.experiment_id,
            registered_model,
            unchanged=len(state.versions),
            champion=f"v{state.champion}" if state.champion else None,
            champion_model_version=champion.model_version if champion else None,
            mlflow_called=False,
            runs=_runs_json(state.runs),
            seconds=time.perf_counter() - started,
        )
    mlflow = _import_mlflow()
    with _global_uri(mlflow, uri):
        exporter = _Exporter(mlflow, store, uri, experiment, registered_model, project)
        result = exporter.run(state)
    return ExportResult(**{**result.__dict__, "seconds": time.perf_counter() - started})


def _require_mlflow() -> None:
    """Refuse early, before reading anything, when the extra is not installed."""
    import importlib.util

    try:
        found = importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):  # a broken or blocked install
        found = False
    if not found:
        raise UsageError("MLflow is not installed", INSTALL_HINT)


def _import_mlflow() -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # a server that is down: an error within a minute, not after MLflow's minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        import mlflow
        import mlflow.pyfunc
    except ImportError as e:
        raise UsageError(f"MLflow is not installed ({e})", INSTALL_HINT) from e
    return mlflow


@contextlib.contextmanager
def _global_uri(mlflow: Any, uri: str) -> Iterator[None]:
    """MLflow's global tracking and registry URIs set to ``uri`` for the export, then put back
    (the module globals and the environment variables MLflow mirrors them in)."""
    from mlflow.tracking import _model_registry, _tracking_service

    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    env = {name: os.environ.get(name) for name in names}
    tracking = getattr(_tracking_service.utils, "_tracking_uri", None)
    registry = getattr(_model_registry.utils, "_registry_uri", None)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _crash_point(version: VersionRecord, step: str) -> None:
    """The test hook: end the process abruptly (no clean-up, like ``kill -9``) here."""
    if os.environ.get(CRASH_ENV) == f"{version.name}:{step}":
        os._exit(137)


def _runs_json(rows: dict[int, MlflowRun]) -> list[dict[str, Any]]:
    return [
        {
            "version": f"v{r.number}",
            "run_id": r.run_id,
            "model_id": r.model_id,
            "model_version": r.model_version,
            "status": r.status,
        }
        for _, r in sorted(rows.items())
    ]


class _Exporter:
    """One export's talk with MLflow; see the module docstring for the order of things."""

    def __init__(
        self,
        mlflow: Any,
        store: Store,
        uri: str,
        experiment: str,
        registered_model: str,
        project: str,
    ) -> None:
        from mlflow import MlflowClient

        self.mlflow = mlflow
        self.store = store
        self.uri = uri
        self.experiment = experiment
        self.registered_model = registered_model
        self.project = project
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.pending: list[MlflowRun] = []
        self.flushed_at = time.monotonic()
        self._registered_model_ready = False
        self.template: Path | None = None
        self.template_dir: tempfile.TemporaryDirectory[str] | None = None

    # -------------------------------------------------------------- the whole export

    def run(self, state: _State) -> ExportResult:
        try:
            experiment_id = self._experiment()
            rows = dict(state.runs)
            if state.target is not None and state.target.experiment_id != experiment_id:
                rows = {}  # the experiment was made anew there: nothing of ours is in it
            found = self._listed_runs(experiment_id)
            live = {r.info.run_id for r in found.values()}
            gone = [n for n, r in rows.items() if r.run_id not in live]
            for n in gone:
                del rows[n]
            if gone:  # deleted in MLflow: exported again below
                with self.store.write("export mlflow") as s:
                    exports.forget_runs(s, self.uri, self.experiment, gone)
            exported: list[str] = []
            resumed: list[str] = []
            updated: list[str] = []
            for v in state.versions:
                row = rows.get(v.number)
                if row is not None and _row_current(row, v, state, self.registered_model):
                    continue
                if row is None:
                    orphan = found.get((v.name, v.created_at))
                    row = self._export_version(experiment_id, v, state, orphan)
                    exported.append(v.name)
                    if orphan is not None:
                        resumed.append(v.name)
                else:
                    row = self._update_version(experiment_id, v, state, row)
                    updated.append(v.name)
                rows[v.number] = row
                self._record(row)
            self._flush()
            champion_version, moved = self._alias(state, rows)
            with self.store.write("export mlflow") as s:
                exports.put_target(
                    s,
                    MlflowTarget(
                        self.uri,
                        self.experiment,
                        experiment_id,
                        self.registered_model,
                        state.champion,
                    ),
                    ts=now_iso(),
                )
        except WorkbenchError:
            raise
        except Exception as e:
            raise _mlflow_error(self.uri, e) from e
        finally:
            with contextlib.suppress(Exception):
                self._flush()
            if self.template_dir is not None:
                self.template_dir.cleanup()
        return ExportResult(
            self.uri,
            self.experiment,
            experiment_id,
            self.registered_model,
            exported=exported,
            resumed=resumed,
            updated=updated,
            unchanged=len(state.versions) - len(set(exported) | set(updated)),
            champion=f"v{state.champion}" if state.champion else None,
            champion_model_version=champion_version,
            alias_moved=moved,
            runs=_runs_json(rows),
        )

    def _experiment(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is not None and exp.lifecycle_stage == "deleted":
            raise UsageError(
                f"the MLflow experiment {self.experiment!r} is deleted at {self.uri}",
                f"restore it (mlflow experiments restore --experiment-id {exp.experiment_id})"
                " or export to another --experiment",
            )
        if exp is not None:
            return str(exp.experiment_id)
        db = _sqlite_path(self.uri)
        location = None
        if db is not None:  # beside the database, not in whatever folder we run in
            location = str(db.parent / "mlartifacts" / quote(self.experiment, safe=""))
        return str(
            self.client.create_experiment(
                self.experiment,
                artifact_location=location,
                tags={"workbench.project": self.project},
            )
        )

    def _listed_runs(self, experiment_id: str) -> dict[tuple[str, str], Any]:
        """The experiment's live runs made by workbench, by (version, created_at) tags."""
        out: dict[tuple[str, str], Any] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id],
                filter_string="tags.`workbench.version` LIKE 'v%'",
                max_results=1000,
                page_token=token,
                order_by=["attributes.start_time ASC"],
            )
            for r in page:
                tags = r.data.tags
                key = (tags.get("workbench.version", ""), tags.get("workbench.created_at", ""))
                out.setdefault(key, r)
            token = page.token
            if not token:
                return out

    # -------------------------------------------------------------- one version

    def _export_version(
        self, experiment_id: str, v: VersionRecord, state: _State, orphan: Any
    ) -> MlflowRun:
        c = self._content(v, state)
        if orphan is not None:
            run_id = orphan.info.run_id
        else:
            run = self.client.create_run(
                experiment_id, start_time=c.start_ms, tags=c.tags, run_name=v.name
            )
            run_id = run.info.run_id
        _crash_point(v, "run")
        self._log(run_id, c, tags_too=orphan is not None)  # a new run got them at creation
        model_id = model_version = None
        if v.model_hash and v.meta_hash:
            model_id = self._logged_model(experiment_id, run_id, v, c, adopt=orphan is not None)
            _crash_point(v, "model")
            model_version = self._register(run_id, model_id, v, adopt=orphan is not None)
            _crash_point(v, "registered")
        self.client.set_terminated(run_id, c.run_status, end_time=c.end_ms)
        return MlflowRun(
            v.number,
            run_id,
            model_id,
            self.registered_model if model_id else None,
            model_version,
            v.status,
            state.drift_counts.get(v.number, 0),
        )

    def _update_version(
        self, experiment_id: str, v: VersionRecord, state: _State, row: MlflowRun
    ) -> MlflowRun:
        model_version = row.model_version
        if row.model_id and row.registered_model != self.registered_model:
            model_version = self._register(row.run_id, row.model_id, v, adopt=True)
        if row.status != v.status:
            for key, value in content.status_tags(v).items():
                self.client.set_tag(row.run_id, key, value)
                if model_version is not None:
                    self.client.set_model_version_tag(
                        self.registered_model, model_version, key, value
                    )
        drift = state.drift_counts.get(v.number, 0)
        if row.drift_results != drift:
            self._log(row.run_id, self._content(v, state), drift_only=True)
        return MlflowRun(
            v.number,
            row.run_id,
            row.model_id,
            self.registered_model if row.model_id else None,
            model_version,
            v.status,
            drift,
        )

    def _content(self, v: VersionRecord, state: _State) -> content.RunContent:
        meta = self.store.objects.read_json(v.meta_hash) if v.meta_hash else None
        drift = []
        if state.drift_counts.get(v.number):
            with self.store.read() as s:
                drift = exports.drift_results(s, v.number)
        return content.run_content(v, state.snapshots.get(v.snapshot_id), meta, drift, self.project)

    def _log(
        self,
        run_id: str,
        c: content.RunContent,
        *,
        drift_only: bool = False,
        tags_too: bool = True,
    ) -> None:
        """Log the run's params, metrics, tags (``tags_too``) and artifacts; ``drift_only``:
        the drift metrics and artifacts alone."""
        from mlflow.entities import Metric, Param, RunTag

        metrics = [
            Metric(m.key, m.value, m.timestamp, m.step)
            for m in c.metrics
            if not drift_only or m.key.startswith("drift")
        ]
        params = [] if drift_only else [Param(k, v) for k, v in c.params.items()]
        tags = [RunTag(k, v) for k, v in c.tags.items()] if tags_too and not drift_only else []
        # MLflow's limits per request: 1000 metrics, 100 params, 100 tags
        while metrics or params or tags:
            self.client.log_batch(
                run_id, metrics=metrics[:900], params=params[:100], tags=tags[:100]
            )
            metrics, params, tags = metrics[900:], params[100:], tags[100:]
        files = {
            path: value
            for path, value in c.artifacts.items()
            if not drift_only or path.startswith("drift/")
        }
        if files:  # one upload of one folder
            import json

            with tempfile.TemporaryDirectory(prefix="workbench-mlflow-") as tmp:
                for path, value in files.items():
                    (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
                    (Path(tmp) / path).write_text(json.dumps(value, indent=1, default=str))
                self.client.log_artifacts(run_id, tmp)

    def _logged_model(
        self,
        experiment_id: str,
        run_id: str,
        v: VersionRecord,
        c: content.RunContent,
        *,
        adopt: bool,
    ) -> str:
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus

        if adopt:
            for m in self.client.search_logged_models(
                [experiment_id], filter_string=f"source_run_id = '{run_id}'"
            ):
                if str(m.status) == str(LoggedModelStatus.READY) and m.name == MODEL_NAME:
                    return str(m.model_id)
                self.client.delete_logged_model(m.model_id)  # half uploaded: made again
        model = self.client.create_logged_model(
            experiment_id,
            name=MODEL_NAME,
            source_run_id=run_id,
            tags={"workbench.version": v.name, "workbench.model_hash": str(v.model_hash)},
            params=c.params,
        )
        self.client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        with tempfile.TemporaryDirectory(prefix="workbench-mlflow-") as tmp:
            path = self._model_dir(Path(tmp), model, run_id, v)
            self.client.log_model_artifacts(model.model_id, str(path))
        self.client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
        return str(model.model_id)

    def _model_dir(self, tmp: Path, model: Any, run_id: str, v: VersionRecord) -> Path:
        """The MLmodel folder: pyfunc from code + the lightgbm flavor on the same text.

        MLflow's ``save_model`` runs once per export (it costs a quarter of a second): its
        folder is the template every version's folder is copied from, with the version's own
        model text, spec and ``MLmodel`` identity (model id, run id, time) written in.
        """
        import json
        import shutil
        from datetime import UTC, datetime

        from mlflow.models import Model

        assert v.model_hash and v.meta_hash
        text = self.store.objects.read(v.model_hash)
        spec = json.dumps(self.store.objects.read_json(v.meta_hash)["spec"], indent=1)
        template = self._template(tmp)
        out = tmp / "model"
        shutil.copytree(template, out)
        mlflow_model = Model.load(str(template / "MLmodel"))
        paths = mlflow_model.flavors["python_function"]["artifacts"]
        (out / paths["model"]["path"]).write_bytes(text)
        (out / paths["spec"]["path"]).write_text(spec, encoding="utf-8")
        (out / "model.lgb").write_bytes(text)  # the lightgbm flavor: the store's bytes
        mlflow_model.artifact_path = model.artifact_location
        mlflow_model.model_uuid = model.model_id
        mlflow_model.model_id = model.model_id
        mlflow_model.run_id = run_id
        mlflow_model.utc_time_created = str(datetime.now(UTC).replace(tzinfo=None))
        mlflow_model.metadata = {"workbench_version": v.name, "workbench_snapshot": v.snapshot_id}
        mlflow_model.model_size_bytes = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        mlflow_model.save(str(out / "MLmodel"))
        return out

    def _template(self, tmp: Path) -> Path:
        """The model folder MLflow's own ``save_model`` writes (once per export)."""
        from importlib.metadata import version

        from mlflow.models import Model

        if self.template is not None:
            return self.template
        self.template_dir = tempfile.TemporaryDirectory(prefix="workbench-mlflow-template-")
        root = Path(self.template_dir.name)
        (root / "model.txt").write_text("placeholder")
        (root / "spec.json").write_text("{}")
        out = root / "model"
        mlflow_model = Model()
        log = logging.getLogger("mlflow.pyfunc")
        level = log.level
        log.setLevel(logging.ERROR)  # "cannot infer a signature": none is wanted (raw rows)
        try:
            self.mlflow.pyfunc.save_model(
                str(out),
                mlflow_model=mlflow_model,
                python_model=str(CODE_FILE),
                artifacts={"model": str(root / "model.txt"), "spec": str(root / "spec.json")},
                pip_requirements=_requirements(),
            )
        finally:
            log.setLevel(level)
        mlflow_model.add_flavor(
            "lightgbm",
            lgb_version=version("lightgbm"),
            data="model.lgb",
            model_class="lightgbm.basic.Booster",
            code=None,
        )
        mlflow_model.save(str(out / "MLmodel"))
        self.template = out
        return out

    def _register(self, run_id: str, model_id: str, v: VersionRecord, *, adopt: bool) -> str:
        name = self.registered_model
        if not self._registered_model_ready:
            from mlflow.exceptions import MlflowException

            try:
                self.client.get_registered_model(name)
            except MlflowException:
                self.client.create_registered_model(
                    name,
                    tags={"workbench.project": self.project},
                    description=f"workbench project {self.project}: one version per model version",
                )
            self._registered_model_ready = True
        if adopt:
            for mv in self.client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'"):
                return str(mv.version)
        mv = self.client.create_model_version(
            name,
            source=f"models:/{model_id}",
            run_id=run_id,
            model_id=model_id,
            tags={"workbench.version": v.name, **content.status_tags(v)},
            description=f"workbench {v.name} (snapshot {v.snapshot_id})",
        )
        return str(mv.version)

    def _alias(self, state: _State, rows: dict[int, MlflowRun]) -> tuple[str | None, bool]:
        """Point the champion alias at the champion's model version; (that version, moved)."""
        from mlflow.exceptions import MlflowException

        row = rows.get(state.champion) if state.champion else None
        target = row.model_version if row else None
        try:
            current = str(
                self.client.get_model_version_by_alias(self.registered_model, ALIAS).version
            )
        except MlflowException:
            current = None
        if target == current:
            return target, False
        if target is None:
            self.client.delete_registered_model_alias(self.registered_model, ALIAS)
        else:
            self.client.set_registered_model_alias(self.registered_model, ALIAS, target)
        return target, True

    # -------------------------------------------------------------- the mapping table

    def _record(self, row: MlflowRun) -> None:
        self.pending.append(row)
        if len(self.pending) >= FLUSH_ROWS or time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            with self.store.write("export mlflow") as s:
                exports.put_runs(s, self.uri, self.experiment, self.pending, ts=now_iso())
            self.pending = []
        self.flushed_at = time.monotonic()


@functools.cache
def _requirements() -> list[str]:
    """The logged model's pip requirements: what ``mlflow_model.py`` imports, as installed."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("mlflow", "lightgbm", "numpy", "pandas", "polars", "pyarrow"):
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def _mlflow_error(uri: str, e: Exception) -> WorkbenchError:
    from workbench.errors import StoreError

    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if getattr(e, "error_code", None) == "INVALID_PARAMETER_VALUE":
        return UsageError(
            f"MLflow at {uri} refused: {first[:500]}",
            "pick another --experiment or --registered-model name",
        )
    return StoreError(
        f"MLflow at {uri} failed: {first[:500]}",
        "check that the tracking server is up (or the database file writable), then export"
        " again: what was exported is kept and the rest is finished",
    )
