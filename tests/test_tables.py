"""Tables never cut a name or a number (issue 18, item 1): ``zoo list`` (and ``--wide``),
``zoo bench``, ``zoo plugins`` and ``zoo info`` at 60, 80 and 200 columns of a terminal, and
piped. On a narrow terminal whole columns are left out and named on stderr with the flag that
shows them; piped, every column is printed in full."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from zoo.cli.app import app

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTHS = (60, 80, 200)


def _run(args, width=None):
    """``zoo ARGS`` on a terminal of ``width`` columns (rich's ``TTY_COMPATIBLE``/``COLUMNS``), or piped (``None``)."""
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": str(width), "NO_COLOR": "1"} if width else {"TTY_COMPATIBLE": "0", "COLUMNS": None}
    res = CliRunner().invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    return ANSI.sub("", res.stdout), ANSI.sub("", res.stderr)


def _tokens(text):
    return set(text.split())


def _note(err, width):
    """The ``note: ... shows them`` of stderr, whole; on a terminal it wraps at words, within ``width``."""
    if width:
        long = [ln for ln in err.splitlines() if len(ln) > width]
        assert not long, long
    found = re.findall(r"note: .*? shows them", " ".join(err.split()))
    assert len(found) == 1, err
    return found[0]


def _check_lines_fit(text, width):
    if width:
        long = [ln for ln in text.splitlines() if len(ln) > width and "  " in ln]  # table lines (prose lines may wrap)
        assert not long, long


@pytest.mark.parametrize("width", [*WIDTHS, None])
@pytest.mark.parametrize("wide", [False, True])
def test_list_never_cuts_names_or_numbers(width, wide):
    rows = json.loads(CliRunner().invoke(app, ["list", "--json"]).stdout)
    out, err = _run(["list", *(["--wide"] if wide else [])], width)
    words = _tokens(out)
    for r in rows:
        assert r["name"] in words, (r["name"], out)
        assert f"{r['params'] / 1e6:.2f}M" in words, r
        if wide and r["top1"]:
            assert f"{r['top1']:.2f}" in words and f"{r['top5']:.2f}" in words, r
    assert "…" not in out
    _check_lines_fit(out, width)
    headers = out.splitlines()[0].split()
    if width is None or width == 200:  # everything fits: no note, every column
        assert "note:" not in err
        assert {"family", "kind", "weights"} <= set(headers)
        if width is None and wide:
            assert "source of top-1/top-5" in out.splitlines()[0]
            assert "huggingface/pytorch-image-models" in out  # the source column, whole
    else:
        note = _note(err, width)
        assert f"to fit {width} characters" in note and "--json" in note
        left_out = note.split(": ", 2)[2].split(";")[0].split(", ")
        assert left_out and not set(left_out) & set(out.splitlines()[0].split("  "))
        assert "family" in left_out  # the family is in the name; it goes first


def test_list_piped_prints_every_weight_tag_and_no_padding():
    out, _ = _run(["list", "cyclegan"])
    assert "iphone2dslr_flower" in out and "+15 more" not in out
    assert all(ln == ln.rstrip() for ln in out.splitlines())
    out, _ = _run(["list", "cyclegan"], 80)  # a terminal: the first tags, how many more, and where they are
    assert "horse2zebra" in out and "+15 more" in out and "zoo info cyclegan" in " ".join(out.split())


def _bench_rows():
    from zoo.tasks.bench import BenchRow

    common = {"device": "cpu", "threads": 2, "torch": "2.x", "mem_method": "tensor-peak", "batch_size": 8, "latency_reps": 20}
    return [
        BenchRow(
            name="resnet18", family="resnet", kind="backbone", top1_ref=69.758, top5_ref=89.078, params=11_689_512, size_mb=44.59,
            depth=18, gflops=3.6358, gmacs=1.8179, latency_ms=55.8512, latency_p90_ms=142.3811, latency_mean_ms=60.0,
            throughput_ips=14.2312, peak_mem_mb=98.2123, img_size=224, input_shape=[3, 224, 224], **common,
        ),
        BenchRow(
            name="inception_resnet_v2", family="inception", kind="backbone", top1_ref=80.45, top5_ref=95.31, params=55_843_464,
            size_mb=213.3, depth=247, gflops=26.3, gmacs=13.15, latency_ms=1234.567, latency_p90_ms=1500.25, latency_mean_ms=1300.0,
            throughput_ips=0.8123, peak_mem_mb=1234.5, img_size=299, input_shape=[3, 299, 299], **common,
        ),
        BenchRow(name="dcgan", family="dcgan", kind="gan", status="failed", error="RuntimeError: boom", device="cpu", threads=2, torch="2.x"),
    ]  # fmt: skip


@pytest.mark.parametrize("width", [*WIDTHS, None])
def test_bench_table_never_cuts(width, monkeypatch, capsys):
    from zoo.cli.bench_format import TABLE_COLUMNS, format_cell, print_table

    if width:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setenv("COLUMNS", str(width))
    else:
        monkeypatch.setenv("TTY_COMPATIBLE", "0")
    rows = _bench_rows()
    print_table(rows)
    cap = capsys.readouterr()
    out, err = ANSI.sub("", cap.out), ANSI.sub("", cap.err)
    table = out.split("\nparams (M):")[0]
    header_line = next(ln for ln in table.splitlines() if ln.startswith("model"))
    shown = [h for _, h in TABLE_COLUMNS if re.search(rf"(^|\s){re.escape(h)}(\s|$)", header_line)]
    words = _tokens(table)
    for r in rows:
        assert r.name in words
        for key, header in TABLE_COLUMNS:
            if header in shown and key not in ("name", "status"):
                assert format_cell(key, getattr(r, key)) in words, (key, header, table)
    assert "…" not in out
    _check_lines_fit(table, width)
    for must in ("model", "params (M)", "GFLOPs", "ms p50", "img/s"):
        assert must in shown
    if width in (60, 80):
        note = _note(err, width)
        dropped = [h for _, h in TABLE_COLUMNS if h not in shown]
        assert dropped and all(h in note for h in dropped) and "--json" in note and "--markdown" in note
    else:
        assert len(shown) == len(TABLE_COLUMNS) and "note:" not in err


@pytest.mark.parametrize("width", [*WIDTHS, None])
def test_plugins_and_info_never_cut(width):
    plugins = json.loads(CliRunner().invoke(app, ["plugins", "--json"]).stdout)
    out, _ = _run(["plugins"], width)
    words = {w.strip(",") for w in out.split()}
    for p in plugins:
        assert p["name"] in words
        for m in p["models"]:
            assert m in words, (m, out)
    _check_lines_fit(out, width)
    info = json.loads(CliRunner().invoke(app, ["info", "resnet18", "--json"]).stdout)
    out, _ = _run(["info", "resnet18"], width)
    words = _tokens(out)
    assert f"{info['num_params']:,}" in words and str(info["weights"][0]["top1"]) in words
    assert info["weights"][0]["url"] in out.split()  # the address whole, on a line of its own
    for s in info["stages"]:
        assert s["name"] in words
    _check_lines_fit(out, width)


def test_fit_columns_drops_highest_first_and_never_the_kept():
    from zoo.cli.tables import Col, fit_columns

    cols = [Col("name"), Col("a" * 20, drop=1), Col("b" * 20, drop=2), Col("number", justify="right")]
    rows = [["x" * 30, "1", "2", "123456789"]]
    assert fit_columns(cols, rows, None) == [0, 1, 2, 3]
    assert fit_columns(cols, rows, 200) == [0, 1, 2, 3]
    assert fit_columns(cols, rows, 70) == [0, 1, 3]  # b (drop 2) goes before a
    assert fit_columns(cols, rows, 30) == [0, 3]  # too narrow even so: the kept columns stay
