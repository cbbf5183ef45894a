"""Reading the render output: the YAML reader against PyYAML's own safe loader (ADR 7).

    python -m benchmarks.yaml_reader         # also run by `make bench`

On the generated chart pair (both sides' templates, as `helm template` would emit them), median
of 7 rounds, the contenders interleaved so that both see the same load of the machine:

1. splitting into documents: `split_documents` against Helm's separator as a Python regular
   expression, which it replaced;
2. parsing the documents: `load_yaml` (libyaml composes, `go_yaml.build` types the values as
   Helm's reader does) against `yaml.load(..., Loader=yaml.CSafeLoader)`, PyYAML's fastest
   safe loader, which the reader before ADR 7 was (with its regular expressions edited);
3. `parse_template`, both steps together, as the render process runs it.

Other parsers are timed when they are installed (neither is a dependency): rapidyaml (`ryml`;
parsing alone, and parsing plus a walk that types scalars by `go_yaml`'s rules, which gives
load_yaml's values on these charts but handles no anchor, alias or merge key) and libfyaml
(`libfyaml.loads(..., mode="yaml1.1").to_python()`, YAML 1.1's types, not Go's), to show what a
replacement could win at most. Nothing is asserted.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.generate import generate
from chartimpact_bot.core import go_yaml
from chartimpact_bot.core.documents import is_emitted, parse_template, split_documents
from chartimpact_bot.core.yamlio import load_yaml

WORK = Path(__file__).resolve().parent / ".work"
ROUNDS = 7
HELM_SEPARATOR = re.compile(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")


def templates() -> list[tuple[str, str]]:
    pair = generate(WORK)
    out = []
    for chart in (pair.base_dir, pair.head_dir):
        for path in sorted((chart / "templates").iterdir()):
            source, text = f"bench/templates/{path.name}", path.read_text()
            if is_emitted(source, text):
                out.append((source, text))
    return out


def interleaved(contenders: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Median seconds of each contender over ROUNDS rounds, one run of each per round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(ROUNDS):
        for name, run in contenders.items():
            gc.collect()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def regex_split(text: str) -> list[str]:
    chunks, position = [], 0
    for match in HELM_SEPARATOR.finditer(text):
        chunks.append(text[position : match.start()])
        position = match.end()
    chunks.append(text[position:])
    return chunks


def optional_peers(chunks: list[str]) -> dict[str, Callable[[], Any]]:
    peers: dict[str, Callable[[], Any]] = {}
    if importlib.util.find_spec("ryml") is not None:
        import ryml  # type: ignore[import-not-found]  # noqa: PLC0415 - optional peer

        encoded = [c.encode() for c in chunks]

        def scalar(text: str, quoted: bool, tag: Any, key: bool) -> Any:
            if quoted and tag is None:
                return text
            if tag is None:
                value = go_yaml.resolve_plain(text)
            else:
                tag = bytes(tag).decode().replace("!!", "tag:yaml.org,2002:", 1)
                value = go_yaml._tagged(yaml.ScalarNode(tag, text))  # the same rules for tags
            if key:
                return go_yaml.key_text(value)
            if value is None or isinstance(value, str | bool):
                return value
            return go_yaml.json_number(value) if math.isfinite(value) else text

        def walk(tree: Any, node: int) -> Any:
            """Go's types, as load_yaml gives them; no anchors, aliases or merge keys (the
            generated charts have none), no error positions."""
            kind = int(tree.type(node))
            if kind & (ryml.MAP | ryml.SEQ):
                out: Any = {} if kind & ryml.MAP else []
                child = tree.first_child(node)
                while child != ryml.NONE:
                    if kind & ryml.MAP:
                        flags = int(tree.type(child))
                        tag = tree.key_tag(child) if flags & ryml.KEYTAG else None
                        key = scalar(bytes(tree.key(child)).decode(), bool(flags & ryml.KEYQUO), tag, True)
                        out[key] = walk(tree, child)
                    else:
                        out.append(walk(tree, child))
                    child = tree.next_sibling(child)
                return out
            value = tree.val(node)
            text = "" if value is None or kind & ryml.VALNIL else bytes(value).decode()
            tag = tree.val_tag(node) if kind & ryml.VALTAG else None
            return scalar(text, bool(kind & ryml.VALQUO), tag, False)

        peers["rapidyaml: parse only"] = lambda: [ryml.parse_in_arena(c) for c in encoded]
        peers["rapidyaml: parse + Go-typed walk"] = lambda: [
            walk(tree, tree.root_id()) for tree in (ryml.parse_in_arena(c) for c in encoded)
        ]
    if importlib.util.find_spec("libfyaml") is not None:
        import libfyaml  # type: ignore[import-not-found]  # noqa: PLC0415 - optional peer

        peers["libfyaml yaml1.1 to_python (YAML 1.1 types)"] = lambda: [
            libfyaml.loads(c, mode="yaml1.1").to_python() for c in chunks
        ]
    return peers


def main() -> None:
    sources = templates()
    texts = [text for _, text in sources]
    chunks = [chunk for text in texts for _, chunk in split_documents(text) if chunk.strip()]
    size = sum(len(t.encode()) for t in texts) / 2**20
    print(f"Render output: {len(sources)} templates, {len(chunks)} documents, {size:.1f} MB (base + head)")

    split = interleaved(
        {
            "split_documents": lambda: [list(split_documents(t)) for t in texts],
            "Helm's separator as a regular expression": lambda: [regex_split(t) for t in texts],
        }
    )
    parse = interleaved(
        {
            "load_yaml (Helm's types)": lambda: [load_yaml(c) for c in chunks],
            "yaml.load, CSafeLoader": lambda: [yaml.load(c, Loader=yaml.CSafeLoader) for c in chunks],
            **optional_peers(chunks),
        }
    )
    whole = interleaved({"parse_template": lambda: [parse_template(s, t) for s, t in sources]})
    for title, figures in (("Splitting", split), ("Parsing the documents", parse), ("Both", whole)):
        print(f"{title} (median of {ROUNDS}):")
        for name, seconds in figures.items():
            print(f"  {name:44s}{seconds * 1000:8.1f} ms")
    ours, peer = parse["load_yaml (Helm's types)"], parse["yaml.load, CSafeLoader"]
    print(f"  → load_yaml takes {ours / peer:.2f} of CSafeLoader's time (target: ≤ 1)")


if __name__ == "__main__":
    main()
