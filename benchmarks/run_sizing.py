"""What one run needs: CPU seconds and peak memory of a Marathon round run and of a Verified Fan
campaign's runs, and the code location's own footprint, each measured in a fresh process.

    PYTHONPATH=. .venv/bin/python benchmarks/run_sizing.py [--coders 1000,5000] [--rows 100000] [--pg]
        [--code-server] [--daemon SECONDS]

Each run executes the way a launched run does (a run pod's process: import mm_platform.definitions,
build the definitions, execute the requested job in process with the requested partition and tags)
in its own child process, so `ru_maxrss` is that run's own peak, as a run pod's memory limit sees it.
CPU is user + sys seconds of the child (`getrusage`), which stays meaningful on a busy machine; wall
time is secondary. The stack is the embedded one: moto (AWS: S3, DynamoDB, Kinesis) and the Verified
Fan service stand-ins, each in its own process (not counted), SQLite files for the OLTP, DW and
platform databases (`--pg`: databases on the local PostgreSQL server instead), a DAGSTER_HOME with the
repository's dagster.yaml. moto emulates AWS in Python, so DynamoDB/Kinesis-bound wall time is
pessimistic; the run process's own CPU and RSS are what a pod needs.

What is measured:
  code location      a process that imports mm_platform.definitions and builds the definitions
  marathon N coders  the review-END sensor's job (marathon_round_job) for a seeded round of N coders
  vf file intake     verified_fan_file_job for one scored file of --rows rows (the bucket sensor's run)
  vf campaign        verified_fan_registrants_job for that campaign (the staged-parts sensor's run)
  code server idle   `dagster code-server start -m mm_platform.definitions` serving (--code-server):
                     RSS of its process tree after it answers, CPU spent to get there
  daemon idle        `dagster-daemon run` on workspace.yaml with a throwaway broker (--daemon SECONDS):
                     the daemon process, and the code server it starts, where sensor ticks run
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("MM_PLATFORM_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


# ---------------------------------------------------------------------------------------------------
# the child: one measured process


def _proc_status_kb(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def child(what: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Import the code location and build its definitions (as a run pod does), then execute `spec`'s
    run request in process. The numbers: the whole process, and the run alone."""
    wall0 = time.perf_counter()
    from dagster import AssetKey, DagsterInstance

    from mm_platform.definitions import defs

    defs.get_repository_def()  # resolves every job and sensor, as loading the code location does
    loaded = {"cpu": _cpu(), "wall": time.perf_counter() - wall0, "rss_mb": _proc_status_kb("VmRSS") / 1024}
    result: dict[str, Any] = {"what": what, "loaded": loaded}
    if spec.get("job"):
        instance = DagsterInstance.get()
        job = defs.resolve_job_def(spec["job"])
        selection = spec.get("asset_selection")
        run_cpu, run_wall = _cpu(), time.perf_counter()
        run = job.execute_in_process(
            instance=instance,
            partition_key=spec.get("partition_key"),
            tags=spec.get("tags") or {},
            asset_selection=[AssetKey(path) for path in selection] if selection else None,
            raise_on_error=False,
        )
        result["run"] = {"cpu": _cpu() - run_cpu, "wall": time.perf_counter() - run_wall}
        result["success"] = run.success
        result["materialized"] = {
            e.asset_key.path[-1]: {k: _plain(v.value) for k, v in e.materialization.metadata.items()}
            for e in run.get_asset_materialization_events()
        }
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu"] = _cpu()
    result["cpu_children"] = kids.ru_utime + kids.ru_stime
    result["maxrss_mb"] = max(me.ru_maxrss, kids.ru_maxrss) / 1024  # Linux: KiB
    result["wall"] = time.perf_counter() - wall0
    return result


def _plain(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)[:80]


def measure(what: str, env: dict[str, str], spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """`child` in a fresh interpreter with `env`; its JSON result."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        command = [
            sys.executable,
            __file__,
            "--child",
            what,
            "--spec",
            json.dumps(spec or {}),
            "--out",
            out.name,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        result = json.loads(Path(out.name).read_text())
    result["outer_wall"] = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------------------------------
# the stack


def base_env(tmp: Path, moto: str) -> dict[str, str]:
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_PLATFORM_")}
    pythonpath = os.pathsep.join(p for p in [str(REPO), env.get("PYTHONPATH", "")] if p)
    return env | {
        "PYTHONPATH": pythonpath,
        "DAGSTER_HOME": str(home),
        "MM_PLATFORM_STATE_DIR": str(tmp / "state"),
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto,
        # no broker is needed by a run; sensors are not evaluated in the measured processes
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    }


@contextlib.contextmanager
def databases(tmp: Path, pg: bool) -> Iterator[dict[str, str]]:
    """OLTP, DW and platform database URLs: SQLite files, or fresh PostgreSQL databases (dropped after)."""
    from sqlalchemy import create_engine, make_url, text

    from mm_platform.core.sql import dispose_engine

    names = ["OLTP", "DW", "PLATFORM"]
    if not pg:
        urls = {f"MM_PLATFORM_{n}_DB_URL": f"sqlite:///{tmp}/{n.lower()}.db" for n in names}
        try:
            yield urls
        finally:
            for url in urls.values():
                dispose_engine(url)
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    made = {n: f"mm_platform_sizing_{n.lower()}_{uuid.uuid4().hex[:8]}" for n in names}
    urls = {}
    with admin.connect() as conn:
        for n, db in made.items():
            conn.execute(text(f'CREATE DATABASE "{db}"'))
            urls[f"MM_PLATFORM_{n}_DB_URL"] = (
                make_url(PG_ADMIN).set(database=db).render_as_string(hide_password=False)
            )
    try:
        yield urls
    finally:
        for url in urls.values():
            dispose_engine(url)
        with admin.connect() as conn:
            for db in made.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def platform_schema(url: str) -> None:
    """The platform database's tables, as `mm-platform db upgrade` leaves them before a run."""
    from mm_platform.core.inbox import EventInbox
    from mm_platform.core.sql import engine_for

    EventInbox(engine_for(url)).create_schema()


# ---------------------------------------------------------------------------------------------------
# the measurements


def marathon(tmp: Path, moto: str, coders: int, pg: bool) -> dict[str, Any]:
    from dagster import DagsterInstance

    from mm_platform.core.sql import engine_for
    from mm_platform.marathon.dev.demo import seed_demo_round
    from mm_platform.marathon.dev.sample_data import load_sample_data

    tmp.mkdir()
    with databases(tmp, pg) as urls:
        tables = {
            "MM_PLATFORM_MEMBER_STATS_TABLE": f"member_stats_{tmp.name}",
            "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member_history_{tmp.name}",
        }
        env = base_env(tmp, moto) | urls | tables
        load_sample_data(urls["MM_PLATFORM_OLTP_DB_URL"])
        platform_schema(urls["MM_PLATFORM_PLATFORM_DB_URL"])
        demo = seed_demo_round(engine_for(urls["MM_PLATFORM_OLTP_DB_URL"]), coders)
        partition = str(demo.round_id)
        # the review-END sensor adds the round as a partition and requests the round's job
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            instance.add_dynamic_partitions("marathon_round", [partition])
        spec = {"job": "marathon_round_job", "partition_key": partition, "tags": {}}
        result = measure(f"marathon round, {coders:,} coders", env, spec)
    attendance = result.get("materialized", {}).get("long_comp_result_attendance", {})
    result["note"] = f"{attendance.get('marked_attended', '?')} attended"
    return result


def verified_fan(tmp: Path, moto: str, standins: str, rows: int, pg: bool) -> list[dict[str, Any]]:
    from dagster import DagsterInstance, build_sensor_context

    from mm_platform.core.aws import build_aws_resources
    from mm_platform.core.settings import Settings
    from mm_platform.definitions import build_definitions
    from mm_platform.verified_fan.dev.sample_data import scored_file
    from mm_platform.verified_fan.dev.stack import EMBEDDED_STREAM_SHARDS
    from mm_platform.verified_fan.settings import VerifiedFanSettings
    from mm_platform.verified_fan.stores.resources import demand_table_of
    from mm_platform.verified_fan.stores.services import CampaignService

    tmp.mkdir()
    suffix = tmp.name
    results = []
    with databases(tmp, pg) as urls:
        env = (
            base_env(tmp, moto)
            | urls
            | {
                "MM_PLATFORM_VF_SCORING_BUCKET": f"vf-scoring-{suffix}",
                "MM_PLATFORM_VF_DEMAND_TABLE": f"vf-demand-{suffix}",
                "MM_PLATFORM_VF_SCORES_STREAM": f"vf-scores-{suffix}",
                "MM_PLATFORM_VF_CAMPAIGN_DATA_STREAM": f"vf-campaign-data-{suffix}",
                "MM_PLATFORM_VF_ENTRY_SERVICE_URL": standins,
                "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": standins,
            }
        )
        platform_schema(urls["MM_PLATFORM_PLATFORM_DB_URL"])
        settings = Settings.from_env(env)
        vf, aws = settings.section(VerifiedFanSettings), build_aws_resources(settings)
        s3 = aws["s3"].get_client()
        s3.create_bucket(Bucket=vf.scoring_bucket)
        demand_table_of(settings).ensure()
        kinesis = aws["kinesis"].client("kinesis")
        for stream in (vf.scores_stream, vf.campaign_data_stream):
            kinesis.create_stream(StreamName=stream, ShardCount=EMBEDDED_STREAM_SHARDS)
        campaign = f"sizing-{rows}"
        CampaignService(base_url=standins).put_json(f"/campaigns/{campaign}", {"name": f"Sizing {rows:,}"})
        body = scored_file(rows, seed=5, campaigns=[campaign], events=["e1", "e2", "e3"])
        s3.put_object(Bucket=vf.scoring_bucket, Key=f"scrubbed/{campaign}.csv", Body=body)
        size = f"{len(body) / 1e6:.1f} MB file"

        defs = build_definitions(settings)
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:

            def tick(name: str) -> list:
                sensor = defs.get_repository_def().get_sensor_def(name)
                context = build_sensor_context(
                    instance=instance,
                    instance_ref=instance.get_ref(),
                    resources=defs.resources,
                    definitions=defs,
                )
                ticked = sensor.evaluate_tick(context)
                for request in ticked.dynamic_partitions_requests or []:
                    instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
                return ticked.run_requests

            def spec_of(request, default_job: str) -> dict[str, Any]:
                return {
                    "job": request.job_name or default_job,
                    "partition_key": request.partition_key,
                    "tags": dict(request.tags),
                    "asset_selection": [k.path for k in request.asset_selection]
                    if request.asset_selection
                    else None,
                }

            [intake] = tick("verified_fan_scoring_bucket_sensor")
            result = measure(f"vf file intake, {rows:,} rows", env, spec_of(intake, "verified_fan_file_job"))
            result["note"] = size
            results.append(result)
            [request] = tick("verified_fan_staged_parts_sensor")
            result = measure(f"vf campaign run, {rows:,} rows", env, spec_of(request, ""))
            scored = result.get("materialized", {}).get("scored_registrants", {})
            result["note"] = f"{scored.get('out', '?')} registrants"
            results.append(result)
    return results


def _tree(pid: int) -> list[int]:
    """pid and its descendants (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def code_server(tmp: Path, moto: str) -> dict[str, Any]:
    """An idle `dagster code-server start` after it serves: RSS and CPU of its process tree."""
    from mm_platform.core.devstack import free_port, stop_process

    tmp.mkdir()
    env = base_env(tmp, moto) | {
        f"MM_PLATFORM_{n}_DB_URL": f"sqlite:///{tmp}/{n.lower()}.db" for n in ["OLTP", "DW", "PLATFORM"]
    }
    port = free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            dagster,
            "code-server",
            "start",
            "-m",
            "mm_platform.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            check = subprocess.run(
                [dagster, "api", "grpc-health-check", "-p", str(port)], capture_output=True, env=env
            )
            if check.returncode == 0:
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the code server did not start serving")
            time.sleep(1)
        serving = time.perf_counter() - started
        time.sleep(10)  # idle
        pids = _tree(process.pid)
        rss = sum(_proc_status_kb("VmRSS", str(p)) for p in pids) / 1024
        hwm = sum(_proc_status_kb("VmHWM", str(p)) for p in pids) / 1024
        cpu = sum(_cpu_of(p) for p in pids)
    finally:
        stop_process(process.pid, timeout=20)
    return {
        "what": f"code server idle ({len(pids)} processes)",
        "cpu": cpu,
        "maxrss_mb": hwm,
        "wall": serving,
        "note": f"RSS now {rss:.0f} MiB; wall: until serving",
    }


def daemon(tmp: Path, moto: str, seconds: float) -> list[dict[str, Any]]:
    """An idle `dagster-daemon run` on workspace.yaml, with a throwaway broker, for `seconds`: the
    daemon process itself, and the code server it starts (where every sensor tick is evaluated)."""
    from _support import broker, start_daemon

    from mm_platform.core.devstack import stop_process

    tmp.mkdir()
    with broker() as bootstrap, databases(tmp, pg=False) as urls:
        env = base_env(tmp, moto) | urls | {"MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        platform_schema(urls["MM_PLATFORM_PLATFORM_DB_URL"])
        process = start_daemon(env)
        try:
            time.sleep(seconds)
            if process.poll() is not None:
                raise RuntimeError(f"the daemon exited ({process.returncode})")
            others = [p for p in _tree(process.pid) if p != process.pid]
            own = {
                "cpu": _cpu_of(process.pid),
                "maxrss_mb": _proc_status_kb("VmHWM", str(process.pid)) / 1024,
                "rss": _proc_status_kb("VmRSS", str(process.pid)) / 1024,
            }
            spawned = {
                "cpu": sum(_cpu_of(p) for p in others),
                "maxrss_mb": sum(_proc_status_kb("VmHWM", str(p)) for p in others) / 1024,
                "rss": sum(_proc_status_kb("VmRSS", str(p)) for p in others) / 1024,
            }
        finally:
            stop_process(process.pid, timeout=20)
    return [
        {
            "what": f"daemon process, idle {seconds:.0f} s",
            "cpu": own["cpu"],
            "maxrss_mb": own["maxrss_mb"],
            "wall": seconds,
            "note": f"RSS now {own['rss']:.0f} MiB; sensors and schedules on, nothing to do",
        },
        {
            "what": f"its code server ({len(others)} processes)",
            "cpu": spawned["cpu"],
            "maxrss_mb": spawned["maxrss_mb"],
            "wall": seconds,
            "note": f"RSS now {spawned['rss']:.0f} MiB; evaluates the sensor ticks",
        },
    ]


# ---------------------------------------------------------------------------------------------------


def row(result: dict[str, Any]) -> str:
    run = result.get("run")
    run_part = f"{run['cpu']:7.1f} {run['wall']:7.1f}" if run else f"{'':7} {'':7}"
    ok = {True: "", False: "  FAILED"}.get(result.get("success"), "")
    return (
        f"{result['what']:34} {result['cpu']:8.1f} {result['maxrss_mb']:9.0f} {result['wall']:8.1f}   "
        f"{run_part}   {result.get('note', '')}{ok}"
    )


HEADER = (
    f"{'what':34} {'CPU s':>8} {'peak MiB':>9} {'wall s':>8}   {'run CPU':>7} {'run wall':>7}   note\n"
    + "-" * 110
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coders", default="1000,5000", help="comma-separated round sizes; '' to skip")
    parser.add_argument("--rows", default="100000", help="comma-separated scored-file sizes; '' to skip")
    parser.add_argument("--pg", action="store_true", help="OLTP/DW/platform databases on PostgreSQL")
    parser.add_argument("--code-server", action="store_true", help="also an idle `dagster code-server`")
    parser.add_argument(
        "--daemon", type=float, default=0, help="also an idle `dagster-daemon run` for this many seconds"
    )
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        Path(args.out).write_text(json.dumps(child(args.child, json.loads(args.spec))))
        return

    from mm_platform.core.devstack import free_port, start_moto, start_standin, stop_process
    from mm_platform.core.domain import StandIn

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mm-sizing-") as name:
        tmp = Path(name)
        (tmp / "logs").mkdir()
        moto_port, standins_port = free_port(), free_port()
        moto_process = start_moto("127.0.0.1", moto_port, tmp / "logs" / "moto.log")
        standins = f"http://127.0.0.1:{standins_port}"
        standins_process = start_standin(
            StandIn("standins", standins, "mm_platform.verified_fan.dev.standins"), tmp
        )
        moto = f"http://127.0.0.1:{moto_port}"
        print(HEADER, flush=True)
        try:
            footprint_env = base_env(tmp / "defs", moto) | {
                f"MM_PLATFORM_{n}_DB_URL": f"sqlite:///{tmp}/{n.lower()}.db"
                for n in ["OLTP", "DW", "PLATFORM"]
            }
            measure("warm-up", footprint_env)  # byte-compiles a fresh checkout
            results.append(measure("code location (import + defs)", footprint_env))
            print(row(results[-1]), flush=True)
            for coders in [int(c) for c in args.coders.split(",") if c]:
                results.append(marathon(tmp / f"marathon{coders}", moto, coders, args.pg))
                print(row(results[-1]), flush=True)
            for rows in [int(r) for r in args.rows.split(",") if r]:
                for result in verified_fan(tmp / f"vf{rows}", moto, standins, rows, args.pg):
                    results.append(result)
                    print(row(result), flush=True)
            if args.code_server:
                results.append(code_server(tmp / "codeserver", moto))
                print(row(results[-1]), flush=True)
            if args.daemon:
                for result in daemon(tmp / "daemon", moto, args.daemon):
                    results.append(result)
                    print(row(result), flush=True)
        finally:
            stop_process(standins_process.pid)
            stop_process(moto_process.pid)
    storage = "PostgreSQL" if args.pg else "SQLite"
    print(
        f"\n{dt.date.today()}, {os.cpu_count()} cores, {storage} OLTP/DW/platform databases, moto for AWS. "
        "CPU s = user+sys of the run's process (its children included), peak MiB = its ru_maxrss; "
        "run CPU/wall = the job's execution alone (the rest is importing and building the definitions)."
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
