"""Bulk ingestion on a real Ray cluster (qa/ray_build.py): a head and a worker node started
on the loopback address, the real model, real FAISS. A Ray build gives the local build's
index and per-file outcomes, survives a killed embedding actor, and a killed driver leaves
the last commit for a rerun to resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.data", reason='the Ray extra is not installed: pip install -e ".[ray]"')

from qa.assistant import Assistant  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.ray_build import RayOptions, RaySource  # noqa: E402
from qa.store import MANIFEST, load_index, read_manifest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
RAY = Path(sys.executable).with_name("ray")
QUERIES = ["Which missile violates the INF treaty?", "Peskov red line", "bridge repairs in Velmora-17",
           "Who chaired the meeting on the harbour?", "Geneva talks January"]
GENERATED = 300
PART = 50  # articles per commit, so a build of 305 articles commits 7 times


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _node_ports() -> list[str]:
    """Every port a node listens on, free ones, so the test cluster never meets another."""
    names = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port")
    return [f"{n}={p}" for n, p in zip(names, _free_ports(len(names)))]


class Cluster:
    """`ray start --block` for a head and a worker node, each in its own process group, so
    that stopping them kills exactly their processes (raylet, GCS, workers, actors). They
    start in the background: `ready()` waits for both."""

    def __init__(self, tmp: Path) -> None:
        (port,) = _free_ports(1)
        self.address = f"127.0.0.1:{port}"
        self.env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                        RAY_USAGE_STATS_ENABLED="0")
        common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats", "--block"]
        self.commands = [
            [str(RAY), "start", "--head", f"--port={port}", "--include-dashboard=false", *common, *_node_ports()],
            [str(RAY), "start", f"--address={self.address}", *common, *_node_ports()],
        ]
        self.logs = [tmp / "head.log", tmp / "worker.log"]
        self.procs: list[subprocess.Popen] = []
        self.failure: str | None = None
        self._starting = threading.Thread(target=self._start_nodes, daemon=True)
        self._starting.start()

    def _start_nodes(self) -> None:
        for cmd, log in zip(self.commands, self.logs):  # the worker joins a head that runs
            with open(log, "wb") as out:
                self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                                   start_new_session=True))
            deadline = time.monotonic() + 120
            while b"Ray runtime started" not in log.read_bytes():
                if self.procs[-1].poll() is not None or time.monotonic() > deadline:
                    self.failure = log.read_text()[-2000:]
                    return
                time.sleep(0.2)

    def ready(self) -> "Cluster":
        self._starting.join()
        if self.failure is not None:
            pytest.fail(f"the Ray cluster did not start: {self.failure}")
        return self

    def processes(self) -> dict[int, bytes]:
        """{pid: command line} of this cluster's processes: each `ray start` leads a process
        group (raylet, GCS, ...); Ray's workers and actors run in sessions of their own, as
        children of a raylet of that group."""
        groups = {p.pid for p in self.procs}
        found = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if os.getpgid(int(proc.name)) in groups or os.getpgid(ppid) in groups:
                    found[int(proc.name)] = (proc / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
        return found

    def embed_actors(self) -> list[int]:
        """Pids of the embedding actors (Ray names an actor's process after it)."""
        return [pid for pid, cmd in self.processes().items() if b"MapBatches(Embed)" in cmd]

    def stop(self) -> None:
        self._starting.join()
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("ray-cluster"))
    yield c
    c.stop()


def _write_corpus(folder: Path) -> None:
    """Short generated articles (one chunk each), with four kinds of bad file among them."""
    folder.mkdir(parents=True)
    for i in range(GENERATED):
        (folder / f"g{i:03d}.txt").write_text(
            f"Velmora-{i} council votes on bridge {i}\n\n"
            f"The council of Velmora-{i} met on Monday to discuss bridge {i}, chaired by {['Ana', 'Ben', 'Cai'][i % 3]} "
            f"Morel-{i}. Officials said repairs would cost {i * 7 + 3} million and take {i % 9 + 2} months.")
    (folder / "bad-binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (folder / "bad-empty.md").write_text("")
    (folder / "copy-of-g007.txt").write_text((folder / "g007.txt").read_text())
    (folder / ".hidden.txt").write_text("A hidden file is skipped, with a message.")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("ray-corpus") / "generated"
    _write_corpus(folder)
    return [str(ARTICLES), str(folder), str(folder.parent / "missing.txt")]  # a path that does not exist


def _manifest(index: Path) -> dict:
    """The index's manifest as it is now; {} while there is none (or mid-replace)."""
    try:
        return json.loads((index / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _config(index: Path) -> Config:
    return Config(index_dir=str(index), build_batch_articles=PART)


@pytest.fixture(scope="module")
def local_build(corpus, tmp_path_factory):
    """The same corpus built without Ray: what every Ray build must equal."""
    index = tmp_path_factory.mktemp("local") / "index"
    assistant, outcomes = Assistant.build(_config(index), corpus)
    return assistant, outcomes


def _assert_same_index(ray_dir: Path, local: Assistant) -> None:
    ray_index, local_index = load_index(ray_dir), local.index
    assert list(ray_index.articles) == list(local_index.articles)
    assert [c.id for c in ray_index.chunks] == [c.id for c in local_index.chunks]
    assert len(local_index.articles) == len(list(ARTICLES.iterdir())) + GENERATED
    diff = np.abs(ray_index.vectors - local_index.vectors).max()
    assert diff < 1e-4, f"vectors differ by up to {diff}"
    ray_assistant = Assistant.open(_config(ray_dir))
    for q in QUERIES:
        assert [h.chunk.id for h in ray_assistant.search(q, k=5)] == [h.chunk.id for h in local.search(q, k=5)], q


def test_without_ray_the_error_names_the_install_command(tmp_path):
    probe = ("import sys; sys.modules['ray'] = None; from qa.cli import main; "
             f"sys.exit(main(['index', 'build', {str(ARTICLES)!r}, '--index', {str(tmp_path / 'i')!r}, '--ray']))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QA_CONFIG="/nonexistent/qa.toml"))
    assert done.returncode == 2 and 'pip install -e ".[ray]"' in done.stderr, done.stderr
    assert not (tmp_path / "i").exists()


def test_bad_addresses_and_a_missing_cluster_are_clear_errors():
    with pytest.raises(QAError, match="HOST:PORT"):
        RayOptions(address="ray://10.0.0.5:10001")
    with pytest.raises(QAError, match="HOST:PORT"):
        RayOptions(address="10.0.0.5")
    (port,) = _free_ports(1)  # nothing listens there
    with pytest.raises(QAError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        Assistant.build(Config(index_dir="/nonexistent"), [str(ARTICLES)], ray=RayOptions(address=f"127.0.0.1:{port}"))


@pytest.fixture(scope="module")
def connected(cluster, local_build):
    """This process as a driver of the test cluster, for the builds run here: one Ray job, so
    its workers (and the tokenizer each loaded) serve every build of the module. The local
    build runs first, while the cluster starts."""
    import ray

    ray.init(address=cluster.ready().address, logging_level="warning", log_to_driver=False)
    yield cluster
    ray.shutdown()


@pytest.mark.slow  # a Ray cluster and a build through it: ~30-60 s on 2 cores
def test_a_ray_build_gives_the_local_index_and_outcomes(connected, corpus, local_build, tmp_path):
    local, local_outcomes = local_build
    index = tmp_path / "index"
    assistant, outcomes = Assistant.build(_config(index), corpus, ray=RayOptions(address=connected.address, actors=2))
    assert [o.to_dict() for o in outcomes] == [o.to_dict() for o in local_outcomes]
    assert {o.status for o in outcomes} == {"added", "rejected", "duplicate"}  # the bad files are reported
    assert assistant.embedded == local.embedded and assistant.reused == local.reused
    assert "building" not in read_manifest(index)
    _assert_same_index(index, local)
    # Built again over itself: every text's vector is in the index, so none goes to the actors.
    with RaySource(_config(index), RayOptions(address=connected.address)) as source:
        articles = source.read(corpus).articles
        ((part, prepared),) = source.prepare([articles], have=(load_index(index),))
    assert len(part) == len(articles) == len(local.index.articles) and not prepared.vectors
    assert sum(len(c) for c in prepared.chunks.values()) == local.index.chunk_count
    # `qa index add --ray` of files already indexed: each reported unchanged, the index as it was.
    added = Assistant.open(_config(index)).add_paths([ARTICLES], ray=RayOptions(address=connected.address))
    assert [o.status for o in added] == ["unchanged"] * 5
    _assert_same_index(index, local)


@pytest.mark.slow  # a Ray cluster and a build through it: ~30-60 s on 2 cores
def test_a_killed_embedding_actor_is_restarted_and_the_build_completes(connected, corpus, local_build, tmp_path):
    local, _ = local_build
    index = tmp_path / "index"
    killed: list[tuple[int, bool]] = []  # (pid, was the build still unfinished after the kill)
    earlier = set(connected.embed_actors())  # an earlier build's pool may not be gone yet

    def kill_one_actor_after_the_first_commit() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not killed:
            actors = [pid for pid in connected.embed_actors() if pid not in earlier]
            if "building" in _manifest(index) and actors:
                os.kill(actors[0], signal.SIGKILL)
                killed.append((actors[0], "building" in _manifest(index)))
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_actor_after_the_first_commit, daemon=True)
    killer.start()
    # One actor: its death stops all embedding until Ray has restarted it and retried the batch.
    Assistant.build(_config(index), corpus, ray=RayOptions(address=connected.address, actors=1))
    killer.join(timeout=10)
    assert killed and killed[0][1], "the actor was not killed while the build ran"
    _assert_same_index(index, local)


@pytest.mark.slow  # a Ray cluster and a build through it: ~30-60 s on 2 cores
def test_a_killed_driver_leaves_its_last_commit_and_a_rerun_resumes(connected, corpus, local_build, tmp_path):
    local, _ = local_build
    index = tmp_path / "index"
    env = dict(connected.env, QA_CONFIG="/nonexistent/qa.toml", QA_BUILD_BATCH_ARTICLES=str(PART))
    cmd = [sys.executable, "-m", "qa.cli", "index", "build", *corpus, "--index", str(index), "--ray", connected.address]
    log = tmp_path / "driver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if "building" in _manifest(index):  # the first part is committed: kill the driver
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"the Ray build committed nothing: {log.read_text()[-2000:]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    saved = read_manifest(index)
    assert "building" in saved and PART <= saved["counts"]["articles"] < 5 + GENERATED
    assert len(load_index(index).articles) == saved["counts"]["articles"]  # the last commit, loadable
    # The rerun resumes from the Ray build's commits (here without Ray: the commits are the
    # local build's own; which texts a Ray rerun sends is checked in the first test).
    rerun, _ = Assistant.build(_config(index), corpus)
    assert "building" not in read_manifest(index)
    assert rerun.embedded == local.index.chunk_count - saved["counts"]["chunks"] > 0  # nothing embedded twice
    _assert_same_index(index, local)
