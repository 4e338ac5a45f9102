"""ipywidgets panels for the notebooks. The only package of distlab that imports ipywidgets.

Widgets hold no protocol logic: each button calls the same library method a
test calls (``cluster.crash("n2")``), and each display reads ``statistics()`` or
``status()``. Their logic is tested from Python with ``button.click()``.
"""

from distlab.widgets.aurora_panel import AuroraPanel
from distlab.widgets.chain_view import ChainView
from distlab.widgets.cluster_panel import ClusterPanel
from distlab.widgets.coord_panel import CoordPanel
from distlab.widgets.election_slider import ElectionSlider
from distlab.widgets.engine_panel import EnginePanel
from distlab.widgets.frangipani_panel import FrangipaniPanel
from distlab.widgets.gfs_panel import GFSPanel
from distlab.widgets.history_explorer import HistoryExplorer
from distlab.widgets.mapreduce_progress import MapReduceProgress
from distlab.widgets.primary_backup import PrimaryBackupPanel
from distlab.widgets.races import CounterRace
from distlab.widgets.rpc_semantics import RpcSemanticsPanel
from distlab.widgets.strong_vs_weak import StrongVsWeak, plot_run
from distlab.widgets.txn_panel import TxnPanel

__all__ = [
    "AuroraPanel",
    "ChainView",
    "ClusterPanel",
    "CoordPanel",
    "CounterRace",
    "ElectionSlider",
    "EnginePanel",
    "FrangipaniPanel",
    "GFSPanel",
    "HistoryExplorer",
    "MapReduceProgress",
    "PrimaryBackupPanel",
    "RpcSemanticsPanel",
    "StrongVsWeak",
    "TxnPanel",
    "plot_run",
]
