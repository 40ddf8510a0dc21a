#!/usr/bin/python3
"""Tests of the corpus recipe's label rules (tools/corpus/corpus.py) and of
`corpus.py labelcheck`, on signals and a clip pool made here.  No Debian data
packages and no network: labelcheck runs against a stand-in for the anchors'
run_silero.sh.  Exits 77 (skipped) without numpy.

  test_corpus.py            (from meson: `meson test corpus`)
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed (Debian: python3-numpy): skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_PY = os.path.join(HERE, "..", "..", "tools", "corpus", "corpus.py")
sys.path.insert(0, os.path.dirname(CORPUS_PY))
import corpus as C  # noqa: E402

checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def tone(seconds, db, freq=440.0):
    t = np.arange(int(seconds * C.SR)) / C.SR
    return (10 ** (db / 20) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def spans_s(mask):
    return [(s / C.FPS, e / C.FPS) for s, e in C.runs_of(mask)]


def test_runs_and_gaps():
    m = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1], bool)
    check(C.runs_of(m) == [(1, 3), (5, 6), (9, 12)], "runs_of: %s" % C.runs_of(m))
    # gaps shorter than max_gap frames are filled, gaps of max_gap or more not
    f = C.fill_gaps(m, 3)
    check(C.runs_of(f) == [(1, 6), (9, 12)], "fill_gaps(3): %s" % C.runs_of(f))
    f = C.fill_gaps(m, 4)
    check(C.runs_of(f) == [(1, 12)], "fill_gaps(4): %s" % C.runs_of(f))
    # runs shorter than min_len frames go
    d = C.drop_short(m, 2)
    check(C.runs_of(d) == [(1, 3), (9, 12)], "drop_short(2): %s" % C.runs_of(d))
    check(C.mask_to_spans(m) == [[0.01, 0.03], [0.05, 0.06], [0.09, 0.12]],
          "mask_to_spans: %s" % C.mask_to_spans(m))
    check((C.spans_to_mask(C.mask_to_spans(m), len(m)) == m).all(), "spans_to_mask round trip")


def test_detect():
    """The speech detector of the label rules: words over a -70 dBFS floor,
    a 100 ms pause (merged), a 1 s pause (kept), a bump over the threshold
    that never comes 6 dB above it (dropped), a 50 ms click (shorter than
    100 ms: dropped).  With 30 % of the clip loud at -20 dBFS, the 95th
    percentile is -20 and the threshold max(min(-70, -50) + 10, -60) = -60."""
    rng = np.random.default_rng(1)
    x = (10 ** (-70 / 20) * rng.standard_normal(4 * C.SR)).astype(np.float32)

    def put(start, sig):
        a = int(start * C.SR)
        x[a:a + len(sig)] += sig

    put(0.50, tone(0.50, -20))           # word 1
    put(1.10, tone(0.40, -22))           # word 2, 100 ms later
    put(2.50, tone(0.30, -20))           # word 3, after a 1 s pause
    put(3.20, tone(0.30, -57))           # bump: over the -60 dB threshold, under -54
    put(3.85, tone(0.05, -20))           # click
    mask, floor, act = C.detect(x, "speech")
    got = spans_s(mask)
    want = [(0.50, 1.50), (2.50, 2.80)]
    ok = len(got) == len(want) and all(
        abs(a - c) <= 0.02 and abs(b - d) <= 0.02 for (a, b), (c, d) in zip(got, want))
    check(ok, "detect spans %s, want %s within 20 ms" % (got, want))
    check(abs(floor - (-70)) < 2.0, "floor %.1f dB, want -70 +- 2" % floor)
    # 0.8 s at -20 and 0.4 s at -22 dBFS over the 1.3 s of the two runs
    check(abs(act - (-21.0)) < 1.0, "active level %.1f dB, want -21 +- 1" % act)


# A stand-in for ../shared/anchors/run_silero.sh: frame k is speech (prob
# 0.9) when any sample of [160k, 160k + 160) is not zero.  It must be given
# the 16 kHz mono S16 WAV labelcheck writes.
FAKE_SILERO = r"""#!/usr/bin/python3
import sys, wave
import numpy as np
w = wave.open(sys.argv[1], "rb")
assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
n = len(x) // 160
with open(sys.argv[2], "w") as f:
    for k in range(n):
        p = 0.9 if np.any(x[160 * k:160 * k + 160]) else 0.01
        f.write("%.2f\t%.2f\t%s\t%.6f\n" % (k / 100, (k + 1) / 100,
                "speech" if p >= 0.5 else "silence", p))
"""


def test_labelcheck():
    with tempfile.TemporaryDirectory(prefix="test_corpus.") as tmp:
        anchors = os.path.join(tmp, "anchors")
        os.makedirs(os.path.join(anchors, "node_modules"))
        runner = os.path.join(anchors, "run_silero.sh")
        with open(runner, "w") as f:
            f.write(FAKE_SILERO.replace("/usr/bin/python3", sys.executable, 1))
        os.chmod(runner, 0o755)
        pool = os.path.join(tmp, "cache", "pool")
        os.makedirs(pool)
        index = []

        def clip(cid, split, pkg, lang, sound, label, cls="speech"):
            x = np.zeros(2 * C.SR, np.float32)
            a, b = int(sound[0] * C.SR), int(sound[1] * C.SR)
            x[a:b] = tone((b - a) / C.SR, -20)
            C.write_wav(os.path.join(pool, cid + ".wav"), x)
            index.append(dict(id=cid, split=split, pkg=pkg, lang=lang, cls=cls,
                              group=pkg + ":" + lang, spans=[list(label)]))

        # group 1: the labels are exactly where the sound is -> F1 1
        clip("a1", "train", "pkg-a", "xx", (0.5, 1.0), (0.5, 1.0))
        clip("a2", "train", "pkg-a", "xx", (0.2, 0.6), (0.2, 0.6))
        # group 2: labelled 1.0 s where 0.5 s sound -> F1 2*0.5/(1.0+0.5)
        clip("b1", "valid", "pkg-b", "yy", (0.5, 1.0), (0.5, 1.5))
        # a 150 ms pause inside the sound is filled as the labels' gap rule
        # does: the labels span the whole, and so does the filled decision
        clip("c1", "valid", "pkg-c", "zz", (0.4, 0.7), (0.4, 1.2))
        x = np.zeros(2 * C.SR, np.float32)
        x[int(0.85 * C.SR):int(1.2 * C.SR)] = tone(0.35, -20)
        y = C.read_wav(os.path.join(pool, "c1.wav"))
        C.write_wav(os.path.join(pool, "c1.wav"), x + y)
        # left out: held-out unless asked, and anything that is not speech
        clip("h1", "heldout", "pkg-h", "hh", (0.5, 1.0), (0.5, 1.0))
        clip("m1", "train", "pkg-m", "mm", (0.5, 1.0), (0.5, 1.0), cls="music")
        with open(os.path.join(pool, "index.json"), "w") as f:
            json.dump(index, f)

        r = subprocess.run([sys.executable, CORPUS_PY, "labelcheck", "--cache",
                            os.path.join(tmp, "cache"), "--anchors", anchors],
                           capture_output=True, text=True)
        check(r.returncode == 0, "labelcheck exit %d: %s" % (r.returncode, r.stderr))
        rows = [ln.split("\t") for ln in r.stdout.splitlines()]
        check(rows and rows[0] == ["split", "package", "language", "clips",
                                   "labelled_s", "silero_s", "f1"], "header %s" % rows[:1])
        got = {(p[0], p[1], p[2]): p[3:] for p in rows[1:]}
        check(set(got) == {("train", "pkg-a", "xx"), ("valid", "pkg-b", "yy"),
                           ("valid", "pkg-c", "zz")}, "groups %s" % sorted(got))
        want = {("train", "pkg-a", "xx"): ("2", 0.9, 0.9, 1.0),
                ("valid", "pkg-b", "yy"): ("1", 1.0, 0.5, 2 * 0.5 / 1.5),
                ("valid", "pkg-c", "zz"): ("1", 0.8, 0.8, 1.0)}
        # seconds are printed to 0.1 s, F1 to 0.001
        for k, (n, lab, sil, f1) in want.items():
            if k not in got:
                continue
            g = got[k]
            check(g[0] == n and abs(float(g[1]) - lab) < 1e-9
                  and abs(float(g[2]) - sil) < 1e-9 and abs(float(g[3]) - f1) <= 0.0005,
                  "%s: %s, want clips %s labelled %.2f silero %.2f f1 %.3f"
                  % (k, g, n, lab, sil, f1))
        check("lowest 0.667 (valid pkg-b yy)" in r.stderr, "summary: %s" % r.stderr.strip())

        r = subprocess.run([sys.executable, CORPUS_PY, "labelcheck", "--cache",
                            os.path.join(tmp, "cache"), "--anchors", anchors,
                            "--splits", "heldout"], capture_output=True, text=True)
        check(r.returncode == 0 and "heldout\tpkg-h\thh\t1\t" in r.stdout,
              "--splits heldout: %s %s" % (r.stdout, r.stderr))

        # a runner that fails: its last stderr line, no traceback
        with open(runner) as f:
            good = f.read()
        with open(runner, "w") as f:
            f.write("#!/bin/sh\necho 'onnxruntime: model not found' >&2\nexit 3\n")
        r = subprocess.run([sys.executable, CORPUS_PY, "labelcheck", "--cache",
                            os.path.join(tmp, "cache"), "--anchors", anchors],
                           capture_output=True, text=True)
        check(r.returncode != 0 and "model not found" in r.stderr
              and "Traceback" not in r.stderr and not r.stdout,
              "failing runner: exit %d, %r" % (r.returncode, r.stderr))
        with open(runner, "w") as f:
            f.write(good)

        # no anchors: a one-line error naming the fix
        os.rmdir(os.path.join(anchors, "node_modules"))
        r = subprocess.run([sys.executable, CORPUS_PY, "labelcheck", "--cache",
                            os.path.join(tmp, "cache"), "--anchors", anchors],
                           capture_output=True, text=True)
        check(r.returncode != 0 and "setup.sh" in r.stderr and not r.stdout,
              "missing anchors: exit %d, %r" % (r.returncode, r.stderr))


test_runs_and_gaps()
test_detect()
test_labelcheck()
print("%d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
