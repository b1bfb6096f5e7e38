"""Ordered schema migrations of the metadata database.

``MIGRATIONS[i]`` upgrades a store from schema version ``i`` to ``i + 1``. A migration is
append-only: once released it is never edited, a later one changes what it made. Each runs in
the same transaction as the version bump, so a kill in the middle leaves the old version.
Times are ISO-8601 strings in UTC (they sort as text and read the same in every client).
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: snapshots, their files, the event log
    """
    CREATE TABLE schema_version (
        version INTEGER NOT NULL,
        applied_at VARCHAR NOT NULL
    );
    CREATE TABLE snapshots (
        id VARCHAR PRIMARY KEY,
        created_at VARCHAR NOT NULL,
        git_commit VARCHAR,
        git_branch VARCHAR,
        git_dirty BOOLEAN NOT NULL,
        in_git BOOLEAN NOT NULL,
        config_path VARCHAR NOT NULL,
        config_hash VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        profile VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL
    );
    CREATE TABLE snapshot_files (
        snapshot_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        hash VARCHAR NOT NULL,
        bytes BIGINT NOT NULL,
        rows BIGINT,
        kind VARCHAR NOT NULL,
        PRIMARY KEY (snapshot_id, path)
    );
    CREATE SEQUENCE event_id START 1;
    CREATE TABLE events (
        id BIGINT PRIMARY KEY DEFAULT nextval('event_id'),
        ts VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        level VARCHAR NOT NULL,
        message VARCHAR NOT NULL,
        snapshot_id VARCHAR,
        data VARCHAR NOT NULL
    );
    """,
    # 2: the model registry and the append-only champion history
    """
    CREATE TABLE model_versions (
        number INTEGER PRIMARY KEY,
        snapshot_id VARCHAR NOT NULL,
        config_hash VARCHAR NOT NULL,
        git_commit VARCHAR,
        git_dirty BOOLEAN NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        task VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        metrics VARCHAR NOT NULL,
        gate VARCHAR,
        model_hash VARCHAR,
        meta_hash VARCHAR,
        rows BIGINT,
        timings VARCHAR NOT NULL,
        error VARCHAR
    );
    CREATE SEQUENCE champion_event_id START 1;
    CREATE TABLE champion_history (
        id BIGINT PRIMARY KEY DEFAULT nextval('champion_event_id'),
        ts VARCHAR NOT NULL,
        number INTEGER NOT NULL,
        previous INTEGER,
        actor VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        reason VARCHAR NOT NULL
    );
    """,
    # 3: drift: the cached reference of each version, and results per (current, reference)
    """
    CREATE TABLE drift_references (
        number INTEGER PRIMARY KEY,
        snapshot_id VARCHAR NOT NULL,
        object_hash VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        max_time VARCHAR,
        created_at VARCHAR NOT NULL
    );
    CREATE TABLE drift_results (
        current_snapshot VARCHAR NOT NULL,
        number INTEGER NOT NULL,
        reference_snapshot VARCHAR NOT NULL,
        computed_at VARCHAR NOT NULL,
        dataset_drift BOOLEAN,
        drift_share DOUBLE,
        result VARCHAR NOT NULL,
        PRIMARY KEY (current_snapshot, number)
    );
    """,
    # 4: per-file data profiles by content (profile format, parse format, content hash), so a
    # file that is in an earlier snapshot is never profiled again
    """
    CREATE TABLE file_profiles (
        key VARCHAR PRIMARY KEY,
        profile VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL
    );
    """,
    # 5: the prediction log: one row per Parquet object of scored rows (``predictions.py``)
    """
    CREATE SEQUENCE prediction_batch_id START 1;
    CREATE TABLE prediction_log (
        id BIGINT PRIMARY KEY DEFAULT nextval('prediction_batch_id'),
        object_hash VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        versions VARCHAR[] NOT NULL,
        first_ts VARCHAR NOT NULL,
        last_ts VARCHAR NOT NULL,
        written_at VARCHAR NOT NULL
    );
    """,
    # 6: what ``workbench export mlflow`` put where (``exports.py``): one row per tracking
    # server and experiment, one per exported version there
    """
    CREATE TABLE mlflow_targets (
        tracking_uri VARCHAR NOT NULL,
        experiment VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        registered_model VARCHAR NOT NULL,
        champion INTEGER,
        exported_at VARCHAR NOT NULL,
        PRIMARY KEY (tracking_uri, experiment)
    );
    CREATE TABLE mlflow_runs (
        tracking_uri VARCHAR NOT NULL,
        experiment VARCHAR NOT NULL,
        number INTEGER NOT NULL,
        run_id VARCHAR NOT NULL,
        model_id VARCHAR,
        registered_model VARCHAR,
        model_version VARCHAR,
        status VARCHAR NOT NULL,
        drift_results INTEGER NOT NULL,
        exported_at VARCHAR NOT NULL,
        PRIMARY KEY (tracking_uri, experiment, number)
    );
    """,
    # 7: governance decisions (``governance.py``), append-only: approve / reject of a pending
    # version, unpin of a rollback's pin (``change_id``: the champion change it releases)
    """
    CREATE SEQUENCE governance_id START 1;
    CREATE TABLE governance (
        id BIGINT PRIMARY KEY DEFAULT nextval('governance_id'),
        ts VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        number INTEGER,
        change_id BIGINT,
        actor VARCHAR NOT NULL,
        reason VARCHAR NOT NULL
    );
    """,
    # outcome monitoring (``outcomes.py``): each version's monitoring reference, its chunks,
    # and one row per (version, chunk, metric or KPI) with realized, estimated, SE and band
    """
    CREATE TABLE monitor_references (
        number INTEGER PRIMARY KEY,
        object_hash VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        created_at VARCHAR NOT NULL
    );
    CREATE TABLE monitor_chunks (
        number INTEGER NOT NULL,
        key VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        snapshot_id VARCHAR,
        start_ts VARCHAR,
        end_ts VARCHAR,
        rows BIGINT NOT NULL,
        labelled BIGINT NOT NULL,
        computed_at VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (number, key)
    );
    CREATE TABLE monitor_metrics (
        number INTEGER NOT NULL,
        key VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        realized DOUBLE,
        estimated DOUBLE,
        se DOUBLE,
        lower DOUBLE,
        upper DOUBLE,
        alert BOOLEAN NOT NULL,
        PRIMARY KEY (number, key, name)
    );
    """,
    # the engine that trained each version ([train] engine): local | dask
    """
    ALTER TABLE model_versions ADD COLUMN engine VARCHAR DEFAULT 'local';
    """,
    # small files may be stored in packs (``objects.py``, ``chunks.store_small``): no table
    # changes, but a workbench that knows only up to the previous version would not find
    # them, and its gc would remove them, so it must refuse this store
    """
    CREATE TABLE store_formats (name VARCHAR PRIMARY KEY, workbench VARCHAR NOT NULL);
    INSERT INTO store_formats VALUES ('small-file packs', '0.1.0');
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
