"""A private Redis Cluster for the end-to-end tests: six redis-server processes (three masters,
three replicas) on loopback, each in its own directory under one temp dir, joined with
`redis-cli --cluster create --cluster-replicas 1` and waited for until every node agrees on a
healthy cluster. Never a shared instance; stop() kills every process and removes the dirs.

Faults and topology changes for the tests, each returning only once the cluster is healthy
again (cluster_state:ok on every live node, all 16384 slots served, every node with the same
view of who serves what, every replica attached): a manual failover (CLUSTER FAILOVER on a
replica), a crash (SIGKILL of a master, waiting for its replica's automatic promotion), a
restart (the node rejoins with its nodes.conf, as a replica if it was failed over), a reshard
with `redis-cli --cluster reshard`, and a slot migrated by hand step by step (SETSLOT
IMPORTING / MIGRATING, MIGRATE of chosen keys, SETSLOT NODE) so that a test can hold a slot
half-migrated and make clients follow ASK redirections.

Ports: each node needs its client port and its cluster bus port (client port + 10000), both
free. They are taken below the kernel's ephemeral range (32768-60999 on Linux by default), so
that no outgoing connection of another process can occupy a port while its node is down for a
restart.

Redis replies are read with the RESP reader of tests/integration/redis_server.py: an error
reply comes back as a RedisError object (not raised) from Node.command(), and raised by
Node.call(), which the harness itself uses.
"""
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INTEGRATION = str(Path(__file__).resolve().parents[1] / "integration")
if INTEGRATION not in sys.path:  # conftest.py adds it too; this is for running it by hand
    sys.path.insert(0, INTEGRATION)

from redis_server import RedisError, _read, _send, redis_binary  # noqa: E402

SLOTS = 16384
HOST = "127.0.0.1"
BUS_OFFSET = 10000  # Redis' default: the cluster bus listens on the client port + 10000
PORT_RANGE = (10000, 22000)  # client ports; their bus ports stay under 32768
START_TIMEOUT = 10.0  # one redis-server answering PING
HEALTHY_TIMEOUT = 45.0  # the whole cluster healthy after a change (busy 2-core machine)
MANUAL_FAILOVER_RETRY = 6.0  # CLUSTER FAILOVER again when it has not switched by then
CLI_TIMEOUT = 120


def redis_cli_binary():
    return shutil.which("redis-cli") or "/usr/bin/redis-cli"


def _bindable(port):
    """True when nothing listens on 127.0.0.1:port (so a node can bind it now)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_cluster_ports(count, rng=random):
    """`count` client ports whose bus ports (port + 10000) are free too, all distinct."""
    ports = []
    for _ in range(20000):
        port = rng.randrange(*PORT_RANGE)
        if any(abs(port - p) == BUS_OFFSET or port == p for p in ports):
            continue
        if _bindable(port) and _bindable(port + BUS_OFFSET):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"no {count} free port pairs in {PORT_RANGE}")


# -- key slots ---------------------------------------------------------------------------------
def _crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16(data):
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ byte) & 0xFF]
    return crc


def hash_slot(key):
    """The slot of `key` computed here (same rule as CLUSTER KEYSLOT: a non-empty {tag}
    is hashed instead of the whole key). Lets a test search names by slot without a round
    trip per candidate; the harness self-test checks it against CLUSTER KEYSLOT."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return crc16(data) % SLOTS


def name_in_slots(prefix, slots, taken=()):
    """The first name `prefix`, `prefix`1, `prefix`2, ... whose hash slot (as a hash tag:
    rl:c:{name}:... lives there) is in `slots` and that is not in `taken`."""
    wanted = set(slots)
    for i in range(1_000_000):
        name = prefix if i == 0 else f"{prefix}{i}"
        if hash_slot(name) in wanted and name not in taken:
            return name
    raise RuntimeError(f"no name {prefix}* in slots {sorted(wanted)[:5]}...")


# -- one node ----------------------------------------------------------------------------------
class Node:
    """One redis-server of the cluster: its port, its directory (nodes.conf, redis.log) and
    its process. The node id comes from CLUSTER MYID and survives restarts (nodes.conf)."""

    def __init__(self, port, directory, node_timeout_ms):
        self.port = port
        self.dir = Path(directory)
        self.node_timeout_ms = node_timeout_ms
        self.proc = None
        self.id = None

    def __repr__(self):
        return f"Node({self.addr}, {self.id[:8] if self.id else '?'})"

    @property
    def addr(self):
        return f"{HOST}:{self.port}"

    @property
    def log_path(self):
        return self.dir / "redis.log"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def spawn(self):
        """Starts the process without waiting for it (the cluster starts six at once)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [redis_binary(), "--port", str(self.port), "--bind", HOST,
                "--protected-mode", "no", "--daemonize", "no", "--dir", str(self.dir),
                "--logfile", str(self.log_path), "--loglevel", "notice",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--appendonly", "no", "--save", "",
                # A replica's full sync starts at once instead of after 5 s.
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                # A replica may always take over, however long its link was down (a busy
                # machine can stall a link past the default validity).
                "--cluster-replica-validity-factor", "0"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)

    def wait_started(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"redis-server {self.addr} exited:\n{self.log_tail()}")
            try:
                if self.command("PING", timeout=1) == "PONG":
                    self.id = self.call("CLUSTER", "MYID")
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server {self.addr} did not answer PING:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-lines:])
        except OSError:
            return "(no log)"

    def kill(self):
        """SIGKILL, as a crash; the process is reaped. Data is lost (no persistence) but
        nodes.conf (the node's identity and its view of the cluster) stays."""
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    # -- commands ------------------------------------------------------------------------------
    def connect(self, timeout=5):
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        s.settimeout(timeout)
        return s

    def command(self, *args, timeout=5, asking=False):
        """One command on a fresh connection; an error reply is returned as a RedisError.
        `asking` sends ASKING first (what a client does after an ASK redirection)."""
        with self.connect(timeout) as s:
            f = s.makefile("rb")
            if asking:
                _send(s, ["ASKING"])
                _read(f)
            _send(s, list(args))
            return _read(f)

    def call(self, *args, timeout=5):
        """command() that raises the error reply."""
        reply = self.command(*args, timeout=timeout)
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def info(self, section):
        """INFO `section` as {field: value} (text values)."""
        out = {}
        for line in self.call("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def cluster_info(self):
        out = {}
        for line in self.call("CLUSTER", "INFO").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v.strip()
        return out

    def cluster_nodes(self):
        """CLUSTER NODES as seen by this node, parsed: {node id: NodeView}."""
        return {v.id: v for v in map(NodeView, self.call("CLUSTER", "NODES").splitlines())
                if v.id}


class NodeView:
    """One line of CLUSTER NODES: id, addr (host:port), flags, master id (or None), the slots
    it serves, and (on the `myself` line only) the slots it is migrating / importing, as
    {slot: other node id}."""

    def __init__(self, line):
        parts = line.split()
        self.id = parts[0] if parts else None
        if not parts:
            return
        self.addr = parts[1].split("@")[0]
        self.flags = set(parts[2].split(","))
        self.master_id = None if parts[3] == "-" else parts[3]
        self.config_epoch = int(parts[6])
        self.link = parts[7]
        self.slots, self.migrating, self.importing = set(), {}, {}
        for item in parts[8:]:
            if item.startswith("["):
                body = item[1:-1]
                if "->-" in body:
                    slot, other = body.split("->-")
                    self.migrating[int(slot)] = other
                elif "-<-" in body:
                    slot, other = body.split("-<-")
                    self.importing[int(slot)] = other
            elif "-" in item:
                lo, hi = item.split("-")
                self.slots.update(range(int(lo), int(hi) + 1))
            else:
                self.slots.add(int(item))

    @property
    def is_master(self):
        return "master" in self.flags

    @property
    def failed(self):
        return bool(self.flags & {"fail", "fail?", "handshake", "noaddr"})

    def key(self):
        """What every node must agree on about this node."""
        return (self.id, self.addr, self.is_master, self.master_id, frozenset(self.slots),
                "fail" in self.flags)


# -- the cluster -------------------------------------------------------------------------------
class RedisCluster:
    """Three masters, three replicas (one each), cluster-node-timeout `node_timeout_ms`."""

    def __init__(self, node_timeout_ms=1000, masters=3):
        self.node_timeout_ms = node_timeout_ms
        self.n_masters = masters
        self.root = Path(tempfile.mkdtemp(prefix="rl-cluster-"))
        self.nodes = []
        self.create_seconds = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout=HEALTHY_TIMEOUT):
        """Starts the six processes at once, joins them with redis-cli --cluster create and
        waits until the cluster is healthy. Returns self; the time it took is in
        create_seconds."""
        t0 = time.monotonic()
        ports = free_cluster_ports(self.n_masters * 2)
        self.nodes = [Node(p, self.root / str(p), self.node_timeout_ms) for p in ports]
        for n in self.nodes:
            n.spawn()
        for n in self.nodes:
            n.wait_started()
        r = subprocess.run([redis_cli_binary(), "--cluster", "create",
                            *[n.addr for n in self.nodes], "--cluster-replicas", "1",
                            "--cluster-yes"],
                           capture_output=True, text=True, timeout=CLI_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0 or "[OK] All 16384 slots covered" not in r.stdout:
            raise RuntimeError(f"redis-cli --cluster create failed ({r.returncode}):\n"
                               f"{r.stdout}\n{r.stderr}")
        self.wait_healthy(timeout)
        self.create_seconds = time.monotonic() - t0
        return self

    def stop(self):
        """Kills every node (no persistence, nothing to flush) and removes the temp dir."""
        for n in self.nodes:
            n.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def rebuild(self, timeout=HEALTHY_TIMEOUT):
        """A new cluster from scratch (new ports, new dirs), for when heal() cannot repair
        the old one."""
        self.stop()
        self.root = Path(tempfile.mkdtemp(prefix="rl-cluster-"))
        return self.start(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    def seeds(self):
        """Every node as "127.0.0.1:port" (any node is a valid seed for a client)."""
        return [n.addr for n in self.nodes]

    def url(self, nodes=None):
        """redis+cluster://host:port,host:port,... of `nodes` (default: every node)."""
        addrs = [self._node(n).addr for n in nodes] if nodes is not None else self.seeds()
        return "redis+cluster://" + ",".join(addrs)

    def node(self, which):
        """A Node from a Node, an "127.0.0.1:port" address, a port or a node id."""
        return self._node(which)

    def _node(self, which):
        if isinstance(which, Node):
            return which
        for n in self.nodes:
            if which in (n.addr, n.port, n.id, str(n.port)):
                return n
        raise KeyError(f"no node {which!r} in {self.seeds()}")

    def live_nodes(self):
        return [n for n in self.nodes if n.alive()]

    # -- topology ------------------------------------------------------------------------------
    def view(self, via=None):
        """{node id: NodeView} as `via` sees the cluster; by default as the first live master
        that answers (a master learns of a change to its own slots first; a replica's view
        can lag), else as any live node."""
        candidates = [self._node(via)] if via is not None else self.live_nodes()
        first, last = None, None
        for n in candidates:
            try:
                view = n.cluster_nodes()
            except (OSError, RedisError) as e:
                last = e
                continue
            if via is not None or (n.id in view and view[n.id].is_master):
                return view
            first = first or view
        if first is not None:
            return first
        raise RuntimeError(f"no node answered CLUSTER NODES: {last}")

    def masters(self):
        """The live nodes that are masters now, in port order."""
        view = self.view()
        return sorted((n for n in self.live_nodes()
                       if n.id in view and view[n.id].is_master and not view[n.id].failed),
                      key=lambda n: n.port)

    def replicas(self):
        """The live nodes that are replicas now, in port order."""
        view = self.view()
        return sorted((n for n in self.live_nodes()
                       if n.id in view and not view[n.id].is_master),
                      key=lambda n: n.port)

    def replica_of(self, master):
        """The live replica of `master` (one per master in this layout)."""
        master = self._node(master)
        view = self.view()
        found = [n for n in self.live_nodes()
                 if n.id in view and view[n.id].master_id == master.id]
        if len(found) != 1:
            raise RuntimeError(f"{master} has replicas {found}, not exactly one")
        return found[0]

    def master_of(self, replica):
        replica = self._node(replica)
        return self._node(self.view()[replica.id].master_id)

    def slot_map(self):
        """{slot: master Node} for every assigned slot."""
        out = {}
        for v in self.view().values():
            if v.is_master and not v.failed:
                for s in v.slots:
                    out[s] = self._node(v.id)
        return out

    def slots_of(self, master):
        """The slots `master` serves, ascending."""
        return sorted(self.view()[self._node(master).id].slots)

    def keyslot(self, key):
        """CLUSTER KEYSLOT on a live node."""
        return self.live_nodes()[0].call("CLUSTER", "KEYSLOT", key)

    def node_for_slot(self, slot):
        return self.slot_map()[slot]

    def node_for_key(self, key):
        """The master that serves `key`'s slot now."""
        return self.node_for_slot(self.keyslot(key))

    def countkeysinslot(self, slot, node=None):
        """CLUSTER COUNTKEYSINSLOT on the node serving `slot` (or on `node`)."""
        node = self._node(node) if node is not None else self.node_for_slot(slot)
        return node.call("CLUSTER", "COUNTKEYSINSLOT", slot)

    def getkeysinslot(self, slot, node=None, count=1000):
        node = self._node(node) if node is not None else self.node_for_slot(slot)
        return sorted(node.call("CLUSTER", "GETKEYSINSLOT", slot, count))

    def command(self, *args, key=None):
        """A command on the master serving `key` (args[1] when key is None)."""
        key = args[1] if key is None else key
        return self.node_for_key(key).command(*args)

    # -- health --------------------------------------------------------------------------------
    def problems(self):
        """Why the cluster is not healthy now (empty when it is): every live node says
        cluster_state:ok with 16384 slots ok, all live nodes report the same view of the live
        nodes, there are n masters each with exactly one replica attached (link up), and no
        slot is migrating or importing."""
        out = []
        live = self.live_nodes()
        views = {}
        for n in live:
            try:
                info = n.cluster_info()
                views[n.id] = n.cluster_nodes()
            except (OSError, RedisError) as e:
                out.append(f"{n}: {e}")
                continue
            if info.get("cluster_state") != "ok":
                out.append(f"{n}: cluster_state:{info.get('cluster_state')}")
            if info.get("cluster_slots_ok") != str(SLOTS):
                out.append(f"{n}: cluster_slots_ok:{info.get('cluster_slots_ok')}")
            mine = views[n.id].get(n.id)
            if mine is not None and (mine.migrating or mine.importing):
                out.append(f"{n}: migrating {mine.migrating} importing {mine.importing}")
        if out:
            return out
        live_ids = {n.id for n in live}
        agreed = {frozenset(v.key() for i, v in view.items() if i in live_ids)
                  for view in views.values()}
        if len(agreed) != 1:
            return ["the nodes do not agree on the cluster's layout yet"]
        view = next(iter(views.values()))
        masters = [v for i, v in view.items() if i in live_ids and v.is_master]
        if len(masters) != self.n_masters:
            out.append(f"{len(masters)} live masters, not {self.n_masters}")
        if sum(len(v.slots) for v in masters) != SLOTS:
            out.append("the live masters do not serve all 16384 slots")
        for m in masters:
            reps = [i for i, v in view.items() if i in live_ids and v.master_id == m.id]
            if len(reps) != 1:
                out.append(f"master {m.addr} has {len(reps)} live replicas")
        for n in live:
            if not view[n.id].is_master:
                link = n.info("replication").get("master_link_status")
                if link != "up":
                    out.append(f"replica {n}: master_link_status:{link}")
        return out

    def wait_healthy(self, timeout=HEALTHY_TIMEOUT, allow_missing=False):
        """Polls problems() until there are none; raises with the last problems and the
        nodes' logs otherwise. With `allow_missing`, a master without a live replica (its
        replica killed, or promoted after a kill) is accepted. Returns the seconds taken."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            try:
                problems = self.problems()
            except (OSError, RedisError, KeyError) as e:  # a node changing under our feet
                problems = [f"{type(e).__name__}: {e}"]
            if allow_missing:
                problems = [p for p in problems if "live replicas" not in p]
            if not problems:
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n.addr}\n{n.log_tail(12)}" for n in self.nodes)
                raise RuntimeError(f"cluster not healthy after {timeout} s: {problems}\n{logs}")
            time.sleep(0.05)

    def state(self, node):
        """cluster_state of one node ("ok" / "fail"), None when it does not answer."""
        try:
            return self._node(node).cluster_info().get("cluster_state")
        except (OSError, RedisError):
            return None

    # -- faults and topology changes -----------------------------------------------------------
    def failover(self, replica, timeout=HEALTHY_TIMEOUT):
        """CLUSTER FAILOVER on `replica` (a coordinated switch: its master stops writes until
        the replica has caught up, then the replica takes over its slots). Returns the seconds
        until the replica was master and the whole cluster healthy again, its old master a
        replica of it."""
        replica = self._node(replica)
        old = self.master_of(replica)
        t0 = time.monotonic()
        deadline = t0 + timeout

        def switched():
            view = self.view(replica)
            return view[replica.id].is_master and view[old.id].master_id == replica.id

        # A manual failover that does not complete within its own timeout (5 s: a master
        # too busy to pause in time) is abandoned by Redis; ask again.
        while True:
            assert replica.call("CLUSTER", "FAILOVER") == "OK"
            try:
                self._wait(switched, min(MANUAL_FAILOVER_RETRY, deadline - time.monotonic()),
                           f"{replica} did not take over from {old}")
                break
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise
        self.wait_healthy(max(1.0, deadline - time.monotonic()))
        return time.monotonic() - t0

    def kill(self, node, timeout=HEALTHY_TIMEOUT, wait=True):
        """SIGKILL of `node`. When it was a master and `wait`, waits until its replica has
        been promoted automatically (after cluster-node-timeout and the election) and every
        live node is ok again; returns (the promoted replica or None, seconds)."""
        node = self._node(node)
        view = self.view()
        was_master = view[node.id].is_master
        replica = self.replica_of(node) if was_master else None
        t0 = time.monotonic()
        node.kill()
        if not wait:
            return replica, 0.0
        if was_master:
            self._wait(lambda: self._promoted(replica), timeout,
                       f"{replica} was not promoted after {node} was killed")
        self.wait_healthy(max(1.0, timeout - (time.monotonic() - t0)), allow_missing=True)
        return replica, time.monotonic() - t0

    def _promoted(self, replica):
        try:
            v = self.view(replica)
        except RuntimeError:
            return False
        return v[replica.id].is_master and len(v[replica.id].slots) > 0

    def restart(self, node, timeout=HEALTHY_TIMEOUT):
        """Starts a killed node again (same port, dir and nodes.conf, no data): it rejoins the
        cluster — as a replica when its slots were taken over meanwhile — and resyncs.
        Returns the seconds until the whole cluster is healthy."""
        node = self._node(node)
        if node.alive():
            raise RuntimeError(f"{node} is running")
        t0 = time.monotonic()
        node.spawn()
        node.wait_started()
        self.wait_healthy(timeout)
        return time.monotonic() - t0

    def reshard(self, src, dst, n_slots, timeout=HEALTHY_TIMEOUT):
        """Moves `n_slots` slots with their keys from master `src` to master `dst` with
        `redis-cli --cluster reshard` (the first n slots `src` serves, in ascending order:
        what redis-cli picks from a single source). Returns the slots moved."""
        src, dst = self._node(src), self._node(dst)
        self.wait_healthy(timeout)  # redis-cli refuses when the nodes disagree
        moving = self.slots_of(src)[:n_slots]
        r = subprocess.run([redis_cli_binary(), "--cluster", "reshard", src.addr,
                            "--cluster-from", src.id, "--cluster-to", dst.id,
                            "--cluster-slots", str(n_slots), "--cluster-yes"],
                           capture_output=True, text=True, timeout=CLI_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster reshard failed ({r.returncode}):\n"
                               f"{r.stdout}\n{r.stderr}")
        self.wait_healthy(timeout)
        owners = self.slot_map()
        wrong = [s for s in moving if owners[s] is not dst]
        if wrong:
            raise RuntimeError(f"slots {wrong} not on {dst} after the reshard:\n{r.stdout}")
        return moving

    # -- a slot migrated by hand ---------------------------------------------------------------
    def begin_migration(self, slot, dst):
        """Step 1 of moving `slot` to master `dst`: IMPORTING on dst, then MIGRATING on its
        owner. From now on the owner answers -ASK for keys of the slot it no longer has, and
        dst serves them to a client that sent ASKING. Returns the source node."""
        dst = self._node(dst)
        src = self.node_for_slot(slot)
        if src is dst:
            raise ValueError(f"{dst} already serves slot {slot}")
        assert dst.call("CLUSTER", "SETSLOT", slot, "IMPORTING", src.id) == "OK"
        assert src.call("CLUSTER", "SETSLOT", slot, "MIGRATING", dst.id) == "OK"
        return src

    def migrate_keys(self, slot, src, dst, keys=None, timeout_ms=5000):
        """Step 2: MIGRATE `keys` (default: every key of the slot still on src) from src to
        dst, atomically per call. Returns the keys moved."""
        src, dst = self._node(src), self._node(dst)
        if keys is None:
            keys = src.call("CLUSTER", "GETKEYSINSLOT", slot, 100000)
        keys = list(keys)
        if keys:
            reply = src.call("MIGRATE", HOST, dst.port, "", 0, timeout_ms, "KEYS", *keys)
            if reply not in ("OK", "NOKEY"):
                raise RuntimeError(f"MIGRATE: {reply}")
        return keys

    def finish_migration(self, slot, src, dst, timeout=HEALTHY_TIMEOUT):
        """Step 3: moves the keys left, then SETSLOT NODE on dst, src and the other masters
        (in that order, as the Redis manual says), and waits until every node agrees."""
        src, dst = self._node(src), self._node(dst)
        self.migrate_keys(slot, src, dst)
        assert dst.call("CLUSTER", "SETSLOT", slot, "NODE", dst.id) == "OK"
        assert src.call("CLUSTER", "SETSLOT", slot, "NODE", dst.id) == "OK"
        for m in self.masters():
            if m not in (src, dst):
                assert m.call("CLUSTER", "SETSLOT", slot, "NODE", dst.id) == "OK"
        self.wait_healthy(timeout)

    def migrate_slot(self, slot, dst):
        """All three steps: `slot` with every key moved to `dst`. Returns the old owner."""
        src = self.begin_migration(slot, dst)
        self.finish_migration(slot, src, dst)
        return src

    def abort_migrations(self):
        """SETSLOT STABLE for every slot some live node is migrating or importing (keys
        already moved stay where they are: call flushall() afterwards)."""
        for n in self.live_nodes():
            try:
                mine = n.cluster_nodes()[n.id]
            except (OSError, RedisError):
                continue
            for slot in list(mine.migrating) + list(mine.importing):
                n.call("CLUSTER", "SETSLOT", slot, "STABLE")

    # -- data and statistics -------------------------------------------------------------------
    def flushall(self):
        """FLUSHALL on every master (replicas follow), and forgets every cached script."""
        for m in self.masters():
            assert m.call("FLUSHALL") == "OK"
            assert m.call("SCRIPT", "FLUSH") == "OK"

    def dbsize(self):
        """Keys on all masters together."""
        return sum(m.call("DBSIZE") for m in self.masters())

    def errorstats(self, node):
        """INFO errorstats of `node` as {error prefix: count}, e.g. {"MOVED": 3}."""
        out = {}
        for field, value in self._node(node).info("errorstats").items():
            if field.startswith("errorstat_"):
                out[field[len("errorstat_"):]] = int(value.split("=", 1)[1].split(",")[0])
        return out

    def all_errorstats(self):
        """{address: errorstats} of every live node."""
        return {n.addr: self.errorstats(n) for n in self.live_nodes()}

    def reset_stats(self):
        """CONFIG RESETSTAT on every live node (errorstats and commandstats start at 0)."""
        for n in self.live_nodes():
            assert n.call("CONFIG", "RESETSTAT") == "OK"

    def heal(self, timeout=HEALTHY_TIMEOUT):
        """Back to a healthy cluster after whatever a test did: dead nodes restarted, slots
        left half-migrated made stable. Returns the seconds it took."""
        t0 = time.monotonic()
        for n in self.nodes:
            if not n.alive():
                n.spawn()
        for n in self.nodes:
            n.wait_started()
        # After the restarts: a node's nodes.conf keeps its migrating / importing slots.
        self.abort_migrations()
        self.wait_healthy(timeout)
        return time.monotonic() - t0

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _wait(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except (OSError, RedisError, KeyError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{what} within {timeout} s")


if __name__ == "__main__":  # a manual check: python3 tests/e2e/redis_cluster.py
    with RedisCluster() as c:
        print(f"cluster up in {c.create_seconds:.2f} s: {c.seeds()}")
        print({m.addr: c.replica_of(m).addr for m in c.masters()})
        print(c.nodes[0].call("CLUSTER", "NODES"))
