"""`mm-platform`: the operator's tool. Core's commands (dev stack, publish, inbox, replay, demo) and
whatever commands the registered domains add; `mm_platform/cli.py` builds it from the registry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import click

from mm_platform.core.cli_common import inbox_of, kafka_of, load_settings
from mm_platform.core.cli_db import db_group
from mm_platform.core.devconsole import InboxFollower, relay_output
from mm_platform.core.devstack import DAGSTER, REPO_ROOT, Stack, dev_environment
from mm_platform.core.domain import Domain
from mm_platform.core.inbox import Status
from mm_platform.core.kafka import KafkaUnavailableError
from mm_platform.core.settings import SettingsError


class _Main(click.Group):
    """A bad setting ends any command with its message, whenever the command reads it."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc


def _default_stop_signals() -> None:
    """In the child: SIGINT/SIGTERM back to their defaults. A shell that starts us in the background
    ignores SIGINT, and an ignored signal stays ignored across exec, so `dg dev` would not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def build_cli(domains: Sequence[Domain]) -> click.Group:
    sections = [d.settings for d in domains]

    @click.group(cls=_Main)
    def main() -> None:
        """mm_platform operator commands. Settings come from MM_PLATFORM_* variables (see README)."""

    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=3000, show_default=True, type=int)
    def dev(host: str, port: int) -> None:
        """Start the embedded stack and the Dagster UI + daemon (sensors on); Ctrl-C stops it all."""
        settings = load_settings(sections)
        if not settings.embedded:
            raise click.ClickException("`dev` runs the embedded stack; unset MM_PLATFORM_ENV=production")
        stack = Stack(settings, domains)
        started = stack.up()
        log = settings.state_dir / "logs" / "dagster.log"
        click.echo(f"embedded stack ready (started: {', '.join(started) or 'nothing, already running'})")
        click.echo(f"state folder {settings.state_dir}; Dagster's full log: {log}")
        command = [
            str(Path(sys.executable).with_name("dg")),
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "--host",
            host,
            "--port",
            str(port),
        ]
        # run from DAGSTER_HOME: the repository's own dagster.yaml would otherwise be reported as ignored
        process = subprocess.Popen(
            command,
            cwd=settings.dagster_home,
            env=dev_environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_stop_signals,
        )
        stack.remember({DAGSTER: process.pid})
        assert process.stdout is not None
        threading.Thread(target=relay_output, args=(process.stdout, log, click.echo), daemon=True).start()
        following = threading.Event()
        follower = InboxFollower(inbox_of(settings), click.echo)
        threading.Thread(target=follower.follow, args=(following,), daemon=True).start()
        click.echo(
            f"Dagster UI on http://{host}:{port} (once it is up); events are listed here as they settle"
        )

        def stop(signum: int, _frame: object) -> None:
            raise KeyboardInterrupt

        # Ctrl-C and a plain `kill` both stop everything; installed explicitly because a shell that
        # starts us in the background would have SIGINT ignored
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            process.wait()
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            click.echo("stopping Dagster ...")
            # `dg dev` shuts its webserver, daemon and code servers down cleanly on SIGINT only
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        finally:
            following.set()
            stack.down({DAGSTER: process.pid} | started)
            if started:
                click.echo(f"stopped {', '.join(sorted(started))}")
        sys.exit(process.returncode or 0)

    @main.group()
    def stack() -> None:
        """The embedded stack (Tansu broker, moto, stand-ins, state folder) on its own."""

    @stack.command("up")
    def stack_up() -> None:
        """Start the broker, moto and the stand-ins in the background and prepare every domain."""
        settings = load_settings(sections)
        started = Stack(settings, domains).up()
        click.echo(f"started: {', '.join(sorted(started)) or 'nothing (already running)'}")
        click.echo(f"export DAGSTER_HOME={settings.dagster_home}")

    @stack.command("down")
    def stack_down() -> None:
        """Stop the processes `stack up` (or a `dev` that was killed) started."""
        stopped = Stack(load_settings(), domains).down()
        click.echo(f"stopped: {', '.join(stopped) or 'nothing'}")

    @stack.command("status")
    def stack_status() -> None:
        """Which services answer, and the inbox counts by status."""
        settings = load_settings()
        for name, up in Stack(settings, domains).status().items():
            click.echo(f"{name:9} {'up' if up else 'DOWN'}")
        counts = inbox_of(settings).counts()
        click.echo("inbox     " + (", ".join(f"{s}={n}" for s, n in sorted(counts.items())) or "empty"))

    samples = {name: make for d in domains for name, make in d.samples.items()}

    @main.command()
    @click.argument("topic")
    @click.option("--json", "json_text", help="the message value (a JSON document)")
    @click.option(
        "--file", "json_file", type=click.Path(exists=True, dir_okay=False), help="read the value from a file"
    )
    @click.option("--raw", is_flag=True, help="send the value as it is, without checking it is JSON")
    @click.option("--key", default=None, help="message key")
    @click.option("--sample", type=click.Choice(sorted(samples)), help="send a built-in sample event")
    def publish(
        topic: str,
        json_text: str | None,
        json_file: str | None,
        raw: bool,
        key: str | None,
        sample: str | None,
    ) -> None:
        """Publish one message to TOPIC (use '-' with --file for standard input)."""
        sources = [v for v in (json_text, json_file, sample) if v]
        if len(sources) != 1:
            raise click.UsageError("give exactly one of --json, --file or --sample")
        if sample:
            value = samples[sample]()
        elif json_file:
            value = Path(json_file).read_text()
        else:
            value = json_text or ""
        if not raw:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"not JSON ({exc}); pass --raw to send it anyway") from exc
        try:
            kafka_of(load_settings()).produce(topic, [value.encode()], key=key)
        except KafkaUnavailableError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"published 1 message to {topic}")

    @main.command()
    @click.option("--status", "statuses", multiple=True, type=click.Choice([s.value for s in Status]))
    @click.option("--topic", default=None)
    @click.option("--entity", default=None, help="entity key, e.g. project-30373282")
    @click.option("--after-id", default=0, type=int, help="keyset paging: the last id of the previous page")
    @click.option("--limit", default=50, type=int, show_default=True)
    def inbox(
        statuses: tuple[str, ...], topic: str | None, entity: str | None, after_id: int, limit: int
    ) -> None:
        """List inbox events by status (oldest first)."""
        events = inbox_of(load_settings()).select(
            statuses=[Status(s) for s in statuses] or None,
            topic=topic,
            entity_key=entity,
            after_id=after_id,
            limit=limit,
        )
        for e in events:
            # a Kafka message by its coordinates; an object (an S3 file) is named by its entity key
            where = e.topic if e.source_ref else f"{e.topic}[{e.partition}]@{e.offset}"
            click.echo(
                f"{e.id:>7} {e.status.value:8} {where} {e.event_type or '-':22} {e.entity_key or '-':20} "
                f"partition={e.partition_key or '-'} attempts={e.attempts} {e.reason or ''}"
            )
        if len(events) == limit:
            click.echo(f"-- more: --after-id {events[-1].id}")

    @main.command()
    @click.option("--topic", required=True)
    @click.option("--entity", "entities", multiple=True, help="only these entity keys (default: all)")
    @click.option(
        "--status",
        "statuses",
        multiple=True,
        default=("HANDLED", "FAILED"),
        show_default=True,
        type=click.Choice([s.value for s in Status]),
    )
    def replay(topic: str, entities: tuple[str, ...], statuses: tuple[str, ...]) -> None:
        """Put the newest event of each entity back to RETRY; the topic's retry schedule runs it again."""
        count = inbox_of(load_settings()).replay(
            topic, entity_keys=list(entities) or None, statuses=[Status(s) for s in statuses]
        )
        click.echo(f"{count} event(s) set to RETRY")

    main.add_command(db_group(domains))
    demos = {d.name: d.demo for d in domains if d.demo is not None}
    if demos:
        main.add_command(_demo_command(demos))
    for domain in domains:
        for command in domain.commands:
            main.add_command(command)
    return main


def _demo_command(demos: dict[str, click.Command]) -> click.Command:
    first = next(iter(demos))
    lines = []
    for name, command in demos.items():
        options = " ".join(
            f"[{p.opts[0]} {p.default}]" for p in command.params if isinstance(p, click.Option)
        )
        lines.append(f"--domain {name} {options}: {(command.help or '').strip().splitlines()[0]}")

    @click.command(
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help="Show a flow end to end on the running stack (`make dev`); exits 1 if anything failed.\n\n"
        + "\n\n".join(lines),
    )
    @click.option("--domain", type=click.Choice(sorted(demos)), default=first, show_default=True)
    @click.pass_context
    def demo(ctx: click.Context, domain: str) -> None:
        # the domain's own options (`--rows`, `--coders`, ...) are its demo command's
        demos[domain].main(
            args=ctx.args, prog_name=f"mm-platform demo --domain {domain}", standalone_mode=False
        )

    return demo
