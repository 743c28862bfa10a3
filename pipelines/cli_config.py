"""`slimnlp config-schema`: the run config's JSON Schema for editors, or every key as text.

    slimnlp config-schema --out slimnlp.schema.json    # then, in VS Code's YAML extension:
                                                       #   # yaml-language-server: $schema=slimnlp.schema.json
    slimnlp config-schema --keys                       # type, default, accepted values, help of every key

Each step verb's --help also lists its section's keys the same way (`slimnlp distill --help`).
Torch-free: it reads the config dataclasses only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add `config-schema` to `verbs` and each step verb's config keys to its --help."""
    schema = verbs.add_parser(
        "config-schema",
        help="print the run config's JSON Schema (draft 2020-12) for editors, or every key (--keys)",
        description="Print a JSON Schema of the run config (types, defaults, help, accepted ranges and "
        "values, nested sections, no unknown keys) for YAML editors, or with --keys every key as text. "
        "Rules that span keys (hidden_size divisible by num_heads) are checked on load only.",
    )
    schema.add_argument("--keys", action="store_true", help="list every key as text instead of the schema")
    schema.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    _list_section_keys_in_step_help(verbs)
    return {"config-schema": cmd_config_schema}


def cmd_config_schema(args: argparse.Namespace) -> int:
    from slimnlp.config import RunConfig
    from slimnlp.config.schema import json_schema, key_lines

    if args.keys:
        text = "\n".join(key_lines(RunConfig)) + "\n"
    else:
        text = json.dumps(json_schema(RunConfig), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _list_section_keys_in_step_help(verbs: argparse._SubParsersAction) -> None:
    """Append 'config keys (--set SECTION.KEY=VALUE)' and the section's keys to each step verb's
    epilog, after what the step list already put there (the prune step's method table)."""
    from slimnlp.config import RunConfig
    from slimnlp.config.base import type_hints
    from slimnlp.config.schema import key_lines
    from slimnlp.steps.spec import STEPS

    hints = type_hints(RunConfig)
    for spec in STEPS:
        parser = verbs.choices.get(spec.name)
        if parser is None or spec.section not in hints:
            continue
        keys = "\n".join(key_lines(hints[spec.section], f"{spec.section}."))
        head = f"config keys (--set {spec.section}.KEY=VALUE; every key: slimnlp config-schema --keys):"
        parser.epilog = "\n\n".join(part for part in (parser.epilog, f"{head}\n{keys}") if part)
