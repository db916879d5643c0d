"""Command line: ``vectorizer [serve] [flags]``, flag-compatible with the ``qdrant`` binary.

``vectorizer`` with no sub-command serves, so a Qdrant start line such as
``qdrant --config-path config/prod.yaml`` works as ``vectorizer --config-path config/prod.yaml``.
Flags are accepted both before and after ``serve``. ``vectorizer config`` prints the effective
configuration (secrets masked) and where it came from, without starting anything.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from vectorizer import QDRANT_COMPAT_VERSION, __version__
from vectorizer.settings import Settings, SettingsError, load_settings

_SECRET_KEYS = ("api_key", "alt_api_key", "read_only_api_key", "secret_key", "access_key")


def _add_server_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Qdrant's flags. In a sub-command their defaults are suppressed so that a flag given
    before the sub-command is not overwritten by the sub-command's default."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--config-path", metavar="PATH", default=default(None),
        help="Path to an extra configuration file, applied over config/config.yaml, "
             "config/$RUN_MODE.yaml and config/local.yaml (environment variables still win)")
    parser.add_argument(
        "--uri", metavar="URI", default=default(None),
        help="URI of this peer in a distributed deployment (distributed mode is not "
             "supported yet)")
    parser.add_argument(
        "--bootstrap", metavar="URI", default=default(None),
        help="URI of a peer to bootstrap from (distributed mode is not supported yet)")
    parser.add_argument(
        "--disable-telemetry", action="store_true", default=default(False),
        help="Same as telemetry_disabled: true (Vectorizer never sends telemetry anywhere)")
    parser.add_argument(
        "--snapshot", "--collection-snapshot", metavar="PATH:NAME", action="append",
        default=default(None), help="Recover a collection from a snapshot file at start-up "
                                    "(repeatable)")
    parser.add_argument(
        "--storage-snapshot", metavar="PATH", default=default(None),
        help="Recover every collection and alias from a full storage snapshot at start-up")
    parser.add_argument(
        "-f", "--force-snapshot", action="store_true", default=default(False),
        help="With --snapshot/--storage-snapshot: replace existing collections")
    parser.add_argument(
        "--reinit", action="store_true", default=default(False),
        help="Reinitialise the consensus state (distributed mode only; ignored)")
    parser.add_argument(
        "--stacktrace", action="store_true", default=default(False),
        help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """The ``vectorizer`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="vectorizer",
        description="Vectorizer: a vector database server that speaks Qdrant's REST API. "
                    "Without a command, `serve` is assumed.")
    parser.add_argument(
        "--version", action="version",
        version=f"vectorizer {__version__} (Qdrant API {QDRANT_COMPAT_VERSION})")
    _add_server_flags(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="Run the server (the default)")
    _add_server_flags(serve, suppress=True)
    show = commands.add_parser(
        "config", help="Print the effective configuration and its sources, then exit")
    _add_server_flags(show, suppress=True)
    return parser


def _error(message: str) -> int:
    print(f"vectorizer: error: {message}", file=sys.stderr)
    return 1


def _mask(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: ("***" if k in _SECRET_KEYS and v else _mask(v)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_mask(item) for item in tree]
    return tree


def _print_config(settings: Settings) -> None:
    import yaml

    print("# Sources (later wins):")
    for source in settings.sources or ["built-in defaults only"]:
        print(f"#   {source}")
    print(yaml.safe_dump(_mask(settings.model_dump(mode="json")), sort_keys=False), end="")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vectorizer`` command; returns the process exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.stacktrace:  # Qdrant's stack-trace collector helper: nothing to do here
        return 0
    try:
        settings = load_settings(args.config_path)
    except SettingsError as exc:
        return _error(str(exc))
    if args.disable_telemetry:
        settings.telemetry_disabled = True
    for message in settings.load_messages:
        print(f"vectorizer: warning: {message}", file=sys.stderr)
    if args.command == "config":
        _print_config(settings)
        return 0

    if args.snapshot or args.storage_snapshot:
        from vectorizer.common.errors import VectorizerError
        from vectorizer.storage.snapshots.startup import recover_at_startup

        try:
            names = recover_at_startup(settings, list(args.snapshot or []),
                                       args.storage_snapshot, bool(args.force_snapshot))
        except (VectorizerError, OSError) as exc:
            return _error(f"snapshot recovery failed: {exc}")
        print(f"vectorizer: recovered {', '.join(names) or 'nothing'} from snapshots",
              file=sys.stderr)

    from vectorizer import server  # lazy: keeps `--version` and `config` light
    from vectorizer.shard.wal import WalCorruption

    try:
        server.run(settings, uri=args.uri, bootstrap=args.bootstrap)
    except getattr(server, "UnsupportedConfig", ()) as exc:
        return _error(str(exc))
    except WalCorruption as exc:
        return _error(f"storage is damaged, refusing to start: {exc}")
    except KeyboardInterrupt:
        return 130
    return 0
