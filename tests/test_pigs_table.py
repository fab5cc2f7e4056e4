"""``gpiosvr/_pigs_table.py``, pigs' copy of the command table, says what the server's
table says: this fails while it is out of date (``python tools/gen_pigs_table.py``
regenerates it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gpiosvr._pigs_table import COMMANDS as PIGS_COMMANDS
from gpiosvr.server.commands import COMMANDS

TOOL = Path(__file__).resolve().parent.parent / "tools" / "gen_pigs_table.py"


def generator():
    spec = importlib.util.spec_from_file_location("gen_pigs_table", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pigs_table_is_up_to_date() -> None:
    gen = generator()
    assert gen.TARGET.read_text() == gen.render(), \
        "gpiosvr/_pigs_table.py is out of date: run python tools/gen_pigs_table.py"


def test_it_has_every_command_with_its_kinds() -> None:
    assert {name: entry[0] for name, entry in PIGS_COMMANDS.items()} == \
        {name: spec.params for name, spec in COMMANDS.items()}


def test_usage_names_what_a_kind_does_not() -> None:
    usage = {name: entry[1] for name, entry in PIGS_COMMANDS.items()}
    assert usage["w"] == "w gpio level"
    assert usage["i2cwk"] == "i2cwk handle reg data..."
    assert usage["fg"] == "fg user_gpio steady_us"
    assert usage["simwire"] == "simwire output input_"
    assert usage["procr"] == "procr script_id [params...]"
    assert usage["wvag"] == "wvag pulses..."
    assert usage["cf2"] == "cf2 [arg1] [retmax] [argx]"
    for name, line in usage.items():
        assert not set(line.split()[1:]) & {"int", "int?", "bvs", "bytes*"}, line


def test_check_mode_reports_a_stale_table(tmp_path, monkeypatch, capsys) -> None:
    gen = generator()
    stale = tmp_path / "_pigs_table.py"
    stale.write_text(gen.render().replace("'w gpio level'", "'w gpio'"))
    monkeypatch.setattr(gen, "TARGET", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert "run python tools/gen_pigs_table.py" in capsys.readouterr().err
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
