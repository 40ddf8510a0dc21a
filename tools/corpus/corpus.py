#!/usr/bin/python3
"""corpus.py — Earshot's training-corpus recipe (driven by build.sh).

  corpus.py pool    --cache DIR [--jobs N]
      Inventory the unpacked Debian packages under DIR/x, pick clips, decode,
      synthesise and render them into DIR/pool/<id>.wav (16 kHz mono s16) with
      DIR/pool/<id>.json (activity mask, levels, split, source, voice, lang).
      Everything here is independent of --seed, so re-runs reuse the pool.
  corpus.py compose --cache DIR --out OUT --seed S [--jobs N] [--scale F] [--train-scale F]
      Compose OUT/{train,valid,heldout}/*.wav + Audacity label files and the
      manifests OUT/{train,valid,heldout}.tsv, deterministically from the seed.
  corpus.py stats   --out OUT
      Sum label spans per class and split (OUT/stats.json, markdown on stdout).
  corpus.py labelcheck --cache DIR [--anchors DIR] [--splits train,valid] [--per-group N]
      How far Silero VAD agrees with the pool's speech labels, per package and
      language: a diagnostic of the energy detector, not part of a build
      (README.md, "Checking the speech labels").

Classes: speech, music, noise, silence.  See README.md for the label rules.
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import midigen  # noqa: E402

SR = 16000
HOP = 160                  # 10 ms label frames
FPS = SR // HOP
CLASSES = ("speech", "music", "noise", "silence")

# Held out for evaluation: never read anything from these packages.
FORBIDDEN = ("gcompris-qt-data", "klettres-data", "wesnoth-1.16-music",
             "sound-theme-freedesktop", "asterisk-core-sounds-", "fillets-ng-data")

# Language split (ISO codes as tuxpaint/ktuberling/espeak spell them, reduced
# to the part before '_' / '-').  It applies to every speech source, real or
# synthetic: no training file contains a held-out or validation language.
HELDOUT_LANGS = {"el", "lt", "pt", "ca", "zh", "cmn", "yue", "ja", "ko", "hi", "tr", "sw", "vi"}
VALID_LANGS = {"da", "bg", "sk", "hr", "et"}

# Voices held out by name (synthetic) — see README.
FLITE_VOICES = {"train": ["kal", "kal16", "awb"], "valid": ["rms"], "heldout": ["slt"]}
FESTIVAL_VOICES = {
    "train": [("kal_diphone", "en", "latin1"), ("lp_diphone", "it", "latin1"),
              ("pc_diphone", "it", "latin1"), ("czech_dita", "cs", "iso-8859-2"),
              ("czech_machac", "cs", "iso-8859-2"), ("suo_fi_lj_diphone", "fi", "latin1"),
              ("hy_fi_mv_diphone", "fi", "latin1")],
    "valid": [("ked_diphone", "en", "latin1")],
    "heldout": [("cmu_us_slt_arctic_hts", "en", "utf-8"), ("upc_ca_ona_hts", "ca", "utf-8")],
}
SOUNDFONTS = {"train": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
              "valid": "x/timgm6mb-soundfont/usr/share/sounds/sf2/TimGM6mb.sf2",
              "heldout": "x/musescore-general-soundfont-small/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"}
HYDROGEN_SPLIT = {"Millo_MultiLayered3": "valid", "Millo-Drums_v.1": "valid",
                  "ColomboAcousticDrumkit": "heldout", "circAfrique v4": "heldout"}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def h01(s):
    """Stable hash of a string to [0, 1)."""
    return int(hashlib.sha1(s.encode()).hexdigest()[:12], 16) / float(1 << 48)


def hsplit(key, valid=0.15, heldout=0.15):
    u = h01(key)
    return "heldout" if u < heldout else "valid" if u < heldout + valid else "train"


def lang_split(lang):
    base = re.split(r"[_\-@.]", lang.lower())[0]
    if base in HELDOUT_LANGS:
        return "heldout"
    if base in VALID_LANGS:
        return "valid"
    return "train"


def cid(*parts):
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (cmd[0], r.stderr.decode(errors="replace")[-400:]))
    return r


# ----------------------------------------------------------------------------
# audio I/O and analysis

def read_wav(path):
    with wave.open(path, "rb") as w:
        n, ch, sw, sr = w.getnframes(), w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(n)
    assert sw == 2 and sr == SR, (path, sw, sr)
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x


def write_wav(path, x):
    y = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    tmp = path + ".part"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(y.tobytes())
    os.replace(tmp, path)


def frame_db(x):
    """Energy of 25 ms windows centred on each 10 ms hop, dBFS (RMS)."""
    n = len(x) // HOP
    if n == 0:
        return np.zeros(0)
    pad = np.concatenate([np.zeros(120, np.float32), x[:n * HOP], np.zeros(120, np.float32)])
    c = np.concatenate([[0.0], np.cumsum(pad.astype(np.float64) ** 2)])
    starts = np.arange(n) * HOP
    e = (c[starts + 400] - c[starts]) / 400.0
    return 10 * np.log10(e + 1e-12)


def runs_of(mask):
    """[(start, end)] frame runs where mask is True."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.where(d == 1)[0], np.where(d == -1)[0]))


def fill_gaps(mask, max_gap):
    m = mask.copy()
    r = runs_of(m)
    for (s0, e0), (s1, e1) in zip(r, r[1:]):
        if s1 - e0 < max_gap:
            m[e0:s1] = True
    return m


def drop_short(mask, min_len):
    m = mask.copy()
    for s, e in runs_of(m):
        if e - s < min_len:
            m[s:e] = False
    return m


DETECT = {  # relative threshold below the loud frames, gap to merge, shortest kept (frames)
    "speech": dict(rel=40.0, gap=20, minlen=10),
    "noise": dict(rel=40.0, gap=30, minlen=5),
    "music": dict(rel=45.0, gap=100, minlen=20),
}


def detect(x, cls):
    """Energy detector with hysteresis on a clean clip.

    floor = 10th percentile of frame energy, loud = 95th percentile;
    threshold = max(min(floor, loud-30) + 10, loud - rel); frames above it
    separated by gaps < `gap` frames are merged into runs; a run counts if
    it reaches threshold + 6 dB somewhere; runs < `minlen` frames are dropped.  Returns (mask, floor_db, active_db)."""
    p = DETECT[cls]
    e = frame_db(x)
    if len(e) == 0:
        return np.zeros(0, bool), -120.0, -120.0
    floor = float(np.percentile(e, 10))
    loud = float(np.percentile(e, 95))
    thr = max(min(floor, loud - 30.0) + 10.0, loud - p["rel"])
    low = fill_gaps(e > thr, p["gap"])
    mask = np.zeros_like(low)
    for s, t in runs_of(low):
        if e[s:t].max() > thr + 6.0:
            mask[s:t] = True
    mask = drop_short(mask, p["minlen"])
    act = float(10 * np.log10(np.mean(10 ** (e[mask] / 10)) + 1e-12)) if mask.any() else -120.0
    return mask, floor, act


def mask_to_spans(mask):
    return [[round(s / FPS, 2), round(e / FPS, 2)] for s, e in runs_of(mask)]


def spans_to_mask(spans, n):
    m = np.zeros(n, bool)
    for s, e in spans:
        m[int(round(s * FPS)):int(round(e * FPS))] = True
    return m


# ----------------------------------------------------------------------------
# inventory

def _files(root, exts):
    out = []
    if not os.path.isdir(root):
        return out
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.lower().endswith(exts):
                out.append(os.path.join(d, f))
    return sorted(out)


_XROOT = "/"


def cap(items, n, key):
    """Deterministic subset: the n items with the lowest stable hash of their
    path inside the cache (so the choice does not depend on where it is)."""
    if len(items) <= n:
        return items
    return sorted(items, key=lambda it: h01(key + it["src"].replace(_XROOT, "x")))[:n]


def tuxpaint_texts(X):
    """{lang: [sentence,...]} from tuxpaint stamp descriptions (many languages)."""
    texts = {}
    for f in _files(os.path.join(X, "tuxpaint-stamps-default/usr/share/tuxpaint/stamps"), (".txt",)):
        try:
            lines = open(f, encoding="utf-8").read().splitlines()
        except UnicodeDecodeError:
            continue
        if not lines:
            continue
        texts.setdefault("en", []).append(lines[0].strip())
        for ln in lines[1:]:
            m = re.match(r"^([A-Za-z_@]+)\.utf8=(.*)$", ln.strip())
            if m and m.group(2).strip():
                texts.setdefault(m.group(1), []).append(m.group(2).strip())
    for k in list(texts):
        texts[k] = sorted(set(t for t in texts[k] if 3 <= len(t) <= 200))
    return texts


ESPEAK_LANG = {"en": "en-us", "en_GB": "en-gb", "fr": "fr-fr", "pt_BR": "pt-br", "zh_CN": "cmn",
               "zh_TW": "yue", "es": "es", "sr@latin": None, "ca@valencia": None}


def espeak_languages():
    out = run(["espeak-ng", "--voices"]).stdout.decode().splitlines()[1:]
    return {ln.split()[1] for ln in out if ln.split()}


def espeak_variants():
    d = "/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v"
    if not os.path.isdir(d):
        d = "/usr/share/espeak-ng-data/voices/!v"
    return sorted(v for v in os.listdir(d) if v not in ("whisper", "whisperf") and " " not in v)


def inventory(cache):
    global _XROOT
    X = os.path.join(os.path.abspath(cache), "x")
    _XROOT = X
    items = []

    def add(pkg, cls, split, group, lang, src, dec, **kw):
        if any(pkg.startswith(f) for f in FORBIDDEN):
            raise SystemExit("refusing held-out package %s" % pkg)
        it = dict(pkg=pkg, cls=cls, split=split, group=group, lang=lang, src=src, dec=dec)
        it.update(kw)
        # ids do not depend on where the cache lives
        it["id"] = cid(pkg, src.replace(X, "x"), json.dumps(dec, sort_keys=True).replace(X, "x"))
        items.append(it)
        return it

    # ---------------- real speech ----------------
    P = os.path.join(X, "festvox-ru/usr/share/festival/voices/russian/msu_ru_nsh_clunits")
    ru = []
    for w in _files(os.path.join(P, "wav"), (".wav",)):
        lab = os.path.join(P, "lab", os.path.basename(w)[:-4] + ".lab")
        if os.path.exists(lab):
            ru.append(dict(src=w, lab=lab))
    for r in cap(ru, 320, "ru"):
        add("festvox-ru", "speech", "train", "festvox-ru:nsh", "ru", r["src"],
            {"t": "sox", "in": [r["src"]]}, lab=r["lab"])

    T = os.path.join(X, "tuxpaint-stamps-default/usr/share/tuxpaint/stamps")
    tux = {}
    for f in _files(T, (".ogg", ".wav")):
        b = os.path.basename(f).rsplit(".", 1)[0]
        m = re.match(r"^(.*)_desc(?:_([A-Za-z_]+))?$", b)
        if m:
            lang = m.group(2) or "en"
        elif "/symbols/alphabets/" in f:
            if "outline" in b:          # the same recording as the "filled" stamp
                continue
            lang = "de" if "/german/" in f else "en_GB"
        elif "/symbols/math/" in f:
            m2 = re.match(r"^\d+(?:_([A-Za-z_]+))?$", b)
            if not m2:
                continue
            lang = m2.group(1) or "en"
        else:
            continue
        tux.setdefault(lang, []).append(f)
    for lang, fs in sorted(tux.items()):
        sp = lang_split(lang)
        its = [dict(src=f) for f in fs]
        for r in cap(its, 220 if sp == "train" else 260, "tux" + lang):
            add("tuxpaint-stamps-default", "speech", sp, "tuxpaint:" + lang, lang, r["src"],
                {"t": "sox", "in": [r["src"]]})

    K = os.path.join(X, "ktuberling-data/usr/share/ktuberling/sounds")
    if os.path.isdir(K):
        for loc in sorted(os.listdir(K)):
            fs = _files(os.path.join(K, loc), (".ogg", ".wav", ".opus"))
            sp = lang_split(loc)
            for r in cap([dict(src=f) for f in fs], 70, "kt" + loc):
                dec = {"t": "ffmpeg" if r["src"].endswith(".opus") else "sox", "in": [r["src"]]}
                add("ktuberling-data", "speech", sp, "ktuberling:" + loc, loc, r["src"], dec)

    skip_prompt = re.compile(r"(beep|tone|silence|ring|dtmf|click)", re.I)
    A = os.path.join(X, "asterisk-prompt-it-menardi-wav/usr/share/asterisk/sounds")
    fs = [f for f in _files(A, (".wav",)) if not skip_prompt.search(os.path.basename(f))]
    for r in cap([dict(src=f) for f in fs], 260, "astit"):
        add("asterisk-prompt-it-menardi-wav", "speech", "train", "asterisk:it-menardi", "it",
            r["src"], {"t": "sox", "in": [r["src"]]})
    for pkg, lang, sp in (("asterisk-prompt-fr-armelle", "fr", "valid"),
                          ("asterisk-prompt-es-co", "es", "heldout")):
        fs = [f for f in _files(os.path.join(X, pkg), (".gsm", ".wav"))
              if not skip_prompt.search(os.path.basename(f))]
        for r in cap([dict(src=f) for f in fs], 260, pkg):
            add(pkg, "speech", sp, "asterisk:" + pkg, lang, r["src"], {"t": "sox", "in": [r["src"]]})

    M = os.path.join(X, "megaglest-data/usr/share/games/megaglest/techs/megapack/factions")
    nonhuman = {"chicken", "bull", "thunderbird", "behemoth", "dragon", "evil_dragon",
                "wild_sow", "mummy", "ghost_armor", "sheep", "elephant", "battle_machine",
                "ornithopter", "flying_carpet", "golem", "horse", "pig", "cow"}
    for f in _files(M, (".wav",)):
        parts = f[len(M) + 1:].split("/")
        if len(parts) < 4 or parts[1] != "units" or parts[2] in nonhuman:
            continue
        if not re.search(r"_(ack|select)\d*\.wav$", f):
            continue
        add("megaglest-data", "speech", "train", "megaglest:%s/%s" % (parts[0], parts[2]), "en",
            f, {"t": "sox", "in": [f]})

    H = os.path.join(X, "hedgewars-data/usr/share/games/hedgewars/Data/Sounds")
    nonverbal = re.compile(r"^(Laugh|Ooff\d|Ow\d|Jump\d|PoisonCough|PoisonMoan)\.ogg$")
    unclear = re.compile(r"^(Firepunch\d|Hmm)\.ogg$")
    V = os.path.join(H, "voices")
    if os.path.isdir(V):
        for pack in sorted(os.listdir(V)):
            if pack in ("Singer", "Robot"):      # singing / vocoded: ambiguous, excluded
                continue
            for f in _files(os.path.join(V, pack), (".ogg",)):
                b = os.path.basename(f)
                if unclear.match(b):
                    continue
                if nonverbal.match(b):
                    add("hedgewars-data", "noise", "train", "hedgewars:vocal", "", f,
                        {"t": "sox", "in": [f]}, sub="nonverbal")
                else:
                    lang = pack.split("_")[1] if "_" in pack else "en"
                    add("hedgewars-data", "speech", lang_split(lang), "hedgewars:" + pack, lang, f,
                        {"t": "sox", "in": [f]})
    for f in _files(H, (".ogg",)):
        if "/voices/" not in f:
            add("hedgewars-data", "noise", "train", "hedgewars:sfx", "", f, {"t": "sox", "in": [f]})

    # held-out real voices
    KJ = os.path.join(X, "kajongg/usr/share/kajongg/voices")
    for f in _files(KJ, (".ogg",)):
        rel = f[len(KJ) + 1:].split("/")
        lang = "de" if rel[0] == "de" else "en"
        add("kajongg", "speech", "heldout", "kajongg:" + "/".join(rel[:-1]), lang, f,
            {"t": "sox", "in": [f]})
    G = os.path.join(X, "gcin-voice/usr/share/gcin-voice/ogg")
    fs = _files(G, (".ogg",))
    for r in cap([dict(src=f) for f in fs], 400, "gcin"):
        add("gcin-voice", "speech", "heldout", "gcin",
            "zh", r["src"], {"t": "sox", "in": [r["src"]]})
    C = os.path.join(X, "codec2-examples/usr/share/codec2")
    for f in _files(os.path.join(C, "wav"), (".wav",)):
        b = os.path.basename(f)
        if b in ("all.wav",):        # a concatenation of the others
            continue
        add("codec2-examples", "speech", "heldout", "codec2:" + b, "en", f, {"t": "sox", "in": [f]})
    for b in ("test_datac0.raw", "test_qam16.raw"):
        f = os.path.join(C, "octave", b)
        if os.path.exists(f):
            add("codec2-examples", "noise", "heldout", "codec2:modem", "", f,
                {"t": "sox", "in": [f], "pre": ["-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1"]})
    for b in ("test_datac1_006.raw", "700d_end_over.raw", "testframes_700d.raw"):
        f = os.path.join(C, "raw", b)
        if os.path.exists(f):
            add("codec2-examples", "noise", "heldout", "codec2:modem", "", f,
                {"t": "sox", "in": [f], "pre": ["-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1"]})
    PS = os.path.join(X, "pocketsphinx-testdata/usr/share/pocketsphinx/test/data")
    for f in _files(PS, (".wav",)):
        add("pocketsphinx-testdata", "speech", "heldout", "pocketsphinx:" + os.path.basename(os.path.dirname(f)),
            "en", f, {"t": "sox", "in": [f]})
    for b in ("goforward.raw", "numbers.raw", "something.raw"):
        f = os.path.join(PS, b)
        if os.path.exists(f):
            add("pocketsphinx-testdata", "speech", "heldout", "pocketsphinx:raw", "en", f,
                {"t": "sox", "in": [f], "pre": ["-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1"]})
    for f in _files(os.path.join(X, "saytime/usr/share/saytime"), (".au", ".ul", ".wav")):
        add("saytime", "speech", "heldout", "saytime", "en", f,     # headerless 8 kHz mu-law
            {"t": "sox", "in": [f], "pre": ["-t", "ul", "-r", "8000", "-c", "1"]})

    # ---------------- synthetic speech ----------------
    texts = tuxpaint_texts(X)
    have = espeak_languages()
    esp = {}
    for tl in texts:
        el = ESPEAK_LANG.get(tl, tl.lower())
        if el and el in have and len(texts[tl]) >= 20:
            esp[tl] = el
    variants = espeak_variants()
    counts = {"train": 480, "valid": 60, "heldout": 110}
    for sp, n in counts.items():
        langs = sorted(tl for tl in esp if lang_split(tl) == sp)
        vars_ = [v for v in variants if hsplit("espv:" + v, 0.12, 0.2) == sp]
        rng = random.Random("espeak:" + sp)
        for k in range(n):
            tl = rng.choice(langs)
            v = rng.choice(vars_)
            txt = " ".join(rng.sample(texts[tl], min(len(texts[tl]), rng.choice([1, 1, 2, 2, 3]))))
            dec = {"t": "espeak", "voice": "%s+%s" % (esp[tl], v), "text": txt,
                   "speed": rng.randint(120, 215), "pitch": rng.randint(20, 80), "k": k}
            add("espeak-ng", "speech", sp, "espeak:%s+%s" % (esp[tl], v), tl, "espeak:%s:%d" % (sp, k), dec)
    en = texts.get("en", [])
    for sp, n in {"train": 120, "valid": 25, "heldout": 40}.items():
        rng = random.Random("flite:" + sp)
        for k in range(n):
            v = rng.choice(FLITE_VOICES[sp])
            txt = " ".join(rng.sample(en, rng.choice([1, 2, 2, 3])))
            dec = {"t": "flite", "voice": v, "text": txt, "stretch": round(rng.uniform(0.8, 1.3), 2),
                   "f0": rng.randint(85, 190) if rng.random() < 0.6 else 0, "k": k}
            add("flite", "speech", sp, "flite:" + v, "en", "flite:%s:%d" % (sp, k), dec)
    for sp, n in {"train": 160, "valid": 25, "heldout": 50}.items():
        rng = random.Random("festival:" + sp)
        for k in range(n):
            v, lang, enc = rng.choice(FESTIVAL_VOICES[sp])
            pool = texts.get(lang, [])
            if not pool:
                continue
            txt = " ".join(rng.sample(pool, rng.choice([1, 2, 2, 3])))
            dec = {"t": "festival", "voice": v, "text": txt, "enc": enc,
                   "stretch": round(rng.uniform(0.85, 1.25), 2), "k": k}
            add("festival", "speech", sp, "festival:" + v, lang, "festival:%s:%d" % (sp, k), dec)

    # ---------------- music ----------------
    def long_music(pkg, sp, group, files, per=4, dec_t="ffmpeg", mix=None):
        for f in files:
            for j in range(per):
                add(pkg, "music", sp, group, "", f + "#%d" % j,
                    {"t": dec_t, "in": [f] + ([mix[f]] if mix and f in mix else []), "excerpt": [j, per, 30.0]})

    W = os.path.join(X, "warzone2100-music/usr/share/games/warzone2100/music")
    long_music("warzone2100-music", "train", "warzone2100", _files(W, (".opus", ".ogg")), per=4)
    for pkg, sp in (("fretsonfire-songs-muldjord", "train"), ("fretsonfire-songs-sectoid", "heldout")):
        songs = [os.path.dirname(f) for f in _files(os.path.join(X, pkg), ("song.ogg",))]
        mix = {os.path.join(d, "song.ogg"): os.path.join(d, "guitar.ogg") for d in songs
               if os.path.exists(os.path.join(d, "guitar.ogg"))}
        long_music(pkg, sp, pkg, [os.path.join(d, "song.ogg") for d in songs], per=5, dec_t="mix", mix=mix)
    long_music("hedgewars-data", "train", "hedgewars:music",
               _files(os.path.join(X, "hedgewars-data/usr/share/games/hedgewars/Data/Music"), (".ogg",)), per=2)
    long_music("hyperrogue-music", "valid", "hyperrogue",
               _files(os.path.join(X, "hyperrogue-music/usr/share/hyperrogue/music"), (".ogg",)), per=3)
    long_music("singularity-music", "heldout", "singularity",
               _files(os.path.join(X, "singularity-music/usr/share/games/singularity/music"), (".ogg",)), per=3)
    long_music("asterisk-moh-opsound-wav", "heldout", "opsound",
               _files(os.path.join(X, "asterisk-moh-opsound-wav/usr/share/asterisk/moh"), (".wav",)), per=5)
    long_music("freedink-data", "valid", "freedink:ogg",
               _files(os.path.join(X, "freedink-data/usr/share/games/dink/dink/Sound"), (".ogg",)), per=2)

    S = os.path.join(X, "scratch/usr/share/scratch/Media/Sounds")
    for f in _files(S, (".wav", ".mp3")):
        cat, b = f[len(S) + 1:].split("/", 1)
        if cat == "Vocals" or "Beatbox" in b or "BeatBox" in b or b.startswith("PartyNoise"):
            continue            # singing / beatbox / crowd babble: ambiguous, excluded
        if cat in ("Music Loops", "Instruments"):
            add("scratch", "music", "train", "scratch:" + cat, "", f, {"t": "sox", "in": [f]})
        else:
            add("scratch", "noise", hsplit("scratch:" + b), "scratch:" + cat, "", f,
                {"t": "sox", "in": [f]}, sub=cat)

    SP = os.path.join(X, "sonic-pi-samples/usr/share/sonic-pi/samples")
    for f in _files(SP, (".flac", ".wav")):
        b = os.path.basename(f)
        pre = b.split("_")[0]
        if b.startswith(("ambi_choir", "bass_voxy", "mehackit")):
            continue
        if pre in ("loop", "guit") or b.startswith(("ambi_piano", "ambi_glass", "bass_")):
            add("sonic-pi-samples", "music", "train", "sonic-pi:music", "", f, {"t": "sox", "in": [f]})
        else:
            add("sonic-pi-samples", "noise", "train", "sonic-pi:" + pre, "", f, {"t": "sox", "in": [f]})

    def midis(pkg, sp, files, secs=75):
        for f in files:
            add(pkg, "music", sp, pkg, "", f, {"t": "midi", "in": [f], "sf": SOUNDFONTS[sp], "secs": secs})

    midis("simutrans-data", "train", _files(os.path.join(X, "simutrans-data"), (".mid",)))
    midis("mma", "train", _files(os.path.join(X, "mma/usr/share/doc/mma/examples"), (".mid",)), secs=60)
    midis("openttd-openmsx", "train", _files(os.path.join(X, "openttd-openmsx"), (".mid",)))
    midis("pianobooster", "train", _files(os.path.join(X, "pianobooster"), (".mid",)))
    midis("freedink-data", "valid", _files(os.path.join(X, "freedink-data"), (".mid",)))
    midis("planetblupi-music-midi", "heldout", _files(os.path.join(X, "planetblupi-music-midi"), (".mid",)))
    for sp, n in {"train": 110, "valid": 18, "heldout": 30}.items():
        for k in range(n):
            add("midigen", "music", sp, "midigen", "", "midigen:%s:%d" % (sp, k),
                {"t": "midigen", "sf": SOUNDFONTS[sp], "secs": 40, "seed": "%s:%d" % (sp, k)})

    # ---------------- noise ----------------
    U = os.path.join(X, "ufoai-sound/usr/share/games/ufoai/base/0snd.pk3")
    if os.path.exists(U):
        with zipfile.ZipFile(U) as z:
            names = sorted(n for n in z.namelist() if n.endswith((".ogg", ".wav")))
        keep = ("sound/ambience/", "sound/footsteps/", "sound/doors/", "sound/impact/",
                "sound/weapons/", "sound/ugv/", "sound/misc/", "sound/geoscape/")
        sel = [dict(src=n) for n in names if n.startswith(keep)]
        amb = [s for s in sel if s["src"].startswith("sound/ambience/")]
        rest = cap([s for s in sel if not s["src"].startswith("sound/ambience/")], 120, "ufo")
        for r in amb + rest:
            add("ufoai-sound", "noise", "train", "ufoai:" + r["src"].split("/")[1], "", r["src"],
                {"t": "zip", "zip": U, "member": r["src"]})
    HD = os.path.join(X, "hydrogen-drumkits/usr/share/hydrogen/data/drumkits")
    if os.path.isdir(HD):
        for kit in sorted(os.listdir(HD)):
            fs = _files(os.path.join(HD, kit), (".flac", ".wav"))
            for r in cap([dict(src=f) for f in fs], 40, "hyd" + kit):
                add("hydrogen-drumkits", "noise", HYDROGEN_SPLIT.get(kit, "train"), "hydrogen:" + kit, "",
                    r["src"], {"t": "sox", "in": [r["src"]]})
    for f in _files(os.path.join(X, "hyperrogue-music/usr/share/hyperrogue/sounds"), (".ogg",)):
        add("hyperrogue-music", "noise", "valid", "hyperrogue:sfx", "", f, {"t": "sox", "in": [f]})
    for f in _files(os.path.join(X, "freedink-data/usr/share/games/dink/dink/Sound"), (".wav",)):
        add("freedink-data", "noise", "valid", "freedink:sfx", "", f, {"t": "sox", "in": [f]})
    for f in _files(os.path.join(X, "bucklespring-data"), (".wav",)):
        add("bucklespring-data", "noise", "heldout", "bucklespring", "", f, {"t": "sox", "in": [f]})
    sfx_dirs = ("/animals/", "/household/", "/naturalforces/", "/vehicles/", "/space/", "/town/",
                "/food/", "/hobbies/camera")
    for f in _files(T, (".ogg", ".wav")):
        if "_desc" in os.path.basename(f) or "/symbols/" in f or not any(d in f for d in sfx_dirs):
            continue
        add("tuxpaint-stamps-default", "noise", "heldout", "tuxpaint:sfx", "", f, {"t": "sox", "in": [f]})
    for colour in ("whitenoise", "pinknoise", "brownnoise"):
        add("sox", "noise", "all", "sox:" + colour, "", "sox:" + colour, {"t": "soxnoise", "colour": colour})
    return items


# ----------------------------------------------------------------------------
# pool: decode / synthesise / render one item

_probe_cache = {}


def probe(path):
    if path not in _probe_cache:
        r = run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
        _probe_cache[path] = float(r.stdout.decode().strip() or 0)
    return _probe_cache[path]


def excerpt_window(dur, j, per, length):
    """j-th of `per` windows spread over the track, skipping 5 s at both ends;
    None when the track is too short for that many non-overlapping windows."""
    if dur <= length + 2:
        return (0.0, dur) if j == 0 else None
    a, b = (5.0, dur - 5.0) if dur > length + 12 else (0.0, dur)
    span = b - a - length
    k = min(per, int(span // length) + 1)
    if j >= k:
        return None
    return a + (span * j / (k - 1) if k > 1 else span / 2), length


SOXOUT = ["-r", str(SR), "-c", "1", "-b", "16", "-e", "signed-integer"]


def produce(it, out, tmpd):
    d = it["dec"]
    t = d["t"]
    if t == "sox":
        run(["sox", "-R", "-V1"] + d.get("pre", []) + [d["in"][0]] + SOXOUT + [out])
    elif t in ("ffmpeg", "mix"):
        if "excerpt" in d:
            dur = probe(d["in"][0])
            w = excerpt_window(dur, *d["excerpt"])
            if w is None:
                return False
            ss, ln = w
        else:
            ss, ln = 0.0, None
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        for f in d["in"]:
            cmd += ["-ss", "%.3f" % ss] + (["-t", "%.3f" % ln] if ln else []) + ["-i", f]
        if len(d["in"]) > 1:
            cmd += ["-filter_complex", "amix=inputs=%d:duration=longest:normalize=0" % len(d["in"])]
        cmd += ["-ac", "1", "-ar", str(SR), "-sample_fmt", "s16", "-bitexact", out]
        run(cmd)
    elif t == "zip":
        with zipfile.ZipFile(d["zip"]) as z:
            data = z.read(d["member"])
        src = os.path.join(tmpd, "in" + os.path.splitext(d["member"])[1])
        open(src, "wb").write(data)
        run(["sox", "-R", "-V1", src] + SOXOUT + [out])
    elif t in ("midi", "midigen"):
        if t == "midi":
            data = midigen.truncate(open(d["in"][0], "rb").read(), d["secs"])
        else:
            data, _, _ = midigen.generate(random.Random(d["seed"]), d["secs"])
        mid = os.path.join(tmpd, "in.mid")
        open(mid, "wb").write(data)
        raw = os.path.join(tmpd, "r.wav")
        sf = d["sf"] if d["sf"].startswith("/") else os.path.join(CACHE, d["sf"])
        run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-F", raw, "-r", "22050", sf, mid])
        run(["sox", "-R", "-V1", raw] + SOXOUT + [out, "trim", "0", str(d["secs"] + 1)])
    elif t == "espeak":
        txt = os.path.join(tmpd, "t.txt")
        open(txt, "w", encoding="utf-8").write(d["text"])
        raw = os.path.join(tmpd, "r.wav")
        run(["espeak-ng", "-v", d["voice"], "-s", str(d["speed"]), "-p", str(d["pitch"]), "-f", txt, "-w", raw])
        run(["sox", "-R", "-V1", raw] + SOXOUT + [out])
    elif t == "flite":
        txt = os.path.join(tmpd, "t.txt")
        open(txt, "w", encoding="utf-8").write(d["text"])
        raw = os.path.join(tmpd, "r.wav")
        cmd = ["flite", "-voice", d["voice"], "--setf", "duration_stretch=%s" % d["stretch"]]
        if d["f0"]:
            cmd += ["--setf", "int_f0_target_mean=%d" % d["f0"]]
        run(cmd + ["-f", txt, "-o", raw])
        run(["sox", "-R", "-V1", raw] + SOXOUT + [out])
    elif t == "festival":
        txt = os.path.join(tmpd, "t.txt")
        open(txt, "wb").write(d["text"].encode(d["enc"], errors="ignore") if d["enc"] != "utf-8"
                              else d["text"].encode())
        raw = os.path.join(tmpd, "r.wav")
        ev = "(begin (voice_%s) (Parameter.set 'Duration_Stretch %s))" % (d["voice"], d["stretch"])
        run(["text2wave", "-eval", ev, txt, "-o", raw])
        run(["sox", "-R", "-V1", raw] + SOXOUT + [out])
    elif t == "soxnoise":
        run(["sox", "-R", "-V1", "-n"] + SOXOUT + [out, "synth", "120", d["colour"], "gain", "-n", "-6"])
    else:
        raise ValueError(t)
    return True


def lab_mask(lab, n):
    """festvox .lab (end-time, phone) to a speech mask; pauses < 200 ms merged."""
    m = np.zeros(n, bool)
    prev = 0.0
    for ln in open(lab, encoding="latin-1"):
        p = ln.split()
        if len(p) < 3 or p[0] == "#":
            continue
        end = float(p[0])
        if p[2] not in ("pau", "#", "sil", "h#"):
            m[int(round(prev * FPS)):int(round(end * FPS))] = True
        prev = end
    return drop_short(fill_gaps(m, 20), 10)


POOL_VERSION = 3   # bump when the analysis rules change: clips are re-analysed, not re-decoded


def build_item(it):
    out = os.path.join(CACHE, "pool", it["id"] + ".wav")
    meta_p = os.path.join(CACHE, "pool", it["id"] + ".json")
    if os.path.exists(meta_p):
        m = json.load(open(meta_p))
        if m.get("v") == POOL_VERSION:
            # the inventory (split, voice, language) is always today's
            m.update({k: v for k, v in it.items() if k != "dec"})
            return m
    ok = os.path.exists(out)
    if not ok:
        tmpd = tempfile.mkdtemp(prefix="earshot-pool-")
        try:
            ok = produce(it, out, tmpd)
        except Exception as e:  # noqa: BLE001 - recorded, the clip is skipped
            ok = False
            it = dict(it, error=str(e)[-300:])
        finally:
            shutil.rmtree(tmpd, ignore_errors=True)
    meta = {k: v for k, v in it.items() if k != "dec"}
    if ok and os.path.exists(out):
        x = read_wav(out)
        meta["dur"] = round(len(x) / SR, 3)
        cls = it["cls"]
        mask, floor, act = detect(x, cls)
        meta["floor_db"], meta["act_db"] = round(floor, 1), round(act, 1)
        if it.get("lab"):
            lm = lab_mask(it["lab"], len(mask))
            meta["detector_agreement"] = round(float((lm == mask).mean()), 4)
            meta["detector_spans"] = mask_to_spans(mask)
            mask = lm
            e = frame_db(x)
            act = float(10 * np.log10(np.mean(10 ** (e[mask] / 10)) + 1e-12)) if mask.any() else -120
            meta["act_db"] = round(act, 1)
        meta["spans"] = mask_to_spans(mask)
        meta["active_s"] = round(mask.sum() / FPS, 2)
        ok = meta["active_s"] >= {"speech": 0.1, "noise": 0.03, "music": 0.5}[cls] and act > -70
        if cls == "speech" and not it.get("lab"):
            # a speech clip's label is only as good as its noise floor: keep
            # clips whose speech stands >= 20 dB above their floor (or that
            # have no pause at all, floor undefined) and are not clipped flat
            inside = (mask.sum() < len(mask) * 0.97)
            if inside and act - floor < 20.0:
                ok = False
                meta["reject"] = "floor %.1f dB vs speech %.1f dB" % (floor, act)
    meta["ok"] = bool(ok)
    meta["v"] = POOL_VERSION
    if not ok and os.path.exists(out):
        os.remove(out)
    tmp = meta_p + ".part"
    json.dump(meta, open(tmp, "w"))
    os.replace(tmp, meta_p)
    return meta


CACHE = None


def cmd_pool(a):
    global CACHE
    CACHE = a.cache
    os.makedirs(os.path.join(CACHE, "pool"), exist_ok=True)
    items = inventory(CACHE)
    ids = [it["id"] for it in items]
    assert len(ids) == len(set(ids)), "duplicate ids"
    log("inventory: %d items" % len(items))
    t0 = time.time()
    metas = []
    done = 0
    with ThreadPoolExecutor(a.jobs) as ex:
        for m in ex.map(build_item, items):
            metas.append(m)
            done += 1
            if done % 250 == 0 or done == len(items):
                log("pool %d/%d (%.0f s)" % (done, len(items), time.time() - t0))
    # drop clips an older inventory chose and this one no longer does
    keep = set(ids)
    stale = 0
    for f in os.listdir(os.path.join(CACHE, "pool")):
        stem = f.split(".")[0]
        if f.endswith((".wav", ".json")) and f != "index.json" and stem not in keep:
            os.remove(os.path.join(CACHE, "pool", f))
            stale += 1
    if stale:
        log("removed %d stale pool files" % stale)
    ok = [m for m in metas if m["ok"]]
    json.dump(ok, open(os.path.join(CACHE, "pool", "index.json.part"), "w"))
    os.replace(os.path.join(CACHE, "pool", "index.json.part"), os.path.join(CACHE, "pool", "index.json"))
    # summary
    summ = {}
    for m in metas:
        k = (m["split"], m["cls"], m["pkg"])
        s = summ.setdefault(k, [0, 0, 0.0, 0.0])
        s[0] += 1
        if m["ok"]:
            s[1] += 1
            s[2] += m.get("dur", 0)
            s[3] += m.get("active_s", 0)
    log("pool summary: split cls pkg  items kept  dur_min active_min")
    for k in sorted(summ):
        s = summ[k]
        print("  %-8s %-7s %-32s %5d %5d %7.1f %7.1f" % (k + (s[0], s[1], s[2] / 60, s[3] / 60)))
    ag = [m["detector_agreement"] for m in ok if "detector_agreement" in m]
    if ag:
        log("energy detector vs festvox-ru .lab frame agreement: mean %.3f (min %.3f) over %d clips"
            % (np.mean(ag), np.min(ag), len(ag)))
    errs = [m for m in metas if m.get("error")]
    if errs:
        log("%d items failed to decode, e.g. %s: %s" % (len(errs), errs[0]["src"], errs[0]["error"][:200]))


# ----------------------------------------------------------------------------
# compose

SPEECH_WEIGHTS = {  # by source package (a split uses the sources it has).  Real recordings
    # get most of the weight; synthetic utterances are longer (1-3 sentences),
    # so these weights give about 3/4 real speech by time in train.
    "festvox-ru": 0.14, "tuxpaint-stamps-default": 0.26, "ktuberling-data": 0.10,
    "asterisk-prompt-it-menardi-wav": 0.10, "megaglest-data": 0.08, "hedgewars-data": 0.06,
    "espeak-ng": 0.09, "flite": 0.025, "festival": 0.035,
    "asterisk-prompt-fr-armelle": 0.2, "asterisk-prompt-es-co": 0.14, "kajongg": 0.10,
    "gcin-voice": 0.06, "codec2-examples": 0.08, "pocketsphinx-testdata": 0.015, "saytime": 0.02,
}
SCENES = [("speech_clean", 0.24), ("speech_bg", 0.36), ("nonspeech", 0.22), ("mixed", 0.18)]


class Pool:
    def __init__(self, metas, split):
        self.by = {}
        for m in metas:
            if m["split"] in (split, "all"):
                self.by.setdefault(m["cls"], []).append(m)
        for v in self.by.values():
            v.sort(key=lambda m: m["id"])
        self.speech_src = {}
        for m in self.by.get("speech", []):
            self.speech_src.setdefault(m["pkg"], {}).setdefault(m["group"], []).append(m)
        self.noise_long = [m for m in self.by.get("noise", []) if m["dur"] >= 4.0 and m["pkg"] != "sox"]
        self.noise_short = [m for m in self.by.get("noise", []) if m["dur"] < 4.0]
        self.noise_gen = [m for m in self.by.get("noise", []) if m["pkg"] == "sox"]
        self.music = self.by.get("music", [])
        self.music_src = {}
        for m in self.music:
            self.music_src.setdefault(m["pkg"], []).append(m)
        self.cache = {}

    def audio(self, m):
        if m["id"] not in self.cache:
            if len(self.cache) > 400:
                self.cache.clear()
            self.cache[m["id"]] = read_wav(os.path.join(CACHE, "pool", m["id"] + ".wav"))
        return self.cache[m["id"]]


def db2a(db):
    return 10 ** (db / 20.0)


def rms_db(x, mask=None):
    if mask is not None:
        e = frame_db(x)
        n = min(len(e), len(mask))
        if n and mask[:n].any():
            return float(10 * np.log10(np.mean(10 ** (e[:n][mask[:n]] / 10)) + 1e-12))
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def fade(x, n_in, n_out):
    x = x.copy()
    if n_in > 0 and len(x) > n_in:
        x[:n_in] *= np.linspace(0, 1, n_in, dtype=np.float32)
    if n_out > 0 and len(x) > n_out:
        x[-n_out:] *= np.linspace(1, 0, n_out, dtype=np.float32)
    return x


class Scene:
    def __init__(self, n):
        self.n = n
        self.nf = n // HOP
        self.bg = np.zeros(n, np.float32)
        self.sp = np.zeros(n, np.float32)
        self.mask = {c: np.zeros(self.nf, bool) for c in ("speech", "music", "noise")}
        self.prov = []

    def place(self, track, x, start, cls, mask, gain_db, what):
        start = int(start)
        if start >= self.n:
            return
        x = x[:self.n - start]
        track[start:start + len(x)] += x * db2a(gain_db)
        f0 = start // HOP
        k = min(len(mask), self.nf - f0, len(x) // HOP)
        if k > 0:
            self.mask[cls][f0:f0 + k] |= mask[:k]
        self.prov.append((start / SR, (start + len(x)) / SR, cls, what))


def clip_with_mask(m, x, a, b):
    """x[a:b] (samples) of pool clip m and its activity mask (frames)."""
    full = spans_to_mask(m["spans"], len(x) // HOP + 1)
    return x[a:b], full[a // HOP:a // HOP + (b - a) // HOP]


def render_music(P, rng, n, level, split):
    """n samples of music at `level` dBFS (active RMS), chained excerpts."""
    srcs = sorted(P.music_src)
    pkg = rng.choice(srcs)
    out = np.zeros(n, np.float32)
    mask = np.zeros(n // HOP, bool)
    pos, whats = 0, []
    loop = rng.random() < 0.5
    m = rng.choice(P.music_src[pkg])
    while pos < n - SR // 4:
        x = P.audio(m)
        need = n - pos
        if len(x) > need:
            a = rng.randrange(0, len(x) - need + 1) // HOP * HOP
            seg, mk = clip_with_mask(m, x, a, a + need)
        else:
            seg, mk = clip_with_mask(m, x, 0, len(x) // HOP * HOP)
        g = level - (m["act_db"] if m["act_db"] > -90 else rms_db(seg))
        seg = fade(seg, 160, 160) * db2a(g)
        out[pos:pos + len(seg)] += seg
        mask[pos // HOP:pos // HOP + len(mk)] |= mk[:len(mask) - pos // HOP]
        whats.append(m["pkg"] + ":" + os.path.basename(m["src"]))
        pos += len(seg)
        if not loop:
            m = rng.choice(P.music_src[pkg])
    return out, mask, whats


def coloured(P, rng, n):
    m = rng.choice(P.noise_gen)
    x = P.audio(m)
    a = rng.randrange(0, len(x) - n) if len(x) > n else 0
    seg = np.resize(x[a:a + n], n).copy()
    # random spectral tilt / band shaping in the FFT domain
    X = np.fft.rfft(seg)
    f = np.fft.rfftfreq(n, 1.0 / SR) + 1.0
    tilt = rng.uniform(-4, 4)                      # dB per octave
    shape = (f / 1000.0) ** (tilt / 6.02)
    if rng.random() < 0.4:
        lo, hi = rng.uniform(50, 800), rng.uniform(1500, 7900)
        shape *= 1 / (1 + (lo / f) ** 4) / (1 + (f / hi) ** 4)
    seg = np.fft.irfft(X * shape, n).astype(np.float32)
    return seg / (np.sqrt(np.mean(seg ** 2)) + 1e-9), "sox:%s tilt %.1f" % (m["src"].split(":")[1], tilt)


def hum(rng, n):
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    t = np.arange(n) / SR
    x = np.zeros(n)
    odd = rng.random() < 0.5
    for k in range(1, rng.randint(3, 25)):
        amp = rng.uniform(0.2, 1.0) / (k ** rng.uniform(0.5, 1.5))
        if odd and k % 2 == 0:
            amp *= 0.2
        x += amp * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
    x += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(0.0, 0.05), n)
    x = x.astype(np.float32)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-9), "hum %.1f Hz" % f0


def render_noise(P, rng, n, level):
    """n samples of noise: a steady bed (colour, hum, ambience) or a sequence
    of sound events; mask marks where the noise is active."""
    kind = rng.choices(["colour", "hum", "ambient", "events"], [0.18, 0.10, 0.40, 0.32])[0]
    if kind == "ambient" and not P.noise_long:
        kind = "events"
    if kind in ("colour", "hum"):
        x, what = coloured(P, rng, n) if kind == "colour" else hum(rng, n)
        return fade(x * db2a(level), 320, 320), np.ones(n // HOP, bool), [what]
    out = np.zeros(n, np.float32)
    mask = np.zeros(n // HOP, bool)
    whats = []
    if kind == "ambient":
        pos = 0
        while pos < n - SR // 4:
            m = rng.choice(P.noise_long)
            x = P.audio(m)
            need = n - pos
            a = rng.randrange(0, len(x) - need + 1) // HOP * HOP if len(x) > need else 0
            seg, mk = clip_with_mask(m, x, a, min(len(x), a + need) // HOP * HOP)
            g = level - (m["act_db"] if m["act_db"] > -90 else rms_db(seg))
            seg = fade(seg, 160, 160) * db2a(g)
            out[pos:pos + len(seg)] += seg
            mask[pos // HOP:pos // HOP + len(mk)] |= mk[:len(mask) - pos // HOP]
            whats.append(m["pkg"] + ":" + os.path.basename(m["src"]))
            pos += len(seg)
        return out, mask, whats
    # events: same source family for the block, random spacing
    groups = sorted({m["group"] for m in P.noise_short})
    grp = rng.choice(groups)
    cands = [m for m in P.noise_short if m["group"] == grp] if rng.random() < 0.6 else P.noise_short
    pos = int(rng.uniform(0, 0.5) * SR)
    while pos < n - SR // 10:
        m = rng.choice(cands)
        x = P.audio(m)
        seg, mk = clip_with_mask(m, x, 0, min(len(x), n - pos) // HOP * HOP)
        g = level + rng.uniform(-4, 4) - m["act_db"]
        seg = fade(seg, 16, 160) * db2a(g)
        s = pos // HOP * HOP
        out[s:s + len(seg)] += seg
        mask[s // HOP:s // HOP + len(mk)] |= mk[:len(mask) - s // HOP]
        whats.append(m["pkg"] + ":" + os.path.basename(m["src"]))
        pos = s + len(seg) + int(rng.choice([rng.uniform(0.0, 0.3), rng.uniform(0.1, 0.8)]) * SR)
    # a burst of events closer than 300 ms (typing, footsteps) is one noise span
    return out, drop_short(fill_gaps(mask, 30), 5), whats


def pick_speaker(P, rng):
    srcs = sorted(P.speech_src)
    w = [SPEECH_WEIGHTS.get(s, 0.05) for s in srcs]
    pkg = rng.choices(srcs, w)[0]
    grp = rng.choice(sorted(P.speech_src[pkg]))
    return pkg, grp


def speech_block(S, P, rng, a, b, level, used, clean):
    """Utterances from one or two speakers placed in [a, b) samples.  On a
    clean block (no music/noise under it) a real clip's own noise floor must
    stay below -45 dBFS so that its pauses are fairly labelled silence."""
    spk = [pick_speaker(P, rng)]
    if rng.random() < 0.3:
        spk.append(pick_speaker(P, rng))
    pos = a + int(rng.uniform(0.0, 1.0) * SR)
    turn = 0
    while pos < b - SR // 2:
        si = turn % len(spk)
        pkg, grp = spk[si]
        if rng.random() < 0.3:
            turn += 1
        cands = [m for m in P.speech_src[pkg][grp] if m["id"] not in used]
        if not cands:
            # this voice has nothing new to say (synthetic voices have few
            # clips each): switch to another voice of the same source, never
            # repeat a clip within a file
            groups = [g for g in sorted(P.speech_src[pkg])
                      if any(m["id"] not in used for m in P.speech_src[pkg][g])]
            if not groups:
                spk[si] = pick_speaker(P, rng)
                continue
            grp = rng.choice(groups)
            spk[si] = (pkg, grp)
            cands = [m for m in P.speech_src[pkg][grp] if m["id"] not in used]
        m = rng.choice(cands)
        used.add(m["id"])
        x = P.audio(m)
        full = spans_to_mask(m["spans"], len(x) // HOP + 1)
        r = runs_of(full)
        if not r:
            continue
        s0 = max(0, r[0][0] - int(rng.uniform(0.05, 0.3) * FPS))
        e0 = min(len(x) // HOP, r[-1][1] + int(rng.uniform(0.05, 0.3) * FPS))
        seg, mk = x[s0 * HOP:e0 * HOP], full[s0:e0]
        if pos + len(seg) > b:
            # too long for what is left: cut at a pause if there is one, else stop
            room = (b - pos) // HOP
            cut = [e for s, e in runs_of(mk) if e + 5 <= room]
            if not cut:
                break
            seg, mk = seg[:(cut[-1] + 5) * HOP], mk[:cut[-1] + 5]
        lev = level + rng.uniform(-2.5, 2.5)
        if clean and m["floor_db"] > -100 and m["act_db"] - m["floor_db"] >= 15:
            lev = min(lev, -45.0 + (m["act_db"] - m["floor_db"]))
        g = lev - m["act_db"]
        S.place(S.sp, fade(seg, 80, 160), pos, "speech", mk, g,
                "%s|%s|%s|%s" % (m["pkg"], m["group"], m.get("lang") or "-", os.path.basename(m["src"])))
        gap = rng.choice([rng.uniform(0.05, 0.4), rng.uniform(0.2, 1.2), rng.uniform(0.5, 2.5)])
        pos += len(seg) + int(gap * SR)


def plan(rng, scene, n):
    """List of (kind, start, end) blocks in samples."""
    if scene == "speech_clean":
        return [("sp", 0, n)]
    if scene == "speech_bg":
        bgk = rng.choice(["sp+mus", "sp+noi"])
        if rng.random() < 0.35:
            cut = int(rng.uniform(0.3, 0.7) * n) // HOP * HOP
            other = rng.choice(["sp", "sp+mus", "sp+noi"])
            return [(bgk, 0, cut), (other, cut, n)] if rng.random() < 0.5 else [(other, 0, cut), (bgk, cut, n)]
        return [(bgk, 0, n)]
    kinds = (["mus", "noi", "sil"], [0.42, 0.48, 0.10]) if scene == "nonspeech" else \
        (["mus", "noi", "sil", "sp", "sp+mus", "sp+noi"], [0.18, 0.22, 0.05, 0.2, 0.17, 0.18])
    blocks, pos, last = [], 0, None
    while pos < n:
        k = rng.choices(*kinds)[0]
        if k == last:
            continue
        ln = int((rng.uniform(1.0, 5.0) if k == "sil" else rng.uniform(2.0, 10.0)) * SR) // HOP * HOP
        if n - (pos + ln) < 2 * SR:
            ln = n - pos
        blocks.append((k, pos, pos + ln))
        pos += ln
        last = k
    return blocks


def effects(x, rng, tmpd):
    """Random channel effects through sox; returns (y, description)."""
    chain, desc = [], []
    if rng.random() < 0.3:
        for _ in range(rng.randint(1, 3)):
            f, g = int(math.exp(rng.uniform(math.log(100), math.log(6000)))), rng.uniform(-9, 9)
            chain += ["equalizer", str(f), "%.2fq" % rng.uniform(0.5, 2.0), "%.1f" % g]
        desc.append("eq")
    tel = rng.random() < 0.12
    if tel:
        chain += ["sinc", "300-3400"]
        desc.append("telephone")
    elif rng.random() < 0.08:
        f = rng.randint(3000, 7000)
        chain += ["lowpass", str(f)]
        desc.append("lowpass%d" % f)
    codec = None
    if tel and rng.random() < 0.6:
        codec = rng.choice(["gsm", "ul"])
    elif rng.random() < 0.05:
        codec = "ogg"
    if not chain and not codec:
        return x, ""
    src = os.path.join(tmpd, "a.wav")
    peak = float(np.max(np.abs(x))) + 1e-9
    write_wav(src, x * (0.3 / peak))          # headroom for EQ boosts
    cur = src
    if chain:
        dst = os.path.join(tmpd, "b.wav")
        run(["sox", "-R", "-V1", cur, dst] + chain)
        cur = dst
    if codec:
        enc = os.path.join(tmpd, "c." + codec)
        if codec in ("gsm", "ul"):
            run(["sox", "-R", "-V1", cur, "-r", "8000", enc])
        else:
            run(["sox", "-R", "-V1", cur, "-C", "0", enc])
        dst = os.path.join(tmpd, "d.wav")
        run(["sox", "-R", "-V1", enc] + SOXOUT + [dst])
        cur = dst
        desc.append(codec)
    y = read_wav(cur) * (peak / 0.3)
    y = np.resize(y, len(x)) if len(y) != len(x) else y
    return y.astype(np.float32), "+".join(desc)


def reverb(x, rng, tmpd):
    src, dst = os.path.join(tmpd, "r1.wav"), os.path.join(tmpd, "r2.wav")
    peak = float(np.max(np.abs(x))) + 1e-9
    write_wav(src, x / peak * 0.5)
    rv, hf, room, pre = rng.randint(20, 70), rng.randint(20, 80), rng.randint(30, 100), rng.randint(0, 30)
    run(["sox", "-R", "-V1", src, dst, "reverb", str(rv), str(hf), str(room), "100", str(pre)])
    y = read_wav(dst)[:len(x)] * (2 * peak)
    y = np.concatenate([y, np.zeros(len(x) - len(y), np.float32)])
    return y.astype(np.float32), "reverb %d/%d/%d" % (rv, hf, room)


def compose_one(job):
    split, idx, seed, dur, outdir = job
    rng = random.Random("%s:%s:%d" % (seed, split, idx))
    P = POOLS[split]
    n = int(dur * SR) // HOP * HOP
    S = Scene(n)
    scene = rng.choices([s for s, _ in SCENES], [w for _, w in SCENES])[0]
    blocks = plan(rng, scene, n)
    base = rng.uniform(-30, -14)               # file's speech level (dBFS active RMS)
    used = set()
    for kind, a, b in blocks:
        ln = b - a
        if kind in ("mus", "sp+mus"):
            if kind == "mus":
                lev = rng.uniform(-40, -10)
                snr = None
            else:
                snr = rng.uniform(0, 20)
                lev = max(base - snr, -42.0)
            x, mk, w = render_music(P, rng, ln, lev, split)
            x = fade(x, 0 if a == 0 else 160, 0 if b == n else 160)
            S.place(S.bg, x, a, "music", mk, 0.0, "music %.1f dB%s: %s" % (
                lev, "" if snr is None else " snr %.1f" % (base - lev), ",".join(w[:3])))
        if kind in ("noi", "sp+noi"):
            if kind == "noi":
                lev = rng.uniform(-42, -10)
                snr = None
            else:
                snr = rng.uniform(0, 20)
                lev = max(base - snr, -42.0)
            x, mk, w = render_noise(P, rng, ln, lev)
            x = fade(x, 0 if a == 0 else 160, 0 if b == n else 160)
            S.place(S.bg, x, a, "noise", mk, 0.0, "noise %.1f dB%s: %s" % (
                lev, "" if snr is None else " snr %.1f" % (base - lev), ",".join(w[:3])))
        if kind.startswith("sp"):
            speech_block(S, P, rng, a, b, base, used, kind == "sp")
    tmpd = tempfile.mkdtemp(prefix="earshot-compose-")
    try:
        fx = []
        sp = S.sp
        if S.mask["speech"].any() and rng.random() < 0.22:
            sp, d = reverb(S.sp, rng, tmpd)
            fx.append(d)
        mix = S.bg + sp
        # silence floor: digital zero or a quiet noise floor (never labelled)
        fl = rng.random()
        if fl < 0.2:
            fdesc = "floor zero"
        else:
            flev = rng.uniform(-78, -55)
            if rng.random() < 0.8:
                x, w = coloured(P, rng, n)
            else:
                x, w = hum(rng, n)
            mix = mix + x * db2a(flev)
            fdesc = "floor %.1f dB %s" % (flev, w)
        mix, d = effects(mix, rng, tmpd)
        if d:
            fx.append(d)
    finally:
        shutil.rmtree(tmpd, ignore_errors=True)
    peak = float(np.max(np.abs(mix)))
    if peak > 0.98:
        mix *= 0.98 / peak
        fx.append("gain %.1f dB" % (20 * math.log10(0.98 / peak)))
    labels = frame_labels(S, mix)
    name = "%s_%04d" % (split, idx)
    write_wav(os.path.join(outdir, split, name + ".wav"), mix)
    segs = label_runs(labels)
    with open(os.path.join(outdir, split, name + ".txt"), "w") as f:
        for s, e, c in segs:
            f.write("%.2f\t%.2f\t%s\n" % (s / FPS, e / FPS, CLASSES[c]))
    prov = ["%s\t%s\t%.2f\t%.2f\t%s\t%s" % (name, scene, s, e, c, w) for s, e, c, w in S.prov]
    prov.append("%s\t%s\t0\t%.2f\teffects\t%s; %s" % (name, scene, n / SR, fdesc, ", ".join(fx)))
    return name, n / SR, prov, [(CLASSES[c], (e - s) / FPS) for s, e, c in segs]


def frame_labels(S, mix):
    nf = S.nf
    sp = S.mask["speech"][:nf]
    # speech: merge pauses < 200 ms, drop bursts < 100 ms (file level, across utterances)
    sp = drop_short(fill_gaps(sp, 20), 10)
    lab = np.full(nf, 3, np.int8)                       # silence
    lev = frame_db(mix)[:nf]
    # smoothed level (200 ms) decides whether a background is still audible
    k = 20
    sm = 10 * np.log10(np.convolve(10 ** (lev / 10), np.ones(k) / k, mode="same") + 1e-12)
    noi = S.mask["noise"][:nf] & (sm > -60)
    mus = S.mask["music"][:nf] & (sm > -60)
    lab[noi] = 2
    lab[mus] = 1
    lab[sp] = 0
    # non-speech runs shorter than 100 ms take the label before them
    for s, e in runs_of(lab != 0):
        seg = lab[s:e]
        i = 0
        while i < len(seg):
            j = i
            while j < len(seg) and seg[j] == seg[i]:
                j += 1
            if j - i < 10 and i > 0:
                seg[i:j] = seg[i - 1]
            i = j
    return lab


def label_runs(lab):
    out = []
    i = 0
    while i < len(lab):
        j = i
        while j < len(lab) and lab[j] == lab[i]:
            j += 1
        out.append((i, j, int(lab[i])))
        i = j
    return out


POOLS = {}


def cmd_compose(a):
    global CACHE
    CACHE = a.cache
    metas = json.load(open(os.path.join(CACHE, "pool", "index.json")))
    for m in metas:
        for f in FORBIDDEN:
            assert not m["pkg"].startswith(f) and "/%s/" % f not in m["src"], m["src"]
    targets = {"train": 3.0 * 3600, "valid": 25 * 60, "heldout": 40 * 60}
    jobs = []
    for split, tot in targets.items():
        POOLS[split] = Pool(metas, split)
        d = os.path.join(a.out, split)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        acc, i = 0.0, 0
        scale = a.scale * (a.train_scale if split == "train" else 1.0)
        while acc < tot * scale:
            dur = round(random.Random("%s:%s:%d:dur" % (a.seed, split, i)).uniform(10.0, 30.0), 2)
            jobs.append((split, i, a.seed, dur, a.out))
            acc += dur
            i += 1
    log("composing %d files (seed %s)" % (len(jobs), a.seed))
    import multiprocessing as mp
    t0 = time.time()
    res = []
    with mp.get_context("fork").Pool(a.jobs) as px:
        for k, r in enumerate(px.imap(compose_one, jobs, chunksize=4)):
            res.append(r)
            if (k + 1) % 100 == 0 or k + 1 == len(jobs):
                log("composed %d/%d (%.0f s)" % (k + 1, len(jobs), time.time() - t0))
    prov = ["file\tscene\tstart\tend\tclass\tsource"]
    for split in targets:
        with open(os.path.join(a.out, split + ".tsv"), "w") as f:
            f.write("# audio_path<TAB>label_path, relative to this manifest (earshot corpus, seed %s)\n" % a.seed)
            for name, dur, p, _ in res:
                if name.startswith(split + "_"):
                    f.write("%s/%s.wav\t%s/%s.txt\n" % (split, name, split, name))
        for name, dur, p, _ in res:
            if name.startswith(split + "_"):
                prov += p
    open(os.path.join(a.out, "provenance.tsv"), "w").write("\n".join(prov) + "\n")
    json.dump({"seed": a.seed, "scale": a.scale, "train_scale": a.train_scale}, open(os.path.join(a.out, "corpus.json"), "w"))


def cmd_stats(a):
    stats = {}
    for split in ("train", "valid", "heldout"):
        man = os.path.join(a.out, split + ".tsv")
        if not os.path.exists(man):
            continue
        st = {c: 0.0 for c in CLASSES}
        files, total = 0, 0.0
        for ln in open(man):
            if ln.startswith("#") or not ln.strip():
                continue
            wav, lab = ln.rstrip("\n").split("\t")
            files += 1
            with wave.open(os.path.join(a.out, wav)) as w:
                total += w.getnframes() / w.getframerate()
            for l2 in open(os.path.join(a.out, lab)):
                s, e, c = l2.rstrip("\n").split("\t")
                st[c] += float(e) - float(s)
        stats[split] = dict(files=files, total_s=round(total, 1), **{c: round(v, 1) for c, v in st.items()})
    # voices / languages per split, from provenance
    voices = {}
    prov = os.path.join(a.out, "provenance.tsv")
    if os.path.exists(prov):
        for ln in open(prov):
            p = ln.rstrip("\n").split("\t")
            if len(p) >= 6 and p[4] == "speech":
                sp = p[0].rsplit("_", 1)[0]
                pkg, grp, lang = p[5].split("|")[:3]
                v = voices.setdefault(sp, {"groups": set(), "langs": set(), "pkgs": set()})
                v["groups"].add(grp)
                v["langs"].add(re.split(r"[_\-@]", lang)[0] if lang else "?")
                v["pkgs"].add(pkg)
    for sp, v in voices.items():
        stats[sp]["speech_voices"] = len(v["groups"])
        stats[sp]["speech_languages"] = sorted(v["langs"])
        stats[sp]["speech_sources"] = sorted(v["pkgs"])
    tr = voices.get("train", {"groups": set(), "langs": set()})
    for sp in ("valid", "heldout"):
        if sp in voices:
            stats[sp]["voices_also_in_train"] = sorted(voices[sp]["groups"] & tr["groups"])
            stats[sp]["languages_also_in_train"] = sorted(voices[sp]["langs"] & tr["langs"])
    json.dump(stats, open(os.path.join(a.out, "stats.json"), "w"), indent=1, default=list)
    print("| split | files | audio | speech | music | noise | silence |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for sp, s in stats.items():
        print("| %s | %d | %.1f min | %s |" % (sp, s["files"], s["total_s"] / 60, " | ".join(
            "%.1f min (%.0f%%)" % (s[c] / 60, 100 * s[c] / max(1, s["total_s"])) for c in CLASSES)))
    for sp, s in stats.items():
        if "speech_voices" in s:
            print("%s: %d voices, languages %s" % (sp, s["speech_voices"], " ".join(s["speech_languages"])))
        if s.get("voices_also_in_train") is not None:
            print("  %s voices also in train: %s; languages also in train: %s" % (
                sp, s["voices_also_in_train"] or "none", " ".join(s["languages_also_in_train"]) or "none"))


def cmd_labelcheck(a):
    """Per package and language (e.g. ktuberling-data, da): up to
    --per-group clean speech clips of the chosen splits, picked with a fixed
    seed, joined with 0.5 s of digital silence into one WAV and run through
    the anchors' Silero VAD in one process; its decisions (prob >= 0.5),
    with pauses shorter than the labels' own gap filled, are compared frame
    by frame with the clips' speech labels (the spans compose uses)."""
    anchors = a.anchors or os.environ.get("EARSHOT_ANCHORS") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "anchors")
    runner = os.path.join(anchors, "run_silero.sh")
    if not os.path.isdir(os.path.join(anchors, "node_modules")):
        sys.exit("labelcheck: the anchors in %s are not installed (run its setup.sh, "
                 "or give --anchors DIR)" % anchors)
    if a.per_group < 1:
        sys.exit("labelcheck: --per-group must be at least 1")
    index = os.path.join(a.cache, "pool", "index.json")
    if not os.path.exists(index):
        sys.exit("labelcheck: no %s: run build.sh (or corpus.py pool) first" % index)
    splits = set(a.splits.split(","))
    groups = {}
    for m in json.load(open(index)):
        if m["cls"] == "speech" and m["split"] in splits:
            groups.setdefault((m["split"], m["pkg"], m.get("lang") or "-"), []).append(m)
    gap = DETECT["speech"]["gap"]
    silence = np.zeros(SR // 2, "<i2")
    rows = []
    with tempfile.TemporaryDirectory(prefix="labelcheck.") as tmpd:
        for n_done, key in enumerate(sorted(groups)):
            clips = sorted(groups[key], key=lambda m: m["id"])
            random.Random(1).shuffle(clips)
            clips = clips[:a.per_group]
            parts, spans, pos = [], [], 0
            for m in clips:
                with wave.open(os.path.join(a.cache, "pool", m["id"] + ".wav"), "rb") as w:
                    x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
                x = x[:len(x) // HOP * HOP]
                spans.append((pos // HOP, len(x) // HOP, m))
                parts += [x, silence]
                pos += len(x) + len(silence)
            wav, tsv = os.path.join(tmpd, "g.wav"), os.path.join(tmpd, "g.tsv")
            with wave.open(wav, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SR)
                w.writeframes(np.concatenate(parts).tobytes())
            r = subprocess.run([runner, wav, tsv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                why = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
                sys.exit("labelcheck: %s failed on %s: %s" % (runner, " ".join(key), why))
            with open(tsv) as f:
                prob = np.array([float(ln.split("\t")[3]) for ln in f if ln[:1].isdigit()])
            lab_n = sil_n = both = 0
            for first, n, m in spans:
                lab = spans_to_mask(m["spans"], n)
                sil = fill_gaps(prob[first:first + n] >= 0.5, gap)
                lab_n += int(lab.sum())
                sil_n += int(sil.sum())
                both += int((lab & sil).sum())
            f1 = 2.0 * both / max(1, lab_n + sil_n)
            rows.append(key + (len(clips), lab_n / FPS, sil_n / FPS, f1))
            if sys.stderr.isatty():
                print("\r%d/%d groups" % (n_done + 1, len(groups)), end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print("split\tpackage\tlanguage\tclips\tlabelled_s\tsilero_s\tf1")
    for r in rows:
        print("%s\t%s\t%s\t%d\t%.1f\t%.1f\t%.3f" % r)
    f1s = sorted(r[-1] for r in rows)
    if f1s:
        print("# %d groups: frame F1 median %.3f, lowest %.3f (%s)" % (
            len(f1s), f1s[len(f1s) // 2], f1s[0], " ".join(min(rows, key=lambda r: r[-1])[:3])),
            file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pool")
    p.add_argument("--cache", required=True)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p = sub.add_parser("compose")
    p.add_argument("--cache", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", default="1")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the target durations")
    p.add_argument("--train-scale", type=float, default=1.0,
                   help="further factor for the training split only (valid and held-out unchanged)")
    p = sub.add_parser("stats")
    p.add_argument("--out", required=True)
    p = sub.add_parser("labelcheck")
    p.add_argument("--cache", required=True)
    p.add_argument("--anchors", help="../shared/anchors beside the tree, or $EARSHOT_ANCHORS")
    p.add_argument("--splits", default="train,valid",
                   help="comma-separated; held-out is left out unless named")
    p.add_argument("--per-group", type=int, default=60, help="clips per package and language")
    a = ap.parse_args()
    {"pool": cmd_pool, "compose": cmd_compose, "stats": cmd_stats,
     "labelcheck": cmd_labelcheck}[a.cmd](a)


if __name__ == "__main__":
    main()
