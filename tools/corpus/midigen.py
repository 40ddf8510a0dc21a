"""midigen.py — tiny Standard MIDI File helpers for the corpus recipe.

Two jobs, stdlib only:
  * generate(rng, seconds) -> bytes: a random but musical multi-track piece
    (key, tempo, chord progression, bass, accompaniment pattern, melody,
    optional GM drums) across many General MIDI instrument families, so
    fluidsynth renders music of many timbres and styles.
  * truncate(data, seconds) -> bytes: cut an existing SMF after `seconds`
    (following its tempo map) so rendering a 5-minute song costs only the
    part we keep.
"""
import struct

PPQ = 480

# Instrument families (GM program numbers, 0-based) and what they play well.
FAMILIES = {
    "piano": list(range(0, 8)),
    "mallet": list(range(8, 16)),
    "organ": list(range(16, 24)),
    "guitar": list(range(24, 32)),
    "bass": list(range(32, 40)),
    "strings": list(range(40, 52)),
    "choir_pad": [52, 53, 54, 88, 89, 90, 91, 92, 93, 94, 95],
    "brass": list(range(56, 64)),
    "reed": list(range(64, 72)),
    "pipe": list(range(72, 80)),
    "synth_lead": list(range(80, 88)),
    "ethnic": list(range(104, 112)),
}

STYLES = {
    # name: (accompaniment families, melody families, drums probability, tempo range)
    "piano_solo": (["piano"], ["piano"], 0.0, (60, 140)),
    "chamber": (["strings"], ["reed", "pipe", "strings"], 0.0, (50, 110)),
    "band": (["guitar", "piano", "organ"], ["synth_lead", "guitar", "brass", "reed"], 0.9, (85, 170)),
    "electronic": (["choir_pad", "synth_lead"], ["synth_lead", "mallet"], 0.8, (100, 160)),
    "brass_band": (["brass"], ["brass", "reed"], 0.5, (80, 140)),
    "mallets": (["mallet"], ["mallet", "pipe"], 0.3, (70, 150)),
    "organ": (["organ"], ["organ", "pipe"], 0.2, (60, 120)),
    "world": (["ethnic", "guitar"], ["ethnic", "pipe"], 0.6, (70, 150)),
    "ambient": (["choir_pad", "strings"], ["pipe", "mallet", "choir_pad"], 0.0, (40, 80)),
}

MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
PROGRESSIONS = [[0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 3, 0, 4],
                [1, 4, 0, 0], [0, 6, 5, 4], [0, 0, 3, 4]]


def _vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _track(events):
    """events: list of (tick, bytes) absolute; returns an MTrk chunk."""
    events = sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))
    data = bytearray()
    last = 0
    for tick, msg in events:
        data += _vlq(tick - last) + msg
        last = tick
    data += _vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + bytes(data)


def _smf(tracks):
    return b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), PPQ) + b"".join(tracks)


def generate(rng, seconds, style=None):
    """Random piece of about `seconds`; rng is a random.Random."""
    style = style or rng.choice(sorted(STYLES))
    acc_f, mel_f, p_drums, (t0, t1) = STYLES[style]
    bpm = rng.randint(t0, t1)
    beats = max(8, int(seconds * bpm / 60.0))
    bars = beats // 4
    scale = MAJOR if rng.random() < 0.6 else MINOR
    root = 48 + rng.randint(0, 11)
    prog = rng.choice(PROGRESSIONS)
    tempo = int(60_000_000 / bpm)
    meta = [(0, b"\xff\x51\x03" + tempo.to_bytes(3, "big"))]
    tracks = [_track(meta)]

    def note(evs, ch, t, dur, pitch, vel):
        pitch = max(0, min(127, pitch))
        evs.append((t, bytes([0x90 | ch, pitch, vel])))
        evs.append((t + max(1, dur), bytes([0x80 | ch, pitch, 0])))

    def chord_tones(degree):
        return [root + scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]

    # accompaniment
    ch = 0
    evs = [(0, bytes([0xC0 | ch, rng.choice(FAMILIES[rng.choice(acc_f)])]))]
    pattern = rng.choice(["block", "arp", "alberti", "offbeat"])
    vel = rng.randint(55, 90)
    for bar in range(bars):
        tones = chord_tones(prog[bar % len(prog)])
        t = bar * 4 * PPQ
        if pattern == "block":
            for p in tones:
                note(evs, ch, t, 4 * PPQ - 20, p, vel)
        elif pattern == "arp":
            seq = tones + [tones[0] + 12] + tones[::-1][1:] + [tones[0]]
            for k in range(8):
                note(evs, ch, t + k * PPQ // 2, PPQ // 2 - 10, seq[k % len(seq)] + 12, vel)
        elif pattern == "alberti":
            seq = [tones[0], tones[2], tones[1], tones[2]]
            for k in range(8):
                note(evs, ch, t + k * PPQ // 2, PPQ // 2 - 10, seq[k % 4] + 12, vel)
        else:
            for k in range(4):
                for p in tones:
                    note(evs, ch, t + k * PPQ + PPQ // 2, PPQ // 2 - 20, p + 12, vel)
    tracks.append(_track(evs))

    # bass
    if rng.random() < 0.8:
        ch = 1
        evs = [(0, bytes([0xC0 | ch, rng.choice(FAMILIES["bass"] if style != "piano_solo" else FAMILIES["piano"])]))]
        for bar in range(bars):
            r = chord_tones(prog[bar % len(prog)])[0] - 12
            t = bar * 4 * PPQ
            if rng.random() < 0.5:
                note(evs, ch, t, 2 * PPQ - 20, r, 90)
                note(evs, ch, t + 2 * PPQ, 2 * PPQ - 20, r + 7, 85)
            else:
                for k in range(4):
                    note(evs, ch, t + k * PPQ, PPQ - 20, r + (0, 7, 12, 7)[k], 85)
        tracks.append(_track(evs))

    # melody: a random walk on the scale, phrased, with rests
    ch = 2
    evs = [(0, bytes([0xC0 | ch, rng.choice(FAMILIES[rng.choice(mel_f)])]))]
    deg = rng.randint(7, 11)
    t = 0
    end = bars * 4 * PPQ
    while t < end:
        dur = rng.choice([PPQ // 2, PPQ // 2, PPQ, PPQ, PPQ * 2, PPQ // 4 * 3])
        if rng.random() < 0.15:
            t += dur
            continue
        deg = max(3, min(16, deg + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])))
        p = root + 12 + scale[deg % 7] + 12 * (deg // 7 - 1)
        note(evs, ch, t, dur - 15, p, rng.randint(70, 110))
        t += dur
    tracks.append(_track(evs))

    # drums on channel 10 (index 9)
    if rng.random() < p_drums:
        ch = 9
        evs = []
        groove = rng.choice(["rock", "four", "half", "shuffle"])
        for bar in range(bars):
            t = bar * 4 * PPQ
            for k in range(8):
                tt = t + k * PPQ // 2
                note(evs, ch, tt, 60, rng.choice([42, 42, 42, 44, 46]) if groove != "half" or k % 2 == 0 else 42, 70)
                if groove == "four" and k % 2 == 0:
                    note(evs, ch, tt, 60, 36, 100)
                elif groove in ("rock", "shuffle") and k in (0, 5):
                    note(evs, ch, tt, 60, 36, 100)
                elif groove == "half" and k == 0:
                    note(evs, ch, tt, 60, 36, 100)
                if (groove != "half" and k in (2, 6)) or (groove == "half" and k == 4):
                    note(evs, ch, tt, 60, 38, 95)
            if bar % 4 == 3 and rng.random() < 0.5:
                note(evs, ch, t + 4 * PPQ - PPQ // 2, 60, 49, 100)
        tracks.append(_track(evs))
    return _smf(tracks), style, bpm


def _read_vlq(b, i):
    n = 0
    while True:
        c = b[i]
        i += 1
        n = (n << 7) | (c & 0x7F)
        if not c & 0x80:
            return n, i


def truncate(data, seconds):
    """Return the SMF cut after `seconds`, or the input unchanged if it is
    shorter, unparseable, or uses SMPTE time division."""
    try:
        if data[:4] != b"MThd":
            return data
        hlen, fmt, ntrk, div = struct.unpack(">IHHH", data[4:14])
        if div & 0x8000:
            return data
        pos = 8 + hlen
        tracks = []  # list of list (abs_tick, raw_event_bytes)
        tempos = []
        for _ in range(ntrk):
            if data[pos:pos + 4] != b"MTrk":
                return data
            (ln,) = struct.unpack(">I", data[pos + 4:pos + 8])
            b = data[pos + 8:pos + 8 + ln]
            pos += 8 + ln
            i, tick, status, evs = 0, 0, 0, []
            while i < len(b):
                d, i = _read_vlq(b, i)
                tick += d
                start = i
                c = b[i]
                if c == 0xFF:
                    typ = b[i + 1]
                    ln2, j = _read_vlq(b, i + 2)
                    i = j + ln2
                    if typ == 0x2F:
                        break
                    if typ == 0x51:
                        tempos.append((tick, int.from_bytes(b[j:j + 3], "big")))
                    evs.append((tick, bytes(b[start:i])))
                elif c in (0xF0, 0xF7):
                    ln2, j = _read_vlq(b, i + 1)
                    i = j + ln2
                    evs.append((tick, bytes(b[start:i])))
                else:
                    if c & 0x80:
                        status = c
                        i += 1
                        run = b""
                    else:
                        run = b""
                    n = 1 if (status & 0xF0) in (0xC0, 0xD0) else 2
                    payload = bytes(b[i:i + n])
                    i += n
                    evs.append((tick, bytes([status]) + payload))
            tracks.append(evs)
        tempos.sort()
        # tick limit from the tempo map
        limit_us = seconds * 1e6
        t_us, last_tick, cur = 0.0, 0, 500000
        limit_tick = None
        for tk, tp in tempos + [(1 << 62, None)]:
            seg = (tk - last_tick) * cur / div
            if t_us + seg >= limit_us:
                limit_tick = last_tick + int((limit_us - t_us) * div / cur)
                break
            t_us += seg
            last_tick = tk
            cur = tp
        out = []
        maxtick = 0
        for evs in tracks:
            kept = [(t, m) for t, m in evs if t <= limit_tick]
            if kept:
                maxtick = max(maxtick, kept[-1][0])
            data2 = bytearray()
            last = 0
            for t, m in kept:
                data2 += _vlq(t - last) + m
                last = t
            # all notes off on every channel so nothing hangs
            for ch in range(16):
                data2 += _vlq(0) + bytes([0xB0 | ch, 123, 0])
            data2 += _vlq(0) + b"\xff\x2f\x00"
            out.append(b"MTrk" + struct.pack(">I", len(data2)) + bytes(data2))
        return b"MThd" + struct.pack(">IHHH", 6, 1 if ntrk > 1 else fmt, len(out), div) + b"".join(out)
    except (IndexError, struct.error, ValueError):
        return data
