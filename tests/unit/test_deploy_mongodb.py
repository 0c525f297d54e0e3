"""The Compose files of ``deploy/mongodb/`` against each other and against the URLs that
docs/deployment.md ("Trying it with Docker Compose") gives for them.

No Docker daemon runs here or in CI: this reads the files with a YAML parser and checks
their services, images and names, not that the servers start (the docs say so)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "mongodb"
KINDS = ("replica-set", "sharded")


def compose(kind: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / kind / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def services(kind: str) -> dict[str, dict[str, Any]]:
    found = compose(kind)["services"]
    assert isinstance(found, dict)
    return found


def option(service: dict[str, Any], flag: str) -> str | None:
    command = service.get("command")
    if not isinstance(command, list) or flag not in command:
        return None
    return str(command[command.index(flag) + 1])


def mongods(kind: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services(kind).items() if s["command"][0] == "mongod"}


def address(name: str, service: dict[str, Any]) -> str:
    return f"{name}:{option(service, '--port')}"


def script(service: dict[str, Any]) -> str:
    """The JavaScript a one-shot container runs (the argument after ``--eval``)."""
    return str(option(service, "--eval"))


def documented_urls(heading: str) -> list[str]:
    """The ``mongodb://`` URLs under ``heading`` in the Docker Compose part of the docs."""
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    part = text.split("### Trying it with Docker Compose", 1)[1].split("\n## ", 1)[0]
    section = part.split(f"#### {heading}\n", 1)[1].split("\n#### ", 1)[0]
    return re.findall(r"mongodb://[^\s\"`]+", section)


@pytest.mark.parametrize("kind", KINDS)
def test_every_service_runs_a_pinned_mongodb_image(kind: str) -> None:
    images = {name: s.get("image", "") for name, s in services(kind).items()}

    assert all(re.fullmatch(r"mongo:\d+\.\d+(\.\d+)?", image) for image in images.values()), images


@pytest.mark.parametrize("kind", KINDS)
def test_ports_are_published_on_the_loopback_address_only(kind: str) -> None:
    ports = [p for s in services(kind).values() for p in s.get("ports", [])]

    assert ports
    assert all(str(p).startswith("127.0.0.1:") for p in ports), ports


def test_the_replica_set_init_initiates_rs0_with_every_member_at_its_own_port() -> None:
    members = mongods("replica-set")
    init = services("replica-set")["init"]
    initiated = script(init)

    assert {option(s, "--replSet") for s in members.values()} == {"rs0"}
    assert re.findall(r'_id: "(\w+)"', initiated) == ["rs0"]
    assert set(re.findall(r'host: "([\w-]+:\d+)"', initiated)) == {
        address(n, s) for n, s in members.items()
    }
    assert {f"127.0.0.1:{option(s, '--port')}:{option(s, '--port')}" for s in members.values()} == {
        p for s in members.values() for p in s["ports"]
    }
    assert set(init["depends_on"]) == set(members)


def test_the_documented_replica_set_urls_name_rs0_and_its_members() -> None:
    members = {address(n, s) for n, s in mongods("replica-set").items()}
    urls = [urlsplit(u) for u in documented_urls("Replica set")]
    by_set = [u for u in urls if "replicaSet" in parse_qs(u.query)]

    assert len(by_set) >= 2  # the store's URL and the test suite's
    for url in by_set:
        assert parse_qs(url.query)["replicaSet"] == ["rs0"]
        assert set(url.netloc.split(",")) == members


def test_the_sharded_init_initiates_every_replica_set_and_adds_each_shard() -> None:
    cluster = services("sharded")
    data = mongods("sharded")
    initiated = re.findall(
        r'initiate\("(\w+)", "([\w-]+:\d+)"', script(cluster["init-replica-sets"])
    )
    added = re.findall(r'"(\w+/[\w-]+:\d+)"', script(cluster["init-shards"]))
    config = [n for n, s in data.items() if "--configsvr" in s["command"]]
    shards = [n for n, s in data.items() if "--shardsvr" in s["command"]]

    assert set(initiated) == {(option(s, "--replSet"), address(n, s)) for n, s in data.items()}
    assert len(config) == 1
    assert len(shards) == 2
    assert option(cluster["mongos"], "--configdb") == (
        f"{option(data[config[0]], '--replSet')}/{address(config[0], data[config[0]])}"
    )
    assert sorted(added) == sorted(
        f"{option(data[n], '--replSet')}/{address(n, data[n])}" for n in shards
    )


def test_the_documented_sharded_urls_reach_the_published_mongos() -> None:
    mongos = services("sharded")["mongos"]
    published = {str(p).rsplit(":", 2)[1] for p in mongos["ports"]}
    urls = [urlsplit(u) for u in documented_urls("Sharded cluster")]

    assert len(urls) >= 2  # the store's URL and the test suite's
    assert {u.port for u in urls} == {int(option(mongos, "--port") or 0)}
    assert {str(u.port) for u in urls} == published
    assert all(u.hostname in {"localhost", "127.0.0.1"} for u in urls)
