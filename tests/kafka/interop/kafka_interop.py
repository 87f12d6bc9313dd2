#!/usr/bin/env python3
"""Real Kafka clients against persistingd --kafka-listen (issue 19's acceptance list).

Run by scripts/test.d/kafka-interop.sh with Debian's python3 (python3-confluent-kafka,
python3-kafka), kcat, and kafkajs from npm (tests/kafka/interop/kafkajs, pinned in its lock file). Every process runs on loopback on a port the kernel picked, and every
wait is bounded. Usage: kafka_interop.py BUILD_DIR [test name ...]
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
PERSISTINGD = os.path.join(BUILD, "apps", "persistingd")
PERSISTING = os.path.join(BUILD, "apps", "persisting")
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


_GIVEN_PORTS = set()


def free_port():
    """A loopback TCP port nobody listens on now, never one handed out before.

    The kernel may pick a just-closed port again; two nodes given one port clash.
    """
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            break
    _GIVEN_PORTS.add(port)
    return port


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("persistingd exited with %s" % proc.returncode)
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


class Node:
    """One persistingd with a Kafka listener; restartable on the same ports and data dir."""

    def __init__(self, data_dir, *extra):
        self.data_dir = data_dir
        self.grpc = free_port()
        self.kafka = free_port()
        self.extra = list(extra)
        self.proc = None
        self.log = open(os.path.join(data_dir, "..", "node-%d.log" % self.kafka), "ab")

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.kafka

    def start(self):
        self.proc = subprocess.Popen(
            [PERSISTINGD, "--listen", "127.0.0.1:%d" % self.grpc, "--kafka-listen", self.bootstrap,
             "--data-dir", self.data_dir] + self.extra, stdout=self.log, stderr=self.log)
        wait_port(self.kafka, self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def kcat(*args, input=None, timeout=60):
    r = subprocess.run(["kcat"] + list(args), input=input, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("kcat %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.decode()[-2000:]))
    return r.stdout


def keyed_lines(n, prefix=""):
    return "".join("%sk%d:%sv%d\n" % (prefix, i, prefix, i) for i in range(n))


# ---- the tests -------------------------------------------------------------------------------

def test_kcat_list(tmp):
    node = Node(tmp, "--kafka-partitions", "3").start()
    try:
        kcat("-b", node.bootstrap, "-P", "-t", "listed", input=b"a\n")
        meta = json.loads(kcat("-b", node.bootstrap, "-L", "-J"))
        topics = {t["topic"]: t for t in meta["topics"]}
        assert "listed" in topics, meta
        assert [p["partition"] for p in topics["listed"]["partitions"]] == [0, 1, 2], topics["listed"]
        assert [b["id"] for b in meta["brokers"]] == [1], meta
    finally:
        node.stop()


def test_kcat_codecs_roundtrip(tmp):
    node = Node(tmp, "--kafka-partitions", "1").start()
    try:
        want = keyed_lines(10000)
        for codec in CODECS:
            topic = "codec-" + codec
            kcat("-b", node.bootstrap, "-P", "-t", topic, "-K:", "-z", codec, input=want.encode())
            got = kcat("-b", node.bootstrap, "-C", "-t", topic, "-e", "-q", "-f", "%k:%s\n").decode()
            assert got == want, "%s: %d lines back, first difference at %s" % (
                codec, got.count("\n"), next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None))
    finally:
        node.stop()


def test_kcat_group_split_and_resume(tmp):
    node = Node(tmp, "--kafka-partitions", "4").start()
    try:
        topic = "grouped"
        kcat("-b", node.bootstrap, "-P", "-t", topic, "-K:", "-X", "topic.partitioner=murmur2_random",
             input=keyed_lines(400).encode())

        def member(name):
            return subprocess.Popen(
                ["kcat", "-b", node.bootstrap, "-G", "g-kcat", "-q", "-u", "-f", "%p %o %k\n",
                 "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=200", topic],
                stdout=open(os.path.join(tmp, "..", name), "wb"), stderr=subprocess.DEVNULL)

        def lines(name):
            with open(os.path.join(tmp, "..", name)) as f:
                return [l.split() for l in f if l.strip()]

        t0 = time.time()
        a, b = member("member-a"), member("member-b")
        end = time.time() + 60
        while time.time() < end and len(lines("member-a")) + len(lines("member-b")) < 400:
            time.sleep(0.2)
        time.sleep(1.0)  # auto-commits every 200 ms
        for p in (a, b):
            p.send_signal(signal.SIGINT)  # kcat commits and leaves the group
        for p in (a, b):
            p.wait(20)
        print("  two members read 400 in %.1f s" % (time.time() - t0), flush=True)
        la, lb = lines("member-a"), lines("member-b")
        assert len(la) + len(lb) == 400, (len(la), len(lb))
        pa, pb = {l[0] for l in la}, {l[0] for l in lb}
        assert pa and pb and not (pa & pb), ("partitions not split", pa, pb)
        assert pa | pb == {"0", "1", "2", "3"}, (pa, pb)

        node.stop()
        node.start()
        kcat("-b", node.bootstrap, "-P", "-t", topic, "-K:", input=keyed_lines(50, "new").encode())
        c = member("member-c")
        end = time.time() + 60
        while time.time() < end and len(lines("member-c")) < 50:
            time.sleep(0.2)
        time.sleep(1.0)  # anything read twice would show up by now
        c.send_signal(signal.SIGINT)
        c.wait(20)
        print("  after the restart: %.1f s" % (time.time() - t0), flush=True)
        keys = [l[2] for l in lines("member-c")]
        assert sorted(keys) == sorted("newk%d" % i for i in range(50)), keys[:20]
    finally:
        node.stop()


def test_confluent_group(tmp):
    from confluent_kafka import Consumer, Producer
    node = Node(tmp, "--kafka-partitions", "3").start()
    try:
        p = Producer({"bootstrap.servers": node.bootstrap, "enable.idempotence": True})
        for i in range(3000):
            p.produce("ck", key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"x%d" % i)])
        assert p.flush(30) == 0
        got = {}
        consumers = [Consumer({"bootstrap.servers": node.bootstrap, "group.id": "g-ck",
                               "auto.offset.reset": "earliest"}) for _ in range(2)]
        for c in consumers:
            c.subscribe(["ck"])
        end = time.time() + 60
        while len(got) < 3000 and time.time() < end:
            for c in consumers:
                for m in c.consume(1000, 0.1):
                    if m.error():
                        continue
                    assert m.key() not in got, "duplicate %r" % m.key()
                    got[m.key()] = (m.value(), m.headers())
        for c in consumers:
            c.close()
        assert len(got) == 3000, len(got)
        assert got[b"k7"] == (b"v7", [("h", b"x7")]), got[b"k7"]
    finally:
        node.stop()


def test_kafka_python_group(tmp):
    from kafka import KafkaConsumer, KafkaProducer
    node = Node(tmp, "--kafka-partitions", "2").start()
    try:
        p = KafkaProducer(bootstrap_servers=node.bootstrap)
        for i in range(2000):
            p.send("kp", key=b"k%d" % i, value=b"v%d" % i)
        p.flush(30)
        p.close()
        c = KafkaConsumer("kp", bootstrap_servers=node.bootstrap, group_id="g-kp",
                          auto_offset_reset="earliest", consumer_timeout_ms=20000, enable_auto_commit=False)
        got = set()
        for m in c:
            got.add((m.key, m.value))
            if len(got) == 1000:
                break
        c.commit()
        c.close()
        assert len(got) == 1000
        # The same group resumes after its commit: the other 1,000, none again.
        c = KafkaConsumer("kp", bootstrap_servers=node.bootstrap, group_id="g-kp",
                          auto_offset_reset="earliest", consumer_timeout_ms=5000)
        rest = [(m.key, m.value) for m in c]
        c.close()
        assert len(rest) == 1000 and not (set(rest) & got), (len(rest), len(set(rest) & got))
        assert got | set(rest) == {(b"k%d" % i, b"v%d" % i) for i in range(2000)}
    finally:
        node.stop()


def test_kafka_python_delete_topics(tmp):
    """KafkaAdminClient.delete_topics: the topic and its records go; a topic made again under the
    name starts empty; an unknown topic is UnknownTopicOrPartitionError."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.errors import UnknownTopicOrPartitionError
    node = Node(tmp, "--kafka-partitions", "2").start()
    try:
        def produce(prefix, n):
            p = KafkaProducer(bootstrap_servers=node.bootstrap)
            for i in range(n):
                p.send("dt", key=b"%sk%d" % (prefix, i), value=b"%sv%d" % (prefix, i))
            p.flush(30)
            p.close()

        def consume():
            c = KafkaConsumer("dt", bootstrap_servers=node.bootstrap, auto_offset_reset="earliest",
                              consumer_timeout_ms=3000)
            got = sorted(m.value for m in c)
            c.close()
            return got

        produce(b"old-", 100)
        assert len(consume()) == 100
        admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
        admin.delete_topics(["dt"], timeout_ms=10000)
        assert not os.path.exists(os.path.join(tmp, "dt")), os.listdir(tmp)
        try:
            admin.delete_topics(["dt"], timeout_ms=10000)
            raise AssertionError("deleting a deleted topic succeeded")
        except UnknownTopicOrPartitionError:
            pass
        admin.close()
        produce(b"new-", 10)  # auto-created again: a new topic
        got = consume()
        assert got == sorted(b"new-v%d" % i for i in range(10)), got
    finally:
        node.stop()


class DroppingProxy:
    """Forwards 127.0.0.1:port to target and closes every connection after a random short time."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.dropping = True
        self.drops = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            life = random.uniform(0.05, 0.4) if self.dropping else 1e9
            threading.Thread(target=self._pipe, args=(c, u, life), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, life), daemon=True).start()

    def _pipe(self, a, b, life):
        end = time.time() + life
        a.settimeout(0.05)
        try:
            while time.time() < end and not self.stopped:
                try:
                    data = a.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                b.sendall(data)
            else:
                self.drops += 1
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.stopped = True
        self.sock.close()


def test_confluent_idempotent_through_drops(tmp):
    from confluent_kafka import Consumer, Producer
    kafka_port = free_port()
    proxy = DroppingProxy(kafka_port)
    node = Node(tmp, "--kafka-partitions", "2", "--kafka-advertise", "127.0.0.1:%d" % proxy.port)
    node.kafka = kafka_port
    node.start()
    try:
        errors = []
        p = Producer({"bootstrap.servers": "127.0.0.1:%d" % proxy.port, "enable.idempotence": True,
                      "linger.ms": 5, "batch.num.messages": 50, "message.timeout.ms": 60000,
                      "retry.backoff.ms": 20})
        # At least 5,000 records, and on until the proxy has dropped a connection (a fast run can
        # finish 5,000 before the first drop); bounded by count and time.
        n = 0
        keep_until = time.time() + 60
        while n < 5000 or (proxy.drops == 0 and n < 100000 and time.time() < keep_until):
            i = n
            n += 1
            while True:
                try:
                    p.produce("idem", key=b"k%d" % (i % 7), value=b"%d" % i,
                              on_delivery=lambda e, m: e and errors.append(str(e)))
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        left = p.flush(90)
        assert left == 0 and not errors, (left, errors[:5])
        assert proxy.drops > 0, "the proxy never dropped a connection"
        proxy.dropping = False
        c = Consumer({"bootstrap.servers": "127.0.0.1:%d" % proxy.port, "group.id": "g-idem",
                      "auto.offset.reset": "earliest"})
        c.subscribe(["idem"])
        values = []
        end = time.time() + 60
        while len(values) < n and time.time() < end:
            m = c.poll(0.5)
            if m is not None and not m.error():
                values.append(int(m.value()))
        extra_end = time.time() + 2
        while time.time() < extra_end:  # anything duplicated arrives now
            m = c.poll(0.2)
            if m is not None and not m.error():
                values.append(int(m.value()))
        c.close()
        assert len(values) == n, ("count", len(values), n)
        assert sorted(values) == list(range(n)), "lost or duplicated records"
    finally:
        node.stop()
        proxy.close()


def test_our_topic_read_by_kcat(tmp):
    node = Node(tmp).start()
    try:
        lines = "".join(json.dumps({"id": "u%d" % (i % 5), "n": i}) + "\n" for i in range(100))
        r = subprocess.run([PERSISTING, "put", "--server", "127.0.0.1:%d" % node.grpc, "--topic", "ours",
                            "--bucket-column", "id", "--num-buckets", "2"], input=lines.encode(),
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = kcat("-b", node.bootstrap, "-C", "-t", "ours", "-e", "-q", "-f", "%p\t%k\t%s\n").decode()
        rows = [l.split("\t") for l in out.splitlines()]
        assert len(rows) == 100, len(rows)
        for part, key, value in rows:
            rec = json.loads(value)
            assert rec["id"] == key, (key, value)
        assert sorted(json.loads(v)["n"] for _, _, v in rows) == list(range(100))
        # A Kafka producer writes JSON objects to it; a value that is not one is refused.
        kcat("-b", node.bootstrap, "-P", "-t", "ours", "-p", "1", "-K:", input=b'u9:{"n": 1000}\n')
        out = kcat("-b", node.bootstrap, "-C", "-t", "ours", "-p", "1", "-o", "-1", "-e", "-q",
                   "-f", "%k\t%s\n").decode()
        assert json.loads(out.split("\t", 1)[1]) == {"n": 1000, "id": "u9"}, out
        r = subprocess.run(["kcat", "-b", node.bootstrap, "-P", "-t", "ours", "-p", "0",
                            "-X", "message.send.max.retries=0"], input=b"not json\n", capture_output=True, timeout=30)
        assert r.returncode != 0 or b"INVALID_RECORD" in r.stderr or b"invalid" in r.stderr.lower(), r
    finally:
        node.stop()


def test_kcat_tls_and_sasl(tmp):
    key, cert = os.path.join(tmp, "..", "key.pem"), os.path.join(tmp, "..", "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    node = Node(tmp, "--tls-cert", cert, "--tls-key", key, "--token", "s3cret").start()
    try:
        tls = ["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=any",
               "-X", "ssl.ca.location=" + cert]
        kcat("-b", node.bootstrap, *tls, "-X", "sasl.password=s3cret", "-P", "-t", "secure", "-K:",
             input=keyed_lines(100).encode())
        got = kcat("-b", node.bootstrap, *tls, "-X", "sasl.password=s3cret", "-C", "-t", "secure", "-e", "-q",
                   "-f", "%k:%s\n").decode()
        assert got == keyed_lines(100), got[:200]
        r = subprocess.run(["kcat", "-b", node.bootstrap, *tls, "-X", "sasl.password=wrong", "-L", "-m", "5"],
                           capture_output=True, timeout=60)
        assert r.returncode != 0 and b"wrong password" in r.stderr, r.stderr[-500:]
        r = subprocess.run(["kcat", "-b", node.bootstrap, "-L", "-m", "3"], capture_output=True, timeout=60)
        assert r.returncode != 0, "a plaintext client was served by a TLS listener"
    finally:
        node.stop()


def test_kafkajs_group(tmp):
    # kafkajs comes from npm (scripts/test.d/kafka-interop.sh runs `npm ci` in its directory).
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafkajs")
    assert os.path.isdir(os.path.join(here, "node_modules", "kafkajs")), "run npm ci in " + here
    node = Node(tmp, "--kafka-partitions", "3").start()
    try:
        r = subprocess.run(["node", os.path.join(here, "produce_consume.mjs"), node.bootstrap, "kjs"],
                           capture_output=True, timeout=90, env=dict(os.environ, KAFKAJS_NO_PARTITIONER_WARNING="1"))
        assert r.returncode == 0, (r.stdout.decode()[-1000:], r.stderr.decode()[-2000:])
    finally:
        node.stop()


def test_lancedb_reads_kafka_topic(tmp):
    # LanceDB from the Lance interop suite's npm setup (tests/lance/interop, `npm ci` there).
    lance_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lance", "interop")
    assert os.path.isdir(os.path.join(lance_dir, "node_modules", "@lancedb")), "run npm ci in " + lance_dir
    from confluent_kafka import Producer
    node = Node(tmp, "--kafka-partitions", "1").start()
    expected = [["k%d" % i, "value %d" % i, [["h", "x%d" % i], ["second", "y"]]] for i in range(3000)]
    try:
        p = Producer({"bootstrap.servers": node.bootstrap, "compression.codec": "zstd"})
        for k, v, hs in expected:
            p.produce("to-lance", key=k.encode(), value=v.encode(), headers=[(a, b.encode()) for a, b in hs])
        assert p.flush(30) == 0
    finally:
        node.stop()  # flushes every bucket into its Lance dataset
    path = os.path.join(tmp, "..", "expected.json")
    with open(path, "w") as f:
        json.dump(expected, f)
    r = subprocess.run(["node", os.path.join(lance_dir, "kafka_topic.mjs"), os.path.join(tmp, "to-lance", "bucket_0"),
                        path], capture_output=True, timeout=120)
    assert r.returncode == 0, (r.stdout.decode()[-1000:], r.stderr.decode()[-2000:])


def test_confluent_replicated_topic_across_an_election(tmp):
    # A factor-3 topic made by confluent-kafka's AdminClient on three nodes (docs/kafka.md, "In a
    # cluster"): Metadata names three replicas; an idempotent producer writes 500 records, the
    # leader is SIGKILLed and a follower elected (leader epoch 1 in Metadata), the same producer
    # writes 500 more; a consumer reads all 1000 once and in order. Factor 2 is refused.
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    nodes = []
    for i in range(3):
        d = os.path.join(tmp, "n%d" % (i + 1))
        os.mkdir(d)
        nodes.append(Node(d))
    members = ",".join("n%d=127.0.0.1:%d" % (i + 1, n.grpc) for i, n in enumerate(nodes))
    kafka_members = ",".join("n%d=%s" % (i + 1, n.bootstrap) for i, n in enumerate(nodes))
    for i, n in enumerate(nodes):
        n.extra = ["--id", "n%d" % (i + 1), "--members", members, "--kafka-members", kafka_members,
                   "--replica-lag-max-ms", "3000"]
    try:
        for n in nodes:
            n.start()
        bootstrap = ",".join(n.bootstrap for n in nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("cr", 1, 3)])["cr"].result(30)
        try:
            admin.create_topics([NewTopic("cr2", 1, 2)])["cr2"].result(30)
            raise AssertionError("factor 2 was accepted")
        except Exception as e:  # noqa: BLE001 - the refusal is the point
            assert "INVALID_REPLICATION_FACTOR" in str(e) and "1, 3 or 5" in str(e), e

        def status():
            # Bucket 0 as its leader describes it (with its in-sync set); None when none does.
            for n in nodes:
                r = subprocess.run([PERSISTING, "cluster", "status", "--server", "127.0.0.1:%d" % n.grpc,
                                    "--topic", "cr"], capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    b = [b for b in json.loads(r.stdout)["buckets"] if b["bucket"] == 0][0]
                    if "in_sync" in b:
                        return b
            return None

        def partition():
            return admin.list_topics("cr", timeout=10).topics["cr"].partitions[0]

        p0 = partition()
        assert len(p0.replicas) == 3, p0.replicas
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                             "linger.ms": 5})
        failed = []

        def delivered(err, msg):
            if err is not None:
                failed.append(str(err))

        for i in range(500):
            producer.produce("cr", json.dumps({"id": i}).encode(), partition=0, on_delivery=delivered)
        left = producer.flush(60)
        assert left == 0 and not failed, (left, failed[:3])
        end = time.time() + 30  # every follower fetched all (a new topic is learned within seconds)
        b0 = status()
        while (b0 is None or len(b0["in_sync"]) < 3 or b0["high_watermark"] < 500) and time.time() < end:
            time.sleep(0.2)
            b0 = status()
        assert b0 and len(b0["in_sync"]) == 3 and b0["high_watermark"] == 500, b0
        leader = int(b0["leader"][1:]) - 1
        nxt = [r for r in b0["replicas"] if r != b0["leader"]][0]
        nodes[leader].proc.kill()
        nodes[leader].proc.wait()
        end = time.time() + 20  # until the candidate heard it is in the set (its next fetch's answer)
        while True:
            r = subprocess.run([PERSISTING, "cluster", "elect", "--server",
                                "127.0.0.1:%d" % nodes[int(nxt[1:]) - 1].grpc, "--topic", "cr", "--bucket", "0",
                                "--node", nxt], capture_output=True, text=True, timeout=60)
            if r.returncode == 0 or time.time() > end:
                break
            time.sleep(0.3)
        assert r.returncode == 0, r.stderr
        for i in range(500, 1000):
            producer.produce("cr", json.dumps({"id": i}).encode(), partition=0, on_delivery=delivered)
        left = producer.flush(60)
        assert left == 0 and not failed, (left, failed[:3])
        end = time.time() + 30
        while partition().leader == p0.leader and time.time() < end:
            time.sleep(0.2)
        assert partition().leader != p0.leader, "Metadata still names the killed leader"
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-cr", "enable.auto.commit": False})
        consumer.assign([TopicPartition("cr", 0, 0)])
        ids = []
        end = time.time() + 60
        while len(ids) < 1000 and time.time() < end:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                ids.append(json.loads(m.value())["id"])
        consumer.close()
        assert ids == list(range(1000)), (len(ids), ids[:5], ids[-5:])
    finally:
        for n in nodes:
            n.stop()


def test_cluster_node_needs_kafka_members(tmp):
    # In a static cluster every node must know the others' Kafka listeners (docs/kafka.md, "In a
    # cluster"): without --kafka-members the node refuses to start, naming the flag.
    a, b, k = free_port(), free_port(), free_port()
    r = subprocess.run([PERSISTINGD, "--id", "n1", "--listen", "127.0.0.1:%d" % a, "--members",
                        "n1=127.0.0.1:%d,n2=127.0.0.1:%d" % (a, b), "--kafka-listen", "127.0.0.1:%d" % k,
                        "--data-dir", tmp], capture_output=True, timeout=30)
    assert r.returncode == 1 and b"needs --kafka-members" in r.stderr, r.stderr


TESTS = [test_kcat_list, test_cluster_node_needs_kafka_members, test_kcat_tls_and_sasl, test_kcat_codecs_roundtrip, test_our_topic_read_by_kcat, test_confluent_group,
         test_kafka_python_group, test_kafka_python_delete_topics, test_kcat_group_split_and_resume, test_confluent_idempotent_through_drops, test_kafkajs_group,
         test_lancedb_reads_kafka_topic, test_confluent_replicated_topic_across_an_election]


def main():
    wanted = set(sys.argv[2:])
    failed = []
    for t in TESTS:
        if wanted and t.__name__ not in wanted:
            continue
        with tempfile.TemporaryDirectory(prefix="kafka-interop-") as d:
            data = os.path.join(d, "data")
            os.mkdir(data)
            start = time.time()
            try:
                t(data)
                print("PASS %s (%.1f s)" % (t.__name__, time.time() - start), flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                failed.append(t.__name__)
                print("FAIL %s: %r" % (t.__name__, e), flush=True)
                for name in os.listdir(d):
                    if name.endswith(".log"):
                        with open(os.path.join(d, name), errors="replace") as f:
                            print("--- %s\n%s" % (name, f.read()[-3000:]))
    if failed:
        print("kafka interop: FAILED: " + ", ".join(failed))
        sys.exit(1)
    print("kafka interop: all passed")


if __name__ == "__main__":
    main()
