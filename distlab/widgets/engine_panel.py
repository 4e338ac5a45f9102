"""EnginePanel: run one of chapter 16's experiments on real etcd or Redis, read its history.

Choose an experiment and a seed, press Run: the panel calls the same function the chapter
calls (`distlab.engines.etcd_experiment` / `redis_experiment`), then shows its row of the
summary table (`distlab.engines.summary_rows`: verdict, stale reads, acknowledged writes
lost, ...) and a `HistoryExplorer` on the history it recorded, opened on the
counterexample if there is one.

Real servers are needed: an experiment whose binary is missing is not run; the panel says
what is missing and how to install it (`distlab.engines.check_engines`'s message) and its
Run button stays disabled, so the chapter degrades the way its first cell does.

The logic is `ENGINE_EXPERIMENTS` (what can be run, and what it needs), `missing_engines`
and `result_html`; tests drive the widget with ``panel.run()`` (what the button calls) and
read ``panel.last``, ``panel.status.value`` and ``panel.explorer``.
"""

from __future__ import annotations

import html
import importlib.util
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ipywidgets as widgets

from distlab.engines import (
    ExperimentResult,
    ServerError,
    check_engines,
    etcd_experiment,
    redis_experiment,
    summary_rows,
)
from distlab.widgets.history_explorer import HistoryExplorer

__all__ = [
    "ENGINE_EXPERIMENTS",
    "EngineExperiment",
    "EnginePanel",
    "missing_engines",
    "result_html",
]


@dataclass(frozen=True)
class EngineExperiment:
    """One experiment the panel offers: its title, the server binaries (and Python client
    packages) it needs, and how to run it for a seed (a call into `distlab.engines`)."""

    title: str
    binaries: tuple[str, ...]
    run: Callable[[int], ExperimentResult]
    packages: tuple[str, ...] = ()


ENGINE_EXPERIMENTS: dict[str, EngineExperiment] = {
    "etcd-linearizable": EngineExperiment(
        "etcd · linearizable reads, under a nemesis",
        ("etcd",),
        lambda seed: etcd_experiment("linearizable", seed=seed),
    ),
    "etcd-serializable": EngineExperiment(
        "etcd · serializable reads from a cut-off follower",
        ("etcd",),
        lambda seed: etcd_experiment("serializable", seed=seed),
    ),
    "redis-cut": EngineExperiment(
        "Redis · replica reads, replication cut, failover by hand",
        ("redis-server",),
        lambda seed: redis_experiment(seed=seed),
        ("redis",),
    ),
    "redis-no-cut": EngineExperiment(
        "Redis · replica reads, failover by hand, no cut",
        ("redis-server",),
        lambda seed: redis_experiment(seed=seed, cut_at_s=None),
        ("redis",),
    ),
}


def missing_engines(binaries: tuple[str, ...], packages: tuple[str, ...] = ()) -> str | None:
    """None when every binary and client package is installed; otherwise what is missing
    and how to install it."""
    try:
        check_engines(binaries)
    except ServerError as error:
        return str(error)
    absent = [name for name in packages if importlib.util.find_spec(name) is None]
    if absent:
        return (
            f"Python package(s) not installed: {', '.join(absent)} (pip install {' '.join(absent)})"
        )
    return None


def result_html(result: ExperimentResult) -> str:
    """The experiment's row of the chapter's summary table, plus its faults and notes."""
    row = summary_rows([result.summary])[0]
    head = "".join(f"<th style='padding:0 8px;text-align:left'>{html.escape(k)}</th>" for k in row)
    cells = "".join(f"<td style='padding:0 8px'>{html.escape(str(v))}</td>" for v in row.values())
    faults = ", ".join(str(event) for event in result.faults) or "none"
    return (
        "<div class='distlab-engine-result' style='font-size:13px;line-height:1.45'>"
        f"<table style='border-collapse:collapse'><tr>{head}</tr><tr>{cells}</tr></table>"
        f"<div>faults: {html.escape(faults)}</div>"
        + (f"<div>{html.escape(result.notes)}</div>" if result.notes else "")
        + "</div>"
    )


class EnginePanel(widgets.VBox):
    """Experiment dropdown, seed, Run; then the result row and a HistoryExplorer.

    ``experiments`` defaults to `ENGINE_EXPERIMENTS` (a test may pass its own table).
    Running blocks the kernel for the experiment's few seconds, as the chapter's cells do.
    """

    def __init__(
        self,
        experiments: Mapping[str, EngineExperiment] | None = None,
        *,
        experiment: str | None = None,
        seed: int = 1,
    ) -> None:
        self.experiments = dict(experiments if experiments is not None else ENGINE_EXPERIMENTS)
        if not self.experiments:
            raise ValueError("EnginePanel needs at least one experiment")
        if experiment is None:
            experiment = next(iter(self.experiments))
        if experiment not in self.experiments:
            raise ValueError(
                f"no experiment named {experiment!r}; choose one of {sorted(self.experiments)}"
            )
        self.choice = widgets.Dropdown(
            options=[(e.title, name) for name, e in self.experiments.items()],
            value=experiment,
            description="experiment",
            layout=widgets.Layout(width="460px"),
        )
        self.seed = widgets.BoundedIntText(
            value=seed,
            min=0,
            max=1_000_000,
            description="seed",
            layout=widgets.Layout(width="160px"),
        )
        self.run_button = widgets.Button(
            description="Run", icon="play", button_style="primary", tooltip="run it on real servers"
        )
        self.status = widgets.HTML()
        self.result = widgets.HTML()
        self.explorer_box = widgets.VBox()
        self.explorer: HistoryExplorer | None = None
        self.last: ExperimentResult | None = None
        self.run_button.on_click(lambda _button: self.run())
        self.choice.observe(lambda _change: self._show_availability(), names="value")
        super().__init__(
            [
                widgets.HBox([self.choice, self.seed, self.run_button]),
                self.status,
                self.result,
                self.explorer_box,
            ]
        )
        self.add_class("distlab-engine-panel")
        self._show_availability()

    @property
    def selected(self) -> EngineExperiment:
        return self.experiments[self.choice.value]

    def _say(self, text: str, colour: str = "#424242") -> None:
        self.status.value = (
            f"<span class='distlab-engine-status' style='color:{colour}'>{html.escape(text)}</span>"
        )

    def _show_availability(self) -> str | None:
        missing = missing_engines(self.selected.binaries, self.selected.packages)
        self.run_button.disabled = missing is not None
        if missing is not None:
            self._say(f"cannot run here: {missing}", "#c62828")
        else:
            self._say(f"ready: press Run to start {', '.join(self.selected.binaries)} on 127.0.0.1")
        return missing

    def run(self) -> ExperimentResult | None:
        """Run the chosen experiment with the chosen seed (what the Run button does)."""
        if self._show_availability() is not None:
            return None
        experiment, seed = self.selected, int(self.seed.value)
        self.run_button.disabled = True
        self._say(f"running “{experiment.title}” with seed {seed} ...")
        started = time.monotonic()
        try:
            result = experiment.run(seed)
        except Exception as error:  # shown to the learner rather than lost in a callback
            self._say(f"the experiment failed: {type(error).__name__}: {error}", "#c62828")
            return None
        finally:
            self.run_button.disabled = False
        self.last = result
        self.result.value = result_html(result)
        self.explorer = HistoryExplorer(result.history, result=result.check)
        self.explorer_box.children = [self.explorer]
        verdict = {True: "linearizable", False: "NOT linearizable", None: "unknown"}[
            result.summary.linearizable
        ]
        self._say(
            f"done in {time.monotonic() - started:.1f} s: {verdict}; "
            "choose a key below to read its history"
        )
        return result

    def __repr__(self) -> str:
        # Short and the same on every run: a notebook stores it as the widget's text form.
        return f"EnginePanel({len(self.experiments)} experiments, showing {self.choice.value!r})"
