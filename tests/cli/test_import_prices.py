"""``vaultsync import-prices`` against a real SQLite shop (in process, and once as the console script)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.cli import main
from vaultsync.cli_prices import EXIT_NOT_IMPORTED, EXIT_OK, EXIT_UNUSABLE
from vaultsync.store import open_store
from vaultsync.store.models import AuditEntry, PriceReview, PriceUpdate, Sku

TCG = "SKU,TCG Market Price\n"
TCG_FULL = "TCGplayer Id,Product Line,Set Name,Product Name,Number,Condition,TCG Market Price\n"
PRICECHARTING = "id,console-name,product-name,loose-price,graded-price,manual-only-price\n"


class ShopDb:
    """The shop's database file, opened only to look (the CLI opens it on its own)."""

    def __init__(self, data_dir: Path, shop: Shop) -> None:
        self.data_dir = data_dir
        self.url = f"sqlite:///{data_dir / 'vaultsync.db'}"
        self.ids = shop

    def market(self, sku_id: str) -> int | None:
        store = open_store(self.url)
        try:
            with store.read() as s:
                return s.scalar(select(Sku.market_price_cents).where(Sku.id == sku_id))
        finally:
            store.close()

    def count(self, model: type) -> int:
        store = open_store(self.url)
        try:
            with store.read() as s:
                return int(s.scalar(select(func.count()).select_from(model)) or 0)
        finally:
            store.close()


@pytest.fixture
def shop_db(tmp_path: Path) -> Iterator[ShopDb]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = open_store(f"sqlite:///{data_dir / 'vaultsync.db'}")
    try:
        shop = build_shop(store)  # users mia (manager) and sam (cashier), six priced SKUs
        from vaultsync.services.auth import AuthService

        AuthService(store).add_user("old", "Old Manager", "manager", password="old manager pw")
        AuthService(store).set_active("old", False)
    finally:
        store.close()
    yield ShopDb(data_dir, shop)


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: bytes = b""):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def write(tmp_path: Path, text: str | bytes, name: str = "prices.csv") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


Result = tuple[int, str, str]


@pytest.fixture
def imp(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], shop_db: ShopDb
) -> Callable[..., Result]:
    """``vaultsync import-prices ARGS --data-dir <the shop>`` in process: (exit code, stdout, stderr)."""

    def call(*args: str, stdin: bytes = b"") -> Result:
        return run(
            monkeypatch, capsys, "import-prices", *args, "--data-dir", str(shop_db.data_dir), stdin=stdin
        )

    return call


def test_import_applies_holds_and_records_who(
    imp: Callable[..., Result], shop_db: ShopDb, tmp_path: Path
) -> None:
    # NM moves 70 -> 71 (inside the guard), the foil 120 -> 200 (held), bolt unchanged
    path = write(tmp_path, TCG + "MTG-DMU-107-NM,71.00\nMTG-DMU-107-NM-F,$200.00\nMTG-M10-146-NM,1.00\n")
    code, out, err = imp(path, "--user", "mia", "--source", "nightly-tcg")
    assert code == EXIT_OK, err
    assert out.startswith("Imported: TCGplayer-style file, source 'nightly-tcg'")
    assert "applied                    1" in out
    assert "held for review            1" in out
    assert "unchanged                  1" in out
    assert "MTG-DMU-107-NM-F" in out and "hold" in out
    ids = shop_db.ids
    assert shop_db.market(ids.nm) == 7100
    assert shop_db.market(ids.foil) == 12000  # held, not applied
    assert shop_db.count(PriceReview) == 1
    store = open_store(shop_db.url)
    try:
        with store.read() as s:
            update = s.scalars(select(PriceUpdate).where(PriceUpdate.sku_id == ids.nm)).one()
            assert (update.source, update.user_id) == ("nightly-tcg", ids.manager.id)
            entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "pricing.import")).one()
            assert entry.user_id == ids.manager.id
    finally:
        store.close()


def test_dry_run_previews_and_writes_nothing(
    imp: Callable[..., Result], shop_db: ShopDb, tmp_path: Path
) -> None:
    path = write(tmp_path, TCG + "MTG-DMU-107-NM,71.00\nMTG-DMU-107-NM-F,200.00\n")
    code, out, err = imp(path, "--user", "mia", "--dry-run")
    assert code == EXIT_OK, err
    assert out.startswith("Dry run:")
    assert "first 2 would change:" in out
    rows = [" ".join(line.split()) for line in out.splitlines()]
    assert "line 2 MTG-DMU-107-NM apply market $70.00 -> $71.00 shelf $74.99 -> $71.00" in rows
    assert "line 3 MTG-DMU-107-NM-F hold market $120.00 -> $200.00 shelf $129.99" in rows
    assert shop_db.market(shop_db.ids.nm) == 7000 and shop_db.count(PriceReview) == 0


def test_a_bad_row_imports_nothing_unless_valid_only(
    imp: Callable[..., Result], shop_db: ShopDb, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        TCG_FULL
        + "1,Magic: The Gathering,Dominaria United,Sheoldred,107,Lightly Played,61.00\n"
        + "2,Magic: The Gathering,XYZ,Nothing,5,Near Mint,1.00\n"
        + "3,Magic: The Gathering,DMU,Sheoldred,107,Near Mint,-4.00\n",
    )
    lp = shop_db.ids.lp
    code, out, err = imp(path, "--user", "mia")
    assert code == EXIT_NOT_IMPORTED
    assert "Not imported" in out and "line 3: " in out and "unknown set 'XYZ'" in out and "line 4: " in out
    assert err.count("\n") == 1 and "2 row(s) have errors: nothing was imported" in err
    assert shop_db.market(lp) == 6000

    code, out, err = imp(path, "--user", "mia", "--dry-run")
    assert code == EXIT_NOT_IMPORTED and "pass --valid-only" in err

    code, out, err = imp(path, "--user", "mia", "--valid-only", "--dry-run")
    assert code == EXIT_OK, err
    assert shop_db.market(lp) == 6000

    code, out, err = imp(path, "--user", "mia", "--valid-only")
    assert code == EXIT_OK, err
    assert "errors                     2" in out and "unknown set 'XYZ'" in out
    assert shop_db.market(lp) == 6100


def test_pricecharting_format_json_and_stdin(imp: Callable[..., Result], shop_db: ShopDb) -> None:
    text = PRICECHARTING + "1,Magic: The Gathering Dominaria United,Sheoldred #107,$72.00,,\n"
    code, out, err = imp(
        "-",
        "--user",
        "mia",
        "--format",
        "pricecharting",
        "--json",
        stdin=text.encode(),
    )
    assert code == EXIT_OK, err
    report = json.loads(out)
    assert report["committed"] and report["format"] == "pricecharting" and report["applied"] == 2
    assert shop_db.market(shop_db.ids.lp) == 6120  # NM $72 x the LP multiplier


def test_format_that_does_not_match_the_file_is_refused(
    imp: Callable[..., Result], shop_db: ShopDb, tmp_path: Path
) -> None:
    path = write(tmp_path, TCG + "MTG-DMU-107-NM,71.00\n")
    code, _, err = imp(path, "--user", "mia", "--format", "pricecharting")
    assert code == EXIT_UNUSABLE and err.startswith("vaultsync: error: ") and err.count("\n") == 1
    assert shop_db.market(shop_db.ids.nm) == 7000


@pytest.mark.parametrize(
    ("content", "user", "message"),
    [
        (None, "mia", "no such file"),
        (b"<!DOCTYPE html><html><body>Please sign in</body></html>", "mia", "HTML"),
        (b"\x00\x01\x02\x03 garbage", "mia", "binary"),
        (b"", "mia", "is empty"),
        (b"name,price\nfoo,1.00\n", "mia", "unknown price file"),
        (TCG.encode(), "nobody", "no user 'nobody'"),
        (TCG.encode(), "sam", "needs a manager"),
        (TCG.encode(), "old", "disabled"),
    ],
)
def test_unusable_input_is_one_line_exit_2(
    imp: Callable[..., Result],
    shop_db: ShopDb,
    tmp_path: Path,
    content: bytes | None,
    user: str,
    message: str,
) -> None:
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, content)
    before = shop_db.count(AuditEntry)
    code, out, err = imp(path, "--user", user)
    assert code == EXIT_UNUSABLE, (out, err)
    assert message in err and err.startswith("vaultsync: error: ") and err.count("\n") == 1
    assert shop_db.count(AuditEntry) == before and shop_db.count(PriceUpdate) == 0


def test_directory_and_missing_database(
    imp: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, _, err = imp(str(tmp_path), "--user", "mia")
    assert code == EXIT_UNUSABLE and "is a directory" in err
    empty = tmp_path / "nowhere"
    path = write(tmp_path, TCG + "MTG-DMU-107-NM,71.00\n")
    code, _, err = run(monkeypatch, capsys, "import-prices", path, "--user", "mia", "--data-dir", str(empty))
    assert code == EXIT_UNUSABLE and err.count("\n") == 1
    assert not (empty / "vaultsync.db").exists()  # never creates an empty shop to import into


@pytest.mark.parametrize(
    "args",
    [
        ["import-prices"],
        ["import-prices", "x.csv"],  # --user is required
        ["import-prices", "x.csv", "--user", "mia", "--format", "ebay"],
        ["import-prices", "x.csv", "--user", "mia", "--show", "-1"],
    ],
)
def test_usage_errors_exit_2(monkeypatch, capsys, args: list[str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(monkeypatch, capsys, *args, "--data-dir", str(tmp_path / "d"))
    assert code == EXIT_UNUSABLE and "error" in err


def test_console_script_imports(shop_db: ShopDb, tmp_path: Path) -> None:
    exe = shutil.which("vaultsync", path=str(Path(sys.executable).parent))
    assert exe, "the vaultsync console script is not installed next to this Python"
    path = write(tmp_path, TCG + "MTG-DMU-107-NM,71.00\nNOPE-1,2.00\n")
    base = [exe, "import-prices", path, "--user", "mia", "--data-dir", str(shop_db.data_dir)]
    proc = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_NOT_IMPORTED and "Traceback" not in proc.stderr
    assert "line 3: unknown SKU code 'NOPE-1'" in proc.stdout
    proc = subprocess.run([*base, "--valid-only"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert shop_db.market(shop_db.ids.nm) == 7100
