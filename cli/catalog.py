"""``zoo list``, ``zoo info`` and ``zoo plugins``: what is in the zoo (no torch import)."""

from __future__ import annotations

from typing import Optional

import typer

from zoo.cli.common import PARAMS_COUNTED, out_console, print_json
from zoo.cli.tables import Col, print_table, stdout_console

__all__ = ["info_cmd", "list_cmd", "plugins_cmd"]


def _fmt_params(n: int) -> str:
    """Parameters in millions with two decimals, as ``zoo bench`` prints them (``6.34M``)."""
    return f"{n / 1e6:.2f}M" if n else "?"


def _weights_label(spec, *, terminal: bool = False) -> str:
    """The tags of the published weights; on a terminal, more than four as the first three
    and how many more, with the command that lists them all (piped: every tag)."""
    tags = [w.tag for w in spec.weights]
    if terminal and len(tags) > 4:
        return f"{', '.join(tags[:3])} +{len(tags) - 3} more (zoo info {spec.name})"
    return ", ".join(tags) or "-"


def _row(spec) -> dict:
    row = {
        "name": spec.name,
        "family": spec.family,
        "kind": spec.kind,
        "plugin": spec.plugin,
        "input_size": list(spec.input_size),
        "params": spec.num_params,
        "weights": [w.tag for w in spec.weights],
        "pretrained": bool(spec.weights),
        "description": spec.description,
    }
    w = spec.weights[0] if spec.weights else None
    row.update(top1=w.top1 if w else None, top5=w.top5 if w else None, metrics_source=w.metrics_source if w else None)
    return row


def list_cmd(
    pattern: Optional[str] = typer.Argument(None, help="Wildcard filter on names (resnet*, *net*); a bare word matches as a substring."),
    kind: Optional[str] = typer.Option(None, "--kind", help="backbone or gan."),
    family: Optional[str] = typer.Option(None, "--family", help="Only this family (resnet, vgg, dcgan...)."),
    wide: bool = typer.Option(
        False, "--wide", help="Also show the published ImageNet top-1/top-5 of the default weights and their source."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of objects (name, family, kind, input_size, params, ...)."),
) -> None:
    """List the models in the zoo: name, family, kind, input size, parameters (every network: a GAN's G + D), published weights.

    On a narrow terminal the least needed columns are left out whole (a note on stderr names
    them); piped, every column is printed in full.
    """
    from zoo.registry import list_models

    specs = list_models(pattern, kind=kind, family=family)
    if as_json:
        print_json([_row(s) for s in specs])
        return
    columns = [
        Col("name"),
        Col("family", drop=3),
        Col("kind", drop=2),
        Col("input"),
        Col("params", justify="right"),
        Col("weights", wrap=True, drop=1),
    ]
    if wide:
        columns += [Col("top-1", justify="right"), Col("top-5", justify="right"), Col("source of top-1/top-5", wrap=True, drop=4)]
    terminal = stdout_console().is_terminal
    rows = []
    for s in specs:
        weights = _weights_label(s, terminal=terminal)
        cells = [s.name, s.family, s.kind, "x".join(str(v) for v in s.input_size), _fmt_params(s.num_params), weights]
        if wide:
            w = s.weights[0] if s.weights else None
            cells += [
                f"{w.top1:.2f}" if w and w.top1 else "-",
                f"{w.top5:.2f}" if w and w.top5 else "-",
                (w.metrics_source if w else "") or "-",
            ]
        rows.append(cells)
    print_table(columns, rows)
    if any(s.kind == "gan" for s in specs):
        stdout_console().print(f"params: {PARAMS_COUNTED}", markup=False, highlight=False, soft_wrap=not terminal)
    if not specs:
        from zoo.cli.common import warn

        warn("no model matches; run 'zoo list' without filters to see them all")


def _option_type(o) -> str:
    """A build option's type as ``zoo info`` shows it: ``int >= 1``, ``vgg54 | vgg22 | pixel``."""
    if o.type == "choice":
        return " | ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in o.choices)
    low, high = getattr(o, "minimum", None), getattr(o, "maximum", None)
    if low is not None and high is not None:
        return f"{o.type} {low:g}..{high:g}"
    return o.type + (f" >= {low:g}" if low is not None else "") + (f" <= {high:g}" if high is not None else "")


def _option_default(o) -> str:
    if o.default is None:
        return "derived"
    if isinstance(o.default, bool):
        return str(o.default).lower()
    return str(o.default)


def info_cmd(
    name: str = typer.Argument(..., help="Model name (see 'zoo list')."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (name, family, kind, input_size, stages, build_options, ...)."),
    measure: bool = typer.Option(False, "--measure", help="Build the model and report each stage's parameter count (imports torch)."),
) -> None:
    """Show one model: spec, build options (--model-kwargs), named stages (--freeze-until), normalisation, weight sources."""
    from zoo.registry import get_spec, model_options

    spec = get_spec(name)
    options = model_options(name)
    stage_params = None
    if measure and spec.kind == "backbone":
        from zoo.registry import build

        adapter = build(spec)
        stage_params = adapter.stage_param_counts()
    data = spec.to_dict()
    data["params_counted"] = PARAMS_COUNTED
    data["stages"] = [{"name": s, "params": (stage_params or {}).get(s)} for s in spec.stages]
    data["normalization"] = {"mean": list(spec.mean), "std": list(spec.std), "interpolation": spec.interpolation, "crop_pct": spec.crop_pct}
    data["build_options"] = [o.to_dict() for o in options]
    if as_json:
        print_json(data)
        return
    from rich.text import Text

    out_console.print(Text.assemble((spec.name, "bold"), "  ", spec.description), soft_wrap=True)
    counted = "a GAN's generator + discriminator" if spec.kind == "gan" else "with its default head"
    meta_rows = [
        ("family", spec.family),
        ("kind", spec.kind),
        ("plugin", spec.plugin),
        ("architecture", spec.arch),
        ("input size", "x".join(map(str, spec.input_size)) + f" (min {spec.min_size} px)"),
        ("normalisation", f"mean {tuple(spec.mean)} std {tuple(spec.std)}, {spec.interpolation}, crop {spec.crop_pct}"),
        ("parameters", f"{spec.num_params:,} ({counted})"),
        ("head", spec.head or "-"),
        ("paper", spec.paper or "-"),
    ]
    print_table([Col("key", style="bold"), Col("value", wrap=True)], meta_rows, show_header=False)
    _options_table(name, options)
    if spec.stages:
        rows = []
        for i, s in enumerate(spec.stages):
            p = (stage_params or {}).get(s)
            rows.append([str(i), s, f"{p:,}" if p is not None else "(--measure)"])
        out_console.print()
        print_table([Col("#", justify="right"), Col("stage"), Col("params", justify="right")], rows, title="stages (--freeze-until)")
    out_console.print()
    if spec.weights:
        cols = [
            Col("tag"),
            Col("top-1", justify="right"),
            Col("top-5", justify="right"),
            Col("source", wrap=True, drop=2),
            Col("license", wrap=True, drop=1),
        ]
        rows = [
            [w.tag, f"{w.top1}" if w.top1 else "-", f"{w.top5}" if w.top5 else "-", w.metrics_source or "-", w.license or "-"]
            for w in spec.weights
        ]
        print_table(cols, rows, title="published weights")
        for w in spec.weights:  # whole lines: an address stays copyable
            out_console.print(f"{w.tag}: {w.url}", markup=False, highlight=False, soft_wrap=True)
    else:
        out_console.print("published weights: none (random init; train with 'zoo train')")


def _options_table(name: str, options) -> None:
    """``zoo info``'s build options: name, type, default and meaning of each (``--model-kwargs KEY=VALUE``)."""
    out_console.print()
    if not options:
        out_console.print(f"build options: none declared ({name} takes no --model-kwargs)", markup=False, highlight=False, soft_wrap=True)
        return
    rows = []
    for o in options:
        meaning = f"set by zoo, not --model-kwargs: {o.help}" if o.from_data else o.help
        rows.append([o.name, _option_type(o), _option_default(o), meaning])
    cols = [Col("option"), Col("type", wrap=True), Col("default"), Col("meaning", wrap=True)]
    print_table(cols, rows, title="build options (--model-kwargs KEY=VALUE on train, adapt, pretrain)")


def _classes_label(classes: list[str]) -> str:
    if not classes:
        return "?"
    shown = ", ".join(classes) if len(classes) <= 10 else f"{', '.join(classes[:3])}, ..., {classes[-1]}"
    return f"{len(classes)}: {shown}"


def _dataset_table(details: list[dict]) -> None:
    """The data-set section of ``zoo plugins``: one row per built-in data set."""
    cols = [
        Col("data set"),
        Col("plugin", drop=1),
        Col("images", justify="right"),
        Col("image"),
        Col("classes", wrap=True),
        Col("groups", wrap=True, drop=2),
    ]
    rows = [
        [
            d["name"],
            d["plugin"],
            f"{d['images']:,}" if d["images"] is not None else "?",
            "x".join(map(str, d["image_shape"])) if d["image_shape"] else "?",
            _classes_label(d["classes"]),
            ", ".join(f"{g} ({len(m)})" for g, m in d["groups"].items()) or "-",
        ]
        for d in details
    ]
    out_console.print()
    print_table(cols, rows, title="data sets (--data NAME[:CLASSES|GROUP])")
    for d in details:  # whole lines: a path stays copyable
        if d["cache"]:
            state = "cached in" if d["cached"] else "not generated yet; its first use writes"
            out_console.print(f"{d['name']}: {state} {d['cache']}", markup=False, highlight=False, soft_wrap=True)


def plugins_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the plugins: what each contributes (models, data sets, hooks), and which failed and why;
    then each built-in data set: images, image shape, classes, groups and cache file (nothing is loaded)."""
    from zoo.registry import dataset_specs, model_owners
    from zoo.registry.manager import get_plugin_manager, plugin_short_name

    pm = get_plugin_manager()
    owners = model_owners()  # runs every zoo_model_specs hook: failures are recorded first
    specs = dataset_specs()
    data_owners = {name: plugin for name, (plugin, _) in specs.items()}
    details = [{"name": name, "plugin": plugin_short_name(plugin), **spec.to_dict()} for name, (plugin, spec) in specs.items()]
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked: left out by ZOO_PLUGINS, or failed (listed below)
            continue
        rows.append(
            {
                "name": plugin_short_name(name),
                "module": getattr(plugin, "__name__", str(plugin)),
                "builtin": pm.is_builtin(name),
                "distribution": pm.distributions.get(name),
                "status": "ok",
                "failed_in": None,
                "error": None,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
                "models": [m for m, p in owners.items() if p == name],
                "datasets": sorted(d for d, p in data_owners.items() if p == name),
                "dataset_details": [d for d in details if data_owners[d["name"]] == name],
            }
        )
    for f in pm.failures.values():
        rows.append(
            {
                "name": plugin_short_name(f.name),
                "module": None,
                "builtin": pm.is_builtin(f.name),
                "distribution": f.distribution,
                "status": "failed",
                "failed_in": f.stage,
                "error": f.error,
                "hooks": [],
                "models": [],
                "datasets": [],
                "dataset_details": [],
            }
        )
    if as_json:
        print_json(rows)
        return
    table_rows = []
    for r in rows:
        if r["status"] == "ok":
            status, contrib = "ok", ", ".join(r["models"] + [f"data:{d}" for d in r["datasets"]]) or "-"
        else:
            where = "to load" if r["failed_in"] == "load" else f"in {r['failed_in']}"
            status, contrib = "failed", f"failed {where}: {r['error']}"  # folded, never cut short
        source = "built-in" if r["builtin"] else (r["distribution"] or r["module"] or "-")
        table_rows.append([r["name"], source, status, " ".join(h.removeprefix("zoo_") for h in r["hooks"]) or "-", contrib])
    cols = [Col("plugin"), Col("source", wrap=True), Col("status"), Col("hooks", wrap=True, drop=1), Col("contributes", wrap=True)]
    print_table(cols, table_rows)
    _dataset_table(details)
