"""``vaultsync import-prices``: a TCGplayer- or PriceCharting-style price file from the shell.

Kept apart from :mod:`vaultsync.cli` (which only gains the line registering it) and a thin
shell around :meth:`vaultsync.services.pricing.PricingService.import_file`, so a file
imported here goes through exactly the matching, rules, volatility guard, one-transaction
write and audit entry of an upload in the manager UI or the REST API.

Who imports: ``--user NAME``, a manager (or admin) account. Whoever has a shell on the
terminal already owns its database (``vaultsync user add`` needs no login either), so the
account is not asked for its password: it names who the price ledger and the audit log
record, and its role and active flag are checked like any manager action.

Exit codes (the rules of :mod:`vaultsync.cli`): 0 imported (or a clean dry run); 1 the
file has row errors (or prices moved meanwhile) and nothing was imported — with
``--dry-run``, that a real run would import nothing; 2 a usage mistake or a file that
cannot be used at all (missing, unreadable, binary, HTML, unknown header).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from vaultsync.domain.errors import ValidationError

EXIT_OK = 0
EXIT_NOT_IMPORTED = 1
EXIT_UNUSABLE = 2

#: preview rows and row errors printed unless --show says otherwise
DEFAULT_SHOW = 20


def add_commands(sub: Any, common: Any) -> None:
    p = sub.add_parser(
        "import-prices",
        help="import a TCGplayer- or PriceCharting-style price CSV (guard and rules apply)",
        description="Import a price export into the catalog as a manager would from the pricing "
        "screen: matched by SKU code or set/number/condition, priced under the pricing rules, big "
        "moves held for review by the volatility guard, written in one transaction. A file with a "
        "bad row imports nothing unless --valid-only is given.",
    )
    common(p)
    p.add_argument("file", metavar="FILE", help="the CSV export ('-' reads standard input)")
    p.add_argument(
        "--user",
        required=True,
        metavar="USERNAME",
        help="the manager account the import is made as (recorded in the price history and audit log)",
    )
    p.add_argument(
        "--format",
        dest="price_format",
        choices=["auto", "tcgplayer", "pricecharting"],
        default="auto",
        help="the export's layout (default auto: recognised from the header)",
    )
    p.add_argument(
        "--source",
        default="csv-import",
        metavar="NAME",
        help="where the prices come from, shown in each SKU's price history (default csv-import)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check the file and show what would change; write nothing"
    )
    p.add_argument(
        "--valid-only",
        action="store_true",
        help="import the valid rows and list the bad ones (default: a bad row imports nothing)",
    )
    p.add_argument(
        "--show",
        type=int,
        default=DEFAULT_SHOW,
        metavar="N",
        help=f"preview rows and row errors to print (default {DEFAULT_SHOW})",
    )
    p.add_argument("--json", action="store_true", help="print the whole import report as JSON")
    p.set_defaults(func=cmd_import_prices)


def _read(path: str, stdin: Any = None) -> bytes:
    from vaultsync.cli import CliError
    from vaultsync.services.pricing import MAX_UPLOAD_BYTES

    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data: bytes = stream.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise CliError("the file is larger than 512 MB")
        return data
    file = Path(path).expanduser()
    try:
        if file.is_dir():
            raise CliError(f"{path} is a directory, not a price file")
        if file.stat().st_size > MAX_UPLOAD_BYTES:
            raise CliError(f"{path} is larger than 512 MB")
        return file.read_bytes()
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def _money(cents: int | None) -> str:
    return "—" if cents is None else f"${cents / 100:,.2f}"


def print_report(report: Any, *, show: int, out: TextIO) -> None:
    """The report for a person: counts, then the first planned changes and the row errors."""
    what = "Dry run" if report.dry_run else ("Imported" if report.committed else "Not imported")
    label = {"tcgplayer": "TCGplayer-style", "pricecharting": "PriceCharting-style"}.get(
        report.format, report.format or "unknown format"
    )
    print(f"{what}: {label} file, source {report.source!r}, batch {report.batch_id}", file=out)
    rate = f" ({report.lines / report.seconds:,.0f} lines/s)" if report.seconds > 0 and report.lines else ""
    print(f"  lines read        {report.lines:>10,}{rate}", file=out)
    print(f"  prices matched    {report.prices:>10,}", file=out)
    print(f"  applied           {report.applied:>10,}  (shelf price changed: {report.repriced:,})", file=out)
    print(f"  held for review   {report.held:>10,}", file=out)
    print(f"  unchanged         {report.unchanged:>10,}", file=out)
    print(f"  skipped           {report.skipped:>10,}  (no price, or not stocked)", file=out)
    print(f"  errors            {report.error_count:>10,}", file=out)
    if report.preview and show > 0:
        title = "would change" if report.dry_run else "changes"
        print(f"first {min(show, len(report.preview))} {title}:", file=out)
        for p in report.preview[:show]:
            shelf = (
                f"shelf {_money(p.old_shelf_cents)} -> {_money(p.new_shelf_cents)}"
                if p.new_shelf_cents != p.old_shelf_cents
                else f"shelf {_money(p.old_shelf_cents)}"
            )
            floors = f" (floor: {'+'.join(p.floors)})" if p.floors else ""
            print(
                f"  line {p.line:<7} {p.sku_code:<24} {p.action:<9} market "
                f"{_money(p.old_market_cents)} -> {_money(p.new_market_cents)}  {shelf}{floors}",
                file=out,
            )
    if report.errors and show > 0:
        print(f"row errors (first {min(show, len(report.errors))} of {report.error_count:,}):", file=out)
        for err in report.errors[:show]:
            text = f"  [{err.text}]" if err.text else ""
            print(f"  line {err.line}: {err.message}{text}", file=out)


def exit_code(report: Any) -> int:
    if not report.format:  # the whole file was refused before any row: HTML, unknown header
        return EXIT_UNUSABLE
    if report.dry_run:
        return EXIT_NOT_IMPORTED if report.error_count and not report.valid_only else EXIT_OK
    return EXIT_OK if report.committed else EXIT_NOT_IMPORTED


def cmd_import_prices(args: argparse.Namespace) -> int:
    from vaultsync import cli
    from vaultsync.services.container import Services

    if args.show < 0:
        raise cli.CliError("--show must be 0 or more")
    if args.file == "-" and sys.stdin.isatty():
        raise cli.CliError("'-' reads the file from standard input: pipe it in")
    config = cli._config(args)
    # an existing shop only: an import into a database created on the spot would be a typo
    services = Services.build(config, cli._open(config, create=False))
    try:
        actor = services.auth.by_username(args.user)
        if not actor.is_active:
            raise cli.CliError(f"user {actor.username!r} is disabled")
        data = _read(args.file)
        if not data.strip():
            raise ValidationError(f"{args.file} is empty")
        report = services.pricing.import_file(
            data,
            actor=actor,
            source=args.source,
            dry_run=args.dry_run,
            valid_only=args.valid_only,
            expected_format=args.price_format,
        )
    finally:
        services.store.close()
    if args.json:
        print(json.dumps(asdict(report), indent=2, default=str))
    elif report.format:  # (a file refused whole has only its reason, below)
        print_report(report, show=args.show, out=sys.stdout)
    code = exit_code(report)
    if report.refused:
        # the reason as the one line on stderr a script (or a person scrolling) looks for
        print(f"vaultsync: error: {report.refused}", file=sys.stderr)
    elif code == EXIT_NOT_IMPORTED:
        print(
            f"vaultsync: error: {report.error_count:,} row(s) have errors: a real import would write "
            "nothing (fix the file or pass --valid-only)",
            file=sys.stderr,
        )
    return code
