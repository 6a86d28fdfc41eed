"""The lab panel: one tab per view of the lab (cluster resources, Git, pipelines, GitOps).

Tabs are listed in LAB_TABS; a view added later is one more entry there and a widget of its own, nothing else
changes. A tab may need the lab to have Git repos (Git, pipelines) or GitOps agents (GitOps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

from .git_panel import GitPanel
from .gitops_panel import GitOpsPanel
from .pipeline_panel import PipelinePanel
from .resources_panel import ResourcesPanel

Clock = Callable[[], float]


@dataclass(frozen=True)
class LabTab:
    """A tab: its id, title, the widget it holds (made from the clock and the lab's agents), and whether it
    needs the lab to have Git repos or GitOps agents."""

    id: str
    title: str
    make: Callable[[Clock, Sequence[str]], Widget]
    needs_repos: bool = False
    needs_agents: bool = False


LAB_TABS: tuple[LabTab, ...] = (
    LabTab("resources", "Resources", lambda clock, agents: ResourcesPanel(id="resources")),
    LabTab("git", "Git", lambda clock, agents: GitPanel(clock, id="git"), needs_repos=True),
    LabTab("pipelines", "Pipelines", lambda clock, agents: PipelinePanel(clock, id="pipelines"), needs_repos=True),
    LabTab("gitops", "GitOps", lambda clock, agents: GitOpsPanel(agents, id="gitops"), needs_agents=True),
)


class LabPanel(Vertical):
    """The tabs that apply to this lab; `cycle()` shows the next one."""

    DEFAULT_CSS = """
    LabPanel {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        background: $surface;
    }
    LabPanel TabbedContent { height: 1fr; }
    LabPanel TabPane { padding: 0; height: 1fr; }
    LabPanel.-single ContentTabs { display: none; }
    """

    def __init__(self, clock: Clock, has_repos: bool, agents: Sequence[str] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.agents = list(agents)
        self.tabs = [
            tab for tab in LAB_TABS if (has_repos or not tab.needs_repos) and (self.agents or not tab.needs_agents)
        ]
        self.border_title = "Lab" if len(self.tabs) > 1 else f"Lab · {self.tabs[0].title}"
        self.set_class(len(self.tabs) == 1, "-single")

    def compose(self) -> ComposeResult:
        with TabbedContent(id="lab-tabs"):
            for tab in self.tabs:
                with TabPane(tab.title, id=f"tab-{tab.id}"):
                    yield tab.make(self.clock, self.agents)

    def cycle(self) -> None:
        tabs = self.query_one(TabbedContent)
        ids = [f"tab-{tab.id}" for tab in self.tabs]
        if tabs.active in ids:
            tabs.active = ids[(ids.index(tabs.active) + 1) % len(ids)]
