"""`realtime-tts voices create|list|get|rename|delete|sample`: the saved-voice library from a shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from realtime.voices.client import DEFAULT_SERVER, VoicesApiError, VoicesClient


def add_voices_parser(subparsers: Any) -> None:
    voices = subparsers.add_parser("voices", help="create, list, rename, delete and preview saved voices")
    voices.add_argument("--server", default=DEFAULT_SERVER, help=f"server HTTP address (default {DEFAULT_SERVER})")
    voices.add_argument("--token", help="API key, if the server requires one (voices belong to the key)")
    actions = voices.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="clone (--audio), design (--design) or blend (--blend) a voice")
    create.add_argument("name")
    kind = create.add_mutually_exclusive_group(required=True)
    kind.add_argument("--audio", type=Path, help="reference audio file to clone (1-30 s)")
    kind.add_argument("--design", metavar="INSTRUCT", help="a description of the voice (VoiceDesign)")
    kind.add_argument("--blend", nargs="+", metavar="ID:WEIGHT", help="saved voices to mix, with weights > 0")
    create.add_argument("--ref-text", help="transcript of --audio (in-context cloning)")
    create.add_argument("--x-vector-only", action="store_true", help="clone from the speaker embedding alone")
    create.add_argument("--model", help="the Base checkpoint to clone with (default: the server's)")
    create.add_argument("--text", help="with --design: the sample line the designed voice speaks")
    create.add_argument("--language")
    create.add_argument("--seed", type=int, help="with --design: the seed of the sample (default 0)")
    actions.add_parser("list", help="every saved voice of this key")
    get = actions.add_parser("get", help="one voice")
    get.add_argument("id")
    rename = actions.add_parser("rename", help="give a voice a new name")
    rename.add_argument("id")
    rename.add_argument("name")
    delete = actions.add_parser("delete", help="delete a voice")
    delete.add_argument("id")
    sample = actions.add_parser("sample", help="save a short preview of a voice")
    sample.add_argument("id")
    sample.add_argument("-o", "--output", type=Path, required=True, help="output file; its extension picks the format")


def _blend_parts(values: list[str]) -> list[tuple[str, float]]:
    parts = []
    for value in values:
        voice, _, weight = value.partition(":")
        try:
            parts.append((voice, float(weight) if weight else 1.0))
        except ValueError:
            raise SystemExit(f"error: --blend {value!r}: the weight after ':' must be a number") from None
    return parts


def _create(client: VoicesClient, args: argparse.Namespace) -> dict[str, Any]:
    if args.audio is not None:
        if not args.x_vector_only and not args.ref_text:
            raise SystemExit("error: --audio needs --ref-text (its transcript) or --x-vector-only")
        return client.create_clone(args.name, args.audio.read_bytes(), args.ref_text,
                                   x_vector_only=args.x_vector_only, model=args.model)
    if args.design is not None:
        if not args.text:
            raise SystemExit("error: --design needs --text, the sample line the designed voice speaks")
        return client.create_design(args.name, args.design, args.text, language=args.language, seed=args.seed)
    return client.create_blend(args.name, _blend_parts(args.blend))


def run_voices(args: argparse.Namespace) -> int:
    client = VoicesClient(args.server, args.token)
    try:
        if args.action == "create":
            print(json.dumps(_create(client, args), indent=2))
        elif args.action == "list":
            for voice in client.list():
                print(f"{voice['id']}\t{voice['name']}\t{voice['source']}\t{voice['model']}")
        elif args.action == "get":
            print(json.dumps(client.get(args.id), indent=2))
        elif args.action == "rename":
            print(json.dumps(client.rename(args.id, args.name), indent=2))
        elif args.action == "delete":
            client.delete(args.id)
            print(f"deleted {args.id}")
        elif args.action == "sample":
            format = args.output.suffix.lower().lstrip(".") or "wav"
            args.output.write_bytes(client.sample(args.id, format))
            print(f"{args.output}: preview of {args.id}")
    except VoicesApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
