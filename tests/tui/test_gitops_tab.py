"""The lab panel's GitOps tab: only for labs with agents, and kept current by the GitOps feed's watches (here on
an in-memory cluster): a sync that becomes ready is redrawn with no key pressed, and a lost API is said."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from engine.checks.memory import MemoryCluster
from engine.checks.reader import ApiResource
from engine.tui.app import DriftlabApp
from engine.tui.screens.lesson import LessonScreen
from engine.tui.widgets.gitops_panel import GitOpsPanel
from engine.tui.widgets.lab_panel import LabPanel

from .fakes import BASICS, PIPELINES
from .pilots import Messages, settle

SOURCES = ApiResource("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", True, "gitrepository")
SYNCS = ApiResource("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", True, "kustomization")
Journey = Callable[[DriftlabApp, Pilot[Any], Messages], Awaitable[None]]


def flux_object(kind: str, name: str, ready: str, message: str) -> dict[str, Any]:
    group = "source" if kind == "GitRepository" else "kustomize"
    return {
        "apiVersion": f"{group}.toolkit.fluxcd.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "flux-system"},
        "status": {
            "conditions": [{"type": "Ready", "status": ready, "reason": "Progressing", "message": message}],
            "artifact": {"revision": "main@sha1:" + "4f9c2e1a" * 5},
            "lastAppliedRevision": "main@sha1:" + "4f9c2e1a" * 5 if ready == "True" else "",
        },
    }


def drive(app: DriftlabApp, journey: Journey) -> None:
    messages = Messages()

    async def run() -> None:
        async with app.run_test(size=(120, 40), message_hook=messages.hook) as pilot:
            await journey(app, pilot, messages)

    asyncio.run(run())


def cells(table: DataTable[Text]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def test_the_gitops_tab_follows_the_agents_objects_as_they_change(fake_app: Any) -> None:
    cluster = MemoryCluster()
    for resource in (SOURCES, SYNCS):
        cluster.serve(resource)
    cluster.put(flux_object("GitRepository", "fleet", "True", "stored artifact"))
    cluster.put(flux_object("Kustomization", "shop", "Unknown", "Reconciliation in progress"))

    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await messages.wait_for(lambda m: isinstance(m, LessonScreen.AgentsUpdated) and len(m.rows) == 2)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        await pilot.press("l")
        await pilot.pause()
        assert screen.query_one(LabPanel).query_one(TabbedContent).active == "tab-gitops"
        table = screen.query_one("#gitops-table", DataTable)
        assert cells(table) == [
            ["gitrepo", "fleet", "main@sha1:4f9c2e1a", "True", "stored artifact"],
            ["ks", "shop", "-", "Unknown", "Reconciliation in progress"],
        ]
        state = str(screen.query_one("#gitops-state").render())
        assert state == "1 source, 1 sync in flux-system  1 ready  1 reconciling"

        cluster.put(flux_object("Kustomization", "shop", "True", "Applied revision: main@sha1:4f9c2e1a"))
        await messages.wait_for(lambda m: isinstance(m, LessonScreen.AgentsUpdated) and m.rows[1].ready == "True")
        await pilot.pause()
        assert cells(table)[1] == ["ks", "shop", "main@sha1:4f9c2e1a", "True", "Applied revision: main@sha1:4f9c2e1a"]
        assert str(screen.query_one("#gitops-state").render()) == "1 source, 1 sync in flux-system  2 ready"

        cluster.disconnect()
        await messages.wait_for(lambda m: isinstance(m, LessonScreen.AgentsConnection) and not m.connected)
        await pilot.pause()
        assert "Lost the connection to the lab; reconnecting…" in str(screen.query_one("#gitops-state").render())

    drive(fake_app(course=str(BASICS), agents=["flux"], cluster=cluster), journey)


def test_only_labs_with_agents_have_a_gitops_tab(fake_app: Any) -> None:
    async def journey(app: DriftlabApp, pilot: Pilot[Any], messages: Messages) -> None:
        await settle(pilot)
        titles = [tab.title for tab in app.screen.query_one(LabPanel).tabs]
        assert titles == ["Resources", "Git", "Pipelines"]
        assert not app.screen.query(GitOpsPanel)

    drive(fake_app(course=str(PIPELINES)), journey)
