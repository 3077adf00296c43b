"""The Arena ACL as lineage: the three Arena topics -> the `arena_data` ledger and the translation
tables -> the outbox -> the two AMT topics. One job materializes both steps: a processing run settles
ledger rows (counts per status in its metadata), then the relay produces what they published."""

from dagster import (
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from mm_platform.arena.stores.ledger_run import process_ledger
from mm_platform.arena.stores.ledger_store import ArenaStore
from mm_platform.arena.stores.lookups import AmtTiltakApi, CachedOrds, MulighetsrommetApi, OrdsApi
from mm_platform.arena.stores.outbox import OutboxRelay
from mm_platform.arena.stores.processors import ArenaProcessor
from mm_platform.arena.stores.resources import ArenaResource
from mm_platform.core.catalog import Catalog
from mm_platform.core.inbox import InboxResource, utcnow
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for

ARENA = Catalog("arena", owners=["team:amt"])
GROUP = ARENA.domain
CODE_VERSION = "1"  # bump when what a ledger run computes changes

gjennomforing_events = ARENA.spec(
    "tiltakgjennomforing_events",
    kinds={"kafka"},
    description="Arena's SIAMO.TILTAKGJENNOMFORING changes (GoldenGate JSON).",
)
deltaker_events = ARENA.spec(
    "tiltakdeltaker_events", kinds={"kafka"}, description="Arena's SIAMO.TILTAKDELTAKER changes."
)
hist_deltaker_events = ARENA.spec(
    "hist_tiltakdeltaker_events",
    kinds={"kafka"},
    description="Arena's SIAMO.HIST_TILTAKDELTAKER changes (deltakere moved to history).",
)
INPUT_EVENTS = [gjennomforing_events, deltaker_events, hist_deltaker_events]

LEDGER = ARENA.key("arena_data")
GJENNOMFORING = ARENA.key("gjennomforing")
DELTAKER = ARENA.key("deltaker")
TRANSLATION = ARENA.key("id_translation")
OUTBOX = ARENA.key("amt_outbox")
AMT_TOPIC = ARENA.key("amt_tiltak_topic")
ENKELTPLASS_TOPIC = ARENA.key("amt_enkeltplass_topic")


def store_of(inbox: InboxResource) -> ArenaStore:
    return ArenaStore.open(engine_for(inbox.database_url))


class LedgerRunConfig(Config):
    include_failed: bool = Field(
        default=False, description="also retry FAILED rows (the nightly run); RETRY rows always when due"
    )


@multi_asset(
    name="process_arena_ledger",
    specs=[
        ARENA.spec(
            "arena_data",
            deps=INPUT_EVENTS,
            kinds={"sql"},
            code_version=CODE_VERSION,
            description=(
                "The ledger: every Arena message with its ingest status (NEW, HANDLED, RETRY, WAITING, "
                "FAILED, IGNORED, INVALID, EXTERNAL_SOURCE). A run settles NEW rows and due retries."
            ),
        ),
        ARENA.spec(
            "gjennomforing",
            deps=[LEDGER],
            kinds={"sql"},
            code_version=CODE_VERSION,
            description="Gjennomføringer: tiltakskode, validity, Mulighetsrommet id.",
        ),
        ARENA.spec(
            "deltaker",
            deps=[LEDGER],
            kinds={"sql"},
            code_version=CODE_VERSION,
            description="Handled deltakere with their raw Arena values (the hist matcher reads them).",
        ),
        ARENA.spec(
            "id_translation",
            deps=[LEDGER],
            kinds={"sql"},
            code_version=CODE_VERSION,
            description="Arena id <-> AMT id, for deltakere and hist deltakere.",
        ),
        ARENA.spec(
            "amt_outbox",
            deps=[LEDGER],
            kinds={"sql"},
            code_version=CODE_VERSION,
            description="Output messages written with the ledger row that published them.",
        ),
    ],
)
def process_arena_ledger(
    context: AssetExecutionContext,
    config: LedgerRunConfig,
    inbox: InboxResource,
    arena: ArenaResource,
    mulighetsrommet: MulighetsrommetApi,
    ords: OrdsApi,
    amt_tiltak: AmtTiltakApi,
):
    store, now = store_of(inbox), utcnow()
    cached_ords = CachedOrds(ords)
    processor = ArenaProcessor(
        store,
        mulighetsrommet,
        cached_ords,
        amt_tiltak,
        arena.output_topics,
        arena.local_now(now),
        lookup_workers=arena.lookup_workers,
    )
    stats = process_ledger(
        store,
        processor,
        arena.input_topics,
        now=now,
        batch_size=arena.batch_size,
        include_failed=config.include_failed,
    )
    totals = store.status_counts(arena.input_topics)
    context.log.info(f"settled {dict(stats.by_status)}; {stats.published} message(s) to publish")
    ledger_metadata = {
        **stats.as_metadata(),
        "person lookups": cached_ords.misses,
        "person lookups answered from the run's cache": cached_ords.hits,
        "ledger by topic and status": MetadataValue.json(totals),
    }
    yield MaterializeResult(asset_key=LEDGER, metadata=ledger_metadata)
    for key in (GJENNOMFORING, DELTAKER, TRANSLATION):
        yield MaterializeResult(asset_key=key, metadata={"rows processed": sum(stats.by_status.values())})
    yield MaterializeResult(asset_key=OUTBOX, metadata={"messages added": stats.published})


@multi_asset(
    name="publish_amt_deltakere",
    specs=[
        ARENA.spec(
            "amt_tiltak_topic",
            deps=[OUTBOX],
            kinds={"kafka"},
            code_version=CODE_VERSION,
            description="amt.amt-tiltak-v1: the AMT envelope around the deltaker.",
        ),
        ARENA.spec(
            "amt_enkeltplass_topic",
            deps=[OUTBOX],
            kinds={"kafka"},
            code_version=CODE_VERSION,
            description="amt.arena-enkeltplass-deltaker-v1: the bare AmtDeltaker of enkeltplass deltakere.",
        ),
    ],
)
def publish_amt_deltakere(
    context: AssetExecutionContext, inbox: InboxResource, arena: ArenaResource, kafka: KafkaResource
):
    report = OutboxRelay(store_of(inbox), kafka).relay([arena.amt_topic, arena.enkeltplass_topic])
    context.log.info(f"produced {report.produced}; {report.recovered} recovered from a previous relay")
    for key, topic in ((AMT_TOPIC, arena.amt_topic), (ENKELTPLASS_TOPIC, arena.enkeltplass_topic)):
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "topic": topic,
                "messages produced": report.produced.get(topic, 0),
                "found already produced (recovered)": report.recovered,
            },
        )
