"""Fuzz the redactor's C module (golive/_redact_native.c) against its Python path, under a sanitizer.

Not a speed benchmark: a longer, adversarial run than tests/unit/test_redact_native.py, meant to run on a
build of the module with AddressSanitizer and UBSan (``scripts/fuzz-native`` builds one and runs this with
the sanitizer preloaded). Each round feeds both paths the same input and requires the same ``findings()``
and ``redact()``/``redact_bytes()`` output; any difference, exception or sanitizer report ends the run.

Inputs: strings of personal-data pieces and separators, lines of only digits, NUL bytes, astral-plane and
other multi-byte characters before and inside findings, lone surrogates (``str``), invalid UTF-8
(``bytes``), very long values after ``password=``, thousands of registered secrets (prefixes of each other,
regex metacharacters), one redactor used by several threads at once, and a large input (``--huge-mb``).
Memory: the process's RSS before and after ``--calls`` redactions of fresh texts (a leak per call shows).

    scripts/fuzz-native                                   # ASan+UBSan build, default rounds
    .venv/bin/python benchmarks/fuzz_redact_native.py --rounds 2000 --seed 7   # the normal build
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import random
import re
import string
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _load_module(so: str | None) -> None:
    """Make ``golive._redact_native`` the build at ``so`` (e.g. an ASan build) before golive.redact loads."""
    if not so:
        return
    import golive

    spec = importlib.util.spec_from_file_location("golive._redact_native", so)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["golive._redact_native"] = module
    golive._redact_native = module


PIECES = [
    "4111111111111111", "4111 1111 1111 1111", "378282246310005", "3782 822463 10005", "5555-5555-5555-4444",
    "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "ana.b@example.com", "o+ops%40mail.example.org",
    "+44 20 7946 0958", "(415) 555-0100", "+18058758780", "+1-713-463-0759", "0044 20 7946 0958", "030 12345678",
    "password=", "pw=", "token: ", "api_key=", '"secret": "', "--password ", "PASSWORD '", "Authorization: ",
    "Bearer ", "session=", "https://user:", "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key=",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_" + "a1" * 18, "glv_" + "Q" * 32, "sk-proj-" + "Ab1" * 8,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", "10.1.2.3", "fe80::1%eth0", "2001:db8::8a2e:370:7334",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "550e8400-e29b-41d4-a716-446655440000",
    "\U0001f600", "\U00010348", "é", "中文", "\u200b", "\x00", "\t", "\n", "\r\n", ":", "=", "'", '"', "@", "+", "-",
    "%40", "::", "12/27", "100 USD",
]  # fmt: skip
SEPARATORS = [" ", "", "-", "\n", "=", ":", "\U0001f600", "é", "\x00", " ", ", "]
WIDE = ["é", "中", "\U0001f600", "\U00010348", "a", "1", "\x00"]


def _word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.2:
        return "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 40)))
    if roll < 0.3:
        return "".join(rng.choice(WIDE) for _ in range(rng.randint(1, 300)))
    if roll < 0.4:
        return "".join(rng.choice(string.ascii_letters + string.digits + "/+_-.") for _ in range(rng.randint(1, 60)))
    return rng.choice(PIECES)


def _text(rng: random.Random) -> str:
    return "".join(_word(rng) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 16)))


def _bytes(rng: random.Random) -> bytes:
    data = bytearray(_text(rng).encode("utf-8", "surrogatepass"))
    for _ in range(rng.randint(0, 6)):  # invalid UTF-8: stray continuation bytes, cut sequences, 0xff
        at = rng.randint(0, len(data))
        data[at:at] = rng.choice([b"\x80", b"\xff", b"\xc3", b"\xe4\xb8", b"\xf0\x9f\x98", b"\xed\xa0\x80"])
    return bytes(data)


def _surrogates(rng: random.Random) -> str:
    text = list(_text(rng))
    for _ in range(rng.randint(1, 4)):
        text.insert(rng.randint(0, len(text)), chr(rng.randint(0xD800, 0xDFFF)))
    return "".join(text)


def _secrets(rng: random.Random, count: int) -> list[str]:
    base = "Tr0ub4dor&3-prod.*+?[](){}|^$\\"
    out = [base[: rng.randint(4, len(base))] for _ in range(count // 4)]  # prefixes of each other
    out += [
        "".join(rng.choice(string.printable.strip() + "é\U0001f600") for _ in range(rng.randint(4, 40)))
        for _ in range(count)
    ]
    return out


PLACEHOLDER = re.compile(r"<[a-z_]+:\d+>")


class Mismatch(AssertionError):
    pass


def _check(native: Any, python: Any, item: str | bytes) -> None:
    if isinstance(item, bytes):
        a, b = native.redact_bytes(item), python.redact_bytes(item)
        if a != b:
            raise Mismatch(f"redact_bytes differs on {item!r}:\n C  {a!r}\n py {b!r}")
        chunk = 1 + len(item) // 3  # a stream cut into chunks: the placeholders placed by apply()
        streams = []
        for red in (native, python):
            out = io.BytesIO()
            red.redact_stream(io.BytesIO(item), out, chunk_size=chunk)
            streams.append(out.getvalue())
        if streams[0] != streams[1]:
            raise Mismatch(f"redact_stream differs on {item!r}:\n C  {streams[0]!r}\n py {streams[1]!r}")
        return
    fa, fb = native.findings(item), python.findings(item)
    if fa != fb:
        raise Mismatch(f"findings differ on {item!r}:\n C  {fa!r}\n py {fb!r}")
    a, b = native.redact(item), python.redact(item)
    if a != b:
        raise Mismatch(f"redact differs on {item!r}:\n C  {a!r}\n py {b!r}")
    # findings() in characters (shared by both paths): the text with its regions cut out is redact()'s
    # output with its placeholders cut out.
    kept, pos = [], 0
    for start, end, _kind in fa:
        kept.append(item[pos:start])
        pos = end
    kept.append(item[pos:])
    if "\x01".join(kept) != PLACEHOLDER.sub("\x01", a):
        raise Mismatch(f"findings() offsets do not match redact() on {item!r}: {fa!r} -> {a!r}")


def _pair(redact: Any, secrets: list[str], **options: Any) -> tuple[Any, Any]:
    native = redact.Redactor(**options)
    saved = redact._native
    redact._native = None
    try:
        python = redact.Redactor(**options)
    finally:
        redact._native = saved
    for value in secrets:
        native.add_secret(value)
        python.add_secret(value)
    assert native._static.native is not None
    assert python._static.native is None
    return native, python


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--secrets", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=100_000, help="redactions for the RSS check")
    parser.add_argument("--huge-mb", type=int, default=100)
    args = parser.parse_args()
    _load_module(os.environ.get("GOLIVE_NATIVE_SO"))
    os.environ.setdefault("GOLIVE_REDACT_CACHE", "off")
    from golive import redact

    assert redact.NATIVE_AVAILABLE, "golive._redact_native is not built"
    rng = random.Random(args.seed)
    redact.MEMO_SIZE = 0  # every call runs the scan

    print(f"module: {redact._native.__file__}", flush=True)
    for options in ({}, {"redact_ips": True}):
        native, python = _pair(redact, [], **options)
        for _ in range(args.rounds):
            roll = rng.random()
            item: str | bytes = _bytes(rng) if roll < 0.2 else _surrogates(rng) if roll < 0.3 else _text(rng)
            _check(native, python, item)
        for item in ["", "\x00" * 1000, "1" * 100_000, "4" + "1" * 99_999, ("1 " * 50_000), "-" * 10_000]:
            _check(native, python, item)
        for n in (1, 200, 1000, 5000):  # a long value after a key: the value's limit may cut a character
            _check(native, python, "password=" + "a" + "é" * n)
            _check(native, python, "password=" + "\U0001f600" * n)
        print(f"differential {options or 'defaults'}: {args.rounds} inputs agree", flush=True)

    secrets = _secrets(rng, args.secrets)
    native, python = _pair(redact, secrets)
    for _ in range(max(1, args.rounds // 5)):
        text = _text(rng)
        if rng.random() < 0.7:
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(secrets) + text[at:]
        _check(native, python, text)
    print(f"{len(secrets)} registered secrets: {max(1, args.rounds // 5)} inputs agree", flush=True)

    # One redactor, several threads: each thread's answers equal the single-threaded ones.
    native, _python = _pair(redact, secrets[:50])
    texts = [_text(rng) for _ in range(400)]
    expected = [native.redact(t) for t in texts]
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        try:
            for _ in range(5):
                for k in order:
                    got = native.redact(texts[k])
                    if got != expected[k]:
                        raise Mismatch(f"thread {seed}: {texts[k]!r} -> {got!r}, alone {expected[k]!r}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    def registrar() -> None:  # secrets added while the others redact: each is masked once added
        try:
            for k in range(30):
                value = f"late-Secret-{k:03d}-x9"
                native.add_secret(value)
                if value in native.redact(f"now {value} here"):
                    raise Mismatch(f"{value} left in clear after add_secret")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    threads.append(threading.Thread(target=registrar))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    print(f"{args.threads} threads on one redactor: {5 * len(texts)} calls each agree", flush=True)

    native = redact.Redactor(redact_ips=True)
    native.add_secret("Tr0ub4dor&3-prod")
    lines = [_text(rng) for _ in range(1000)]
    for k in range(2000):  # warm up: placeholders numbered, allocator pools filled
        native.redact(lines[k % 1000] + str(k))
    before = _rss_kib()
    for k in range(args.calls):
        native.redact(lines[k % 1000] + str(k % 5000))
        native.findings(lines[k % 1000])
    after = _rss_kib()
    print(f"RSS over {args.calls} redact+findings calls: {before} KiB -> {after} KiB", flush=True)

    if args.huge_mb:
        unit = "card 4111 1111 1111 1111 pw=hunter2hunter2 ana@example.com +44 20 7946 0958 \U0001f600\n"
        big = unit * (args.huge_mb * 1024 * 1024 // len(unit.encode()))
        out = native.redact(big)
        for clear in ("4111", "hunter2", "ana@"):
            assert clear not in out, f"{clear} left in clear"
        print(f"{len(big.encode()) // (1024 * 1024)} MB input redacted", flush=True)
    print("fuzz-native: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
