"""SimNetwork: seeded losses, duplicates, delays and partitions."""

from __future__ import annotations

import random

import pytest

from distlab.raft import Envelope, RequestVoteReply
from distlab.sim import RELIABLE, NetworkConfig, SimNetwork

MESSAGE = RequestVoteReply(term=1, vote_granted=True)


def send_many(network: SimNetwork, count: int, src="a", dst="b") -> list[list[int]]:
    return [network.transmit(Envelope(src, dst, MESSAGE), now=100) for _ in range(count)]


def test_reliable_network_delivers_every_message_once_within_its_delay():
    network = SimNetwork(random.Random(1), RELIABLE)
    arrivals = send_many(network, 500)
    assert all(len(a) == 1 and 101 <= a[0] <= 102 for a in arrivals)
    assert {a[0] for a in arrivals} == {101, 102}  # both delays occur: messages reorder


def test_drop_and_duplicate_rates_are_honoured_roughly():
    config = NetworkConfig(drop_rate=0.2, duplicate_rate=0.1)
    network = SimNetwork(random.Random(2), config)
    arrivals = send_many(network, 5000)
    dropped = sum(1 for a in arrivals if not a)
    doubled = sum(1 for a in arrivals if len(a) == 2)
    assert 800 < dropped < 1200
    assert 300 < doubled < 500
    assert network.statistics().dropped == dropped


def test_same_seed_same_fate():
    config = NetworkConfig(drop_rate=0.3, duplicate_rate=0.2, delay_ticks=(1, 9))
    first = send_many(SimNetwork(random.Random(7), config), 200)
    second = send_many(SimNetwork(random.Random(7), config), 200)
    third = send_many(SimNetwork(random.Random(8), config), 200)
    assert first == second
    assert first != third


def test_partition_cuts_both_ways_between_groups_only():
    network = SimNetwork(random.Random(0))
    network.partition(["a", "b"], ["c"])
    assert network.can_deliver("a", "b")
    assert not network.can_deliver("a", "c") and not network.can_deliver("c", "b")
    assert network.can_deliver("a", "z")  # nodes in no group stay linked
    network.heal()
    assert network.can_deliver("c", "a")


def test_one_way_block_and_disconnect():
    network = SimNetwork(random.Random(0))
    network.block("a", "b")
    assert not network.can_deliver("a", "b") and network.can_deliver("b", "a")
    assert send_many(network, 1) == [[]]
    network.disconnect("c")
    assert not network.can_deliver("c", "a") and not network.can_deliver("a", "c")
    network.connect("c")
    assert network.can_deliver("a", "c")


def test_config_rejects_nonsense():
    with pytest.raises(ValueError, match="probability"):
        NetworkConfig(drop_rate=1.5)
    with pytest.raises(ValueError, match="ticks"):
        NetworkConfig(delay_ticks=(0, 2))
