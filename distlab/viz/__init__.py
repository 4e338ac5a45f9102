"""Pictures drawn with matplotlib: speed-up curves, message diagrams, history timelines.

Functions here take plain data (figures measured elsewhere) and return a
matplotlib Figure; they never run experiments themselves.
"""

from distlab.viz.chain_scaling import plot_chain_scaling
from distlab.viz.election_timeouts import draw_election_times, summarize_elections
from distlab.viz.mapreduce_timeline import plot_task_timeline
from distlab.viz.message_diagram import draw_message_diagram
from distlab.viz.races import plot_lost_updates
from distlab.viz.raft_timeline import draw_raft_timeline, timeline_summary
from distlab.viz.speedup import plot_speedup
from distlab.viz.timeline import plot_timeline, plot_violation

__all__ = [
    "draw_election_times",
    "draw_message_diagram",
    "draw_raft_timeline",
    "plot_chain_scaling",
    "plot_lost_updates",
    "plot_speedup",
    "plot_task_timeline",
    "plot_timeline",
    "plot_violation",
    "summarize_elections",
    "timeline_summary",
]
