"""``zoo sample``: a thin shell over :func:`zoo.tasks.sampling.sample`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import out_console, print_json

__all__ = ["sample_cmd"]


def sample_cmd(
    name: str = typer.Argument(..., help="GAN name (see 'zoo list --kind gan')."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Directory (or .safetensors file) written by 'zoo train NAME'."),
    weights: Optional[str] = typer.Option(
        None,
        "--weights",
        help="Official weights: a file (200000-G.ckpt, horse2zebra.pth) or a published tag (see 'zoo info NAME'). "
        "Default for families with published weights: the first ones, from the cache or downloaded.",
    ),
    image: Optional[list[Path]] = typer.Option(
        None, "--image", help="Input image to translate (srgan, cyclegan, stargan); repeat for several. Default: a portrait photograph."
    ),
    attr: Optional[str] = typer.Option(
        None, "--attr", help="Target attributes (stargan): names, prefixes or common words, comma-separated, e.g. blond or blond,-male."
    ),
    source: Optional[str] = typer.Option(
        None, "--from", help="The input image's own attributes (stargan), e.g. Black_Hair,Male; the default portrait knows its own."
    ),
    label: Optional[str] = typer.Option(
        None, "--label", help="Class to draw (class-conditional GANs): a class name or index, e.g. 7 or seven."
    ),
    n: Optional[int] = typer.Option(
        None, "--n", help="Number of samples (noise-to-image GANs; default 64; a grid holds at most about 20,000 64-pixel cells)."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the latent noise, 0..4294967295 (noise-to-image GANs; default 0)."),
    levels: bool = typer.Option(False, "--levels", help="Also write each pyramid level's grid beside --out (LAPGAN)."),
    side_by_side: Optional[bool] = typer.Option(
        None,
        "--side-by-side/--translation-only",
        help="Write each input beside its translations, labelled (default: on for stargan and for several inputs; "
        "one translation alone is exactly the generator's pixels).",
    ),
    scale: Optional[int] = typer.Option(
        None,
        "--scale",
        help="Enlarge every cell N times, nearest neighbour (1: the generator's own pixels). "
        "Default: cells of 32 px or less are enlarged to 33-64 px, larger ones and a lone translation are not.",
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="PNG file to write (default grid.png, or grid-2.png... when taken)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Generate images with a trained GAN, or translate images with an image-to-image GAN, into one PNG."""
    from zoo.errors import ZooError
    from zoo.tasks import sampling

    if label is not None and attr is not None:
        raise ZooError("give --label (class-conditional GANs) or --attr (attribute GANs), not both", exit_code=2)
    result = sampling.sample(
        name,
        checkpoint=checkpoint,
        weights=weights,
        n=n,
        seed=seed,
        out=out,
        condition=label if label is not None else attr,
        condition_flag="--label" if label is not None else "--attr" if attr is not None else None,
        levels=levels,
        images=list(image) if image else None,
        source=source,
        side_by_side=side_by_side,
        overwrite=overwrite,
        scale=scale,
    )
    if as_json:
        print_json(result)
    elif "inputs" in result:
        out_console.print(
            f"translated {', '.join(result['inputs'])} with {name} into {result['out']} ({'x'.join(map(str, result['shape'][1:]))})"
        )
    else:
        extra = f" (levels: {', '.join(result['levels'])})" if result.get("levels") else ""
        out_console.print(f"wrote {result['n']} samples of {name} to {result['out']}{extra}")
