"""The Arena anti-corruption layer: the three Arena topics -> the arena_data ledger -> gjennomføring,
deltaker and hist deltaker processors -> AMT deltaker messages (spec arena-acl.md)."""

from __future__ import annotations

from mm_platform.arena.defs.definitions import arena_definitions
from mm_platform.arena.dev import stack
from mm_platform.arena.dev.cli import arena, demo
from mm_platform.arena.settings import ArenaSettings
from mm_platform.arena.stores import ledger_store
from mm_platform.core.domain import Domain

ARENA = Domain(
    name="arena",
    settings=ArenaSettings,
    definitions=arena_definitions,
    commands=[arena],
    demo=demo,
    topics=stack.topics,
    standins=stack.standins,
    prepare_stack=stack.prepare_stack,
    metadata=[ledger_store.metadata],
)
