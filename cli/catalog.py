"""``zoo list``, ``zoo info`` and ``zoo plugins``: what is in the zoo (no torch import)."""

from __future__ import annotations

from typing import Optional

import typer

from zoo.cli.common import out_console, print_json

__all__ = ["info_cmd", "list_cmd", "plugins_cmd"]


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n else "?"


def _weights_label(spec) -> str:
    return ",".join(w.tag for w in spec.weights) if spec.weights else "-"


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
    """List the models in the zoo: name, family, kind, input size, parameters, published weights."""
    from zoo.registry import list_models

    specs = list_models(pattern, kind=kind, family=family)
    if as_json:
        print_json([_row(s) for s in specs])
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("name", "family", "kind", "input", "params", "weights"):
        table.add_column(col, justify="right" if col == "params" else "left")
    if wide:
        table.add_column("top-1", justify="right")
        table.add_column("top-5", justify="right")
        table.add_column("source of top-1/top-5")
    for s in specs:
        cells = [s.name, s.family, s.kind, "x".join(str(v) for v in s.input_size), _fmt_params(s.num_params), _weights_label(s)]
        if wide:
            w = s.weights[0] if s.weights else None
            cells += [
                f"{w.top1:.2f}" if w and w.top1 else "-",
                f"{w.top5:.2f}" if w and w.top5 else "-",
                (w.metrics_source if w else "") or "-",
            ]
        table.add_row(*cells)
    out_console.print(table)
    if not specs:
        from zoo.cli.common import warn

        warn("no model matches; run 'zoo list' without filters to see them all")


def info_cmd(
    name: str = typer.Argument(..., help="Model name (see 'zoo list')."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (name, family, kind, input_size, stages, ...)."),
    measure: bool = typer.Option(False, "--measure", help="Build the model and report each stage's parameter count (imports torch)."),
) -> None:
    """Show one model: spec, named stages (for --freeze-until), input size and normalisation, weight sources."""
    from zoo.registry import get_spec

    spec = get_spec(name)
    stage_params = None
    if measure and spec.kind == "backbone":
        from zoo.registry import build

        adapter = build(spec)
        stage_params = adapter.stage_param_counts()
    data = spec.to_dict()
    data["stages"] = [{"name": s, "params": (stage_params or {}).get(s)} for s in spec.stages]
    data["normalization"] = {"mean": list(spec.mean), "std": list(spec.std), "interpolation": spec.interpolation, "crop_pct": spec.crop_pct}
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    out_console.print(f"[bold]{spec.name}[/bold]  {spec.description}")
    meta = Table(box=None, show_header=False, pad_edge=False)
    meta.add_column(style="bold")
    meta.add_column()
    for k, v in [
        ("family", spec.family),
        ("kind", spec.kind),
        ("plugin", spec.plugin),
        ("architecture", spec.arch),
        ("input size", "x".join(map(str, spec.input_size)) + f" (min {spec.min_size} px)"),
        ("normalisation", f"mean {tuple(spec.mean)} std {tuple(spec.std)}, {spec.interpolation}, crop {spec.crop_pct}"),
        ("parameters", f"{spec.num_params:,}"),
        ("head", spec.head or "-"),
        ("paper", spec.paper or "-"),
    ]:
        meta.add_row(k, str(v))
    out_console.print(meta)
    if spec.stages:
        st = Table(title="stages (--freeze-until)", box=None, header_style="bold", pad_edge=False, title_justify="left")
        st.add_column("#", justify="right")
        st.add_column("stage")
        st.add_column("params", justify="right")
        for i, s in enumerate(spec.stages):
            p = (stage_params or {}).get(s)
            st.add_row(str(i), s, f"{p:,}" if p is not None else "(--measure)")
        out_console.print(st)
    if spec.weights:
        wt = Table(title="published weights", box=None, header_style="bold", pad_edge=False, title_justify="left")
        for col in ("tag", "top-1", "top-5", "source", "license", "url"):
            wt.add_column(col)
        for w in spec.weights:
            wt.add_row(
                w.tag, f"{w.top1}" if w.top1 else "-", f"{w.top5}" if w.top5 else "-", w.metrics_source or "-", w.license or "-", w.url
            )
        out_console.print(wt)
    else:
        out_console.print("published weights: none (random init; train with 'zoo train')")


def _classes_label(classes: list[str]) -> str:
    if not classes:
        return "?"
    shown = ", ".join(classes) if len(classes) <= 10 else f"{', '.join(classes[:3])}, ..., {classes[-1]}"
    return f"{len(classes)}: {shown}"


def _dataset_table(details: list[dict]) -> None:
    """The data-set section of ``zoo plugins``: one row per built-in data set."""
    from rich.table import Table

    table = Table(title="data sets (--data NAME[:CLASSES|GROUP])", box=None, header_style="bold", pad_edge=False, title_justify="left")
    for col in ("data set", "plugin", "images", "image", "classes", "groups"):
        table.add_column(col, justify="right" if col == "images" else "left", overflow="fold")
    for d in details:
        table.add_row(
            d["name"],
            d["plugin"],
            f"{d['images']:,}" if d["images"] is not None else "?",
            "x".join(map(str, d["image_shape"])) if d["image_shape"] else "?",
            _classes_label(d["classes"]),
            ", ".join(f"{g} ({len(m)})" for g, m in d["groups"].items()) or "-",
        )
    out_console.print()
    out_console.print(table)
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
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("plugin", "source", "status", "hooks", "contributes"):
        table.add_column(col, overflow="fold")  # never cut a failure's reason short
    for r in rows:
        if r["status"] == "ok":
            status, contrib = "ok", ", ".join(r["models"] + [f"data:{d}" for d in r["datasets"]]) or "-"
        else:
            where = "to load" if r["failed_in"] == "load" else f"in {r['failed_in']}"
            status, contrib = "failed", f"failed {where}: {r['error']}"
        table.add_row(
            r["name"],
            "built-in" if r["builtin"] else (r["distribution"] or r["module"] or "-"),
            status,
            " ".join(h.removeprefix("zoo_") for h in r["hooks"]) or "-",
            contrib,
        )
    out_console.print(table)
    _dataset_table(details)
