"""The ``workbench`` command line: parse, call the core, print, map errors to exit codes.

Thin on purpose: every command is a few lines around a core function. Heavy libraries (polars,
duckdb, lightgbm, textual) are imported inside the commands that need them, so ``--help`` and
``status`` start fast. With ``--json``, stdout carries only data; diagnostics go to stderr.
Every ``WorkbenchError`` becomes one message (plus a hint) on stderr and the exit code of its
class (``errors.ExitCode``); anything else is a bug and exits 1 with the traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from workbench import __version__
from workbench.errors import ExitCode, UsageError, WorkbenchError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkbenchError as e:
            click.secho(f"error: {e.message}", err=True, fg="red")
            if e.hint:
                click.echo(f"  hint: {e.hint}", err=True)
            ctx.exit(int(e.exit_code))


class Ctx:
    """What every command gets: the project folder (found lazily) and output mode."""

    def __init__(self, project: Path | None) -> None:
        self.project_arg = project

    def settings(self) -> Any:
        from workbench import config

        if self.project_arg is None:
            return config.load(config.find_project())
        root = self.project_arg.resolve()
        if not config.config_path(root).is_file():
            raise config.ProjectNotFoundError(
                f"no workbench.toml in {root}", f"run `workbench init {root}`"
            )
        return config.load(root)

    def store(self, settings: Any) -> Any:
        from workbench.store import Store

        return Store(settings.store_dir, on_wait=_say_waiting)


def _lean_lightgbm(settings: Any) -> None:
    """A one-shot command that scores or trains with the local engine: LightGBM without
    scikit-learn and pandas, ~0.8 s sooner (``model.lean``). Not with the Dask engine, which
    needs both; never in the long-lived watcher or TUI (their config may switch engines)."""
    if settings.train.engine != "dask":
        from workbench.model.lean import lean_lightgbm

        lean_lightgbm()


def _say_waiting(message: str) -> None:
    click.echo(f"{message} …", err=True)


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


pass_ctx = click.make_pass_decorator(Ctx)


def limit_option(default: int) -> Any:
    return click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help="Show at most this many (>= 1).",
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (data only).")


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder (default: found from the current folder upward).",
)
@click.version_option(__version__, prog_name="workbench")
@click.pass_context
def main(ctx: click.Context, project: Path | None) -> None:
    """A local-first MLOps workbench: data versioning, training, drift and rollback.

    Run plain `workbench` (no command) in a terminal to open the TUI on the project: it
    watches the data and config while open; `?` in it lists the keys. The commands below are
    for scripts, servers and CI.
    """
    ctx.obj = Ctx(project)
    if ctx.invoked_subcommand is not None:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        click.echo(ctx.get_help())
        click.echo("\nThe terminal UI needs a terminal; scripts use the commands above.")
        return
    from workbench import tui

    tui.run(ctx.obj.settings())


@main.command(short_help="Scaffold workbench.toml and git-ignore .workbench/.")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--target", help="The label column (asked for when omitted on a terminal).")
@click.option(
    "--task",
    type=click.Choice(["binary", "multiclass", "regression"]),
    help="The model's task (default: guessed from the label column).",
)
@click.option("--data", "data_dir", default="data", show_default=True, help="Data folder.")
@click.option("--force", is_flag=True, help="Replace an existing workbench.toml.")
def init(
    directory: Path | None, target: str | None, task: str | None, data_dir: str, force: bool
) -> None:
    """Scaffold workbench.toml from the data folder and git-ignore .workbench/."""
    from workbench.data import init as init_mod

    root = (directory or Path.cwd()).resolve()
    if target is None:
        first, columns = init_mod.data_columns(root, data_dir)
        if not sys.stdin.isatty():
            raise UsageError(
                f"--target is required (columns of {first.name}: {', '.join(columns)})",
                "pass --target COLUMN",
            )
        target = click.prompt("Target column", type=click.Choice(list(columns)))
    result = init_mod.init(root, target=target, task=task, data=data_dir, force=force)
    click.echo(f"wrote {result.config} (target {result.target}, task {result.task})")
    if result.time_column:
        click.echo(f"  time column: {result.time_column}")
    if result.id_column:
        click.echo(f"  id column: {result.id_column}")
    if result.gitignore_updated:
        click.echo("  added .workbench/ to .gitignore")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo("next: `workbench train` (snapshots the data, trains and promotes the first model)")


@main.command()
@json_option
@pass_ctx
def snapshot(obj: Ctx, as_json: bool) -> None:
    """Version the current data and config now."""
    from workbench.data import snapshot as snap

    settings = obj.settings()
    from workbench import render

    result = snap.take(settings, obj.store(settings))
    text = render.snapshot_json if as_json else render.snapshot_text
    sys.stdout.write(text(result.to_json()))


@main.command()
@json_option
@limit_option(20)
@pass_ctx
def snapshots(obj: Ctx, as_json: bool, limit: int) -> None:
    """List snapshots, newest first."""
    from workbench import render

    settings = obj.settings()
    with obj.store(settings).read() as s:
        rows = [s.snapshot(r.id) for r in s.snapshots(limit)]  # with their files
    if as_json:  # each as `snapshot --json` shows it, its files included
        _emit_json([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("no snapshots yet: run `workbench snapshot`")
    for r in rows:
        git = (r.git_commit or "-")[:8] + ("+" if r.git_dirty else "")  # as in `history`
        files = render.plural(len(r.data_files), "file")
        click.echo(f"{r.id}  {r.created_at[:19]}  git {git:<9}  {r.rows:>9,} rows  {files}")


@main.command(short_help="Champion, last cycle, drift summary, watcher state.")
@json_option
@pass_ctx
def status(obj: Ctx, as_json: bool) -> None:
    """Champion, last snapshot, last cycle, drift summary, watcher state."""
    from workbench.pipeline.status import status as get_status

    settings = obj.settings()
    data = get_status(settings, obj.store(settings))
    if as_json:
        _emit_json(data)
        return
    click.echo(f"project   {data['project']} ({data['root']})")
    pin = data.get("pinned")
    pinned = f" (pinned by {pin['by']}: {pin['reason']})" if pin else ""
    engine = data.get("champion_engine")
    trained_on = f" (trained on {engine})" if engine and engine != "local" else ""
    click.echo(f"champion  {data['champion'] or 'none yet'}{trained_on}{pinned}")
    if data.get("pending"):
        click.echo(f"pending   {', '.join(data['pending'])} (workbench approve|reject VERSION)")
    last = data["last_snapshot"]
    click.echo(
        f"snapshot  {last or 'none yet: run `workbench snapshot`'}"
        + (f" ({data['snapshots']} in all)" if last else "")
    )
    click.echo(f"watcher   {data['watcher']}")
    cycle = data["last_cycle"]
    if cycle:
        hint = f" — {cycle['hint']}" if cycle.get("hint") else ""
        click.echo(f"last cycle {cycle['ts'][:19]} {cycle['message']}{hint}")
    drift = data["drift"]
    if drift:
        verdict = "DATASET DRIFT" if drift["dataset_drift"] else "no dataset drift"
        click.echo(
            f"drift     {verdict} (share {drift['drift_share']:.2f}) of {drift['current']}"
            f" vs {drift['reference_version']}"
        )
    if data.get("monitor"):
        from workbench.render import monitor_status_line

        click.echo(f"monitor   {monitor_status_line(data['monitor'])}")
    if data["last_event"]:
        e = data["last_event"]
        click.echo(f"last event {e['ts'][:19]} {e['event']}: {e['message']}")


@main.command()
@json_option
@limit_option(50)
@pass_ctx
def history(obj: Ctx, as_json: bool, limit: int) -> None:
    """Model versions, newest first."""
    from workbench.pipeline.status import history as get_history
    from workbench.render import history_text

    settings = obj.settings()
    rows = get_history(obj.store(settings), limit)
    if as_json:
        _emit_json(rows)
    else:
        click.echo(history_text(rows))


@main.command()
@click.option("--force", is_flag=True, help="Train even if these inputs were trained already.")
@click.option("--no-promote", is_flag=True, help="CI challenger: train and gate, change nothing.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --no-promote: write the Markdown report here (in the project).",
)
@click.option(
    "--fail-on-reject", is_flag=True, help="With --no-promote: exit 8 when the gate rejects."
)
@json_option
@pass_ctx
def train(
    obj: Ctx,
    force: bool,
    no_promote: bool,
    report: Path | None,
    fail_on_reject: bool,
    as_json: bool,
) -> None:
    """Snapshot if changed, train, evaluate, gate, promote."""
    from workbench.pipeline.train import prepare_drift, run_train
    from workbench.render import Progress, train_text

    if (report is not None or fail_on_reject) and not no_promote:
        raise UsageError(
            "--report and --fail-on-reject belong to a challenger run",
            "add --no-promote: workbench train --no-promote --report FILE.md",
        )
    settings = obj.settings()
    _lean_lightgbm(settings)
    show = not as_json and sys.stderr.isatty()
    progress = Progress() if show else None
    store = obj.store(settings)
    if no_promote:
        _challenger(settings, store, progress, report, fail_on_reject, as_json)
        return
    try:
        outcome = run_train(settings, store, force=force, progress=progress)
    finally:
        if progress:
            progress.done()
    if as_json:
        _emit_json(outcome.to_json())
    else:
        click.echo(train_text(outcome))
    sys.stdout.flush()  # the outcome is out; then the new champion's drift reference
    prepare_drift(settings, store, outcome)


@main.command()
@click.argument("version")
@click.option("--reason", required=True, help="Why (recorded in the champion history).")
@click.option(
    "--restore-inputs", is_flag=True, help="Also check out the snapshot it was trained on."
)
@json_option
@pass_ctx
def rollback(obj: Ctx, version: str, reason: str, restore_inputs: bool, as_json: bool) -> None:
    """Make an earlier VERSION the champion again."""
    from workbench.model.rollback import rollback as run_rollback

    settings = obj.settings()
    result = run_rollback(
        settings, obj.store(settings), version, reason=reason, restore_inputs=restore_inputs
    )
    if as_json:
        _emit_json(
            {
                "champion": result.version.name,
                "previous": result.previous,
                "restored": result.checkout.to_json() if result.checkout else None,
            }
        )
        return
    metric = result.version.metric
    score = result.version.metrics.get(metric)
    click.echo(
        f"champion: {result.previous or 'none'} -> {result.version.name}"
        f" ({metric} {score:.4f}); serving updated"
    )
    if result.checkout:
        click.echo(f"inputs restored to snapshot {result.checkout.snapshot}")


def _governance(obj: Ctx, action: str, version: str | None, reason: str, as_json: bool) -> None:
    """promote | approve | reject VERSION, or unpin: ``pipeline.approval``."""
    from workbench.pipeline import approval
    from workbench.render import governance_text

    settings = obj.settings()
    store = obj.store(settings)
    if action == "unpin":
        result = approval.unpin(settings, store, reason=reason)
    else:
        result = getattr(approval, action)(settings, store, version, reason=reason)
    if as_json:
        _emit_json(result.to_json())
    else:
        click.echo(governance_text(result))


_reason_option = click.option("--reason", required=True, help="Why (recorded with who, when).")


@main.command(short_help="Make VERSION the champion by hand (ends a pin).")
@click.argument("version")
@_reason_option
@json_option
@pass_ctx
def promote(obj: Ctx, version: str, reason: str, as_json: bool) -> None:
    """Make VERSION the champion by hand; it ends a rollback's pin."""
    _governance(obj, "promote", version, reason, as_json)


@main.command(short_help="Release the pin a rollback put on the champion.")
@_reason_option
@json_option
@pass_ctx
def unpin(obj: Ctx, reason: str, as_json: bool) -> None:
    """Release the pin a rollback put on the champion: the gate may promote again."""
    _governance(obj, "unpin", None, reason, as_json)


@main.command(short_help="Approve a pending VERSION: it becomes the champion.")
@click.argument("version")
@_reason_option
@json_option
@pass_ctx
def approve(obj: Ctx, version: str, reason: str, as_json: bool) -> None:
    """Approve a pending VERSION (gate.approval = "manual"): it becomes the champion."""
    _governance(obj, "approve", version, reason, as_json)


@main.command(short_help="Reject a pending VERSION: the champion stays.")
@click.argument("version")
@_reason_option
@json_option
@pass_ctx
def reject(obj: Ctx, version: str, reason: str, as_json: bool) -> None:
    """Reject a pending VERSION (gate.approval = "manual"): the champion stays."""
    _governance(obj, "reject", version, reason, as_json)


@main.command(short_help="The audit trail: who changed what, when, why.")
@click.option("--since", help="Only entries at or after this ISO-8601 time (UTC if no offset).")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many (>= 1).")
@json_option
@pass_ctx
def log(obj: Ctx, since: str | None, limit: int | None, as_json: bool) -> None:
    """The audit trail, newest first: snapshots, versions, gate decisions, approvals,
    promotions, rollbacks, pins, config changes, hook runs."""
    from workbench.pipeline.audit import read_log
    from workbench.render import log_text

    settings = obj.settings()
    found = read_log(obj.store(settings), since=since, limit=limit)
    if as_json:
        _emit_json([e.to_json() for e in found])
    else:
        click.echo(log_text(found))


@main.command()
@click.argument("source", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="File to write."
)
@click.option("--version", "version", help="Score with this version instead of the champion.")
@pass_ctx
def predict(obj: Ctx, source: Path, output: Path, version: str | None) -> None:
    """Batch scoring: INPUT rows plus prediction columns into OUTPUT."""
    from workbench.model.predict import predict_file

    settings = obj.settings()
    _lean_lightgbm(settings)
    store = obj.store(settings)
    result = predict_file(store, source, output, ref=version, settings=settings)
    click.echo(f"{result.rows} rows scored with {result.version} -> {result.output}", err=True)
    from workbench.model.predict import log_prediction

    log_prediction(store, settings, result, request=str(source))


@main.command(short_help="HTTP scoring with the champion of the moment.")
@click.option("--host", help="Address to bind (default: [serve] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [serve] port, 8000).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes.",
)
@click.option(
    "--token",
    envvar="WORKBENCH_SERVE_TOKEN",
    show_envvar=True,
    help="Require 'Authorization: Bearer TOKEN' on every endpoint but /health.",
)
@pass_ctx
def serve(obj: Ctx, host: str | None, port: int | None, workers: int, token: str | None) -> None:
    """HTTP scoring with the champion of the moment (follows promotions and rollbacks)."""
    from workbench.serve.server import serve as run_serve

    settings = obj.settings()
    host, port = host or settings.serve.host, port or settings.serve.port
    run_serve(settings, host=host, port=port, workers=workers, token=token)


@main.command(short_help="The headless loop: a cycle whenever the inputs change.")
@click.option("--once", is_flag=True, help="Run one cycle if the inputs changed, then exit.")
@json_option
@pass_ctx
def watch(obj: Ctx, once: bool, as_json: bool) -> None:
    """The headless loop: a cycle whenever the data or the config changes."""
    import signal

    from workbench import watch as watch_mod

    settings = obj.settings()
    store = obj.store(settings)

    def stop(_sig: int, _frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):  # stopping: a further signal waits
            signal.signal(sig, signal.SIG_IGN)
        raise _Stop

    failed: int | None = None
    try:
        # installed inside the try: the _Stop of either is caught below
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        with watch_mod.watcher_lock(store):
            for ev in watch_mod.watch(settings.root, store, once=once):
                if as_json:
                    click.echo(json.dumps(ev.to_json(), default=str))
                else:
                    click.echo(f"{ev.ts[11:19]} {ev.message}")
                sys.stdout.flush()
                if ev.event == "cycle_finished" and ev.data.get("outcome") == "failed":
                    failed = int(ev.data.get("exit_code", ExitCode.INTERNAL))
                    hint = ev.data.get("hint")
                    if hint and not as_json:
                        click.echo(f"         hint: {hint}")
    except (_Stop, KeyboardInterrupt):
        _stopped(as_json, "stopped by a signal", "info")
    except WorkbenchError as e:  # the loop cannot go on: say why, then exit non-zero
        _stopped(as_json, f"stopped: {e.message}", "error")
        raise
    if once and failed is not None:
        sys.exit(failed)


class _Stop(BaseException):
    """The watcher's SIGTERM or Ctrl-C, raised in the main thread wherever it is.

    Not KeyboardInterrupt: CPython remembers a KeyboardInterrupt raised inside code that an
    extension runs through ``PyRun_*`` as unhandled even once it is caught, and the process
    then kills itself with SIGINT at exit (exit -2, no traceback) after a clean stop — as
    the watcher did in about half of the runs of a SIGTERM test on a loaded machine.
    """


def _stopped(as_json: bool, message: str, level: str) -> None:
    """The watcher's last line: a JSON event like the others (stdout), or text on stderr."""
    from workbench.pipeline.events import CycleEvent

    if as_json:
        click.echo(json.dumps(CycleEvent("stopped", message, level).to_json()))
    else:
        click.echo(message, err=True)


@main.command(short_help="Per-feature drift of the newest data vs the champion's.")
@click.option("--version", "version", help="Reference version (default: the champion).")
@click.option("--force", is_flag=True, help="Recompute even if a stored result exists.")
@json_option
@pass_ctx
def drift(obj: Ctx, version: str | None, force: bool, as_json: bool) -> None:
    """Per-feature drift of the newest data vs the reference's training data."""
    from workbench.monitor.drift import run_drift
    from workbench.pipeline.on_drift import act_on_drift
    from workbench.render import drift_text

    settings = obj.settings()
    _lean_lightgbm(settings)
    store = obj.store(settings)
    outcome = run_drift(settings, store, version=version, force=force)
    if as_json:
        _emit_json(outcome.result.to_json())
    else:
        click.echo(drift_text(outcome.result.to_json()))
    if outcome.computed:
        for line in act_on_drift(settings, store, outcome.result):
            click.echo(line, err=True)


@main.command(short_help="Realized and estimated performance and KPIs per chunk.")
@click.option("--version", "version", help="Version to show (default: the champion).")
@json_option
@pass_ctx
def monitor(obj: Ctx, version: str | None, as_json: bool) -> None:
    """The champion's (or VERSION's) realized and estimated metrics and KPIs per chunk, with
    alert bands; delayed labels and new data files are taken in first."""
    from workbench.pipeline import monitor_step
    from workbench.render import monitor_text

    settings = obj.settings()
    _lean_lightgbm(settings)
    store = obj.store(settings)
    v, outcome = monitor_step.refresh(settings, store, version)
    if as_json:
        _emit_json(monitor_step.report(settings, store, v))
    else:
        click.echo(monitor_text(monitor_step.report(settings, store, v)))
    if outcome.unknown_ids:
        click.echo(
            f"warning: {outcome.unknown_ids} delayed label id(s) match no scored row", err=True
        )
    said = monitor_step.retrain(settings, store, outcome)
    if said:
        click.echo(said, err=True)


@main.command(
    name="validate", short_help="Config and data checks only; exit 3 or 4 when one fails."
)
@json_option
@pass_ctx
def validate_cmd(obj: Ctx, as_json: bool) -> None:
    """Config and data checks, each listed; exit 3 (config) or 4 (data) when one fails."""
    from workbench.errors import ConfigError, DataError
    from workbench.monitor import validate as validate_mod
    from workbench.render import validate_text

    settings = obj.settings()
    report = validate_mod.validate_inputs(settings, obj.store(settings))
    if as_json:
        _emit_json(report.to_json())
    else:
        colors = {"pass": "green", "warn": "yellow", "fail": "red"}
        for status, line in validate_text(report.to_json()):
            head = click.style(f"{status:<4}", fg=colors[status]) if status else ""
            click.echo(head + line)
    if report.config_failures:  # the config's error (a key naming no column): exit 3
        first = report.config_failures[0]
        raise ConfigError(first.message, first.hint)
    if not report.ok:
        raise DataError(
            f"{len(report.failures)} validation check(s) failed",
            "fix the data or the rules in [data.validation]; each failure above names its file",
        )


@main.command(short_help="What changed between two snapshots or versions.")
@click.argument("a")
@click.argument("b", required=False, default="latest")
@json_option
@pass_ctx
def diff(obj: Ctx, a: str, b: str, as_json: bool) -> None:
    """What changed between A and B: snapshots or versions (B defaults to the latest)."""
    from workbench.data.diff import diff as run_diff
    from workbench.render import diff_text

    settings = obj.settings()
    result = run_diff(obj.store(settings), a, b)
    if as_json:
        _emit_json(result)
    else:
        click.echo(diff_text(result))


def _challenger(
    settings: Any,
    store: Any,
    progress: Any,
    report: Path | None,
    fail_on_reject: bool,
    as_json: bool,
) -> None:
    """``train --no-promote``: the report to FILE (or stdout), the decision as the exit code."""
    from workbench.governance.challenger import run_challenger
    from workbench.governance.output import check_output, write_output
    from workbench.render import challenger_text

    if report is not None:
        check_output(settings, report, what="challenger report")
    try:
        result = run_challenger(settings, store, progress=progress)
    finally:
        if progress:
            progress.done()
    if report is not None:
        write_output(settings, report, result.markdown, what="challenger report")
    if as_json:
        _emit_json(result.to_json() | {"report": str(report) if report else None})
    elif report is not None:
        click.echo(challenger_text(result.to_json(), str(report)))
    else:
        click.echo(result.markdown, nl=False)
    if result.error is not None:
        raise result.error
    if fail_on_reject and not result.promote and not result.unchanged:
        sys.exit(int(ExitCode.REJECTED))


@main.command(short_help="A model card from the project's own records.")
@click.argument("version")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the card to this file (in the project) instead of stdout.",
)
@json_option
@pass_ctx
def card(obj: Ctx, version: str, output: Path | None, as_json: bool) -> None:
    """A model card of VERSION (or `champion`): Markdown, or the Model Card Toolkit's fields
    with --json; every number from the store's records."""
    from workbench.governance.card import build_card
    from workbench.governance.output import check_output, write_output

    settings = obj.settings()
    if output is not None:
        check_output(settings, output, what="model card")
    built = build_card(settings, obj.store(settings), version)
    text = json.dumps(built.to_json(), indent=2) + "\n" if as_json else built.markdown
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(settings, output, text, what="model card")
        click.echo(f"wrote the model card of {built.data['model_details']['version']} to {output}")


@main.command(short_help="Two versions scored on the same rows, neither trained on.")
@click.argument("a")
@click.argument("b")
@click.option(
    "--on", "on", metavar="SNAPSHOT", help="Score on this snapshot's rows (default: the latest)."
)
@json_option
@pass_ctx
def compare(obj: Ctx, a: str, b: str, on: str | None, as_json: bool) -> None:
    """Score versions A and B (or `champion`) on the same labelled rows of a snapshot,
    leaving out every row either of them trained or validated on; deltas are B - A."""
    from workbench.model.compare import compare as run_compare
    from workbench.render import compare_text

    settings = obj.settings()
    _lean_lightgbm(settings)
    result = run_compare(obj.store(settings), a, b, on).to_json()
    click.echo(json.dumps(result, indent=2) if as_json else compare_text(result))


@main.command()
@click.argument("snapshot_ref", metavar="SNAPSHOT")
@click.option("--force", is_flag=True, help="Discard local changes that no snapshot holds.")
@json_option
@pass_ctx
def checkout(obj: Ctx, snapshot_ref: str, force: bool, as_json: bool) -> None:
    """Restore the data and config files of a snapshot, byte for byte."""
    from workbench.data.checkout import checkout as run_checkout

    settings = obj.settings()
    plan = run_checkout(settings, obj.store(settings), snapshot_ref, force=force)
    if as_json:
        _emit_json(plan.to_json())
        return
    click.echo(f"checked out {plan.snapshot}")
    for f in plan.restore:
        click.echo(f"  restored {f.path}")
    for g in plan.remove:
        click.echo(f"  removed  {g.rel}")
    if not plan.restore and not plan.remove:
        click.echo("  (files already matched)")


@main.command(short_help="Remove stored bytes nothing references.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@json_option
@pass_ctx
def gc(obj: Ctx, dry_run: bool, as_json: bool) -> None:
    """Remove the objects and chunks no snapshot, version or record references, and
    nothing else; waits for snapshots and trainings in flight."""
    from workbench.pipeline import gc as gc_mod

    settings = obj.settings()
    result = gc_mod.collect(obj.store(settings), dry_run=dry_run, on_wait=_say_waiting)
    if as_json:
        _emit_json(result.to_json())
    else:
        click.echo(gc_mod.summary(result))


@main.group()
def export() -> None:
    """Hand the project's records over to other tools."""


@export.command(name="metrics")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="File format of the exported table.",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="File to write."
)
@json_option
@pass_ctx
def export_metrics_cmd(obj: Ctx, fmt: str, output: Path, as_json: bool) -> None:
    """The monitoring and drift tables as one long table (README: Outcome monitoring)."""
    from workbench.export.metrics import export_metrics

    settings = obj.settings()
    done = export_metrics(settings, obj.store(settings), fmt, output)
    if as_json:
        _emit_json(done.to_json())
    else:
        click.echo(
            f"wrote {done.rows} rows ({done.monitor_rows} monitoring, {done.drift_rows} drift)"
            f" to {done.output}"
        )


@export.command(name="mlflow")
@click.option("--tracking-uri", required=True, help="sqlite:///PATH.db or http(s)://HOST:PORT")
@click.option("--experiment", help="MLflow experiment (default: the project's name).")
@click.option("--registered-model", help="Registered model (default: the experiment's name).")
@click.option("--verify", is_flag=True, help="Ask MLflow even when the store shows no change.")
@json_option
@pass_ctx
def export_mlflow(
    obj: Ctx,
    tracking_uri: str,
    experiment: str | None,
    registered_model: str | None,
    verify: bool,
    as_json: bool,
) -> None:
    """Runs, metrics, params, models and the champion alias into MLflow."""
    from workbench.export.mlflow_export import export_mlflow as run_export
    from workbench.render import export_mlflow_text

    settings = obj.settings()
    result = run_export(
        settings,
        obj.store(settings),
        tracking_uri,
        experiment=experiment,
        registered_model=registered_model,
        verify=verify,
    )
    if as_json:
        _emit_json(result.to_json())
    else:
        click.echo(export_mlflow_text(result.to_json()))


def run() -> None:
    """Console-script entry point."""
    try:
        main(prog_name="workbench")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    run()


__all__ = ["ExitCode", "main", "run"]
